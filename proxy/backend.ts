/**
 * Backend connections: shared, pipelined connections to one Redis server and database.
 *
 * Requests from many sessions are appended to one output buffer and written together; replies
 * are matched to requests in order. A connection AUTHs and SELECTs on every (re)connect,
 * reconnects with back-off after failures, PINGs when idle, and marks itself stale while the
 * server answers MASTERDOWN or LOADING (as Codis's backend does).
 *
 * @module
 */

import { NEED_MORE, PROTOCOL_ERROR, ReplyScanner } from "../redis/resp_scanner.ts";
import { ByteWriter } from "../redis/resp_writer.ts";
import { ReadBuffer } from "../redis/read_buffer.ts";
import { RESP_BULK, RESP_ERROR } from "../redis/resp_types.ts";
import { closeQuietly } from "../utils/net.ts";
import { Fifo } from "../utils/fifo.ts";
import { log } from "../utils/log.ts";
import { clock } from "./stats.ts";
import { errorMessage } from "../utils/errors.ts";
import { type BackendOptions, connectBackend, dbIndex, type Pending } from "./backend_base.ts";
import { DedicatedPool } from "./dedicated.ts";

export type { BackendOptions, Pending };

/** Consecutive failures retried at once before back-off starts. */
const FAST_RETRIES = 10;
const BACKOFF_MIN_MS = 50;
const BACKOFF_MAX_MS = 5000;

const enc = new TextEncoder();

/** State of a backend connection. */
export type BackendState = "idle" | "connecting" | "ready" | "closed";

/** A pipelined connection to one Redis server, bound to one database. */
export class BackendConn {
  /** `host:port` of the server. */
  readonly addr: string;
  /** The database this connection is bound to. */
  readonly db: number;
  #options: BackendOptions;
  #state: BackendState = "idle";
  #conn: Deno.Conn | null = null;
  #queue = new Fifo<Pending>(64);
  #out: ByteWriter;
  #spare: ByteWriter;
  #writing = false;
  #flushScheduled = false;
  #written = 0; // requests of #queue already written (the rest sit in #out)
  #stale = false;
  #failures = 0;
  #retryAt = 0;
  /** Why the connection last failed (for the error requests get while it is down). */
  #lastFailure = "";
  #lastReadAt = 0;
  #lastWriteAt = 0;
  #writeStartedAt = 0;
  #generation = 0;
  #flushTask = () => {
    this.#flushScheduled = false;
    if (!this.#writing) void this.#flush();
  };

  constructor(addr: string, db: number, options: BackendOptions) {
    this.addr = addr;
    this.db = db;
    this.#options = options;
    this.#out = new ByteWriter(Math.min(options.sendBufsize, 64 * 1024));
    this.#spare = new ByteWriter(Math.min(options.sendBufsize, 64 * 1024));
  }

  /** Current state. */
  get state(): BackendState {
    return this.#state;
  }

  /** True when connected and the server is not answering MASTERDOWN/LOADING. */
  get usable(): boolean {
    return this.#state === "ready" && !this.#stale;
  }

  /** True while the server answers MASTERDOWN or LOADING. */
  get stale(): boolean {
    return this.#stale;
  }

