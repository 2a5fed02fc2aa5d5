/**
 * A client session: reads requests, dispatches each at once to its slot's backend, and writes
 * the replies strictly in request order while different backends work concurrently.
 *
 * Replies that arrive in order are copied straight into the output buffer; those that arrive
 * early are kept until the requests before them are answered. Output is written once per
 * microtask turn, so a pipeline's replies leave in as few writes as possible. When a client has
 * `session_max_pipeline` unanswered requests the session stops reading from it until replies
 * drain (Codis closes the connection instead).
 *
 * @module
 */

import {
  NEED_MORE,
  PROTOCOL_ERROR,
  RequestScanner,
  type RespLimits,
  UNAUTHENTICATED_RESP_LIMITS,
} from "../redis/resp_scanner.ts";
import { OutputQueue } from "../redis/output_queue.ts";
import { ByteWriter, encodeError } from "../redis/resp_writer.ts";
import { ReadBuffer } from "../redis/read_buffer.ts";
import { RESP_ARRAY, RESP_ERROR, RESP_MAP } from "../redis/resp_types.ts";
import { MAX_SLOT_NUM, slotOf } from "../redis/slot_hash.ts";
import { delay } from "../utils/async.ts";
import { closeQuietly } from "../utils/net.ts";
import { Fifo } from "../utils/fifo.ts";
import {
  BLOCKS,
  type CommandInfo,
  forEachKey,
  isReadOnly,
  keysOf,
  lookupCommand,
  MAX_COMMAND_NAME,
  NOT_ALLOWED,
  routeIndex,
} from "./command_table.ts";
import type { ProxyConfig } from "./config.ts";
import { Frame } from "./frame.ts";
import { dispatchToAll } from "./fanout.ts";
import { dispatchSplit } from "./multi_key.ts";
import { IGNORE_REPLY } from "./backend.ts";
import { RESP3_DB } from "./backend_base.ts";
import { BlockingCommand } from "./blocking.ts";
import { Transaction, type TransactionHost } from "./transaction.ts";
import { Subscriber, type SubscriptionKind } from "./pubsub.ts";
import { dispatchKeys, dispatchScan } from "./scan.ts";
import { type ReplySink, Request } from "./request.ts";
import type { Router } from "./router.ts";
import { RawChunk, SlowLog } from "./slowlog.ts";
import { clock, OpStats, type ProxyStats } from "./stats.ts";

/** What a session needs from its proxy. */
export interface SessionHost {
  readonly config: ProxyConfig;
  readonly router: Router;
  readonly stats: ProxyStats;
  readonly slowlog: SlowLog;
  /** Called once when the session ends. */
  sessionClosed(session: Session): void;
}

const INVALID_OP = new OpStats("");
/** Unknown commands of clients that have not authenticated: not counted by name (their names are anyone's). */
const UNAUTHENTICATED_OP = new OpStats("");
const BAD_CLIENT_NAME = "ERR Client names cannot contain spaces, newlines or special characters.";

/** Redis's rule for client names: printable ASCII without spaces ('!' to '~'); "" clears the name. */
function validClientName(name: string): boolean {
  return /^[!-~]*$/.test(name);
}

/** True for an INFO whose reply has the keyspace section (no section named, or keyspace, all, …). */
function wantsKeyspace(frame: Frame): boolean {
  if (frame.argc === 1) return true;
  for (let i = 1; i < frame.argc; i++) {
    if (
      frame.argEquals(i, "KEYSPACE") || frame.argEquals(i, "ALL") || frame.argEquals(i, "EVERYTHING") ||
      frame.argEquals(i, "DEFAULT")
    ) return true;
  }
  return false;
}

/** Where WAIT publishes (nobody listens) to give its connection the replication offset of now. */
const WAIT_CHANNEL = "__codis_proxy_wait__";

const ADDRESS = /^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:.]+\]:\d{1,5}$/;

/** Most bytes read from a client at a time (Redis's PROTO_IOBUF_LEN). */
const READ_MAX = 16 * 1024;
/** The read buffer of a session with nothing pending (see `ReadBuffer`). */
const IDLE_READ = 256;
/** Reads go after requests that wait for their replies while this much room is left (see `#keepChunks`). */
const KEEP_READ_ROOM = 64;
/** The request limits of each configuration (see `#requestLimits`). */
const limitsOf = new WeakMap<ProxyConfig, RespLimits>();
/** Longest a session handles one client's requests before letting the others run. */
const TURN_BUDGET_MS = 0.5;
/**
 * A plain TCP session sets TCP_NODELAY only before a write that Nagle's algorithm could hold back,
 * and SO_KEEPALIVE once it has lived a second: each is a system call through Deno's op layer, and
 * together they were 6% of the proxy's CPU for clients that connect, send one request and close.
 * A first write that fits in one segment is never held: nothing of ours is unacknowledged yet.
 */
const FIRST_WRITE_UNHELD = 1024;
const KEEPALIVE_AFTER_MS = 1000;

let nextSessionId = 1;
/** What `finished` gives before reading starts (one promise for every session). */
const NOT_STARTED: Promise<void> = Promise.resolve();

