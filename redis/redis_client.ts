/**
 * A small pipelined Redis client for the control plane, the tools and the tests.
 *
 * @example
 * ```ts
 * const client = await RedisClient.connect("127.0.0.1:6379", { password: "secret" });
 * await client.call("SET", "k", "v");
 * console.log(await client.call("GET", "k")); // "v"
 * await client.close();
 * ```
 *
 * @module
 */

import { NEED_MORE, PROTOCOL_ERROR, ReplyScanner } from "./resp_scanner.ts";
import { ByteWriter } from "./resp_writer.ts";
import { ReadBuffer } from "./read_buffer.ts";
import { decodeReply, RespError, type RespValue } from "./resp_value.ts";
import { closeQuietly, dial, type TlsClientOptions } from "../utils/net.ts";
import { errorMessage } from "../utils/errors.ts";

/** Options of {@linkcode RedisClient.connect}. */
export interface RedisClientOptions {
  /** Sent with AUTH after connecting, when not empty. */
  password: string;
  /** Selected after connecting, when not 0. */
  db: number;
  /** How long connecting (TCP, AUTH, SELECT) may take, in milliseconds. */
  connectTimeoutMs: number;
  /** How long each call may wait for its reply, in milliseconds (0 = no limit). */
  timeoutMs: number;
  /** Return bulk strings as bytes instead of UTF-8 strings. */
  raw: boolean;
  /** Connect over TLS (null: plain TCP). */
  tls: TlsClientOptions | null;
}

/** Defaults of {@linkcode RedisClientOptions}. */
export const DEFAULT_REDIS_CLIENT_OPTIONS: Readonly<RedisClientOptions> = {
  password: "",
  db: 0,
  connectTimeoutMs: 5000,
  timeoutMs: 30000,
  raw: false,
  tls: null,
};

/** The connection to a Redis server failed, timed out or was closed. */
export class RedisConnectionError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RedisConnectionError";
  }
}

/** Redis answered a call with an error reply. */
export class RedisReplyError extends Error {
  /** The reply. */
  readonly reply: RespError;
  constructor(addr: string, reply: RespError) {
    super(`Redis ${addr} answered an error: ${reply.message}`);
    this.name = "RedisReplyError";
    this.reply = reply;
  }
}

type Arg = string | number | Uint8Array;

interface Pending {
  /** Resolve with the reply's exact bytes instead of a decoded value. */
  frame: boolean;
  resolve(v: RespValue): void;
  reject(e: Error): void;
  deadline: number;
}

/** A pipelined connection to one Redis server. */
export class RedisClient {
  /** The server's address, `host:port`. */
  readonly addr: string;
  #conn: Deno.Conn;
  #options: RedisClientOptions;
  #pending: Pending[] = [];
  #head = 0;
  #out = new ByteWriter(1024);
  #flushing = false;
  #closed = false;
  #closeReason: Error | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #reading: Promise<void>;
  /** Set by {@linkcode subscribe}: receives the pushed frames that answer no call. */
  #onPush: ((v: RespValue) => void) | null = null;

  private constructor(addr: string, conn: Deno.Conn, options: RedisClientOptions) {
    this.addr = addr;
    this.#conn = conn;
    this.#options = options;
    this.#reading = this.#readLoop();
  }

  /** Connects, then AUTHs and SELECTs as the options ask. */
  static async connect(addr: string, options: Partial<RedisClientOptions> = {}): Promise<RedisClient> {
    const opts = { ...DEFAULT_REDIS_CLIENT_OPTIONS, ...options };
    let conn: Deno.Conn;
    try {
      conn = await dial(addr, { timeoutMs: opts.connectTimeoutMs, tls: opts.tls });
    } catch (e) {
      throw new RedisConnectionError(`Cannot connect to Redis ${addr}: ${errorText(e)}`, { cause: e });
    }
    const client = new RedisClient(addr, conn, { ...opts, timeoutMs: opts.connectTimeoutMs });
    try {
      if (opts.password) await client.call("AUTH", opts.password);
      if (opts.db) await client.call("SELECT", opts.db);
    } catch (e) {
      await client.close();
      if (e instanceof RedisReplyError) {
        throw new RedisConnectionError(`Cannot use Redis ${addr}: ${e.reply.message}`, { cause: e });
      }
      throw e;
    }
    client.#options = opts;
    return client;
  }

