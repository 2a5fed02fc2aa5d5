/**
 * The router: the proxy's table of 1024 slots, and the connection pools behind it.
 *
 * Filling a slot (from the dashboard or `--fillslots`) first blocks it, waits until the requests
 * already sent for it are answered, swaps its backends, then releases it — unless the new state
 * is `locked`, in which case requests for it keep waiting until a later fill unlocks it.
 *
 * @module
 */

import { MAX_SLOT_NUM, slotOf } from "../redis/slot_hash.ts";
import { encodeCommand } from "../redis/resp_writer.ts";
import { parseAddr } from "../utils/addr.ts";
import { offlineSlot, type SlotSpec } from "../coord/models.ts";
import { Fifo } from "../utils/fifo.ts";
import { BackendConn, type BackendOptions, BackendPool, type BackendServer, type Pending } from "./backend.ts";

/** Something the router can send: a request or a part of a split request. */
export interface Routed extends Pending {
  /** The client's database. */
  readonly db: number;
  /** Spreads requests over parallel connections and replicas (stable per session). */
  readonly seed: number;
  /** The slots this request holds a reference on while it waits for its reply. */
  slots: Slot[] | null;
  /** Fails the request before it is sent; `reason` is Codis's text (`slot is not ready, …`). */
  reject(reason: string): void;
}

/**
 * The keys of a request (copies), asked for only when its slot is migrating or blocked. Called
 * synchronously inside {@linkcode Router.dispatch}.
 */
export type KeySource = () => Uint8Array[];

interface Waiter {
  routed: Routed;
  bytes: Uint8Array;
  readOnly: boolean;
  since: number;
  keys: Uint8Array[] | null;
}

/** The I/O timeout (ms) of the MIGRATE a proxy runs before serving a key of a migrating slot. */
export const MIGRATE_TIMEOUT_MS = 10_000;

const MULTI = encodeCommand(["MULTI"]);
const EXEC = encodeCommand(["EXEC"]);

/**
 * For an EXEC reply `*2\r\n:N\r\n<reply>`: the offset of <reply> when N is 1, 0 when N is 0,
 * -1 for anything else (the transaction failed: fall back to MIGRATE).
 */
export function execExistsPrefix(buf: Uint8Array, start: number, end: number): number {
  // "*2\r\n:" then one digit then "\r\n"
  if (end - start < 9) return -1;
  if (buf[start] !== 0x2a || buf[start + 1] !== 0x32 || buf[start + 2] !== 0x0d || buf[start + 3] !== 0x0a) return -1;
  if (buf[start + 4] !== 0x3a || buf[start + 6] !== 0x0d || buf[start + 7] !== 0x0a) return -1;
  const n = buf[start + 5];
  if (n === 0x31) return start + 8;
  if (n === 0x30) return 0;
  return -1;
}

/** One slot of the router. */
export class Slot {
  readonly id: number;
  spec: SlotSpec;
  master: BackendServer | null = null;
  migrateFrom: BackendServer | null = null;
  replicas: BackendServer[][] = [];
  /** Requests sent for this slot and not yet answered. */
  inflight = 0;
  /** Requests held while the slot is blocked. */
  readonly waiters = new Fifo<Waiter>();
  #filling = 0;
  #drained: (() => void)[] = [];

  constructor(id: number) {
    this.id = id;
    this.spec = offlineSlot(id);
  }

  /** True while requests must wait: locked for a migration, or being refilled. */
  get blocked(): boolean {
    return this.spec.locked || this.#filling > 0;
  }

  /** A request sent for this slot was answered. */
  release(): void {
    if (--this.inflight === 0 && this.#drained.length > 0) {
      const waiting = this.#drained;
      this.#drained = [];
      for (const resolve of waiting) resolve();
    }
  }

