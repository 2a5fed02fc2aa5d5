/**
 * Pub/Sub through the proxy. Redis's Pub/Sub is server-wide; across groups the proxy makes every
 * publisher meet every subscriber this way:
 *
 * - A channel lives where a key of the same name would: on the master of the slot of its name
 *   (hash tags included). `PUBLISH`/`SPUBLISH` are routed like a write of that key, and a
 *   session's `SUBSCRIBE`/`SSUBSCRIBE` go to that master, on the session's own dedicated
 *   connection to it (one per master the session needs).
 * - A pattern may match channels of any slot: `PSUBSCRIBE` goes to every master.
 * - While a channel's slot migrates, the session is subscribed on both the source and the target
 *   (the proxies publish on one of them, whichever their table says), from the moment the slot is
 *   locked for the migration until it has moved; after a master switch it subscribes on the new
 *   master. Every refill of the table waits until the subscriptions follow it, so a message
 *   published after a proxy's table changed reaches the subscribers of that proxy.
 * - Replies are Redis's: the subscription counts are the session's (not one backend
 *   connection's), and a confirmation is sent once the backend has confirmed, so a message
 *   published after the client saw it is delivered. Messages are passed on byte for byte.
 *
 * In RESP2, a subscribed session accepts the (P|S)(UN)SUBSCRIBE commands, `PING` (answered `pong`,
 * as Redis does there), `QUIT` and `RESET`; in RESP3 (after `HELLO 3`) any command, and the
 * confirmations and messages are push frames.
 *
 * @module
 */

import { ByteWriter } from "../redis/resp_writer.ts";
import { RESP_ARRAY, RESP_BULK, RESP_ERROR, RESP_PUSH } from "../redis/resp_types.ts";
import { slotOfString } from "../redis/slot_hash.ts";
import { Fifo } from "../utils/fifo.ts";
import type { BackendServer } from "./backend.ts";
import { RESP3_DB } from "./backend_base.ts";
import type { DedicatedConn } from "./dedicated.ts";
import { masters } from "./fanout.ts";
import type { Request } from "./request.ts";
import type { Router } from "./router.ts";
import type { FillListener, Slot } from "./slot.ts";

/** The three kinds of subscription: channels, patterns, shard channels. */
export type SubscriptionKind = "channel" | "pattern" | "shard";

const SUBSCRIBE: Record<SubscriptionKind, string> = {
  channel: "SUBSCRIBE",
  pattern: "PSUBSCRIBE",
  shard: "SSUBSCRIBE",
};
const UNSUBSCRIBE: Record<SubscriptionKind, string> = {
  channel: "UNSUBSCRIBE",
  pattern: "PUNSUBSCRIBE",
  shard: "SUNSUBSCRIBE",
};
const CONFIRM_KINDS = new Set(["subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe"]);

/** How long a refill waits for subscriptions to follow it. */
const FOLLOW_TIMEOUT_MS = 5000;
/** How soon subscriptions are tried again after their connection was lost. */
const RETRY_MS = 500;

const dec = new TextDecoder();

/** What a subscriber needs from its session. */
export interface SubscriberHost {
  readonly router: Router;
  /** The client speaks RESP3: confirmations and messages are push frames. */
  readonly resp3: boolean;
  /** Writes a message to the client now (it is not the reply of a request). */
  push(buf: Uint8Array, start: number, end: number): void;
}

/** Something waiting for `remaining` confirmations from one backend connection. */
interface Op {
  remaining: number;
  done(error: string | null): void;
}

/** A session's dedicated connection to one master, in push mode. */
class Link {
  readonly addr: string;
  readonly conn: DedicatedConn;
  readonly ops = new Fifo<Op>();
  /** Subscriptions on this connection, by kind. */
  readonly subs: Record<SubscriptionKind, Set<string>> = { channel: new Set(), pattern: new Set(), shard: new Set() };

  constructor(addr: string, conn: DedicatedConn) {
    this.addr = addr;
    this.conn = conn;
  }

  get empty(): boolean {
    return this.subs.channel.size + this.subs.pattern.size + this.subs.shard.size === 0;
  }

  /** Sends `COMMAND names…`; `done` once every name is confirmed. */
  send(command: string, names: string[], done: (error: string | null) => void): void {
    this.ops.push({ remaining: names.length, done });
    this.conn.sendCommand(null, [command, ...names]);
  }
}

