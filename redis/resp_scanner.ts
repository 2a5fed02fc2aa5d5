/**
 * Zero-copy, resumable RESP frame scanners.
 *
 * A scanner never copies or decodes payloads: it finds where a frame ends (and, for requests,
 * where each argument lies) inside the caller's buffer. When a frame is incomplete it returns
 * {@linkcode NEED_MORE} and remembers how far it got, so feeding a frame one byte at a time costs
 * no more than feeding it whole. The caller may move the unconsumed bytes (compact its buffer)
 * between calls; it passes the frame's new start offset on the next call.
 *
 * @module
 */

/** Returned by `scan` when the frame is not complete yet. */
export const NEED_MORE = -1;
/** Returned by `scan` when the bytes are not valid RESP; the reason is in `error`. */
export const PROTOCOL_ERROR = -2;

/** Size limits enforced while scanning. */
export interface RespLimits {
  /** Longest bulk string accepted, in bytes (Codis: 512 MiB). */
  maxBulkLength: number;
  /** Most elements accepted in one array (Codis: 1,048,576). */
  maxArrayLength: number;
  /** Longest inline command line accepted, in bytes (Redis: 64 KiB). */
  maxInlineLength: number;
  /**
   * The limits are those of a client that has not authenticated yet: errors say so, as Redis's do
   * (`Protocol error: unauthenticated multibulk length`).
   */
  unauthenticated?: boolean;
}

/** What Redis 7 accepts from a client before it has authenticated (`networking.c`). */
export const UNAUTHENTICATED_RESP_LIMITS: Readonly<RespLimits> = {
  maxBulkLength: 16 * 1024,
  maxArrayLength: 10,
  maxInlineLength: 64 * 1024,
  unauthenticated: true,
};

/** Codis's limits. */
export const DEFAULT_RESP_LIMITS: Readonly<RespLimits> = {
  maxBulkLength: 512 * 1024 * 1024,
  maxArrayLength: 1024 * 1024,
  maxInlineLength: 64 * 1024,
};

// The scanners compare type bytes as number literals, each named in a comment (see resp_types.ts
// for the names): V8 compiles a switch over literal cases into a jump table, and over imported
// constants into a chain of loads and comparisons, which costs this hot loop ~5% (measured).
const CR = 13;
const LF = 10;

// A header line (`*123\r\n`, `$456\r\n`) longer than this is malformed.
const MAX_HEADER_LINE = 32;

/**
 * Parses the decimal integer in `buf[start, end)`; returns `NaN` when it is not one.
 * Accepts an optional leading `-`; at most 15 digits (exact in a double).
 */