/** One client connection. */
export class Session implements ReplySink {
  /** Unique per process; also the seed that spreads its requests over connections. */
  readonly id: number = nextSessionId++;
  /** The client's address. */
  readonly remoteAddr: string;
  /** Unix milliseconds when the session started. */
  readonly createdAt = Date.now();
  /** The selected database. */
  db = 0;
  /** The backend database of its requests: `db`, or `RESP3_DB + db` after HELLO 3. */
  #bdb = 0;
  /** The protocol the client asked for (HELLO). */
  #proto: 2 | 3 = 2;
  /** Requests read so far. */
  ops = 0;
  #conn: Deno.Conn;
  #host: SessionHost;
  #config: ProxyConfig;
  #authorized: boolean;
  #name = "";
  #queue = new Fifo<Request>(4);
  #maxPipeline: number;
  #scanner: RequestScanner;
  /** Replies in order, not yet taken by the socket. */
  #out = new OutputQueue();
  /** Bytes of replies kept because the replies before them have not arrived. */
  #heldBytes = 0;
  /** `performance.now()` since the unread replies have been past the soft limit (0 = they are not). */
  #overSoftSince = 0;
  /** Where the proxy's own replies are built (made on first use). */
  #scratch: ByteWriter | null = null;
  /** The buffer requests are read into (set when reading starts). */
  #readBuffer!: ReadBuffer;
  /** The reads since the buffer was last reused, for the slow log (made on first use). */
  #chunks: RawChunk[] = [];
  #chunk: RawChunk | null = null;
  /** The request being handled (refilled for each one). */
  #frame = new Frame();
  #flushing = false;
  #flushScheduled = false;
  #closing = false;
  #closed = false;
  #lastReadAt = performance.now();
  #writeStartedAt = 0;
  /** A plain TCP connection whose TCP_NODELAY / SO_KEEPALIVE is not set yet (see FIRST_WRITE_UNHELD). */
  #noDelayDue: boolean;
  #keepAliveDue: boolean;
  #wrote = false;
  /** Set while reading is paused (pipeline full, or too many unread replies); called to resume. */
  #drained: (() => void) | null = null;
  #finished: Promise<void> = NOT_STARTED;
  /** What ends with the session: blocked commands, dedicated connections (made on first use). */
  #cleanups: Set<() => void> | null = null;
  /** Requests that run once every earlier request is answered (WAIT), in order. */
  #deferred: { req: Request; run: () => void }[] | null = null;
  /** The client's subscriptions (made at its first SUBSCRIBE). */
  #subs: Subscriber | null = null;
  /** Requests whose reply must come before anything more is read (WATCH, EXEC). */
  #barriers = 0;
  /** The client's transaction, from WATCH or MULTI to its end. */
  #tx: Transaction | null = null;
  #txAbort: (() => void) | null = null;
  /** What transactions see of the session (made with the first one). */
  #txHost: TransactionHost | null = null;
  /** The slot of the client's last write (for WAIT), -1 before any. */
  #lastWriteSlot = -1;
  #flushTask = () => {
    this.#flushScheduled = false;
    if (!this.#flushing) void this.#flush();
  };

  /** `tcp`: a plain TCP connection, which gets TCP_NODELAY and SO_KEEPALIVE when it needs them. */
  constructor(conn: Deno.Conn, host: SessionHost, tcp = false) {
    this.#conn = conn;
    this.#host = host;
    this.#config = host.config;
    this.#noDelayDue = tcp;
    this.#keepAliveDue = tcp;
    this.#authorized = host.config.sessionAuth === "";
    this.#maxPipeline = host.config.sessionMaxPipeline > 0 ? host.config.sessionMaxPipeline : Infinity;
    this.#scanner = new RequestScanner(this.#authorized ? this.#requestLimits() : UNAUTHENTICATED_RESP_LIMITS);
    const addr = conn.remoteAddr;
    this.remoteAddr = addr.transport === "tcp" ? `${addr.hostname}:${addr.port}` : "unix";
  }

  /** The name the client gave itself (CLIENT SETNAME, HELLO SETNAME). */
  get clientName(): string {
    return this.#name;
  }

  /** Resolves when the session has ended. */
  get finished(): Promise<void> {
    return this.#finished;
  }

  /** Starts serving; `refusal` (an error text) is sent instead when the session is refused. */
  start(refusal?: string): void {
    if (refusal) {
      this.#out.append(encodeError(refusal));
      this.#closing = true;
      this.#scheduleFlush();
      return;
    }
    this.#finished = this.#readLoop();
  }

