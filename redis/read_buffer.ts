/**
 * The buffer a connection reads into: bytes `[start, end)` are received and not yet consumed.
 * Room for the next read is made by moving the unconsumed bytes to the front, or by doubling
 * when a single frame is larger than the buffer; once empty, an oversized buffer shrinks back.
 *
 * @module
 */

/** A connection's read buffer. */
export class ReadBuffer {
  /** The buffer (replaced when it grows or shrinks). */
  bytes: Uint8Array;
  /** Offset of the first unconsumed byte. */
  start = 0;
  /** Offset just past the last received byte. */
  end = 0;
  #base: number;

  constructor(size: number) {
    this.#base = size;
    this.bytes = new Uint8Array(size);
  }

  /**
   * The free space to read into, after making room. Unconsumed bytes may move: scanners that
   * kept state for a partial frame are told its new start on their next call.
   */
  space(): Uint8Array {
    if (this.start === this.end) {
      this.start = this.end = 0;
      if (this.bytes.length > this.#base * 4) this.bytes = new Uint8Array(this.#base);
    } else if (this.end === this.bytes.length) {
      if (this.start > 0) {
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
}