  /** Resolves once no request sent for this slot awaits its reply. */
  drain(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  /** Blocks the slot for a refill. */
  beginFill(): void {
    this.#filling++;
  }

  /** Ends a refill. */
  endFill(): void {
    this.#filling--;
  }
}

/** Options of the router (from `proxy.toml`). */
export interface RouterOptions {
  backend: BackendOptions;
  primaryParallel: number;
  replicaParallel: number;
  /** Never read from replicas. */
  primaryOnly: boolean;
  /** Milliseconds a request may wait on a blocked slot before it fails (0 = forever). */
  slotLockTimeout: number;
}

/** The slot table and the backend pools. */
export class Router {
  readonly slots: Slot[] = Array.from({ length: MAX_SLOT_NUM }, (_, i) => new Slot(i));
  readonly primary: BackendPool;
  readonly replica: BackendPool;
  #options: RouterOptions;
  #online = false;
  #closed = false;
  #fillChain: Promise<void> = Promise.resolve();

  constructor(options: RouterOptions) {
    this.#options = options;
    this.primary = new BackendPool(options.primaryParallel, options.backend);
    this.replica = new BackendPool(options.replicaParallel, options.backend);
  }

  /** True once started (sessions are served). */
  get online(): boolean {
    return this.#online;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Marks the router online. Idempotent. */
  start(): void {
    if (!this.#closed) this.#online = true;
  }

  /** The slot specs, as `/proxy/slots` shows them. */
  specs(): SlotSpec[] {
    return this.slots.map((s) => s.spec);
  }

  /**
   * Installs new slot states. Each slot is blocked, drained of in-flight requests, switched,
   * and released (unless locked). Fills are applied one call at a time, in order.
   */
  fill(specs: readonly SlotSpec[]): Promise<void> {
    const run = this.#fillChain.then(() => this.#fill(specs));
    this.#fillChain = run.catch(() => {});
    return run;
  }

  async #fill(specs: readonly SlotSpec[]): Promise<void> {
    if (this.#closed) throw new Error("use of closed router");
    const touched = specs.map((spec) => this.slots[spec.id]);
    for (const slot of touched) slot.beginFill();
    try {
      await Promise.all(touched.map((slot) => slot.drain()));
      for (let i = 0; i < specs.length; i++) this.#install(touched[i], specs[i]);
    } finally {
      for (const slot of touched) slot.endFill();
    }
    for (const slot of touched) this.#release(slot);
  }

  #install(slot: Slot, spec: SlotSpec): void {
    const oldMaster = slot.master;
    const oldFrom = slot.migrateFrom;
    const oldReplicas = slot.replicas;
    slot.master = spec.backendAddr ? this.primary.retain(spec.backendAddr) : null;
    slot.migrateFrom = spec.migrateFrom && spec.migrateFrom !== spec.backendAddr
      ? this.primary.retain(spec.migrateFrom)
      : null;
    slot.replicas = this.#options.primaryOnly || spec.migrateFrom
      ? []
      : spec.replicaGroups.map((group) => group.map((addr) => this.replica.retain(addr)));
    slot.spec = { ...spec, replicaGroups: this.#options.primaryOnly ? [] : spec.replicaGroups };
    if (oldMaster) this.primary.release(oldMaster);
    if (oldFrom) this.primary.release(oldFrom);
    for (const group of oldReplicas) for (const s of group) this.replica.release(s);
  }

  /** Sends the requests that waited on a slot, once it is no longer blocked. */
  #release(slot: Slot): void {
    while (!slot.blocked && slot.waiters.length > 0) {
      const w = slot.waiters.shift()!;
      const keys = w.keys;
      this.dispatch(w.routed, slot.id, w.bytes, 0, w.bytes.length, w.readOnly, keys ? () => keys : undefined);
    }
  }

  /**
   * The connection that serves `slotId` right now, or null when the slot needs the full
   * {@linkcode dispatch} path (blocked, offline or migrating). Used to group split requests.
   */
  directConn(slotId: number, db: number, seed: number, readOnly: boolean): BackendConn | null {
    const slot = this.slots[slotId];
    if (slot.blocked || slot.master === null || slot.migrateFrom !== null) return null;
    if (readOnly && slot.replicas.length > 0) {
      const c = this.#pickReplica(slot, db, seed);
      if (c) return c;
    }
    return slot.master.conn(db, seed);
  }

  /**
   * Sends the request `buf[start, end)` for `slotId`, or holds it while the slot is blocked, or
   * fails it when the slot is offline. In a migrating slot, the request's keys are first moved
   * from the source to the target (see {@linkcode #migrateThenSend}).
   */
  dispatch(
    routed: Routed,
    slotId: number,
    buf: Uint8Array,
    start: number,
    end: number,
    readOnly: boolean,
    keys?: KeySource,
  ): void {
    const slot = this.slots[slotId];
    if (slot.blocked) {
      slot.waiters.push({
        routed,
        bytes: buf.slice(start, end),
        readOnly,
        since: performance.now(),
        keys: keys ? keys() : null,
      });
      return;
    }
    if (slot.master === null) {
      routed.reject("slot is not ready, may be offline");
      return;
    }
    if (slot.migrateFrom !== null) {
      const ks = keys ? keys() : [];
      if (readOnly && ks.length === 1 && slotOf(ks[0]) === slot.id) {
        this.#readDuringMigration(routed, slot, buf.slice(start, end), ks[0]);
      } else {
        this.#migrateThenSend(routed, slot, buf.slice(start, end), ks);
      }
      return;
    }
    let conn: BackendConn | null = null;
    if (readOnly && slot.replicas.length > 0) {
      conn = this.#pickReplica(slot, routed.db, routed.seed);
    }
    if (conn === null) conn = slot.master.conn(routed.db, routed.seed);
    this.hold(routed, slot);
    conn.send(routed, buf, start, end);
  }

  /**
   * A single-key read on a migrating slot, without moving anything: `MULTI; EXISTS key; <the
   * read>; EXEC` on the source answers from the source while the key is still there (its value
   * there is the current one: every write goes through a MIGRATE first, and MIGRATE deletes the
   * source's copy atomically); otherwise the read goes to the target. One round trip to the source
   * instead of a MIGRATE (which makes the source write to the target and wait). The four commands
   * are queued on the shared connection in one synchronous block, so nothing can come between.
   */
  #readDuringMigration(routed: Routed, slot: Slot, bytes: Uint8Array, key: Uint8Array): void {
    this.hold(routed, slot);
    const source = slot.migrateFrom!.conn(routed.db, routed.seed);
    const target = slot.master!;
    const toTarget = () => target.conn(routed.db, routed.seed).send(routed, bytes, 0, bytes.length);
    const queued: Pending = { onReply() {}, onFailure() {} };
    source.send(queued, MULTI, 0, MULTI.length);
    const exists = encodeCommand(["EXISTS", key]);
    source.send(queued, exists, 0, exists.length);
    source.send(queued, bytes, 0, bytes.length);
    source.send(
      {
        onReply: (buf: Uint8Array, start: number, end: number) => {
          // `*2\r\n:1\r\n<reply>`: the key is on the source, and <reply> is the answer.
          const after = execExistsPrefix(buf, start, end);
          if (after > 0) routed.onReply(buf, after, end);
          else if (after === 0) toTarget();
          else this.#migrateThenSend(routed, slot, bytes, [key], false);
        },
        onFailure: (reason: string) =>
          routed.reject(`bad migrate resp: ${reason} (read from ${slot.migrateFrom?.addr})`),
      },
      EXEC,
      0,
      EXEC.length,
    );
  }