  /** Closes the connection at once; replies still on their way are dropped. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing = true;
    closeQuietly(this.#conn);
    this.#runCleanups();
    this.#drained?.();
    this.#drained = null;
    this.#out.clear();
    this.#host.sessionClosed(this);
  }

  #runCleanups(): void {
    const cleanups = this.#cleanups;
    if (cleanups === null) return;
    this.#cleanups = null;
    for (const cleanup of cleanups) cleanup();
  }

  /** Stops reading; the session closes once every reply is written (graceful shutdown). */
  closeGracefully(): void {
    if (this.#closed) return;
    this.#closing = true;
    if (this.#queue.length === 0 && !this.#flushing && this.#out.length === 0) this.close();
    else this.#scheduleFlush();
  }

  /** Called about once a second: drops idle clients and clients that stopped reading. */
  tick(now: number): void {
    if (this.#closed) return;
    const c = this.#config;
    if (this.#keepAliveDue && Date.now() - this.createdAt >= KEEPALIVE_AFTER_MS) {
      this.#keepAliveDue = false;
      if (c.sessionKeepalivePeriod > 0) this.#tcpOption((t) => t.setKeepAlive(true));
    }
    if (this.#writeStartedAt > 0 && c.sessionSendTimeout > 0 && now - this.#writeStartedAt > c.sessionSendTimeout) {
      this.close();
    } else if (
      this.#overSoftSince > 0 && c.sessionOutputSoftSeconds > 0 &&
      now - this.#overSoftSince > c.sessionOutputSoftSeconds
    ) {
      this.#host.stats.sessionsOutputLimited++;
      this.close();
    } else if (c.sessionRecvTimeout > 0 && this.#queue.length === 0 && now - this.#lastReadAt > c.sessionRecvTimeout) {
      this.close();
    }
  }

  /** What an authenticated client may send. */
  #requestLimits(): RespLimits {
    // One object per configuration, shared by its sessions.
    const c = this.#config;
    let limits = limitsOf.get(c);
    if (
      limits === undefined || limits.maxBulkLength !== c.maxBulkLength || limits.maxArrayLength !== c.maxArrayLength
    ) {
      limits = { maxBulkLength: c.maxBulkLength, maxArrayLength: c.maxArrayLength, maxInlineLength: 64 * 1024 };
      limitsOf.set(c, limits);
    }
    return limits;
  }

  /** The client logged in (or out): what it may send changes with it. */
  #setAuthorized(authorized: boolean): void {
    if (authorized === this.#authorized) return;
    this.#authorized = authorized;
    this.#scanner.limits = authorized ? this.#requestLimits() : UNAUTHENTICATED_RESP_LIMITS;
  }

  /** True while reading must wait: too many unanswered requests, or too many unread replies. */
  #mustWait(): boolean {
    return this.#queue.length >= this.#maxPipeline || this.#overSoftSince > 0 || this.#barriers > 0;
  }

  async #readLoop(): Promise<void> {
    const scanner = this.#scanner;
    // Idle, a session reads into IDLE_READ bytes of its own; a burst borrows a pooled buffer.
    const rb = this.#readBuffer = new ReadBuffer(Math.min(this.#config.sessionRecvBufsize, READ_MAX), IDLE_READ);
    let reset = false;
    try {
      for (;;) {
        const buf = rb.bytes;
        let start = rb.start;
        const end = rb.end;
        this.#chunk = null;
        const turnStart = performance.now();
        let handled = 0;
        let yielded = false;
        while (start < end && !this.#closing) {
          // A long pipeline is handled in slices of TURN_BUDGET_MS, so that other clients are
          // served in between (a client's thousands of PINGs would otherwise stall them all).
          if ((++handled & 63) === 0 && performance.now() - turnStart > TURN_BUDGET_MS) {
            yielded = true;
            break;
          }
          if (this.#mustWait()) {
            await new Promise<void>((resolve) => this.#drained = resolve);
            continue;
          }
          const frameEnd = scanner.scan(buf, start, end);
          if (frameEnd === NEED_MORE) break;
          if (frameEnd === PROTOCOL_ERROR) {
            this.#protocolError(scanner.error);
            break;
          }
          if (scanner.argc > 0) {
            const frame = scanner.inline
              ? this.#frame.set(scanner.inlineFrame, 0, scanner.inlineFrame.length, scanner.args, scanner.argc)
              : this.#frame.set(buf, start, frameEnd, scanner.args, scanner.argc);
            this.#handle(frame);
          }
          start = frameEnd;
        }
        rb.start = start;
        if (this.#closing) break;
        if (yielded) {
          await delay(0);
          continue;
        }
        if (this.#mustWait()) {
          await new Promise<void>((resolve) => this.#drained = resolve);
          continue;
        }
        // At most READ_MAX bytes a turn, as Redis reads (16 KB): a client pipelining thousands of
        // requests gets them handled a few thousand at a time, and every other client its turn.
        const space = rb.space(this.#keepChunks(rb));
        const n = await this.#conn.read(space.length > READ_MAX ? space.subarray(0, READ_MAX) : space);
        if (n === null) break; // the client is done sending: answer what it sent, then close
        rb.end += n;
        this.#host.stats.bytesIn += n;
        const now = performance.now();
        clock.now = now;
        this.#lastReadAt = now;
      }
    } catch {
      reset = true; // reset by the client, or closed by us
    }
    this.#detachChunks();
    rb.release();
    if (reset) this.close();
    else {
      // As Redis frees a client at EOF: what it waits for on a dedicated connection ends now.
      this.#runCleanups();
      this.closeGracefully();
    }
  }

  /** Notes where a request's bytes are for the slow log: in the current read (an inline one is copied). */
  #keepRaw(req: Request, frame: Frame): void {
    let chunk: RawChunk;
    if (frame.buf === this.#readBuffer.bytes) {
      chunk = this.#chunk ??= this.#newChunk(frame.buf);
    } else {
      chunk = new RawChunk(frame.buf.slice(frame.start, frame.end), frame.start, frame.end);
      chunk.copy = chunk.buf;
    }
    chunk.live++;
    req.rawChunk = chunk;
    req.rawStart = frame.start;
    req.rawEnd = frame.end;
  }

  #newChunk(buf: Uint8Array): RawChunk {
    const c = new RawChunk(buf, this.#readBuffer.start, this.#readBuffer.end);
    this.#chunks.push(c);
    return c;
  }

  /**
   * Before a read: true when the bytes of requests still unanswered can stay where they are (the
   * read goes after them), else they are copied now. A client that waits for each reply before
   * sending its next request is read after its last request until its small buffer is nearly
   * full: its requests are copied once every few reads instead of at each (a copy each cost ~13%
   * of the proxy's CPU per request for such clients, with the slow log on).
   */
  #keepChunks(rb: ReadBuffer): boolean {
    const chunks = this.#chunks;
    if (chunks.length === 0) return false;
    if (!chunks.some((c) => c.live > 0)) {
      // Every request of them answered: the bytes may be overwritten.
      chunks.length = 0;
      this.#chunk = null;
      return false;
    }
    if (rb.canReadAfterEnd(KEEP_READ_ROOM)) return true;
    this.#detachChunks();
    return false;
  }

  /** Before the read buffer is reused: requests still unanswered keep a copy of their bytes. */
  #detachChunks(): void {
    if (this.#chunks.length === 0) return;
    for (const c of this.#chunks) c.detach();
    this.#chunks = [];
    this.#chunk = null;
  }

  #protocolError(reason: string): void {
    const req = new Request(this, INVALID_OP, this.#bdb, this.id, clock.now);
    this.#queue.push(req);
    req.closeAfter = true;
    this.failed(req, `ERR ${reason}`);
    this.#closing = true;
  }

  #handle(frame: Frame): void {
    const stats = this.#host.stats;
    stats.total++;
    this.ops++;
    const buf = frame.buf;
    const args = frame.args;
    const nameStart = args[0];
    const nameLen = args[1] - nameStart;
    const cmd = nameLen > 0 && nameLen <= MAX_COMMAND_NAME ? lookupCommand(buf, nameStart, args[1]) : undefined;
    const op = cmd
      ? stats.byCommand[cmd.id]
      : nameLen > 0 && nameLen <= MAX_COMMAND_NAME
      ? this.#authorized ? stats.unknown(frame.arg(0).toUpperCase()) : UNAUTHENTICATED_OP
      : INVALID_OP;
    const req = new Request(this, op, this.#bdb, this.id, clock.now);
    if (this.#host.slowlog.on) this.#keepRaw(req, frame);
    this.#queue.push(req);
    if (op === INVALID_OP) {
      this.#reject(req, "bad command length, too short or too long");
      return;
    }
    if (cmd !== undefined) {
      if (cmd.flags & NOT_ALLOWED) {
        this.#reject(req, `command '${cmd.name}' is not allowed`);
        return;
      }
      if (cmd.special === "QUIT") {
        req.closeAfter = true;
        this.#closing = true;
        this.#local(req, (w) => w.appendSimple("OK"));
        return;
      }
      if (cmd.special === "AUTH") {
        this.#auth(req, frame);
        return;
      }
      if (cmd.special === "HELLO") {
        this.#hello(req, frame);
        return;
      }
    }
    if (!this.#authorized) {
      this.#local(req, (w) => w.appendError("NOAUTH Authentication required"));
      return;
    }
    if (this.#subs !== null && this.#proto === 2 && this.#subs.active && !this.#allowedSubscribed(req, cmd, frame)) {
      return;
    }
    const tx = this.#tx;
    if (tx !== null && tx.inMulti && cmd?.special !== "TX") {
      tx.queue(req, cmd, frame);
      return;
    }
    if (cmd === undefined) {
      this.#route(req, undefined, frame);
      return;
    }
    if (cmd.special !== undefined) {
      this.#special(req, cmd, frame);
      return;
    }
    if (cmd.split !== undefined) {
      const step = cmd.split === "mset" ? 2 : 1;
      const argc = frame.argc;
      if (argc < 2 || (argc - 1) % step !== 0) {
        this.#local(req, (w) => w.appendError(`ERR wrong number of arguments for '${cmd.name}' command`));
        return;
      }
      if (argc - 1 > step) {
        dispatchSplit(this.#host.router, req, cmd, frame);
        return;
      }
    }
    if (cmd.multiKey) {
      const cross = this.#crossGroup(cmd, frame);
      if (cross !== "") {
        this.failed(req, cross);
        return;
      }
    }
    if ((cmd.flags & BLOCKS) !== 0 || (cmd.blockingOption && frame.findKeyword(cmd.blockingOption, 1) > 0)) {
      this.#block(req, cmd, frame);
      return;
    }
    this.#route(req, cmd, frame);
  }

  /**
   * In subscribed mode (RESP2) only the subscription commands, PING, QUIT and RESET are allowed:
   * true when `cmd` may go on; otherwise it is answered here.
   */
  #allowedSubscribed(req: Request, cmd: CommandInfo | undefined, frame: Frame): boolean {
    const special = cmd?.special;
    if (special === "SUBSCRIBE" || special === "QUIT" || special === "RESET") return true;
    if (special === "PING" && frame.argc <= 2) {
      this.#local(req, (w) => {
        w.appendHeader(RESP_ARRAY, 2);
        w.appendBulkString("pong");
        if (frame.argc === 2) w.appendBulk(frame.buf, frame.args[2], frame.args[3]);
        else w.appendBulkString("");
      });
      return false;
    }
    const name = frame.arg(0).toLowerCase();
    this.failed(
      req,
      `ERR Can't execute '${name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`,
    );
    return false;
  }

  /** (P|S)SUBSCRIBE and (P|S)UNSUBSCRIBE (see `pubsub.ts`). */
  #subscribe(req: Request, cmd: CommandInfo, frame: Frame): void {
    const name = cmd.name;
    const kind: SubscriptionKind = name === "SUBSCRIBE" || name === "UNSUBSCRIBE"
      ? "channel"
      : name.startsWith("P")
      ? "pattern"
      : "shard";
    const names: string[] = [];
    for (let i = 1; i < frame.argc; i++) names.push(frame.arg(i));
    const unsubscribe = name.includes("UNSUBSCRIBE");
    if (!unsubscribe && names.length === 0) {
      this.#local(req, (w) => w.appendError(`ERR wrong number of arguments for '${name.toLowerCase()}' command`));
      return;
    }
    if (this.#subs === null) {
      const subs = new Subscriber({
        router: this.#host.router,
        resp3: this.#proto === 3,
        push: (buf, start, end) => this.#push(buf, start, end),
      });
      this.#subs = subs;
      const close = () => subs.close();
      (this.#cleanups ??= new Set()).add(close);
      subs.onIdle = () => {
        if (this.#subs !== subs) return;
        subs.close();
        this.#subs = null;
        this.#cleanups?.delete(close);
      };
    }
    if (unsubscribe) this.#subs.unsubscribe(req, kind, names);
    else this.#subs.subscribe(req, kind, names);
  }

  /** Writes a message that is no request's reply (Pub/Sub): at once, past any reply still awaited. */
  #push(buf: Uint8Array, start: number, end: number): void {
    if (this.#closed || !this.#admit(end - start)) return;
    this.#out.append(buf, start, end);
    this.#scheduleFlush();
  }

  /** MULTI, EXEC, DISCARD, WATCH, UNWATCH (see `transaction.ts`). */
  #transaction(req: Request, cmd: CommandInfo, frame: Frame): void {
    let tx = this.#tx;
    const name = cmd.name;
    if (tx === null) {
      if (name === "EXEC" || name === "DISCARD") {
        this.failed(req, `ERR ${name} without MULTI`);
        return;
      }
      if (name === "UNWATCH") {
        this.#local(req, (w) => w.appendSimple("OK"));
        return;
      }
      if (name === "WATCH" && frame.argc < 2) {
        this.#local(req, (w) => w.appendError("ERR wrong number of arguments for 'watch' command"));
        return;
      }
      this.#txHost ??= {
        router: this.#host.router,
        status: (req, text) => this.#local(req, (w) => w.appendSimple(text)),
        error: (req, message) => this.failed(req, message),
        inOrder: (req, send) => {
          this.#barriers++;
          const release = () => {
            this.#barriers--;
            this.#checkResume();
          };
          this.#afterEarlier(req, () =>
            send({
              onReply(buf, start, end) {
                req.onReply(buf, start, end);
                release();
              },
              onFailure(reason) {
                req.onFailure(reason);
                release();
              },
            }));
        },
        ended: (ended) => {
          if (this.#tx !== ended) return;
          this.#tx = null;
          if (this.#txAbort !== null) this.#cleanups?.delete(this.#txAbort);
          this.#txAbort = null;
        },
      };
      tx = this.#tx = new Transaction(this.#txHost, this.#bdb);
      const abort = () => tx!.abort();
      (this.#cleanups ??= new Set()).add(abort);
      this.#txAbort = abort;
    }
    switch (name) {
      case "MULTI":
        tx.multi(req);
        return;
      case "EXEC":
        tx.exec(req);
        return;
      case "DISCARD":
        tx.discard(req);
        return;
      case "WATCH":
        if (frame.argc < 2) {
          this.#local(req, (w) => w.appendError("ERR wrong number of arguments for 'watch' command"));
          return;
        }
        tx.watch(req, cmd, frame);
        return;
      case "UNWATCH":
        if (tx.inMulti) tx.queue(req, cmd, frame);
        else tx.unwatch(req);
        return;
    }
  }

  /** A command that may block: on a dedicated connection to its slot's master. */
  #block(req: Request, cmd: CommandInfo, frame: Frame): void {
    const ri = routeIndex(cmd, frame);
    if (ri < 0) {
      // Missing its key: any server answers with Redis's own error, and does not block.
      this.#route(req, cmd, frame);
      return;
    }
    const blocking = new BlockingCommand(
      this.#host.router,
      req,
      cmd.name,
      frame.buf.slice(frame.start, frame.end),
      keysOf(cmd, frame),
      frame.argSlot(ri),
    );
    const cancel = () => blocking.cancel();
    const cleanups = this.#cleanups ??= new Set();
    cleanups.add(cancel);
    blocking.onFinished = () => cleanups.delete(cancel);
    blocking.start();
  }

  /**
   * `WAIT numreplicas timeout`, for the group of the client's last write: once every earlier
   * request of the client is answered, on a dedicated connection to that group's master, after a
   * PUBLISH that makes the connection's replication offset at least that of the client's writes.
   */
  #wait(req: Request, frame: Frame): void {
    const bytes = frame.buf.slice(frame.start, frame.end);
    const run = () => {
      const router = this.#host.router;
      const slot = this.#lastWriteSlot >= 0 ? router.slots[this.#lastWriteSlot] : router.anyOnlineSlot(0);
      if (slot === null || slot.master === null) {
        this.#reject(req, "slot is not ready, may be offline");
        return;
      }
      const conn = slot.master.dedicated.take(req.db);
      if (typeof conn === "string") {
        this.#reject(req, conn);
        return;
      }
      const cancel = () => conn.close("client closed");
      const cleanups = this.#cleanups ??= new Set();
      cleanups.add(cancel);
      conn.onClosed = (reason) => req.onFailure(reason);
      conn.sendCommand(IGNORE_REPLY, ["PUBLISH", WAIT_CHANNEL, ""]);
      conn.send(
        {
          onReply(buf, start, end) {
            cleanups.delete(cancel);
            req.onReply(buf, start, end);
            conn.release();
          },
          onFailure: (reason) => {
            cleanups.delete(cancel);
            req.onFailure(reason);
          },
        },
        bytes,
        0,
        bytes.length,
      );
    };
    this.#afterEarlier(req, run);
  }

  /** Runs `run` once every request the client sent before `req` is answered. */
  #afterEarlier(req: Request, run: () => void): void {
    if (this.#queue.peek() === req) run();
    else (this.#deferred ??= []).push({ req, run });
  }

  /**
   * Why a command's keys cannot be served together ("" when they can): they live in slots of
   * different groups, or in a migrating (or locked) slot and another slot. Codis would answer from
   * the first key's group only; Redis Cluster answers CROSSSLOT.
   */
  #crossGroup(cmd: CommandInfo, frame: Frame): string {
    const slots = this.#host.router.slots;
    const buf = frame.buf;
    let first = -1;
    let problem = "";
    forEachKey(cmd, frame, (start, end) => {
      if (problem !== "") return;
      const id = slotOf(buf, start, end);
      if (first < 0 || id === first) {
        first = id;
        return;
      }
      const a = slots[first];
      const b = slots[id];
      if (a.migrateFrom !== null || a.blocked || b.migrateFrom !== null || b.blocked) {
        const moving = a.migrateFrom !== null || a.blocked ? first : id;
        problem = `CROSSSLOT Keys in request don't hash to the same slot, and slot ${moving} is being migrated: ` +
          "retry once it has moved, or use a hash tag {...} to keep the keys in one slot";
      } else if (a.master !== b.master) {
        problem = `CROSSSLOT Keys in request are on different groups of servers (slots ${first} and ${id}): ` +
          "use a hash tag {...} to keep them together";
      }
    });
    return problem;
  }

  /** Sends a request to the slot of its routing key (any online slot when it has none). */
  #route(req: Request, cmd: CommandInfo | undefined, frame: Frame): void {
    const router = this.#host.router;
    const ri = routeIndex(cmd, frame);
    let slotId: number;
    if (ri >= 0) {
      slotId = frame.argSlot(ri);
    } else {
      const slot = router.anyOnlineSlot((this.id * 7919 + this.ops) % MAX_SLOT_NUM);
      if (slot === null) {
        this.#reject(req, "slot is not ready, may be offline");
        return;
      }
      slotId = slot.id;
    }
    const readOnly = cmd !== undefined && isReadOnly(cmd.flags);
    if (!readOnly) this.#lastWriteSlot = slotId;
    router.dispatch(req, slotId, frame, readOnly, () => keysOf(cmd, frame));
  }