  /** Number of requests waiting for a reply. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Starts connecting if not connected (used to warm up replica connections). */
  warmUp(): void {
    if (this.#state === "idle" && performance.now() >= this.#retryAt) this.#connect();
  }

  /**
   * Queues the request `buf[start, end)` (a complete RESP command) and `pending` to receive its
   * reply. The bytes are copied at once.
   */
  send(pending: Pending, buf: Uint8Array, start: number, end: number): void {
    if (this.#state !== "ready") {
      if (this.#state === "closed") {
        pending.onFailure("backend conn closed");
        return;
      }
      if (this.#state === "idle") {
        if (performance.now() < this.#retryAt) {
          pending.onFailure(`backend ${this.addr} is down, retrying (${this.#lastFailure})`);
          return;
        }
        this.#connect();
      }
    }
    this.#out.append(buf, start, end);
    this.#queue.push(pending);
    if (!this.#flushScheduled && !this.#writing && this.#state === "ready") {
      this.#flushScheduled = true;
      queueMicrotask(this.#flushTask);
    }
  }

  /** Sends a command built by the proxy itself (PING, INFO, MIGRATE, …). */
  sendCommand(pending: Pending, args: ReadonlyArray<string | Uint8Array | number>): void {
    const w = new ByteWriter(64);
    w.appendCommand(args);
    this.send(pending, w.bytes, 0, w.length);
  }

  /** Closes the connection for good; waiting requests fail. Idempotent. */
  close(): void {
    if (this.#state === "closed") return;
    this.#drop("backend conn closed");
    this.#state = "closed";
  }

  /**
   * Called about once a second: resets a connection stuck on a read or write, and PINGs an idle
   * one (INFO for a stale one, to learn when it recovers).
   */
  tick(now: number): void {
    if (this.#state !== "ready") return;
    const o = this.#options;
    if (this.#writing && o.sendTimeout > 0 && now - this.#writeStartedAt > o.sendTimeout) {
      this.#broken(`write timed out after ${o.sendTimeout} ms`);
      return;
    }
    if (this.#written > 0 && o.recvTimeout > 0 && now - Math.max(this.#lastReadAt, this.#lastWriteAt) > o.recvTimeout) {
      this.#broken(`no reply within ${o.recvTimeout} ms`);
      return;
    }
    if (
      o.pingPeriod > 0 && this.#queue.length === 0 &&
      now - Math.max(this.#lastReadAt, this.#lastWriteAt) >= o.pingPeriod
    ) {
      if (this.#stale) this.sendCommand(new StaleProbe(this), ["INFO"]);
      else this.sendCommand(IGNORE_REPLY, ["PING"]);
    } else if (this.#stale && this.#queue.length === 0) {
      this.sendCommand(new StaleProbe(this), ["INFO"]);
    }
  }

  /** Clears the stale mark (the server's INFO shows it is serving again). */
  markFresh(): void {
    this.#stale = false;
  }

  #connect(): void {
    this.#state = "connecting";
    const generation = ++this.#generation;
    void this.#dial(generation);
  }

  async #dial(generation: number): Promise<void> {
    // Logged in, the database selected, before anything queued goes out.
    let conn: Deno.Conn;
    try {
      conn = await connectBackend(this.addr, this.db, this.#options);
    } catch (e) {
      if (this.#isCurrent(generation)) this.#broken(errorMessage(e));
      return;
    }
    if (!this.#isCurrent(generation)) {
      closeQuietly(conn);
      return;
    }
    this.#conn = conn;
    this.#state = "ready";
    this.#stale = false;
    const now = performance.now();
    this.#lastReadAt = now;
    this.#lastWriteAt = now;
    void this.#readLoop(conn, generation);
    if (this.#out.length > 0 && !this.#writing) void this.#flush();
  }

  async #flush(): Promise<void> {
    const conn = this.#conn;
    if (!conn) return;
    this.#writing = true;
    const generation = this.#generation;
    try {
      while (this.#out.length > 0 && this.#state === "ready" && generation === this.#generation) {
        // Back-pressure: wait for replies once backend_max_pipeline requests are in flight.
        if (this.#options.maxPipeline > 0 && this.#written >= this.#options.maxPipeline) break;
        const out = this.#out;
        this.#out = this.#spare;
        this.#spare = out;
        this.#written = this.#queue.length; // everything queued so far is in `out`
        this.#writeStartedAt = performance.now();
        const data = out.bytes;
        const len = out.length;
        let off = 0;
        while (off < len) off += await conn.write(data.subarray(off, len));
        this.#lastWriteAt = performance.now();
        out.clear(this.#options.sendBufsize);
      }
    } catch (e) {
      if (generation === this.#generation && this.#state === "ready") {
        this.#broken(`write failed: ${errorMessage(e)}`);
      }
    } finally {
      if (generation === this.#generation) this.#writing = false;
    }
  }

  async #readLoop(conn: Deno.Conn, generation: number): Promise<void> {
    const scanner = new ReplyScanner(this.#options.limits);
    const rb = new ReadBuffer(this.#options.recvBufsize);
    try {
      for (;;) {
        const n = await conn.read(rb.space());
        if (generation !== this.#generation) return;
        if (n === null) {
          this.#broken("connection closed by server");
          return;
        }
        rb.end += n;
        const now = performance.now();
        clock.now = now;
        this.#lastReadAt = now;
        const buf = rb.bytes;
        let start = rb.start;
        for (;;) {
          const frameEnd = scanner.scan(buf, start, rb.end);
          if (frameEnd === NEED_MORE) break;
          if (frameEnd === PROTOCOL_ERROR) {
            this.#broken(`bad reply: ${scanner.error}`);
            return;
          }
          const pending = this.#queue.shift();
          if (pending === undefined) {
            this.#broken("reply without a request");
            return;
          }
          if (this.#written > 0) this.#written--;
          if (buf[start] === RESP_ERROR) this.#checkStale(buf, start);
          pending.onReply(buf, start, frameEnd);
          if (generation !== this.#generation) return; // the reply broke the connection
          start = frameEnd;
          this.#failures = 0;
        }
        rb.start = start;
        const max = this.#options.maxPipeline;
        if (
          this.#out.length > 0 && !this.#writing && !this.#flushScheduled &&
          (max === 0 || this.#written < max / 2 || this.#written === 0)
        ) {
          this.#flushScheduled = true;
          queueMicrotask(this.#flushTask);
        }
      }
    } catch (e) {
      if (generation === this.#generation && this.#state === "ready") {
        this.#broken(`read failed: ${errorMessage(e)}`);
      }
    }
  }

  #checkStale(buf: Uint8Array, start: number): void {
    if (startsWith(buf, start + 1, MASTERDOWN) || startsWith(buf, start + 1, LOADING)) {
      if (!this.#stale) log.warn(`backend ${this.addr} db ${this.db} is stale (MASTERDOWN/LOADING)`);
      this.#stale = true;
    }
  }

  /** The connection failed: fail what waits, then allow a reconnect (after back-off). */
  #broken(reason: string): void {
    this.#failures++;
    this.#lastFailure = reason;
    if (this.#failures <= FAST_RETRIES) {
      this.#retryAt = 0;
    } else {
      const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(10, this.#failures - FAST_RETRIES - 1));
      this.#retryAt = performance.now() + delay;
    }
    if (this.#failures === 1 || this.#failures % 100 === 0) {
      log.warn(`backend ${this.addr} db ${this.db}: ${reason} (failure ${this.#failures})`);
    }
    this.#drop(`backend conn failure, ${reason}`);
  }

  #drop(reason: string): void {
    this.#generation++;
    this.#state = "idle";
    this.#writing = false;
    this.#flushScheduled = false;
    this.#written = 0;
    if (this.#conn) {
      closeQuietly(this.#conn);
      this.#conn = null;
    }
    this.#out.clear(this.#options.sendBufsize);
    this.#spare.clear(this.#options.sendBufsize);
    const failed = this.#queue.drain();
    for (const p of failed) p.onFailure(reason);
  }

  /** False once the connection attempt `generation` was superseded (closed, or a newer one began). */
  #isCurrent(generation: number): boolean {
    return generation === this.#generation && this.#state !== "closed";
  }
}

const MASTERDOWN = enc.encode("MASTERDOWN");
const LOADING = enc.encode("LOADING");

function startsWith(buf: Uint8Array, at: number, prefix: Uint8Array): boolean {
  for (let i = 0; i < prefix.length; i++) if (buf[at + i] !== prefix[i]) return false;
  return true;
}

class StaleProbe implements Pending {
  #conn: BackendConn;
  constructor(conn: BackendConn) {
    this.#conn = conn;
  }
  onReply(buf: Uint8Array, start: number, end: number): void {
    if (buf[start] !== RESP_BULK) return;
    const text = new TextDecoder().decode(buf.subarray(start, end));
    const down = /master_link_status:down/.test(text);
    const loading = /loading:1/.test(text);
    if (!down && !loading) this.#conn.markFresh();
  }
  onFailure(): void {}
}

/** A pending that ignores its reply (keepalive PINGs). */
export const IGNORE_REPLY: Pending = { onReply() {}, onFailure() {} };

/**
 * The connections to one server: `parallel` connections per database, created on first use,
 * shared by every slot that references the server (reference-counted).
 */
export class BackendServer {
  readonly addr: string;
  #options: BackendOptions;
  #parallel: number;
  #conns: (BackendConn[] | undefined)[] = [];
  /** One connection per database for the proxy's own MIGRATEs, logged in with product_auth. */
  #ownConns: (BackendConn | undefined)[] = [];
  /** Connections that one session holds at a time (transactions, blocking commands, subscriptions). */
  readonly dedicated: DedicatedPool;
  /** Number of slot references; the server is closed when it drops to 0. */
  refs = 0;

  constructor(addr: string, parallel: number, options: BackendOptions) {
    this.addr = addr;
    this.#parallel = Math.max(1, parallel);
    this.#options = options;
    this.dedicated = new DedicatedPool(addr, options);
  }

  /**
   * The connection for what the proxy itself sends on `db` that its ACL user may not run (MIGRATE,
   * so that no client script can): logged in as the default user with `product_auth`.
   */
  ownConn(db: number): BackendConn {
    return this.#ownConns[dbIndex(db)] ??= new BackendConn(this.addr, db, { ...this.#options, aclUser: "" });
  }

  /** The connection for `db`, chosen by `seed` among the parallel ones (connected first). */
  conn(db: number, seed: number): BackendConn {
    const index = dbIndex(db);
    let list = this.#conns[index];
    if (list === undefined) {
      list = [];
      for (let i = 0; i < this.#parallel; i++) list.push(new BackendConn(this.addr, db, this.#options));
      this.#conns[index] = list;
    }
    if (list.length === 1) return list[0];
    const n = list.length;
    const first = seed % n;
    for (let i = 0; i < n; i++) {
      const c = list[(first + i) % n];
      if (c.state === "ready") return c;
    }
    return list[first];
  }

  /** A usable connection for `db`, or null (starting connections so that later calls find one). */
  usableConn(db: number, seed: number): BackendConn | null {
    const c = this.conn(db, seed);
    if (c.usable) return c;
    c.warmUp();
    return null;
  }

  /**
   * Changes how many connections per database serve clients (a reload of
   * `backend_*_parallel`): new ones are added; extra ones stop taking requests at once and close
   * when the replies they await have come (or after 30 s).
   */
  setParallel(parallel: number): void {
    this.#parallel = Math.max(1, parallel);
    for (const list of this.#conns) {
      if (!list) continue;
      while (list.length < this.#parallel) list.push(new BackendConn(this.addr, list[0].db, this.#options));
      const extra = list.splice(this.#parallel);
      for (const c of extra) closeWhenIdle(c);
    }
  }

  /** Every connection created so far. */
  *connections(): IterableIterator<BackendConn> {
    for (const list of this.#conns) if (list) yield* list;
    for (const c of this.#ownConns) if (c) yield c;
  }

  /** Closes every connection. */
  close(): void {
    for (const c of this.connections()) c.close();
    this.dedicated.close();
    this.#conns = [];
    this.#ownConns = [];
  }
}

/** Closes `c` once it awaits no reply (checked every 100 ms), or after 30 s. */
function closeWhenIdle(c: BackendConn): void {
  const until = performance.now() + 30_000;
  const check = () => {
    if (c.pending === 0 || performance.now() > until) c.close();
    else setTimeout(check, 100);
  };
  check();
}

/** The servers the proxy talks to, keyed by address, for masters or for replicas. */
export class BackendPool {
  #servers = new Map<string, BackendServer>();
  #parallel: number;
  #options: BackendOptions;

  constructor(parallel: number, options: BackendOptions) {
    this.#parallel = parallel;
    this.#options = options;
  }

  /** Takes a reference to the server at `addr`, creating it if needed. */
  retain(addr: string): BackendServer {
    let s = this.#servers.get(addr);
    if (!s) {
      s = new BackendServer(addr, this.#parallel, this.#options);
      this.#servers.set(addr, s);
    }
    s.refs++;
    return s;
  }

  /** Drops a reference; the server's connections close with the last one. */
  release(server: BackendServer): void {
    if (--server.refs > 0) return;
    if (this.#servers.get(server.addr) === server) this.#servers.delete(server.addr);
    server.close();
  }

  /** Changes the connections per server and database, for every server now and later. */
  setParallel(parallel: number): void {
    this.#parallel = parallel;
    for (const s of this.#servers.values()) s.setParallel(parallel);
  }

  /** The server at `addr`, if referenced. */
  get(addr: string): BackendServer | undefined {
    return this.#servers.get(addr);
  }

  /** Every referenced server. */
  servers(): IterableIterator<BackendServer> {
    return this.#servers.values();
  }

  /** Runs every connection's periodic checks. */
  tick(now: number): void {
    for (const s of this.#servers.values()) for (const c of s.connections()) c.tick(now);
  }

  /** Closes every server. */
  close(): void {
    for (const s of this.#servers.values()) s.close();
    this.#servers.clear();
  }
}
