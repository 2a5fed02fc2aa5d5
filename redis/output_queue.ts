/**
 * Bytes waiting to be written to a socket, kept in fixed-size chunks from a process-wide pool.
 *
 * Why chunks instead of one growing buffer: a buffer that doubles to hold 32 MB allocates 64 MB on
 * the way (every size up to 32 MB, then the copy), and the old sizes stay in memory until a garbage
 * collection; chunks of one size are reused from the pool, so memory follows what is queued, and
 * an idle queue holds nothing at all.
 *
 * @module
 */

/** Size of one chunk. */
export const CHUNK_SIZE = 16 * 1024;
/** Most free chunks the pool keeps (4 MiB); more are left to the garbage collector. */
const POOL_MAX = 256;
const pool: Uint8Array[] = [];

function takeChunk(): Uint8Array {
  return pool.pop() ?? new Uint8Array(CHUNK_SIZE);
}

function giveChunk(chunk: Uint8Array): void {
  if (pool.length < POOL_MAX) pool.push(chunk);
}

/** A FIFO of bytes in pooled chunks. */
export class OutputQueue {
  /** Bytes queued. */
  length = 0;
  #chunks: Uint8Array[] = [];
  /** Offset of the first unread byte in the first chunk. */
  #head = 0;
  /** Bytes used in the last chunk. */
  #tail = CHUNK_SIZE;

  /** Appends `src[start, end)`. */
  append(src: Uint8Array, start = 0, end: number = src.length): void {
    let n = end - start;
    this.length += n;
    while (n > 0) {
      if (this.#tail === CHUNK_SIZE) {
        this.#chunks.push(takeChunk());
        this.#tail = 0;
      }
      const chunk = this.#chunks[this.#chunks.length - 1];
      const room = CHUNK_SIZE - this.#tail;
      const take = n < room ? n : room;
      if (take < 64) {
        let pos = this.#tail;
        for (let i = start; i < start + take; i++) chunk[pos++] = src[i];
      } else {
        chunk.set(src.subarray(start, start + take), this.#tail);
      }
      this.#tail += take;
      start += take;
      n -= take;
    }
  }

  /** The first queued bytes that lie in one chunk (a view, valid until the next change); empty when none. */
  peek(): Uint8Array {
    const first = this.#chunks[0];
    if (first === undefined) return EMPTY;
    const end = this.#chunks.length === 1 ? this.#tail : CHUNK_SIZE;
    return first.subarray(this.#head, end);
  }

  /** Drops the first `n` bytes (after they were written); emptied chunks go back to the pool. */
  consume(n: number): void {
    this.length -= n;
    while (n > 0) {
      const end = this.#chunks.length === 1 ? this.#tail : CHUNK_SIZE;
      const inFirst = end - this.#head;
      if (n < inFirst) {
        this.#head += n;
        return;
      }
      n -= inFirst;
      giveChunk(this.#chunks.shift()!);
      this.#head = 0;
      if (this.#chunks.length === 0) this.#tail = CHUNK_SIZE;
    }
  }

  /** Drops everything queued; the chunks go back to the pool. */
  clear(): void {
    for (const c of this.#chunks) giveChunk(c);
    this.#chunks = [];
    this.#head = 0;
    this.#tail = CHUNK_SIZE;
    this.length = 0;
  }
}

const EMPTY = new Uint8Array(0);