  /**
   * A request on a migrating slot: `MIGRATE host port "" db timeout [AUTH pw] KEYS k…` on the
   * source master moves every key of the request that lives in a migrating slot (one call per
   * source and target), then the request goes to the target. NOKEY means the keys were moved
   * already, or are new. The request holds its slots throughout, so they cannot be refilled
   * (and the migration cannot finish) between the move and the request.
   */
  #migrateThenSend(routed: Routed, slot: Slot, bytes: Uint8Array, keys: Uint8Array[], hold = true): void {
    if (hold) this.hold(routed, slot);
    const moves = new Map<string, { from: BackendServer; to: string; keys: Uint8Array[] }>();
    for (const key of keys) {
      const s = this.slots[slotOf(key)];
      if (s.migrateFrom === null || s.master === null || s.blocked) continue;
      if (s !== slot && !routed.slots?.includes(s)) this.hold(routed, s);
      const id = `${s.migrateFrom.addr}>${s.master.addr}`;
      let m = moves.get(id);
      if (m === undefined) {
        m = { from: s.migrateFrom, to: s.master.addr, keys: [] };
        moves.set(id, m);
      }
      m.keys.push(key);
    }
    const target = slot.master!;
    const send = () => target.conn(routed.db, routed.seed).send(routed, bytes, 0, bytes.length);
    if (moves.size === 0) {
      send();
      return;
    }
    let waiting = moves.size;
    let failed = false;
    const fail = (reason: string) => {
      if (failed) return;
      failed = true;
      routed.reject(`bad migrate resp: ${reason}`);
    };
    const auth = this.#options.backend.auth;
    for (const m of moves.values()) {
      const { host, port } = parseAddr(m.to);
      const cmd = encodeCommand([
        "MIGRATE",
        host,
        port,
        "",
        routed.db,
        MIGRATE_TIMEOUT_MS,
        ...(auth ? ["AUTH", auth] : []),
        "KEYS",
        ...m.keys,
      ]);
      m.from.conn(routed.db, routed.seed).send(
        {
          onReply(buf: Uint8Array, start: number, end: number) {
            if (buf[start] === 0x2d) {
              fail(
                `${
                  new TextDecoder().decode(buf.subarray(start + 1, end)).trim()
                } (MIGRATE from ${m.from.addr} to ${m.to})`,
              );
            } else if (--waiting === 0 && !failed) {
              send();
            }
          },
          onFailure(reason: string) {
            fail(`${reason} (MIGRATE from ${m.from.addr} to ${m.to})`);
          },
        },
        cmd,
        0,
        cmd.length,
      );
    }
  }

