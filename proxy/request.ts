/**
 * A client request on its way through the proxy: created by the session when parsed, sent by
 * the router, answered by a backend connection (or failed), and written back by the session in
 * the client's order.
 *
 * @module
 */

import { releaseSlots, type Routed, type Slot } from "./slot.ts";
import type { RawChunk } from "./slowlog.ts";
import type { OpStats } from "./stats.ts";

/** Where a request's outcome goes (the session). */
export interface ReplySink {
  /** The request's reply is `buf[start, end)` (valid only during the call). */
  replied(req: Request, buf: Uint8Array, start: number, end: number): void;
  /** The request failed with the error `message` made by the proxy (e.g. `ERR handle request, …`). */
  failed(req: Request, message: string): void;
}

/** One client request. */
export class Request implements Routed {
  readonly sink: ReplySink;
  /** Counters of the request's command. */
  readonly op: OpStats;
  readonly db: number;
  readonly seed: number;
  /** `clock.now` when the request was read. */
  readonly startedAt: number;
  slots: Slot[] | null = null;
  /** Set once the outcome is known. */
  done = false;
  /** The reply, kept until the requests before it are written. */
  reply: Uint8Array | null = null;
  /** The reply is an error made by the proxy (counted in `fails`). */
  proxyError = false;
  /** Close the session after writing this reply (QUIT, session_break_on_failure). */
  closeAfter = false;
  /** Where the request's bytes are, while the slow log is on (see `RawChunk`). */
  rawChunk: RawChunk | null = null;
  rawStart = 0;
  rawEnd = 0;

  constructor(sink: ReplySink, op: OpStats, db: number, seed: number, startedAt: number) {
    this.sink = sink;
    this.op = op;
    this.db = db;
    this.seed = seed;
    this.startedAt = startedAt;
  }

  onReply(buf: Uint8Array, start: number, end: number): void {
    if (this.slots !== null) releaseSlots(this);
    this.sink.replied(this, buf, start, end);
  }

  onFailure(reason: string): void {
    releaseSlots(this);
    this.sink.failed(this, `ERR handle response, ${reason}`);
  }

  reject(reason: string): void {
    releaseSlots(this);
    this.sink.failed(this, `ERR handle request, ${reason}`);
  }
}