  #auth(req: Request, frame: Frame): void {
    const expected = this.#config.sessionAuth;
    const argc = frame.argc;
    if (argc !== 2 && argc !== 3) {
      this.#local(req, (w) => w.appendError("ERR wrong number of arguments for 'AUTH' command"));
    } else if (expected === "") {
      this.#local(req, (w) => w.appendError("ERR Client sent AUTH, but no password is set"));
    } else if (argc === 3 && frame.arg(1) !== "default") {
      this.#authFailed();
      this.#local(req, (w) => w.appendError("WRONGPASS invalid username-password pair or user is disabled."));
    } else if (frame.arg(argc - 1) !== expected) {
      this.#authFailed();
      this.#local(req, (w) => w.appendError("ERR invalid password"));
    } else {
      this.#setAuthorized(true);
      this.#local(req, (w) => w.appendSimple("OK"));
    }
  }

  /** A wrong password: counted, and the client is logged out (as Codis does). */
  #authFailed(): void {
    this.#host.stats.authFailures++;
    this.#setAuthorized(false);
  }

  #special(req: Request, cmd: CommandInfo, frame: Frame): void {
    const router = this.#host.router;
    const argc = frame.argc;
    const wrongArity = () =>
      this.#local(req, (w) => w.appendError(`ERR wrong number of arguments for '${cmd.name}' command`));
    switch (cmd.special) {
      case "SELECT": {
        if (argc !== 2) return wrongArity();
        const text = frame.arg(1);
        const n = Number(text);
        const max = this.#config.backendNumberDatabases;
        if (!/^-?\d+$/.test(text)) {
          this.#local(req, (w) => w.appendError("ERR invalid DB index"));
        } else if (n < 0 || n >= max) {
          this.#local(req, (w) => w.appendError(`ERR invalid DB index, only accept DB [0,${max})`));
        } else {
          this.db = n;
          this.#bdb = this.#proto === 3 ? n + RESP3_DB : n;
          this.#local(req, (w) => w.appendSimple("OK"));
        }
        return;
      }
      case "ECHO":
        if (argc !== 2) return wrongArity();
        this.#local(req, (w) => w.appendBulk(frame.buf, frame.args[2], frame.args[3]));
        return;
      case "DBSIZE":
        if (argc !== 1) return wrongArity();
        dispatchToAll(router, req, frame, "sum");
        return;
      case "RANDOMKEY":
        if (argc !== 1) return wrongArity();
        dispatchToAll(router, req, frame, "any");
        return;
      case "FLUSH":
        // Off unless proxy.toml allows it: one command empties every group.
        if (!this.#config.proxyAllowFlush) {
          this.#reject(req, `command '${cmd.name}' is not allowed (set proxy_allow_flush = true in proxy.toml)`);
          return;
        }
        if (argc > 2) return wrongArity();
        dispatchToAll(router, req, frame, "ok");
        return;
      case "SCRIPT": {
        // On every master, so that EVALSHA finds the script whatever its keys' slot.
        const sub = argc >= 2 ? frame.arg(1).toUpperCase() : "";
        if (sub === "LOAD" && argc === 3) dispatchToAll(router, req, frame, "same");
        else if (sub === "EXISTS" && argc >= 3) dispatchToAll(router, req, frame, "and");
        else if (sub === "FLUSH" && argc <= 3) dispatchToAll(router, req, frame, "ok");
        else if (argc < 2) wrongArity();
        else this.#reject(req, `command 'SCRIPT ${sub}' is not allowed`);
        return;
      }
      case "TX":
        this.#transaction(req, cmd, frame);
        return;
      case "SUBSCRIBE":
        this.#subscribe(req, cmd, frame);
        return;
      case "SCAN":
        if (argc < 2) return wrongArity();
        dispatchScan(router, req, frame);
        return;
      case "KEYS":
        if (argc !== 2) return wrongArity();
        dispatchKeys(router, req, frame);
        return;
      case "PUBSUB": {
        const sub = argc >= 2 ? frame.arg(1).toUpperCase() : "";
        if (sub === "CHANNELS" || sub === "SHARDCHANNELS") {
          if (argc > 3) return wrongArity();
          dispatchToAll(router, req, frame, "union");
        } else if (sub === "NUMSUB" || sub === "SHARDNUMSUB") dispatchToAll(router, req, frame, "maxPairs");
        else if (sub === "NUMPAT" && argc === 2) dispatchToAll(router, req, frame, "max");
        else this.#route(req, cmd, frame); // HELP, and Redis's own errors
        return;
      }
      case "WAIT":
        if (argc !== 3) return wrongArity();
        this.#wait(req, frame);
        return;
      case "SLOWLOG":
        if (argc >= 2 && ADDRESS.test(frame.arg(1))) {
          // On the proxy's own connection: the ACL user that serves clients may not run SLOWLOG.
          this.#onBackend(req, frame, true);
          return;
        }
        this.#slowlog(req, frame);
        return;
      case "PING":
      case "INFO": {
        if (argc >= 2) {
          const first = frame.arg(1);
          if (ADDRESS.test(first)) {
            this.#onBackend(req, frame);
            return;
          }
          if (cmd.special === "PING") {
            if (argc > 2) return wrongArity();
            this.#local(req, (w) => w.appendBulk(frame.buf, frame.args[2], frame.args[3]));
            return;
          }
        }
        if (cmd.special === "INFO" && wantsKeyspace(frame)) {
          // The keyspace section counts the keys of every master.
          dispatchToAll(router, req, frame, "info");
          return;
        }
        if (cmd.special === "PING" && router.anyOnlineSlot(0) === null) {
          this.#local(req, (w) => w.appendSimple("PONG"));
          return;
        }
        this.#route(req, cmd, frame);
        return;
      }
      case "RESET":
        this.#tx?.abort();
        this.#tx = null;
        this.#subs?.close();
        this.#subs = null;
        this.db = 0;
        this.#bdb = 0;
        this.#proto = 2;
        this.#name = "";
        this.#setAuthorized(this.#config.sessionAuth === "");
        this.#local(req, (w) => w.appendSimple("RESET"));
        return;
      case "CLIENT":
        this.#client(req, frame);
        return;
      case "SLOTSMAPPING":
        this.#slotsMapping(req, frame);
        return;
      case "SLOTSHASHKEY":
        this.#local(req, (w) => {
          w.appendHeader(RESP_ARRAY, argc - 1);
          for (let i = 1; i < argc; i++) w.appendInteger(frame.argSlot(i));
        });
        return;
      default:
        this.#route(req, cmd, frame);
    }
  }

  /** Codis's `PING addr …` / `INFO addr …` (and `SLOWLOG addr …`): the command without the address, on that server. */
  #onBackend(req: Request, frame: Frame, own = false): void {
    const addr = frame.arg(1);
    const server = this.#host.router.server(addr);
    if (!server) {
      this.#local(req, (w) => w.appendError(`ERR backend server '${addr}' not found`));
      return;
    }
    const argc = frame.argc;
    const w = new ByteWriter(64);
    const { buf, args } = frame;
    w.appendHeader(RESP_ARRAY, argc - 1);
    w.appendBulk(buf, args[0], args[1]);
    for (let i = 2; i < argc; i++) w.appendBulk(buf, args[i * 2], args[i * 2 + 1]);
    (own ? server.ownConn(this.db) : server.conn(this.db, this.id)).send(req, w.bytes, 0, w.length);
  }

  /** `SLOWLOG GET [count] | LEN | RESET | HELP`, answered from the proxy's own slow log. */
  #slowlog(req: Request, frame: Frame): void {
    const argc = frame.argc;
    const log = this.#host.slowlog;
    if (argc < 2) {
      this.#local(req, (w) => w.appendError("ERR wrong number of arguments for 'slowlog' command"));
      return;
    }
    const sub = frame.arg(1).toLowerCase();
    const arity = (n: number) => {
      if (argc === n) return true;
      this.#local(req, (w) => w.appendError(`ERR wrong number of arguments for 'slowlog|${sub}' command`));
      return false;
    };
    switch (sub) {
      case "get": {
        if (argc > 3) return void arity(3);
        let count = 10;
        if (argc === 3) {
          const text = frame.arg(2);
          count = /^-?\d+$/.test(text) ? Number(text) : NaN;
          if (!(count >= -1)) {
            this.#local(req, (w) => w.appendError("ERR count should be greater than or equal to -1"));
            return;
          }
        }
        const entries = log.get(count);
        this.#local(req, (w) => SlowLog.write(w, entries));
        return;
      }
      case "len":
        if (arity(2)) this.#local(req, (w) => w.appendInteger(log.length));
        return;
      case "reset":
        if (!arity(2)) return;
        log.reset();
        this.#local(req, (w) => w.appendSimple("OK"));
        return;
      case "help":
        if (!arity(2)) return;
        this.#local(req, (w) => {
          const lines = [
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the proxy's slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the proxy's slowlog.",
            "RESET",
            "    Reset the proxy's slowlog.",
            "<backend addr> <subcommand> ...",
            "    Run the SLOWLOG subcommand on that backend server.",
            "HELP",
            "    Print this help.",
          ];
          w.appendHeader(RESP_ARRAY, lines.length);
          for (const l of lines) w.appendSimple(l);
        });
        return;
      default: {
        const name = frame.arg(1);
        this.#local(req, (w) => w.appendError(`ERR unknown subcommand '${name}'. Try SLOWLOG HELP.`));
      }
    }
  }

  #hello(req: Request, frame: Frame): void {
    const argc = frame.argc;
    let i = 1;
    if (argc >= 2) {
      const version = frame.argInteger(1);
      if (version < 0) {
        this.#local(req, (w) => w.appendError("ERR Protocol version is not an integer or out of range"));
        return;
      }
      if (version !== 2 && version !== 3) {
        this.#local(req, (w) => w.appendError("NOPROTO unsupported protocol version"));
        return;
      }
      i = 2;
    }
    const proto = argc >= 2 ? frame.argInteger(1) as 2 | 3 : this.#proto;
    let name: string | null = null;
    for (; i < argc; i++) {
      if (frame.argEquals(i, "AUTH") && i + 2 < argc) {
        const user = frame.arg(i + 1);
        const pass = frame.arg(i + 2);
        const expected = this.#config.sessionAuth;
        if (expected === "") {
          this.#local(
            req,
            (w) =>
              w.appendError(
                "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
              ),
          );
          return;
        }
        if (user !== "default" || pass !== expected) {
          this.#authFailed();
          this.#local(req, (w) => w.appendError("WRONGPASS invalid username-password pair or user is disabled."));
          return;
        }
        this.#setAuthorized(true);
        i += 2;
      } else if (frame.argEquals(i, "SETNAME") && i + 1 < argc) {
        name = frame.arg(++i);
      } else {
        const opt = frame.arg(i);
        this.#local(req, (w) => w.appendError(`ERR Syntax error in HELLO option '${opt}'`));
        return;
      }
    }
    if (!this.#authorized) {
      this.#local(
        req,
        (w) =>
          w.appendError(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
          ),
      );
      return;
    }
    if (name !== null && !validClientName(name)) {
      this.#local(req, (w) => w.appendError(BAD_CLIENT_NAME));
      return;
    }
    if (name !== null) this.#name = name;
    this.#proto = proto;
    this.#bdb = proto === 3 ? this.db + RESP3_DB : this.db;
    this.#local(req, (w) => {
      if (proto === 3) w.appendHeader(RESP_MAP, 7);
      else w.appendHeader(RESP_ARRAY, 14);
      w.appendBulkString("server");
      w.appendBulkString("redis");
      w.appendBulkString("version");
      w.appendBulkString("7.0.0");
      w.appendBulkString("proto");
      w.appendInteger(proto);
      w.appendBulkString("id");
      w.appendInteger(this.id);
      w.appendBulkString("mode");
      w.appendBulkString("standalone");
      w.appendBulkString("role");
      w.appendBulkString("master");
      w.appendBulkString("modules");
      w.appendHeader(RESP_ARRAY, 0);
    });
  }

  #client(req: Request, frame: Frame): void {
    const argc = frame.argc;
    const sub = argc >= 2 ? frame.arg(1).toUpperCase() : "";
    switch (sub) {
      case "SETNAME": {
        if (argc !== 3) break;
        const name = frame.arg(2);
        if (!validClientName(name)) {
          this.#local(req, (w) => w.appendError(BAD_CLIENT_NAME));
        } else {
          this.#name = name;
          this.#local(req, (w) => w.appendSimple("OK"));
        }
        return;
      }
      case "GETNAME":
        this.#local(req, (w) => {
          if (this.#name) w.appendBulkString(this.#name);
          else w.appendAscii(this.#proto === 3 ? "_\r\n" : "$-1\r\n");
        });
        return;
      case "ID":
        this.#local(req, (w) => w.appendInteger(this.id));
        return;
      case "SETINFO":
        this.#local(req, (w) => w.appendSimple("OK"));
        return;
      case "INFO":
        this.#local(
          req,
          (w) =>
            w.appendBulkString(
              `id=${this.id} addr=${this.remoteAddr} name=${this.#name} db=${this.db} cmd=client|info\n`,
            ),
        );
        return;
    }
    this.#reject(req, `command 'CLIENT${sub ? ` ${sub}` : ""}' is not allowed`);
  }

  #slotsMapping(req: Request, frame: Frame): void {
    const argc = frame.argc;
    if (argc > 2) {
      this.#local(req, (w) => w.appendError("ERR wrong number of arguments for 'SLOTSMAPPING' command"));
      return;
    }
    const specs = this.#host.router.specs();
    let ids: number[];
    if (argc === 2) {
      const text = frame.arg(1);
      const id = Number(text);
      if (!/^\d+$/.test(text)) {
        this.#local(req, (w) => w.appendError(`ERR parse slotnum '${text}' failed, not an integer`));
        return;
      }
      if (id >= MAX_SLOT_NUM) {
        this.#local(req, (w) => w.appendError(`ERR parse slotnum '${text}' failed, out of range`));
        return;
      }
      ids = [id];
    } else {
      ids = specs.map((s) => s.id);
    }
    this.#local(req, (w) => {
      const entry = (id: number) => {
        const s = specs[id];
        w.appendHeader(RESP_ARRAY, 4);
        w.appendSimple(String(s.id));
        w.appendSimple(s.backendAddr);
        w.appendSimple(s.migrateFrom);
        w.appendHeader(RESP_ARRAY, s.replicaGroups.length);
        for (const g of s.replicaGroups) {
          w.appendHeader(RESP_ARRAY, g.length);
          for (const a of g) w.appendSimple(a);
        }
      };
      if (argc === 2) entry(ids[0]);
      else {
        w.appendHeader(RESP_ARRAY, ids.length);
        for (const id of ids) entry(id);
      }
    });
  }

  /** Answers a request from the proxy itself. */
  #local(req: Request, write: (w: ByteWriter) => void): void {
    const w = this.#scratch ??= new ByteWriter(256);
    w.clear(256);
    write(w);
    this.replied(req, w.bytes, 0, w.length);
  }

  /** Fails a request before it reaches a backend (`ERR handle request, …`). */
  #reject(req: Request, reason: string): void {
    this.failed(req, `ERR handle request, ${reason}`);
  }

  replied(req: Request, buf: Uint8Array, start: number, end: number): void {
    if (req.done) return;
    req.done = true;
    if (this.#closed) return;
    if (this.#queue.peek() === req) {
      this.#queue.shift();
      this.#write(req, buf, start, end);
      this.#advance();
    } else if (this.#admit(end - start)) {
      req.reply = buf.slice(start, end);
      this.#heldBytes += end - start;
    }
  }

  /**
   * Whether `n` more bytes of replies may wait for this client (Redis's client-output-buffer-limit):
   * past the hard limit the client is closed, and the bytes are dropped; past the soft limit the
   * session stops reading requests until the client reads, or closes it after soft_seconds (`tick`).
   * A single reply larger than the hard limit still goes when nothing else waits.
   */
  #admit(n: number): boolean {
    const c = this.#config;
    const waiting = this.#out.length + this.#heldBytes;
    if (c.sessionOutputHardLimit > 0 && waiting + n > c.sessionOutputHardLimit && waiting > 0) {
      this.#host.stats.sessionsOutputLimited++;
      this.close();
      return false;
    }
    if (c.sessionOutputSoftLimit > 0 && waiting + n > c.sessionOutputSoftLimit && this.#overSoftSince === 0) {
      this.#overSoftSince = performance.now();
    }
    return true;
  }

  /** Replies were written or sent on: resumes reading once the unread replies are under the soft limit. */
  #checkResume(): void {
    if (this.#overSoftSince > 0) {
      const waiting = this.#out.length + this.#heldBytes;
      if (waiting <= this.#config.sessionOutputSoftLimit) this.#overSoftSince = 0;
    }
    if (this.#drained !== null && !this.#mustWait()) {
      const resolve = this.#drained;
      this.#drained = null;
      resolve();
    }
  }

  failed(req: Request, message: string): void {
    if (req.done) return;
    req.proxyError = true;
    if (this.#config.sessionBreakOnFailure) {
      // Codis: with session_break_on_failure the client is disconnected after a failure.
      req.closeAfter = true;
      this.#closing = true;
    }
    const bytes = encodeError(message);
    this.replied(req, bytes, 0, bytes.length);
  }

  #write(req: Request, buf: Uint8Array, start: number, end: number): void {
    const op = req.op;
    const us = (clock.now - req.startedAt) * 1000;
    op.record(us);
    const chunk = req.rawChunk;
    if (chunk !== null) {
      chunk.live--;
      if (us >= this.#host.slowlog.threshold) this.#host.slowlog.consider(req, us, this);
    }
    if (req.proxyError) {
      op.fails++;
      this.#host.stats.fails++;
    } else if (buf[start] === RESP_ERROR) {
      op.redisErrors++;
      this.#host.stats.redisErrors++;
    }
    if (!this.#admit(end - start)) return;
    this.#out.append(buf, start, end);
    if (req.closeAfter) this.#closing = true;
    if (!this.#flushScheduled && !this.#flushing) {
      this.#flushScheduled = true;
      queueMicrotask(this.#flushTask);
    }
  }

  /** Writes the replies that were waiting for the ones before them. */
  #advance(): void {
    for (;;) {
      const head = this.#queue.peek();
      if (head === undefined || !head.done) break;
      this.#queue.shift();
      const reply = head.reply!;
      head.reply = null;
      this.#heldBytes -= reply.length;
      this.#write(head, reply, 0, reply.length);
      if (this.#closed) return;
    }
    const deferred = this.#deferred;
    if (deferred !== null && deferred.length > 0 && deferred[0].req === this.#queue.peek()) deferred.shift()!.run();
    this.#checkResume();
  }

  #scheduleFlush(): void {
    if (!this.#flushScheduled && !this.#flushing) {
      this.#flushScheduled = true;
      queueMicrotask(this.#flushTask);
    }
  }

  #tcpOption(set: (conn: Deno.TcpConn) => void): void {
    try {
      set(this.#conn as Deno.TcpConn);
    } catch {
      // closed already
    }
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    const out = this.#out;
    try {
      while (out.length > 0 && !this.#closed) {
        const bytes = out.peek();
        if (this.#noDelayDue && (this.#wrote || bytes.length > FIRST_WRITE_UNHELD)) {
          this.#noDelayDue = false;
          this.#tcpOption((t) => t.setNoDelay(true));
        }
        this.#wrote = true;
        this.#writeStartedAt = performance.now();
        const written = await this.#conn.write(bytes);
        out.consume(written);
        this.#host.stats.bytesOut += written;
        this.#writeStartedAt = 0;
        this.#checkResume();
      }
    } catch {
      this.close();
      return;
    } finally {
      this.#flushing = false;
    }
    if (this.#closing && this.#queue.length === 0 && this.#out.length === 0) this.close();
  }
}
