/**
 * RESP encoding into reusable, growable byte buffers.
 *
 * @module
 */

import { CR, LF, RESP_ARRAY, RESP_BULK, RESP_ERROR, RESP_INTEGER } from "./resp_types.ts";

const encoder = new TextEncoder();

/** A growable byte buffer that RESP is appended to without building strings. */
export class ByteWriter {
  /** The buffer; bytes `[0, length)` are valid. Replaced when the writer grows. */
  bytes: Uint8Array;
  /** Number of valid bytes. */
  length = 0;

  constructor(capacity = 4096) {
    this.bytes = new Uint8Array(capacity);
  }

  /** The valid bytes, as a view (not a copy). */
  view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }

  /** Empties the writer; shrinks the buffer back to `capacity` when it grew far beyond it. */
  clear(capacity?: number): void {
    this.length = 0;
    if (capacity !== undefined && this.bytes.length > capacity * 4) {
      this.bytes = new Uint8Array(capacity);
    }
  }

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    const need = this.length + n;
    if (need <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < need) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  /** Appends `src[start, end)`. */
  append(src: Uint8Array, start = 0, end: number = src.length): void {
    const n = end - start;
    if (this.length + n > this.bytes.length) this.reserve(n);
    if (n < 64) {
      const out = this.bytes;
      let pos = this.length;
      for (let i = start; i < end; i++) out[pos++] = src[i];
    } else {
      this.bytes.set(start === 0 && end === src.length ? src : src.subarray(start, end), this.length);
    }
    this.length += n;
  }

  /** Appends an ASCII string (no encoding check). */
  appendAscii(s: string): void {
    const n = s.length;
    if (this.length + n > this.bytes.length) this.reserve(n);
    const out = this.bytes;
    let pos = this.length;
    for (let i = 0; i < n; i++) out[pos++] = s.charCodeAt(i);
    this.length = pos;
  }

  /** Appends `\r\n`. */
  appendCrlf(): void {
    if (this.length + 2 > this.bytes.length) this.reserve(2);
    this.bytes[this.length++] = CR;
    this.bytes[this.length++] = LF;
  }

  /** Appends a header line such as `*3\r\n` or `$5\r\n`. */
  appendHeader(type: number, n: number): void {
    if (this.length + 24 > this.bytes.length) this.reserve(24);
    const out = this.bytes;
    let pos = this.length;
    out[pos++] = type;
    if (n >= 0 && n < 10) {
      out[pos++] = 48 + n;
    } else {
      const digits = String(n);
      for (let i = 0; i < digits.length; i++) out[pos++] = digits.charCodeAt(i);
    }
    out[pos++] = CR;
    out[pos++] = LF;
    this.length = pos;
  }

  /** Appends a bulk string holding `src[start, end)`. */
  appendBulk(src: Uint8Array, start = 0, end: number = src.length): void {
    this.appendHeader(RESP_BULK, end - start);
    this.append(src, start, end);
    this.appendCrlf();
  }

  /** Appends a bulk string holding the UTF-8 encoding of `s`. */
  appendBulkString(s: string): void {
    this.appendBulk(encoder.encode(s));
  }

  /** Appends an integer reply `:n\r\n`. */
  appendInteger(n: number): void {
    this.appendHeader(RESP_INTEGER, n);
  }

  /** Appends a simple string reply `+s\r\n` (s must not contain CR or LF). */
  appendSimple(s: string): void {
    this.appendAscii("+");
    this.appendAscii(s);
    this.appendCrlf();
  }

  /** Appends an error reply `-message\r\n` (CR and LF in the message become spaces). */
  appendError(message: string): void {
    const bytes = encoder.encode(message.replace(/[\r\n]/g, " "));
    this.reserve(bytes.length + 3);
    this.bytes[this.length++] = RESP_ERROR;
    this.append(bytes);
    this.appendCrlf();
  }

  /** Appends a command as a RESP array of bulk strings. */
  appendCommand(args: ReadonlyArray<string | Uint8Array | number>): void {
    this.appendHeader(RESP_ARRAY, args.length);
    for (const a of args) {
      if (typeof a === "string") this.appendBulk(encoder.encode(a));
      else if (typeof a === "number") this.appendBulk(encoder.encode(String(a)));
      else this.appendBulk(a);
    }
  }
}

/** Encodes a command as a RESP array of bulk strings. */
export function encodeCommand(args: ReadonlyArray<string | Uint8Array | number>): Uint8Array {
  const w = new ByteWriter(64);
  w.appendCommand(args);
  return w.view();
}

/** Encodes an error reply. */
export function encodeError(message: string): Uint8Array {
  const w = new ByteWriter(message.length + 8);
  w.appendError(message);
  return w.view();
}