  /** True once the connection is closed (by `close()` or a failure). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Sends a command; resolves with its reply, rejects with {@linkcode RedisReplyError} on an error reply. */
  async call(...args: Arg[]): Promise<RespValue> {
    const v = await this.send(args);
    if (v instanceof RespError) throw new RedisReplyError(this.addr, v);
    return v;
  }

  /** Sends a command; resolves with its reply, error replies included (as {@linkcode RespError}). */
  send(args: ReadonlyArray<Arg>, timeoutMs: number = this.#options.timeoutMs): Promise<RespValue> {
    return this.#enqueue(args, timeoutMs, false);
  }

  /** Sends a command; resolves with the exact bytes of its reply frame (for byte-level comparisons). */
  sendFrame(args: ReadonlyArray<Arg>, timeoutMs: number = this.#options.timeoutMs): Promise<Uint8Array> {
    return this.#enqueue(args, timeoutMs, true) as Promise<Uint8Array>;
  }

  #enqueue(args: ReadonlyArray<Arg>, timeoutMs: number, frame: boolean): Promise<RespValue> {
    if (this.#closed) {
      return Promise.reject(
        this.#closeReason ?? new RedisConnectionError(`Connection to Redis ${this.addr} is closed`),
      );
    }
    return new Promise<RespValue>((resolve, reject) => {
      this.#out.appendCommand(args);
      this.#pending.push({
        frame,
        resolve,
        reject,
        deadline: timeoutMs > 0 ? performance.now() + timeoutMs : Infinity,
      });
      if (timeoutMs > 0 && this.#timer === undefined) this.#armTimer(timeoutMs);
      if (!this.#flushing) {
        this.#flushing = true;
        queueMicrotask(() => this.#flush());
      }
    });
  }

  /**
   * Subscribes to `channels` (SUBSCRIBE): from now on the connection is in subscribed mode and
   * every published message goes to `onMessage`. Resolves once the server confirmed the first
   * channel; the connection's end is seen through {@linkcode closed} and {@linkcode ended}.
   */
  async subscribe(channels: readonly string[], onMessage: (channel: string, message: string) => void): Promise<void> {
    this.#onPush = (v) => {
      if (isPublished(v)) onMessage(String(v[1]), String(v[2]));
    };
    const reply = await this.send(["SUBSCRIBE", ...channels]);
    if (reply instanceof RespError) throw new RedisReplyError(this.addr, reply);
  }

  /** Resolves with the reason once the connection has ended (closed or failed). */
  get ended(): Promise<Error> {
    return this.#reading.then(() => this.#closeReason ?? new RedisConnectionError(`Redis ${this.addr}: closed`));
  }

  /** Sends several commands in one write; resolves with every reply (error replies as values). */
  pipeline(commands: ReadonlyArray<ReadonlyArray<Arg>>): Promise<RespValue[]> {
    return Promise.all(commands.map((c) => this.send(c)));
  }

  /**
   * Closes the connection; pending calls are rejected. Idempotent. The promise resolves once the
   * reader has stopped (await it where leaked operations matter, as in tests).
   */
  close(): Promise<void> {
    this.#fail(new RedisConnectionError(`Connection to Redis ${this.addr} is closed`));
    return this.#reading;
  }

  #armTimer(ms: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#closed) return;
      const now = performance.now();
      let next = Infinity;
      for (let i = this.#head; i < this.#pending.length; i++) {
        const d = this.#pending[i].deadline;
        if (d <= now) {
          this.#fail(
            new RedisConnectionError(`Redis ${this.addr} did not answer within ${this.#options.timeoutMs} ms`),
          );
          return;
        }
        if (d < next) next = d;
      }
      if (next !== Infinity) this.#armTimer(Math.max(1, next - now));
    }, Math.max(1, ms));
  }

  async #flush(): Promise<void> {
    try {
      while (this.#out.length > 0 && !this.#closed) {
        const data = this.#out.view().slice();
        this.#out.clear(1024);
        let off = 0;
        while (off < data.length) off += await this.#conn.write(data.subarray(off));
      }
    } catch (e) {
      this.#fail(new RedisConnectionError(`Cannot write to Redis ${this.addr}: ${errorText(e)}`, { cause: e }));
    } finally {
      this.#flushing = false;
    }
  }

  async #readLoop(): Promise<void> {
    const scanner = new ReplyScanner();
    const rb = new ReadBuffer(16 * 1024);
    try {
      for (;;) {
        const n = await this.#conn.read(rb.space());
        if (n === null) {
          this.#fail(new RedisConnectionError(`Redis ${this.addr} closed the connection`));
          return;
        }
        rb.end += n;
        const buf = rb.bytes;
        for (;;) {
          const frameEnd = scanner.scan(buf, rb.start, rb.end);
          if (frameEnd === NEED_MORE) break;
          if (frameEnd === PROTOCOL_ERROR) {
            this.#fail(new RedisConnectionError(`Redis ${this.addr} sent a bad reply: ${scanner.error}`));
            return;
          }
          const p = this.#pending[this.#head];
          const value = p?.frame
            ? buf.slice(rb.start, frameEnd)
            : decodeReply(buf, rb.start, frameEnd, this.#options.raw);
          rb.start = frameEnd;
          if (this.#onPush !== null && isPublished(value)) {
            // A published message (subscribed mode) answers no call, even with calls pending.
            this.#onPush(value);
            continue;
          }
          if (p === undefined) {
            // Not an answer to any call: a subscription's confirmation of a further channel, say.
            this.#onPush?.(value);
            continue;
          }
          this.#head++;
          if (this.#head === this.#pending.length) {
            this.#pending.length = 0;
            this.#head = 0;
            if (this.#timer !== undefined) {
              clearTimeout(this.#timer);
              this.#timer = undefined;
            }
          }
          p.resolve(value);
        }
      }
    } catch (e) {
      this.#fail(
        this.#closed
          ? this.#closeReason!
          : new RedisConnectionError(`Cannot read from Redis ${this.addr}: ${errorText(e)}`, { cause: e }),
      );
    }
  }

  #fail(reason: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeReason = reason;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    closeQuietly(this.#conn);
    const pending = this.#pending.slice(this.#head);
    this.#pending = [];
    this.#head = 0;
    for (const p of pending) p.reject(reason);
  }
}

