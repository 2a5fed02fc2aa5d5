/**
 * The buffer a connection reads into: bytes `[start, end)` are received and not yet consumed.
 * Room for the next read is made by moving the unconsumed bytes to the front, or by doubling
 * when a single frame is larger than the buffer; once empty, an oversized buffer shrinks back.
 *
 * With an idle size (client sessions), a connection with nothing pending reads into a small buffer
 * of its own, and takes a full-size one from a process-wide pool only while a burst does not fit;
 * the full-size buffer goes back to the pool as soon as everything in it is consumed. So ten
 * thousand idle clients hold ten thousand small buffers, not ten thousand large ones.
 *
 * @module
 */

/** Most free full-size buffers the pool keeps per size. */
const POOL_MAX = 64;
const pools = new Map<number, Uint8Array[]>();
const EMPTY = new Uint8Array(0);

function take(size: number): Uint8Array {
  return pools.get(size)?.pop() ?? new Uint8Array(size);
}

function giveBack(buf: Uint8Array): void {
  let pool = pools.get(buf.length);
  if (pool === undefined) pools.set(buf.length, pool = []);
  if (pool.length < POOL_MAX) pool.push(buf);
}

/** A connection's read buffer. */
export class ReadBuffer {
  /** The buffer (replaced when it grows or shrinks). */
  bytes: Uint8Array;
  /** Offset of the first unconsumed byte. */
  start = 0;
  /** Offset just past the last received byte. */
  end = 0;
  #base: number;
  /** The small buffer read into while nothing is pending (null: always full size). */
  #idle: Uint8Array | null;

  /** `size`: the full size; `idleSize` (if smaller): the size of the buffer used while idle. */
  constructor(size: number, idleSize = 0) {
    this.#base = size;
    // Idle buffers are pooled too: clients that connect per request would otherwise allocate one each.
    this.#idle = idleSize > 0 && idleSize < size ? take(idleSize) : null;
    this.bytes = this.#idle ?? new Uint8Array(size);
  }

  /**
   * The free space to read into, after making room. Unconsumed bytes may move: scanners that
   * kept state for a partial frame are told its new start on their next call.
   *
   * With `keep` (only when {@linkcode canReadAfterEnd}), bytes already consumed stay where they are
   * too: the read goes after them, so what still points into them (a session's requests waiting
   * for their replies) needs no copy.
   */
  space(keep = false): Uint8Array {
    if (this.start === this.end && !keep) {
      this.start = this.end = 0;
      if (this.#idle !== null) this.#backToIdle();
      else if (this.bytes.length > this.#base * 4) this.bytes = new Uint8Array(this.#base);
    } else if (this.end === this.bytes.length) {
      if (this.bytes === this.#idle) {
        const full = take(this.#base);
        full.set(this.bytes.subarray(this.start, this.end));
        this.end -= this.start;
        this.start = 0;
        this.bytes = full;
      } else if (this.start > 0) {
        this.bytes.copyWithin(0, this.start, this.end);
        this.end -= this.start;
        this.start = 0;
      } else {
        const grown = new Uint8Array(this.bytes.length * 2);
        grown.set(this.bytes);
        this.bytes = grown;
      }
    }
    return this.bytes.subarray(this.end);
  }

  /**
   * True when `space(true)` can read at least `room` bytes after the received ones, in a buffer
   * that is this connection's own: a full-size one borrowed from the pool is not kept (emptied, it
   * goes back, so that a connection idle after a burst holds only its small buffer).
   */
  canReadAfterEnd(room: number): boolean {
    const borrowed = this.#idle !== null && this.bytes !== this.#idle;
    return !borrowed && this.bytes.length - this.end >= room;
  }

  /**
   * The connection is done: its pooled buffers go back (no read may be pending on them, and nothing
   * may point into them). Not to be used after.
   */
  release(): void {
    const idle = this.#idle;
    if (idle === null) return;
    this.start = this.end = 0;
    this.#backToIdle();
    giveBack(idle);
    this.#idle = null;
    this.bytes = EMPTY;
  }

  #backToIdle(): void {
    const bytes = this.bytes;
    if (bytes === this.#idle) return;
    if (bytes.length === this.#base) giveBack(bytes);
    this.bytes = this.#idle!;
  }
}
