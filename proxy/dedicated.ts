/**
 * Dedicated backend connections: one session's own connection to a server while it needs one
 * (a transaction, a blocking command, subscriptions), from a bounded pool per server and database.
 *
 * The shared pipelined connections ({@linkcode BackendConn}) cannot carry state that belongs to
 * one client: a `MULTI` would swallow other clients' commands, a `BLPOP` would stall them all, a
 * `SUBSCRIBE` would turn the connection into a stream of messages. A dedicated connection logs in
 * the same way (ACL user or `product_auth`, then `SELECT`), learns its `CLIENT ID` (so that the
 * proxy can `CLIENT UNBLOCK` it when its slot must move), and is handed back to an idle list when
 * its state ends cleanly, or closed when it does not.
 *
 * @module
 */

import { NEED_MORE, PROTOCOL_ERROR, ReplyScanner } from "../redis/resp_scanner.ts";
import { ByteWriter } from "../redis/resp_writer.ts";
import { ReadBuffer } from "../redis/read_buffer.ts";
import { RESP_INTEGER } from "../redis/resp_types.ts";
import { errorMessage } from "../utils/errors.ts";
import { Fifo } from "../utils/fifo.ts";
import { closeQuietly } from "../utils/net.ts";
import { type BackendOptions, connectBackend, dbIndex, type Pending } from "./backend_base.ts";

/** Idle dedicated connections kept per server and database for the next session. */
const IDLE_KEPT = 8;

/** Receives every frame of a connection in push mode (subscriptions). */
export type FrameHandler = (buf: Uint8Array, start: number, end: number) => void;

/** A connection that belongs to one session at a time. */
export class DedicatedConn {
  readonly addr: string;
  readonly db: number;
  /** The server's id for this connection (`CLIENT ID`), 0 until known. */
  clientId = 0;
  /** Called once the client id is known (see `clientId`). */
  onClientId: (() => void) | null = null;
  /** Called once when the connection ends (closed by either side, or failed); `reason` says why. */
  onClosed: ((reason: string) => void) | null = null;
  #options: BackendOptions;
  #conn: Deno.Conn | null = null;
  #queue = new Fifo<Pending>(8);
  #out = new ByteWriter(256);
  #handler: FrameHandler | null = null;
  #afterFrames: (() => void) | null = null;
  #writing = false;
  #closed = false;
  #pool: DedicatedPool;