/** A `message` frame of subscribed mode: `["message", channel, payload]`. */
function isPublished(v: RespValue): v is RespValue[] {
  return Array.isArray(v) && v.length === 3 && String(v[0]) === "message";
}

function errorText(e: unknown): string {
  return errorMessage(e);
}

/**
 * Sends one command on a connection nobody else reads and returns its decoded reply (error
 * replies as {@linkcode RespError}): for a handshake before a connection is handed to its owner.
 */
export async function exchange(
  conn: Deno.Conn,
  args: ReadonlyArray<Arg>,
  timeoutMs: number,
): Promise<RespValue> {
  const w = new ByteWriter(64);
  w.appendCommand(args);
  const signal = AbortSignal.timeout(timeoutMs);
  const timedOut = () => new RedisConnectionError(`no reply to ${String(args[0])} within ${timeoutMs} ms`);
  const onAbort = () => closeQuietly(conn);
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    let off = 0;
    while (off < w.length) off += await conn.write(w.bytes.subarray(off, w.length));
    const scanner = new ReplyScanner();
    const rb = new ReadBuffer(256);
    for (;;) {
      const n = await conn.read(rb.space());
      if (n === null) throw new RedisConnectionError("the server closed the connection");
      rb.end += n;
      const end = scanner.scan(rb.bytes, rb.start, rb.end);
      if (end === PROTOCOL_ERROR) throw new RedisConnectionError(`bad reply: ${scanner.error}`);
      if (end === NEED_MORE) continue;
      if (end !== rb.end) throw new RedisConnectionError("more than one reply");
      return decodeReply(rb.bytes, rb.start, end);
    }
  } catch (e) {
    if (signal.aborted) throw timedOut();
    throw e;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/** Parses an INFO reply into a map of `field → value` (section headers and blanks skipped). */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\r\n")) {
    if (!line || line.startsWith("#")) continue;
    const colon = line.indexOf(":");
    if (colon > 0) out[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return out;
}