  /** Records that `routed` was sent for `slot` (the slot cannot be refilled until it is answered). */
  hold(routed: Routed, slot: Slot): void {
    slot.inflight++;
    if (routed.slots === null) routed.slots = [slot];
    else routed.slots.push(slot);
  }

  #pickReplica(slot: Slot, db: number, seed: number): BackendConn | null {
    for (const group of slot.replicas) {
      const n = group.length;
      for (let i = 0; i < n; i++) {
        const c = group[(seed + 1 + i) % n].usableConn(db, seed);
        if (c) return c;
      }
    }
    return null;
  }

  /** A slot that has a backend, starting the search at `seed`; null when every slot is offline. */
  anyOnlineSlot(seed: number): Slot | null {
    for (let i = 0; i < MAX_SLOT_NUM; i++) {
      const slot = this.slots[(seed + i) % MAX_SLOT_NUM];
      if (slot.master !== null && !slot.blocked) return slot;
    }
    return null;
  }

  /** The server at `addr` among the masters or the replicas, if the router uses it. */
  server(addr: string): BackendServer | undefined {
    return this.primary.get(addr) ?? this.replica.get(addr);
  }

  /** Once a second: backend keepalives and timeouts; requests stuck on a locked slot fail. */
  tick(now: number): void {
    this.primary.tick(now);
    this.replica.tick(now);
    const limit = this.#options.slotLockTimeout;
    if (limit <= 0) return;
    for (const slot of this.slots) {
      while (slot.waiters.length > 0 && now - slot.waiters.peek()!.since > limit) {
        slot.waiters.shift()!.routed.reject(
          `slot-${String(slot.id).padStart(4, "0")} is locked, timed out after ${limit} ms`,
        );
      }
    }
  }

  /** Closes every backend connection; waiting requests fail. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#online = false;
    for (const slot of this.slots) {
      for (const w of slot.waiters.drain()) w.routed.reject("use of closed router");
      slot.master = slot.migrateFrom = null;
      slot.replicas = [];
      slot.spec = offlineSlot(slot.id);
    }
    this.primary.close();
    this.replica.close();
  }
}