/** A session's subscriptions (made at its first SUBSCRIBE). */
export class Subscriber implements FillListener {
  #host: SubscriberHost;
  /** Subscriptions in the order made, by kind (the client's view; counts come from these). */
  #subs: Record<SubscriptionKind, Set<string>> = { channel: new Set(), pattern: new Set(), shard: new Set() };
  #links = new Map<string, Link>();
  #closed = false;
  #retry: ReturnType<typeof setTimeout> | null = null;
  /** Messages received and not yet passed on: `#runBuf[#runStart, #runEnd)`. */
  #runBuf: Uint8Array | null = null;
  #runStart = 0;
  #runEnd = 0;
  /** Unsubscriptions sent and not yet confirmed: messages are checked against the client's view meanwhile. */
  #unsubscribing = 0;
  /** Called when the session leaves subscribed mode. */
  onIdle: (() => void) | null = null;

  constructor(host: SubscriberHost) {
    this.#host = host;
    host.router.fillListeners.add(this);
  }

  /** True while the client has a subscription (Redis's subscribed mode, RESP2). */
  get active(): boolean {
    return this.#count() + this.#subs.shard.size > 0;
  }

  /** `SUBSCRIBE`, `PSUBSCRIBE`, `SSUBSCRIBE` with `names`. */
  subscribe(req: Request, kind: SubscriptionKind, names: string[]): void {
    const w = new ByteWriter(64);
    const confirm = kind === "channel" ? "subscribe" : kind === "pattern" ? "psubscribe" : "ssubscribe";
    for (const name of names) {
      this.#subs[kind].add(name);
      writeConfirm(w, this.#host.resp3, confirm, name, kind === "shard" ? this.#subs.shard.size : this.#count());
    }
    this.#answerAfter(req, w, this.#follow(kind, names));
  }

  /** `UNSUBSCRIBE`, `PUNSUBSCRIBE`, `SUNSUBSCRIBE` with `names` (none = all of that kind). */
  unsubscribe(req: Request, kind: SubscriptionKind, names: string[]): void {
    const set = this.#subs[kind];
    const list = names.length > 0 ? names : [...set];
    const confirm = kind === "channel" ? "unsubscribe" : kind === "pattern" ? "punsubscribe" : "sunsubscribe";
    const w = new ByteWriter(64);
    if (list.length === 0) {
      writeConfirm(w, this.#host.resp3, confirm, null, kind === "shard" ? set.size : this.#count());
    }
    for (const name of list) {
      set.delete(name);
      writeConfirm(w, this.#host.resp3, confirm, name, kind === "shard" ? set.size : this.#count());
    }
    this.#answerAfter(req, w, this.#follow(kind, list));
  }

  /** Drops every subscription and connection (the client left, or RESET). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#host.router.fillListeners.delete(this);
    if (this.#retry !== null) clearTimeout(this.#retry);
    for (const link of this.#links.values()) {
      link.conn.onClosed = null;
      link.conn.close("client closed");
    }
    this.#links.clear();
  }

  /** After a refill: the subscriptions of those slots follow their new masters. */
  slotsFilled(slots: readonly Slot[]): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const touched = new Set(slots.map((s) => s.id));
    const names = (kind: SubscriptionKind) => [...this.#subs[kind]].filter((n) => touched.has(slotOfString(n)));
    const waits = [
      this.#follow("channel", names("channel")),
      this.#follow("shard", names("shard")),
      this.#follow("pattern", [...this.#subs.pattern]),
    ];
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      Promise.all(waits).then(() => clearTimeout(timer)),
      new Promise<void>((resolve) => timer = setTimeout(resolve, FOLLOW_TIMEOUT_MS)),
    ]);
  }

  /** Subscriptions (channels and patterns) as Redis counts them for (P)SUBSCRIBE replies. */
  #count(): number {
    return this.#subs.channel.size + this.#subs.pattern.size;
  }

