/**
 * The proxy's slow log, in Redis's terms (`slowlog.c`): every request that took at least
 * `slowlog_log_slower_than` microseconds from its arrival to its reply is kept, newest first, up
 * to `slowlog_max_len` entries; `SLOWLOG GET [count]`, `LEN` and `RESET` answer as Redis does.
 *
 * The request's bytes are copied when it arrives only while the log is on (a negative threshold
 * turns it off), and decoded into arguments only for the entries that are kept.
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

/** What a logged request must tell. */
export interface SlowRequest {
  /** The request's RESP bytes (copied at arrival; null when the log was off then). */
  readonly raw: Uint8Array | null;
}

/** Who sent it. */
export interface SlowClient {
  readonly remoteAddr: string;
  readonly clientName: string;
}

/** The slow log of one proxy. */
export class SlowLog {
  /** Microseconds; negative = off, 0 = every request. */
  threshold: number;
  maxLen: number;
  #entries: SlowLogEntry[] = [];
  #nextId = 0;

  constructor(threshold: number, maxLen: number) {
    this.threshold = threshold;
    this.maxLen = maxLen;
  }

  /** True while requests must be copied at arrival. */
  get on(): boolean {
    return this.threshold >= 0 && this.maxLen > 0;
  }

  /** Keeps the request if it was slow enough. */
  consider(req: SlowRequest, durationUs: number, client: SlowClient): void {
    if (!this.on || durationUs < this.threshold || req.raw === null) return;
    this.#entries.unshift({
      id: this.#nextId++,
      time: Math.floor(Date.now() / 1000),
      durationUs: Math.round(durationUs),
      args: cutArgs(req.raw),
      client: client.remoteAddr,
      clientName: client.clientName,
    });
    if (this.#entries.length > this.maxLen) this.#entries.length = this.maxLen;
  }

  get length(): number {
    return this.#entries.length;
  }

  /** The newest `count` entries (all with a negative count). */
  get(count = 10): readonly SlowLogEntry[] {
    return count < 0 ? this.#entries : this.#entries.slice(0, count);
  }

  reset(): void {
    this.#entries = [];
  }

  /** Applies new settings (a reload); a shorter length drops the oldest entries. */
  configure(threshold: number, maxLen: number): void {
    this.threshold = threshold;
    this.maxLen = maxLen;
    if (this.#entries.length > maxLen) this.#entries.length = Math.max(0, maxLen);
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

/** A request's arguments, at most 32 (the last saying how many more) of at most 128 bytes each. */
export function cutArgs(raw: Uint8Array): Uint8Array[] {
  const scanner = new RequestScanner();
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