  constructor(pool: DedicatedPool, addr: string, db: number, options: BackendOptions) {
    this.#pool = pool;
    this.addr = addr;
    this.db = db;
    this.#options = options;
    this.sendCommand(new ClientIdProbe(this), ["CLIENT", "ID"]);
    void this.#open();
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Replies still awaited (requests sent, or queued until the connection is ready). */
  get pending(): number {
    return this.#queue.length;
  }

  /**
   * Push mode: every frame from now on goes to `handler` instead of to the waiting requests (a
   * subscribed connection answers with confirmations and messages, not one reply per request);
   * `afterFrames` is called after the frames of each read (their bytes are valid until it returns).
   */
  setHandler(handler: FrameHandler | null, afterFrames: (() => void) | null = null): void {
    this.#handler = handler;
    this.#afterFrames = afterFrames;
  }

  /** Sends the command `buf[start, end)`; its reply goes to `pending` (unless in push mode). */
  send(pending: Pending | null, buf: Uint8Array, start: number, end: number): void {
    if (this.#closed) {
      pending?.onFailure("backend conn closed");
      return;
    }
    this.#out.append(buf, start, end);
    if (pending !== null) this.#queue.push(pending);
    if (this.#conn !== null && !this.#writing) void this.#flush();
  }

  /** Sends a command built by the proxy. */
  sendCommand(pending: Pending | null, args: ReadonlyArray<string | Uint8Array | number>): void {
    const w = new ByteWriter(64);
    w.appendCommand(args);
    this.send(pending, w.bytes, 0, w.length);
  }

  /** Gives the connection back to its pool (reused when idle and clean, closed otherwise). */
  release(): void {
    this.#pool.giveBack(this);
  }

  /** Closes the connection; what still waits fails with `reason`. Idempotent. */
  close(reason = "backend conn closed"): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#conn !== null) closeQuietly(this.#conn);
    this.#conn = null;
    this.#out.clear(256);
    for (const p of this.#queue.drain()) p.onFailure(reason);
    this.#pool.forget(this);
    const onClosed = this.onClosed;
    this.onClosed = null;
    onClosed?.(reason);
  }

  async #open(): Promise<void> {
    let conn: Deno.Conn;
    try {
      conn = await connectBackend(this.addr, this.db, this.#options);
    } catch (e) {
      this.close(`backend conn failure, ${errorMessage(e)}`);
      return;
    }
    if (this.#closed) {
      closeQuietly(conn);
      return;
    }
    this.#conn = conn;
    void this.#readLoop(conn);
    if (this.#out.length > 0) void this.#flush();
  }

  async #flush(): Promise<void> {
    const conn = this.#conn;
    if (conn === null) return;
    this.#writing = true;
    try {
      while (this.#out.length > 0 && !this.#closed) {
        const data = this.#out.bytes.slice(0, this.#out.length);
        this.#out.clear(256);
        let off = 0;
        while (off < data.length) off += await conn.write(data.subarray(off));
      }
    } catch (e) {
      this.close(`backend conn failure, write failed: ${errorMessage(e)}`);
    } finally {
      this.#writing = false;
    }
  }

  async #readLoop(conn: Deno.Conn): Promise<void> {
    const scanner = new ReplyScanner(this.#options.limits);
    const rb = new ReadBuffer(4096);
    try {
      for (;;) {
        const n = await conn.read(rb.space());
        if (this.#closed) return;
        if (n === null) {
          this.close("backend conn failure, connection closed by server");
          return;
        }
        rb.end += n;
        const buf = rb.bytes;
        let start = rb.start;
        for (;;) {
          const end = scanner.scan(buf, start, rb.end);
          if (end === NEED_MORE) break;
          if (end === PROTOCOL_ERROR) {
            this.close(`backend conn failure, bad reply: ${scanner.error}`);
            return;
          }
          // The CLIENT ID asked first is answered first, whatever the mode.
          const head = this.#queue.peek();
          if (this.#handler !== null && !(head instanceof ClientIdProbe)) {
            this.#handler(buf, start, end);
          } else {
            const p = this.#queue.shift();
            if (p === undefined) {
              this.close("backend conn failure, reply without a request");
              return;
            }
            p.onReply(buf, start, end);
          }
          if (this.#closed) return;
          start = end;
        }
        this.#afterFrames?.();
        if (this.#closed) return;
        rb.start = start;
      }
    } catch (e) {
      this.close(`backend conn failure, read failed: ${errorMessage(e)}`);
    }
  }
}

/** Reads the answer to `CLIENT ID`. */
class ClientIdProbe implements Pending {
  #conn: DedicatedConn;
  constructor(conn: DedicatedConn) {
    this.#conn = conn;
  }
  onReply(buf: Uint8Array, start: number, end: number): void {
    if (buf[start] !== RESP_INTEGER) return;
    this.#conn.clientId = Number(new TextDecoder().decode(buf.subarray(start + 1, end - 2)));
    const then = this.#conn.onClientId;
    this.#conn.onClientId = null;
    then?.();
  }
  onFailure(): void {}
}

/** The dedicated connections to one server: at most `limit` per database at a time. */
export class DedicatedPool {
  readonly addr: string;
  #options: BackendOptions;
  #inUse: Set<DedicatedConn>[] = [];
  #idle: DedicatedConn[][] = [];
  #closed = false;

  /** `options.maxDedicated` is read at each take, so that a reload applies at once. */
  constructor(addr: string, options: BackendOptions) {
    this.addr = addr;
    this.#options = options;
  }

  /** Connections handed out and not given back. */
  get inUse(): number {
    let n = 0;
    for (const s of this.#inUse) if (s) n += s.size;
    return n;
  }

  /** Connections waiting for their next session. */
  get idle(): number {
    let n = 0;
    for (const l of this.#idle) if (l) n += l.length;
    return n;
  }

  /**
   * A connection for `db`, logged in (or logging in: what is sent meanwhile waits for it), or
   * the reason there is none: the pool is closed, or `limit` connections are already out.
   */
  take(db: number): DedicatedConn | string {
    if (this.#closed) return `backend ${this.addr} is no longer in use`;
    const inUse = this.#inUse[dbIndex(db)] ??= new Set();
    const limit = this.#options.maxDedicated;
    if (limit > 0 && inUse.size >= limit) {
      return `too many dedicated connections to ${this.addr} db ${db} (backend_max_dedicated = ${limit})`;
    }
    const idle = this.#idle[dbIndex(db)];
    let conn = idle?.pop();
    while (conn !== undefined && conn.closed) conn = idle?.pop();
    conn ??= new DedicatedConn(this, this.addr, db, this.#options);
    inUse.add(conn);
    return conn;
  }

  /** Takes a connection back: kept for reuse when it awaits nothing, closed otherwise. */
  giveBack(conn: DedicatedConn): void {
    const inUse = this.#inUse[dbIndex(conn.db)];
    if (!inUse?.delete(conn)) return;
    conn.onClosed = null;
    conn.setHandler(null);
    const idle = this.#idle[dbIndex(conn.db)] ??= [];
    if (this.#closed || conn.closed || conn.pending > 0 || idle.length >= IDLE_KEPT) conn.close();
    else idle.push(conn);
  }

  /** A connection closed: it is no longer counted. */
  forget(conn: DedicatedConn): void {
    this.#inUse[dbIndex(conn.db)]?.delete(conn);
    const idle = this.#idle[dbIndex(conn.db)];
    if (idle) {
      const i = idle.indexOf(conn);
      if (i >= 0) idle.splice(i, 1);
    }
  }

  /** Closes every connection (the server left the slot table); their sessions see them close. */
  close(): void {
    this.#closed = true;
    for (const l of this.#idle) if (l) { for (const c of [...l]) c.close(); }
    for (const s of this.#inUse) if (s) { for (const c of [...s]) c.close(`backend ${this.addr} is no longer in use`); }
    this.#idle = [];
    this.#inUse = [];
  }
}
