/**
 * Decoding complete RESP frames into JavaScript values, for the control plane and tests (the
 * proxy's data path never decodes replies).
 *
 * @module
 */

import { parseInteger } from "./resp_scanner.ts";

/** An error reply from Redis, as a value. */
export class RespError {
  /** The error text without the leading `-`, e.g. `ERR unknown command`. */
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
  /** The first word of the message, e.g. `ERR`, `WRONGTYPE`, `NOKEY`. */
  get code(): string {
    const space = this.message.indexOf(" ");
    return space < 0 ? this.message : this.message.slice(0, space);
  }
  toString(): string {
    return this.message;
  }
}

/** A decoded reply. Bulk strings are `string`s, or `Uint8Array`s when decoded raw. */
export type RespValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | Uint8Array
  | RespError
  | RespValue[];

const decoder = new TextDecoder();

/**
 * Decodes the complete frame `buf[start, end)` (as found by `ReplyScanner`).
 * With `raw`, bulk strings stay bytes (copies); otherwise they are decoded as UTF-8.
 */
export function decodeReply(buf: Uint8Array, start: number, end: number, raw = false): RespValue {
  const cursor = { pos: start };
  const value = decodeAt(buf, cursor, raw);
  if (cursor.pos !== end) throw new Error(`Cannot decode reply: ${end - cursor.pos} bytes left over`);
  return value;
}

function lineEnd(buf: Uint8Array, from: number): number {
  let i = from;
  while (buf[i] !== 13) i++;
  return i;
}

function decodeAt(buf: Uint8Array, cursor: { pos: number }, raw: boolean): RespValue {
  const pos = cursor.pos;
  const type = buf[pos];
  const eol = lineEnd(buf, pos + 1);
  cursor.pos = eol + 2;
  switch (type) {
    case 0x2b: // +
      return decoder.decode(buf.subarray(pos + 1, eol));
    case 0x2d: // -
      return new RespError(decoder.decode(buf.subarray(pos + 1, eol)));
    case 0x3a: // :
      return parseInteger(buf, pos + 1, eol);
    case 0x5f: // _
      return null;
    case 0x23: // #
      return buf[pos + 1] === 0x74;
    case 0x2c: { // ,
      const s = decoder.decode(buf.subarray(pos + 1, eol));
      return s === "inf" ? Infinity : s === "-inf" ? -Infinity : Number(s);
    }
    case 0x28: // (
      return BigInt(decoder.decode(buf.subarray(pos + 1, eol)));
    case 0x24: // $
    case 0x3d: // =
    case 0x21: { // !
      const len = parseInteger(buf, pos + 1, eol);
      if (len < 0) return null;
      const data = buf.subarray(eol + 2, eol + 2 + len);
      cursor.pos = eol + 2 + len + 2;
      if (type === 0x21) return new RespError(decoder.decode(data));
      if (type === 0x3d) return decoder.decode(data.subarray(4));
      return raw ? data.slice() : decoder.decode(data);
    }
    case 0x2a: // *
    case 0x7e: // ~
    case 0x3e: // >
    case 0x25: { // %
      const n = parseInteger(buf, pos + 1, eol);
      if (n < 0) return null;
      const count = type === 0x25 ? n * 2 : n;
      const out: RespValue[] = new Array(count);
      for (let i = 0; i < count; i++) out[i] = decodeAt(buf, cursor, raw);
      return out;
    }
    case 0x7c: { // | attribute: skipped, the value follows
      const n = parseInteger(buf, pos + 1, eol);
      for (let i = 0; i < n * 2; i++) decodeAt(buf, cursor, raw);
      return decodeAt(buf, cursor, raw);
    }
    default:
      throw new Error(`Cannot decode reply: unknown type '${String.fromCharCode(type)}'`);
  }
}

/** Renders a value as `redis-cli` would print it in raw form (for messages and logs). */
export function formatValue(v: RespValue): string {
  if (v === null) return "(nil)";
  if (v instanceof RespError) return `(error) ${v.message}`;
  if (v instanceof Uint8Array) return decoder.decode(v);
  if (Array.isArray(v)) return `[${v.map(formatValue).join(", ")}]`;
  return String(v);
}