  /** Replies to `req` with `w`'s bytes once `ready` resolves (or with the error it gives). */
  #answerAfter(req: Request, w: ByteWriter, ready: Promise<string | null>): void {
    const bytes = w.view().slice();
    void ready.then((error) => {
      if (error !== null) req.reject(error);
      else req.onReply(bytes, 0, bytes.length);
      if (!this.active) this.onIdle?.();
    });
  }

  /** The masters where a subscription must be now. */
  #wanted(kind: SubscriptionKind, name: string): BackendServer[] {
    const router = this.#host.router;
    if (kind === "pattern") return masters(router);
    const slot = router.slots[slotOfString(name)];
    const out: BackendServer[] = [];
    if (slot.master !== null) out.push(slot.master);
    if (slot.migrateFrom !== null && slot.migrateFrom !== slot.master) out.push(slot.migrateFrom);
    return out;
  }

  /**
   * Brings the backend subscriptions of `names` in line with the client's: subscribed where they
   * are wanted, unsubscribed elsewhere. Resolves when every backend has confirmed (null), or with
   * the first error.
   */
  #follow(kind: SubscriptionKind, names: string[]): Promise<string | null> {
    if (this.#closed || names.length === 0) return Promise.resolve(null);
    const add = new Map<BackendServer, string[]>();
    const remove = new Map<Link, string[]>();
    for (const name of names) {
      const wanted = this.#subs[kind].has(name) ? this.#wanted(kind, name) : [];
      const wantedAddrs = new Set(wanted.map((s) => s.addr));
      for (const server of wanted) {
        if (this.#links.get(server.addr)?.subs[kind].has(name)) continue;
        const list = add.get(server) ?? [];
        list.push(name);
        add.set(server, list);
      }
      for (const link of this.#links.values()) {
        if (link.subs[kind].has(name) && !wantedAddrs.has(link.addr)) {
          const list = remove.get(link) ?? [];
          list.push(name);
          remove.set(link, list);
        }
      }
    }
    const waits: Promise<string | null>[] = [];
    for (const [server, list] of add) {
      const link = this.#link(server);
      if (typeof link === "string") {
        waits.push(Promise.resolve(link));
        continue;
      }
      for (const n of list) link.subs[kind].add(n);
      waits.push(new Promise((resolve) => link.send(SUBSCRIBE[kind], list, resolve)));
    }
    for (const [link, list] of remove) {
      for (const n of list) link.subs[kind].delete(n);
      this.#unsubscribing++;
      waits.push(
        new Promise((resolve) =>
          link.send(UNSUBSCRIBE[kind], list, (error) => {
            this.#unsubscribing--;
            if (link.empty && link.ops.length === 0) this.#drop(link);
            resolve(error);
          })
        ),
      );
    }
    return Promise.all(waits).then((errors) => errors.find((e) => e !== null) ?? null);
  }

  /** The link to `server`, made if needed; or why there is none. */
  #link(server: BackendServer): Link | string {
    const existing = this.#links.get(server.addr);
    if (existing !== undefined) return existing;
    const conn = server.dedicated.take(this.#host.resp3 ? RESP3_DB : 0);
    if (typeof conn === "string") return `ERR handle request, ${conn}`;
    const link = new Link(server.addr, conn);
    conn.setHandler((buf, start, end) => this.#frame(link, buf, start, end), () => this.#flushRun());
    conn.onClosed = (reason) => this.#lost(link, reason);
    this.#links.set(server.addr, link);
    return link;
  }

  #drop(link: Link): void {
    if (this.#links.get(link.addr) !== link) return;
    this.#links.delete(link.addr);
    link.conn.onClosed = null;
    link.conn.close("unsubscribed");
  }

  /** A link's connection ended: what waited on it fails, and its subscriptions are made again. */
  #lost(link: Link, reason: string): void {
    if (this.#links.get(link.addr) === link) this.#links.delete(link.addr);
    for (const op of link.ops.drain()) op.done(`ERR handle response, ${reason}`);
    if (this.#closed) return;
    this.#retry ??= setTimeout(() => {
      this.#retry = null;
      void this.#resubscribeAll();
    }, RETRY_MS);
  }

  async #resubscribeAll(): Promise<void> {
    const errors = await Promise.all(
      (["channel", "pattern", "shard"] as const).map((kind) => this.#follow(kind, [...this.#subs[kind]])),
    );
    if (errors.some((e) => e !== null) && !this.#closed) {
      this.#retry ??= setTimeout(() => {
        this.#retry = null;
        void this.#resubscribeAll();
      }, RETRY_MS);
    }
  }

  /** Passes on the messages gathered from the current read. */
  #flushRun(): void {
    const buf = this.#runBuf;
    if (buf === null) return;
    this.#runBuf = null;
    this.#host.push(buf, this.#runStart, this.#runEnd);
  }

  /** A frame from a link: a confirmation (counted), a message (passed on), or an error. */
  #frame(link: Link, buf: Uint8Array, start: number, end: number): void {
    // The common case first, without decoding: a message while no unsubscription is unconfirmed.
    // Consecutive ones are passed on together, at the end of the read (`#flushRun`).
    if (this.#unsubscribing === 0 && isMessage(buf, start)) {
      if (this.#runBuf === buf && this.#runEnd === start) {
        this.#runEnd = end;
      } else {
        this.#flushRun();
        this.#runBuf = buf;
        this.#runStart = start;
        this.#runEnd = end;
      }
      return;
    }
    this.#flushRun();
    if (buf[start] === RESP_ERROR) {
      link.ops.shift()?.done(dec.decode(buf.subarray(start + 1, end - 2)));
      return;
    }
    const kind = firstBulk(buf, start, end);
    if (kind === null) return;
    if (CONFIRM_KINDS.has(kind)) {
      const op = link.ops.peek();
      if (op !== undefined && --op.remaining <= 0) {
        link.ops.shift();
        op.done(null);
      }
      return;
    }
    if (kind === "message" || kind === "pmessage" || kind === "smessage") {
      // Not for the client once it unsubscribed (the backend may not have confirmed yet).
      const name = secondBulk(buf, start, end);
      const set = kind === "message" ? this.#subs.channel : kind === "pmessage" ? this.#subs.pattern : this.#subs.shard;
      if (name !== null && set.has(name)) this.#host.push(buf, start, end);
    }
  }
}

