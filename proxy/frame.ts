/**
 * One client request as the session parsed it: where its RESP bytes are, and where each of its
 * arguments is, inside the session's read buffer. A session keeps one {@linkcode Frame} and
 * refills it for every request, so the request path passes one object instead of five values,
 * and allocates nothing for it.
 *
 * A frame is valid only until the session reads again: whatever outlives the call that received
 * it (a request held on a locked slot, a key to migrate) copies its bytes first.
 *
 * @module
 */

import { slotOf } from "../redis/slot_hash.ts";

/** A byte range `buf[start, end)` holding one complete RESP command. */
export interface ByteRange {
  buf: Uint8Array;
  start: number;
  end: number;
}

const EMPTY = new Uint8Array(0);
const NO_ARGS = new Int32Array(0);
const decoder = new TextDecoder();

/** The upper-case of an ASCII letter; any other byte as it is. */
export function asciiUpper(c: number): number {
  return c >= 97 && c <= 122 ? c - 32 : c;
}

/** One parsed request (see the module's notes on how long it stays valid). */
export class Frame implements ByteRange {
  /** The buffer holding the request. */
  buf: Uint8Array = EMPTY;
  /** The request's RESP bytes are `buf[start, end)`. */
  start = 0;
  end = 0;
  /** Argument `i` is `buf[args[2 * i], args[2 * i + 1])`; argument 0 is the command name. */
  args: Int32Array = NO_ARGS;
  /** Number of arguments, the command name included. */
  argc = 0;

  /** Points the frame at the next request. */
  set(buf: Uint8Array, start: number, end: number, args: Int32Array, argc: number): this {
    this.buf = buf;
    this.start = start;
    this.end = end;
    this.args = args;
    this.argc = argc;
    return this;
  }

  /** Argument `i` as text (UTF-8). */
  arg(i: number): string {
    return decoder.decode(this.buf.subarray(this.args[i * 2], this.args[i * 2 + 1]));
  }

  /** A copy of argument `i`'s bytes. */
  argBytes(i: number): Uint8Array {
    return this.buf.slice(this.args[i * 2], this.args[i * 2 + 1]);
  }

  /** The slot of argument `i` taken as a key. */
  argSlot(i: number): number {
    return slotOf(this.buf, this.args[i * 2], this.args[i * 2 + 1]);
  }

  /** True when argument `i` equals the upper-case ASCII `word`, in any case. */
  argEquals(i: number, word: string): boolean {
    const buf = this.buf;
    const start = this.args[i * 2];
    if (this.args[i * 2 + 1] - start !== word.length) return false;
    for (let p = 0; p < word.length; p++) {
      if (asciiUpper(buf[start + p]) !== word.charCodeAt(p)) return false;
    }
    return true;
  }

  /** The value of argument `i` as a non-negative integer, or -1 when it is not one. */
  argInteger(i: number): number {
    const buf = this.buf;
    const start = this.args[i * 2];
    const end = this.args[i * 2 + 1];
    if (end <= start || end - start > 15) return -1;
    let n = 0;
    for (let p = start; p < end; p++) {
      const d = buf[p] - 48;
      if (d < 0 || d > 9) return -1;
      n = n * 10 + d;
    }
    return n;
  }

  /** Index of the first argument at or after `from` that equals `word` (any case), or -1. */
  findKeyword(word: string, from: number): number {
    for (let i = from; i < this.argc; i++) if (this.argEquals(i, word)) return i;
    return -1;
  }
}
