/**
 * The proxy's slow log, in Redis's terms (`slowlog.c`): every request that took at least
 * `slowlog_log_slower_than` microseconds from its arrival to its reply is kept, newest first, up
 * to `slowlog_max_len` entries; `SLOWLOG GET [count]`, `LEN` and `RESET` answer as Redis does.
 *
 * A request's bytes are kept by reference to the read that brought them ({@linkcode RawChunk}),
 * copied only when the session must reuse its buffer while the request is unanswered, and decoded
 * into arguments only for the entries that are kept. A negative threshold turns it all off.
 *
 * @module
 */

import { RequestScanner } from "../redis/resp_scanner.ts";
import type { ByteWriter } from "../redis/resp_writer.ts";
import { RESP_ARRAY } from "../redis/resp_types.ts";

/** Redis's SLOWLOG_ENTRY_MAX_ARGC. */
const MAX_ARGC = 32;
/** Redis's SLOWLOG_ENTRY_MAX_STRING. */
const MAX_STRING = 128;

const enc = new TextEncoder();

/** One kept request. */
export interface SlowLogEntry {
  id: number;
  /** Unix seconds when it was logged. */
  time: number;
  /** Microseconds from its arrival to its reply. */
  durationUs: number;
  /** Its arguments, cut as Redis cuts them. */
  args: Uint8Array[];
  client: string;
  clientName: string;
}

/**
 * The bytes one read brought, `buf[from, to)`, as long as requests of it may be logged: `live`
 * counts those not answered yet. Before the session's read buffer is reused, a region still live
 * is copied (`copy`); a client that waits for each reply before sending the next request never
 * needs a copy.
 */
export class RawChunk {
  buf: Uint8Array;
  from: number;
  to: number;
  live = 0;
  copy: Uint8Array | null = null;

  constructor(buf: Uint8Array, from: number, to: number) {
    this.buf = buf;
    this.from = from;
    this.to = to;
  }

  /** Keeps the live bytes before the buffer is reused. */
  detach(): void {
    if (this.live > 0 && this.copy === null) this.copy = this.buf.slice(this.from, this.to);
  }

  /** `[start, end)` of the original buffer, wherever the bytes are now. */
  bytes(start: number, end: number): Uint8Array {
    return this.copy !== null ? this.copy.subarray(start - this.from, end - this.from) : this.buf.subarray(start, end);
  }
}

/** What a logged request must tell. */
export interface SlowRequest {
  /** The read its bytes came in (null when the log was off then), and where in it. */
  readonly rawChunk: RawChunk | null;
  readonly rawStart: number;
  readonly rawEnd: number;
}

/** Who sent it. */
export interface SlowClient {
  readonly remoteAddr: string;
  readonly clientName: string;
}

/** A kept request, its arguments still raw (cut when asked for). */
interface Kept {
  id: number;
  time: number;
  durationUs: number;
  raw: Uint8Array;
  client: string;
  clientName: string;
}

/** The slow log of one proxy: a ring of the newest entries; recording one is a copy and a store. */
export class SlowLog {
  /** Microseconds; negative = off, 0 = every request. */
  threshold: number;
  maxLen: number;
  #ring: (Kept | undefined)[] = [];
  /** Index of the next write in the ring. */
  #head = 0;
  #size = 0;
  #nextId = 0;

  constructor(threshold: number, maxLen: number) {
    this.threshold = threshold;
    this.maxLen = maxLen;
  }

  /** True while requests must be kept track of. */
  get on(): boolean {
    return this.threshold >= 0 && this.maxLen > 0;
  }

  /** Keeps the request if it was slow enough. */
  consider(req: SlowRequest, durationUs: number, client: SlowClient): void {
    const chunk = req.rawChunk;
    if (!this.on || durationUs < this.threshold || chunk === null) return;
    if (this.#ring.length !== this.maxLen) this.#resize();
    this.#ring[this.#head] = {
      id: this.#nextId++,
      time: Math.floor(Date.now() / 1000),
      durationUs: Math.round(durationUs),
      raw: chunk.bytes(req.rawStart, req.rawEnd).slice(),
      client: client.remoteAddr,
      clientName: client.clientName,
    };
    this.#head = (this.#head + 1) % this.maxLen;
    if (this.#size < this.maxLen) this.#size++;
  }

  get length(): number {
    return this.#size;
  }

  /** The newest `count` entries, newest first (all with a negative count). */
  get(count = 10): SlowLogEntry[] {
    const n = count < 0 ? this.#size : Math.min(count, this.#size);
    return this.#newest(n).map((k) => ({
      id: k.id,
      time: k.time,
      durationUs: k.durationUs,
      args: cutArgs(k.raw),
      client: k.client,
      clientName: k.clientName,
    }));
  }

  reset(): void {
    this.#ring = [];
    this.#head = 0;
    this.#size = 0;
  }

  /** Applies new settings (a reload); a shorter length drops the oldest entries. */
  configure(threshold: number, maxLen: number): void {
    this.threshold = threshold;
    this.maxLen = maxLen;
    this.#resize();
  }

  /** The newest `n` kept entries, newest first. */
  #newest(n: number): Kept[] {
    const out: Kept[] = [];
    const len = this.#ring.length;
    for (let i = 1; i <= n; i++) out.push(this.#ring[(this.#head - i + len) % len]!);
    return out;
  }

  /** Makes the ring `maxLen` long, keeping the newest entries. */
  #resize(): void {
    const len = Math.max(0, this.maxLen);
    const keep = this.#newest(Math.min(this.#size, len)).reverse();
    this.#ring = new Array(len);
    this.#head = 0;
    this.#size = 0;
    for (const k of keep) {
      this.#ring[this.#head] = k;
      this.#head = (this.#head + 1) % len;
      this.#size++;
    }
  }

  /** Writes `entries` in Redis's reply shape. */
  static write(w: ByteWriter, entries: readonly SlowLogEntry[]): void {
    w.appendHeader(RESP_ARRAY, entries.length);
    for (const e of entries) {
      w.appendHeader(RESP_ARRAY, 6);
      w.appendInteger(e.id);
      w.appendInteger(e.time);
      w.appendInteger(e.durationUs);
      w.appendHeader(RESP_ARRAY, e.args.length);
      for (const a of e.args) w.appendBulk(a, 0, a.length);
      w.appendBulkString(e.client);
      w.appendBulkString(e.clientName);
    }
  }
}

/** One scanner for every entry read (entries are read one at a time). */
const scanner = new RequestScanner();

/** A request's arguments, at most 32 (the last saying how many more) of at most 128 bytes each. */
export function cutArgs(raw: Uint8Array): Uint8Array[] {
  scanner.reset();
  const end = scanner.scan(raw, 0, raw.length);
  if (end <= 0) return [raw.slice(0, MAX_STRING)];
  const argc = scanner.argc;
  const args = scanner.args;
  const kept = Math.min(argc, MAX_ARGC);
  const out: Uint8Array[] = [];
  for (let i = 0; i < kept; i++) {
    if (kept !== argc && i === kept - 1) {
      out.push(enc.encode(`... (${argc - kept + 1} more arguments)`));
      break;
    }
    const s = args[i * 2];
    const len = args[i * 2 + 1] - s;
    if (len > MAX_STRING) {
      const head = raw.subarray(s, s + MAX_STRING);
      const tail = enc.encode(`... (${len - MAX_STRING} more bytes)`);
      const a = new Uint8Array(head.length + tail.length);
      a.set(head);
      a.set(tail, head.length);
      out.push(a);
    } else {
      out.push(raw.slice(s, s + len));
    }
  }
  return out;
}
