/**
 * Decoding complete RESP frames into JavaScript values, for the control plane and tests (the
 * proxy's data path never decodes replies).
 *
 * @module
 */

import { parseInteger } from "./resp_scanner.ts";
import {
  RESP_ARRAY,
  RESP_ATTRIBUTE,
  RESP_BIG_NUMBER,
  RESP_BLOB_ERROR,
  RESP_BOOLEAN,
  RESP_BULK,
  RESP_DOUBLE,
  RESP_ERROR,
  RESP_INTEGER,
  RESP_MAP,
  RESP_NULL,
  RESP_PUSH,
  RESP_SET,
  RESP_SIMPLE,
  RESP_VERBATIM,
} from "./resp_types.ts";

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
 * With `raw`, bulk strings stay bytes: views of one copy of the frame (a SCAN reply of a thousand
 * keys is one allocation, not a thousand), so a kept view keeps that copy alive; otherwise they are
 * decoded as UTF-8.
 */
export function decodeReply(buf: Uint8Array, start: number, end: number, raw = false): RespValue {
  if (raw) {
    buf = buf.slice(start, end);
    end -= start;
    start = 0;
  }
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
    case RESP_SIMPLE:
      return decoder.decode(buf.subarray(pos + 1, eol));
    case RESP_ERROR:
      return new RespError(decoder.decode(buf.subarray(pos + 1, eol)));
    case RESP_INTEGER:
      return parseInteger(buf, pos + 1, eol);
    case RESP_NULL:
      return null;
    case RESP_BOOLEAN:
      return buf[pos + 1] === 0x74; // 't'
    case RESP_DOUBLE: {
      const s = decoder.decode(buf.subarray(pos + 1, eol));
      return s === "inf" ? Infinity : s === "-inf" ? -Infinity : Number(s);
    }
    case RESP_BIG_NUMBER:
      return BigInt(decoder.decode(buf.subarray(pos + 1, eol)));
    case RESP_BULK:
    case RESP_VERBATIM:
    case RESP_BLOB_ERROR: {
      const len = parseInteger(buf, pos + 1, eol);
      if (len < 0) return null;
      const data = buf.subarray(eol + 2, eol + 2 + len);
      cursor.pos = eol + 2 + len + 2;
      if (type === RESP_BLOB_ERROR) return new RespError(decoder.decode(data));
      if (type === RESP_VERBATIM) return decoder.decode(data.subarray(4));
      return raw ? data : decoder.decode(data);
    }
    case RESP_ARRAY:
    case RESP_SET:
    case RESP_PUSH:
    case RESP_MAP: {
      const n = parseInteger(buf, pos + 1, eol);
      if (n < 0) return null;
      const count = type === RESP_MAP ? n * 2 : n;
      const out: RespValue[] = new Array(count);
      for (let i = 0; i < count; i++) out[i] = decodeAt(buf, cursor, raw);
      return out;
    }
    case RESP_ATTRIBUTE: { // skipped: the value follows
      const n = parseInteger(buf, pos + 1, eol);
      for (let i = 0; i < n * 2; i++) decodeAt(buf, cursor, raw);
      return decodeAt(buf, cursor, raw);
    }
    default:
      throw new Error(`Cannot decode reply: unknown type '${String.fromCharCode(type)}'`);
  }
}