export function parseInteger(buf: Uint8Array, start: number, end: number): number {
  let i = start;
  let negative = false;
  if (i < end && buf[i] === 0x2d) { // '-'
    negative = true;
    i++;
  }
  if (i === end || end - i > 15) return NaN;
  let n = 0;
  for (; i < end; i++) {
    const d = buf[i] - 48;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  return negative ? -n : n;
}

/** Index of the first CR in `buf[from, end)`, or -1 if none yet (the caller checks the LF after it). */
function findLineEnd(buf: Uint8Array, from: number, end: number): number {
  for (let i = from; i < end; i++) {
    if (buf[i] === CR) return i;
  }
  return -1;
}

/** `inlineFrame` before any inline command (shared: a scanner per client session). */
const NO_INLINE_FRAME = new Uint8Array(0);

/**
 * Scans client requests: RESP arrays of bulk strings, and inline commands.
 *
 * After `scan` returns a frame's end offset, `argc` and `args` describe the request's arguments:
 * argument `i` is `source[args[2 * i], args[2 * i + 1])`, where `source` is the scanned buffer, or
 * `inlineFrame` when `inline` is true (an inline command is re-encoded as a RESP array there, so
 * that it can be forwarded as is). A request of zero arguments (an empty inline line, `*0`) is
 * skipped: `scan` returns its end with `argc = 0`.
 */
export class RequestScanner {
  /** Number of arguments of the last complete request. */
  argc = 0;
  /** Argument offsets of the last complete request (pairs of start, end). */
  args: Int32Array = new Int32Array(16);
  /** True when the last complete request was an inline command. */
  inline = false;
  /** The last inline command, encoded as a RESP array (valid until the next `scan`). */
  inlineFrame: Uint8Array = NO_INLINE_FRAME;
  /** Why the last `scan` returned {@linkcode PROTOCOL_ERROR}. */
  error = "";

  #limits: RespLimits;
  // Resume state of a multi-bulk frame; #expected < 0 when no frame is in progress.
  #expected = -1;
  #seen = 0;
  #offset = 0; // where to resume, relative to the frame start
  #frameStart = 0;

  constructor(limits: RespLimits = DEFAULT_RESP_LIMITS) {
    this.#limits = limits;
  }

  /** The limits in force. */
  get limits(): Readonly<RespLimits> {
    return this.#limits;
  }

  /** Changes the limits (once a client has authenticated); a partial frame goes on under the new ones. */
  set limits(limits: RespLimits) {
    this.#limits = limits;
  }

  /** Forgets any partial frame (after the caller discards its buffer). */
  reset(): void {
    this.#expected = -1;
    this.#seen = 0;
    this.#offset = 0;
  }

  /**
   * Scans the request starting at `buf[start]`, with valid bytes up to `end`.
   * Returns the end offset of the request, {@linkcode NEED_MORE} or {@linkcode PROTOCOL_ERROR}.
   */
  scan(buf: Uint8Array, start: number, end: number): number {
    if (this.#expected < 0) {
      if (start >= end) return NEED_MORE;
      if (buf[start] !== 0x2a) return this.#scanInline(buf, start, end); // not RESP_ARRAY
      const lineEnd = findLineEnd(buf, start + 1, end);
      if (lineEnd < 0 || lineEnd + 1 >= end) {
        if (end - start > MAX_HEADER_LINE) return this.#fail("invalid multibulk length");
        return NEED_MORE;
      }
      if (buf[lineEnd + 1] !== LF) return this.#fail("invalid multibulk length");
      const n = parseInteger(buf, start + 1, lineEnd);
      if (n !== n) return this.#fail("invalid multibulk length");
      if (n > this.#limits.maxArrayLength) return this.#fail(`${this.#unauth}multibulk length`);
      this.inline = false;
      if (n <= 0) {
        this.argc = 0;
        return lineEnd + 2;
      }
      if (this.args.length < n * 2) this.args = new Int32Array(Math.max(n * 2, this.args.length * 2));
      this.#expected = n;
      this.#seen = 0;
      this.#offset = lineEnd + 2 - start;
      this.#frameStart = start;
    } else if (start !== this.#frameStart) {
      // The caller moved the partial frame: shift the offsets recorded so far.
      const delta = start - this.#frameStart;
      const args = this.args;
      for (let i = 0; i < this.#seen * 2; i++) args[i] += delta;
      this.#frameStart = start;
    }
    return this.#scanBulks(buf, start, end);
  }

  #scanBulks(buf: Uint8Array, start: number, end: number): number {
    const args = this.args;
    const maxBulk = this.#limits.maxBulkLength;
    let pos = start + this.#offset;
    let seen = this.#seen;
    const expected = this.#expected;
    while (seen < expected) {
      if (pos >= end) break;
      if (buf[pos] !== 0x24) { // not RESP_BULK
        return this.#fail(`expected '$', got '${String.fromCharCode(buf[pos])}'`);
      }
      const lineEnd = findLineEnd(buf, pos + 1, end);
      if (lineEnd < 0 || lineEnd + 1 >= end) {
        if (end - pos > MAX_HEADER_LINE) return this.#fail("invalid bulk length");
        break;
      }
      if (buf[lineEnd + 1] !== LF) return this.#fail("invalid bulk length");
      const len = parseInteger(buf, pos + 1, lineEnd);
      if (!(len >= 0)) return this.#fail("invalid bulk length");
      if (len > maxBulk) return this.#fail(`${this.#unauth}bulk length`);
      const dataStart = lineEnd + 2;
      const dataEnd = dataStart + len;
      if (dataEnd + 2 > end) break;
      if (buf[dataEnd] !== CR || buf[dataEnd + 1] !== LF) return this.#fail("invalid bulk format");
      args[seen * 2] = dataStart;
      args[seen * 2 + 1] = dataEnd;
      seen++;
      pos = dataEnd + 2;
    }
    if (seen < expected) {
      this.#seen = seen;
      this.#offset = pos - start;
      return NEED_MORE;
    }
    this.argc = expected;
    this.#expected = -1;
    return pos;
  }

  #scanInline(buf: Uint8Array, start: number, end: number): number {
    let newline = -1;
    for (let i = start; i < end; i++) {
      if (buf[i] === LF) {
        newline = i;
        break;
      }
    }
    if (newline < 0) {
      if (end - start > this.#limits.maxInlineLength) return this.#fail("too big inline request");
      return NEED_MORE;
    }
    if (newline - start > this.#limits.maxInlineLength) return this.#fail("too big inline request");
    const lineEnd = newline > start && buf[newline - 1] === CR ? newline - 1 : newline;
    const parts = splitInlineArgs(buf, start, lineEnd);
    if (parts === null) return this.#fail("unbalanced quotes in request");
    this.inline = true;
    this.argc = parts.length;
    if (parts.length > 0) this.#encodeInline(parts);
    return newline + 1;
  }

  #encodeInline(parts: Uint8Array[]): void {
    let size = 16;
    for (const p of parts) size += p.length + 16;
    const out = new Uint8Array(size);
    let pos = writeHeader(out, 0, 0x2a, parts.length); // RESP_ARRAY
    if (this.args.length < parts.length * 2) this.args = new Int32Array(parts.length * 2);
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      pos = writeHeader(out, pos, 0x24, p.length); // RESP_BULK
      this.args[i * 2] = pos;
      out.set(p, pos);
      pos += p.length;
      this.args[i * 2 + 1] = pos;
      out[pos++] = CR;
      out[pos++] = LF;
    }
    this.inlineFrame = out.subarray(0, pos);
  }

  /** How a limit error starts: Redis says "invalid" normally and "unauthenticated" before AUTH. */
  get #unauth(): string {
    return this.#limits.unauthenticated ? "unauthenticated " : "invalid ";
  }

  #fail(reason: string): number {
    this.error = `Protocol error: ${reason}`;
    this.#expected = -1;
    return PROTOCOL_ERROR;
  }
}