/**
 * True for `*3 $7 message …`, `*4 $8 pmessage …`, `*3 $8 smessage …` (or `>` in RESP3), told by
 * the bytes where the kind's length and first letter are.
 */
function isMessage(buf: Uint8Array, start: number): boolean {
  const len = buf[start + 5];
  const first = buf[start + 8];
  return buf[start + 4] === RESP_BULK && buf[start + 6] === 13 &&
    ((len === 0x37 && first === 0x6d) || (len === 0x38 && (first === 0x70 || first === 0x73)));
}

function writeConfirm(w: ByteWriter, resp3: boolean, kind: string, name: string | null, count: number): void {
  w.appendHeader(resp3 ? RESP_PUSH : RESP_ARRAY, 3);
  w.appendBulkString(kind);
  if (name === null) w.appendAscii(resp3 ? "_\r\n" : "$-1\r\n");
  else w.appendBulkString(name);
  w.appendInteger(count);
}

/** Position after the CRLF that ends the line starting at `p`. */
function lineEnd(buf: Uint8Array, p: number, end: number): number {
  while (p + 1 < end && !(buf[p] === 13 && buf[p + 1] === 10)) p++;
  return p;
}

/** The bulk string at `p`: [start, end) of its bytes and the position after it, or null. */
function bulkAt(buf: Uint8Array, p: number, end: number): [number, number, number] | null {
  if (buf[p] !== RESP_BULK) return null;
  const le = lineEnd(buf, p + 1, end);
  const n = Number(dec.decode(buf.subarray(p + 1, le)));
  if (!(n >= 0)) return null;
  const s = le + 2;
  return [s, s + n, s + n + 2];
}

/** The first element of an array reply, when it is a bulk string. */
function firstBulk(buf: Uint8Array, start: number, end: number): string | null {
  if (buf[start] !== RESP_ARRAY && buf[start] !== RESP_PUSH) return null;
  const b = bulkAt(buf, lineEnd(buf, start + 1, end) + 2, end);
  return b === null ? null : dec.decode(buf.subarray(b[0], b[1]));
}

/** The second element of an array reply, when the first two are bulk strings. */
function secondBulk(buf: Uint8Array, start: number, end: number): string | null {
  const a = bulkAt(buf, lineEnd(buf, start + 1, end) + 2, end);
  if (a === null) return null;
  const b = bulkAt(buf, a[2], end);
  return b === null ? null : dec.decode(buf.subarray(b[0], b[1]));
}