function writeHeader(out: Uint8Array, pos: number, type: number, n: number): number {
  out[pos++] = type;
  const digits = String(n);
  for (let i = 0; i < digits.length; i++) out[pos++] = digits.charCodeAt(i);
  out[pos++] = CR;
  out[pos++] = LF;
  return pos;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === CR || c === LF || c === 0x0b || c === 0x0c;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Splits an inline command line the way Redis's `sdssplitargs` does: whitespace separates
 * arguments; "double quotes" understand \n \r \t \b \a \\ \" and \xHH; 'single quotes' only \'.
 * Returns null for unbalanced quotes.
 */
export function splitInlineArgs(buf: Uint8Array, start: number, end: number): Uint8Array[] | null {
  const out: Uint8Array[] = [];
  let i = start;
  for (;;) {
    while (i < end && isSpace(buf[i])) i++;
    if (i >= end) return out;
    const bytes: number[] = [];
    let inDouble = false;
    let inSingle = false;
    let done = false;
    const wordStart = i;
    let plain = true;
    while (!done) {
      if (inDouble) {
        if (i >= end) return null;
        const c = buf[i];
        if (
          c === 0x5c && i + 3 < end && buf[i + 1] === 0x78 && hexValue(buf[i + 2]) >= 0 &&
          hexValue(buf[i + 3]) >= 0
        ) {
          bytes.push(hexValue(buf[i + 2]) * 16 + hexValue(buf[i + 3]));
          i += 3;
        } else if (c === 0x5c && i + 1 < end) {
          i++;
          const e = buf[i];
          bytes.push(
            e === 0x6e ? LF : e === 0x72 ? CR : e === 0x74 ? 9 : e === 0x62 ? 8 : e === 0x61 ? 7 : e,
          );
        } else if (c === 0x22) {
          if (i + 1 < end && !isSpace(buf[i + 1])) return null;
          done = true;
        } else {
          bytes.push(c);
        }
      } else if (inSingle) {
        if (i >= end) return null;
        const c = buf[i];
        if (c === 0x5c && i + 1 < end && buf[i + 1] === 0x27) {
          i++;
          bytes.push(0x27);
        } else if (c === 0x27) {
          if (i + 1 < end && !isSpace(buf[i + 1])) return null;
          done = true;
        } else {
          bytes.push(c);
        }
      } else {
        if (i >= end) break;
        const c = buf[i];
        if (isSpace(c)) {
          done = true;
        } else if (c === 0x22) {
          inDouble = true;
          plain = false;
        } else if (c === 0x27) {
          inSingle = true;
          plain = false;
        } else {
          bytes.push(c);
        }
      }
      if (i < end) i++;
    }
    out.push(plain ? buf.slice(wordStart, wordStart + bytes.length) : new Uint8Array(bytes));
  }
}

/**
 * Scans replies of every RESP2 type and the RESP3 types a Redis 7 server sends: `_` null,
 * `#` boolean, `,` double, `(` big number, `=` verbatim string, `!` blob error, `%` map, `~` set,
 * `>` push, and `|` attributes (which belong to the value that follows them).
 * Nesting is tracked on an explicit stack, so deep replies cannot overflow the call stack.
 */
export class ReplyScanner {
  /** Why the last `scan` returned {@linkcode PROTOCOL_ERROR}. */
  error = "";

  #limits: RespLimits;
  // Elements still expected at each nesting level; #depth = 0 when no frame is in progress.
  #stack: number[] = [];
  #depth = 0;
  #offset = 0;

  constructor(limits: RespLimits = DEFAULT_RESP_LIMITS) {
    this.#limits = limits;
  }

  /** Forgets any partial frame. */
  reset(): void {
    this.#depth = 0;
    this.#offset = 0;
  }

  /**
   * Scans the reply starting at `buf[start]`, with valid bytes up to `end`.
   * Returns the end offset of the reply, {@linkcode NEED_MORE} or {@linkcode PROTOCOL_ERROR}.
   */
  scan(buf: Uint8Array, start: number, end: number): number {
    let pos: number;
    if (this.#depth === 0) {
      // Fast path: a complete simple reply or bulk string needs no state.
      if (start >= end) return NEED_MORE;
      const type = buf[start];
      const lineEnd = findLineEnd(buf, start + 1, end);
      if (lineEnd < 0 || lineEnd + 1 >= end) return this.#needHeader(start, end, start);
      if (buf[lineEnd + 1] !== LF) return this.#fail("bad line ending");
      switch (type) {
        case 0x2b: // RESP_SIMPLE '+'
        case 0x2d: // RESP_ERROR '-'
        case 0x3a: // RESP_INTEGER ':'
        case 0x5f: // RESP_NULL '_'
        case 0x23: // RESP_BOOLEAN '#'
        case 0x2c: // RESP_DOUBLE ','
        case 0x28: // RESP_BIG_NUMBER '('
          return lineEnd + 2;
        case 0x24: // RESP_BULK '$'
        case 0x3d: // RESP_VERBATIM '='
        case 0x21: { // RESP_BLOB_ERROR '!'
          const len = parseInteger(buf, start + 1, lineEnd);
          if (len === -1 && type === 0x24) return lineEnd + 2; // $-1: RESP2's null bulk
          if (!(len >= 0 && len <= this.#limits.maxBulkLength)) {
            return this.#fail("invalid bulk length");
          }
          const frameEnd = lineEnd + 2 + len + 2;
          if (frameEnd > end) {
            this.#stack[0] = 1;
            this.#depth = 1;
            this.#offset = 0;
            return NEED_MORE;
          }
          if (buf[frameEnd - 2] !== CR || buf[frameEnd - 1] !== LF) {
            return this.#fail("invalid bulk format");
          }
          return frameEnd;
        }
      }
      this.#stack[0] = 1;
      this.#depth = 1;
      pos = start;
    } else {
      pos = start + this.#offset;
    }
    return this.#scanNested(buf, start, pos, end);
  }

  #needHeader(start: number, end: number, lineStart: number): number {
    if (end - lineStart > this.#limits.maxBulkLength) return this.#fail("line too long");
    if (this.#depth === 0) {
      this.#stack[0] = 1;
      this.#depth = 1;
    }
    this.#offset = lineStart - start;
    return NEED_MORE;
  }

  #scanNested(buf: Uint8Array, start: number, pos: number, end: number): number {
    const stack = this.#stack;
    let depth = this.#depth;
    const maxBulk = this.#limits.maxBulkLength;
    const maxArray = this.#limits.maxArrayLength;
    while (depth > 0) {
      if (pos >= end) {
        this.#depth = depth;
        return this.#needHeader(start, end, pos);
      }
      const type = buf[pos];
      const lineEnd = findLineEnd(buf, pos + 1, end);
      if (lineEnd < 0 || lineEnd + 1 >= end) {
        this.#depth = depth;
        return this.#needHeader(start, end, pos);
      }
      if (buf[lineEnd + 1] !== LF) return this.#fail("bad line ending");
      let next = lineEnd + 2;
      let children = 0;
      switch (type) {
        case 0x2b: // RESP_SIMPLE '+'
        case 0x2d: // RESP_ERROR '-'
        case 0x3a: // RESP_INTEGER ':'
        case 0x5f: // RESP_NULL '_'
        case 0x23: // RESP_BOOLEAN '#'
        case 0x2c: // RESP_DOUBLE ','
        case 0x28: // RESP_BIG_NUMBER '('
          break;
        case 0x24: // RESP_BULK '$'
        case 0x3d: // RESP_VERBATIM '='
        case 0x21: { // RESP_BLOB_ERROR '!'
          const len = parseInteger(buf, pos + 1, lineEnd);
          if (len === -1 && type === 0x24) break; // $-1: RESP2's null bulk
          if (!(len >= 0 && len <= maxBulk)) return this.#fail("invalid bulk length");
          next = lineEnd + 2 + len + 2;
          if (next > end) {
            this.#depth = depth;
            this.#offset = pos - start;
            return NEED_MORE;
          }
          if (buf[next - 2] !== CR || buf[next - 1] !== LF) return this.#fail("invalid bulk format");
          break;
        }
        case 0x2a: // RESP_ARRAY '*'
        case 0x7e: // RESP_SET '~'
        case 0x3e: // RESP_PUSH '>'
        case 0x25: // RESP_MAP '%'
        case 0x7c: { // RESP_ATTRIBUTE '|'
          const n = parseInteger(buf, pos + 1, lineEnd);
          if (n === -1 && type === 0x2a) break; // *-1: RESP2's null array
          if (!(n >= 0 && n <= maxArray)) return this.#fail("invalid multibulk length");
          children = type === 0x25 || type === 0x7c ? n * 2 : n; // maps and attributes hold pairs
          if (type === 0x7c) stack[depth - 1]++; // an attribute's value still follows it
          break;
        }
        default:
          return this.#fail(`unknown reply type '${String.fromCharCode(type)}'`);
      }
      pos = next;
      stack[depth - 1]--;
      if (children > 0) {
        stack[depth++] = children;
      }
      while (depth > 0 && stack[depth - 1] === 0) depth--;
    }
    this.#depth = 0;
    this.#offset = 0;
    return pos;
  }

  #fail(reason: string): number {
    this.error = `Protocol error: ${reason}`;
    this.#depth = 0;
    this.#offset = 0;
    return PROTOCOL_ERROR;
  }
}
