/**
 * The router: the proxy's table of 1024 slots, the connection pools behind it, and filling it.
 *
 * Filling a slot (from the dashboard or `--fillslots`) first blocks it, waits until the requests
 * already sent for it are answered, swaps its backends, then releases it — unless the new state
 * is `locked`, in which case requests for it keep waiting until a later fill unlocks it.
 * Requests on a migrating slot are handed to the {@linkcode MigrationForwarder}.
 *
 * @module
 */

import { offlineSlot, type SlotSpec } from "../coord/models.ts";
import { MAX_SLOT_NUM } from "../redis/slot_hash.ts";
import { CodisError } from "../utils/errors.ts";
import { type BackendConn, type BackendOptions, BackendPool, type BackendServer } from "./backend.ts";
import type { ByteRange } from "./frame.ts";
import { MigrationForwarder } from "./forward.ts";
import { type FillListener, holdSlot, type Routed, Slot } from "./slot.ts";

/**
 * The keys of a request (copies), asked for only when its slot is migrating or blocked. Called
 * synchronously inside {@linkcode Router.dispatch}.
 */
export type KeySource = () => Uint8Array[];

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
  readonly slots: readonly Slot[] = Array.from({ length: MAX_SLOT_NUM }, (_, i) => new Slot(i));
  readonly primary: BackendPool;
  readonly replica: BackendPool;
  #options: RouterOptions;
  readonly forwarder: MigrationForwarder;
  /** Counts the slots' changes of server (a slot's `movedAt` is the count at its last change). */
  moves = 0;
  /** Told of every refill (sessions' subscriptions). */
  readonly fillListeners = new Set<FillListener>();
  #online = false;
  #closed = false;
  #fillChain: Promise<void> = Promise.resolve();

  /** The backend connections' settings (shared by every connection: a reload changes them in place). */
  get backendOptions(): BackendOptions {
    return this.#options.backend;
  }

  constructor(options: RouterOptions) {
    this.#options = options;
    this.primary = new BackendPool(options.primaryParallel, options.backend);
    this.replica = new BackendPool(options.replicaParallel, options.backend);
    this.forwarder = new MigrationForwarder(this.slots, options.backend.auth);
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
    if (this.#closed) throw new CodisError("unavailable", "use of closed router");
    const touched = specs.map((spec) => this.slots[spec.id]);
    for (const slot of touched) slot.beginFill();
    // Commands blocked where the slot will no longer be served end now (and are waited for).
    for (let i = 0; i < specs.length; i++) {
      const slot = touched[i];
      if (slot.blockers.size > 0 && movesAway(slot, specs[i])) { for (const b of [...slot.blockers]) b.unblock(slot); }
    }
    try {
      await Promise.all(touched.map((slot) => slot.drain()));
      for (let i = 0; i < specs.length; i++) this.#install(touched[i], specs[i]);
      // Subscriptions follow the slots before anything is published there.
      if (this.fillListeners.size > 0) await Promise.all([...this.fillListeners].map((l) => l.slotsFilled(touched)));
    } finally {
      for (const slot of touched) slot.endFill();
    }
    for (const slot of touched) this.#release(slot);
  }

  #install(slot: Slot, spec: SlotSpec): void {
    if (
      (slot.master !== null || slot.movedAt > 0) &&
      (spec.backendAddr !== (slot.master?.addr ?? "") || spec.migrateFrom !== (slot.migrateFrom?.addr ?? ""))
    ) {
      slot.movedAt = ++this.moves;
    }
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
    slot.filledReplicaGroups = spec.replicaGroups;
    // atob gives the bytes as a latin1 string, the form `latin1` makes of a request's key.
    const held = slot.held !== null;
    slot.held = slot.migrateFrom !== null && spec.heldKeys && spec.heldKeys.length > 0
      ? new Set(spec.heldKeys.map((k) => atob(k)))
      : null;
    if (held !== (slot.held !== null)) this.forwarder.heldSlots += held ? -1 : 1;
    slot.moving = slot.held !== null && spec.movingKeys && spec.movingKeys.length > 0
      ? new Set(spec.movingKeys.map((k) => atob(k)))
      : null;
    slot.spec = { ...spec, replicaGroups: this.#options.primaryOnly ? [] : spec.replicaGroups };
    if (oldMaster) this.primary.release(oldMaster);
    if (oldFrom) this.primary.release(oldFrom);
    for (const group of oldReplicas) for (const s of group) this.replica.release(s);
  }

  /** Sends the requests that waited on a slot, once it is no longer blocked. */
  #release(slot: Slot): void {
    const range: ByteRange = { buf: EMPTY, start: 0, end: 0 };
    // Only those waiting now: a write to a key still held goes back in the queue.
    let n = slot.waiters.length;
    while (n-- > 0 && !slot.blocked && slot.waiters.length > 0) {
      const w = slot.waiters.shift()!;
      if (w.resume !== undefined) {
        w.resume();
        continue;
      }
      const keys = w.keys;
      range.buf = w.bytes;
      range.end = w.bytes.length;
      this.dispatch(w.routed, slot.id, range, w.readOnly, keys ? () => keys : undefined);
    }
  }

  /** Reads only from masters (or from replicas again): every slot is refilled with the replicas it was given. */
  async setPrimaryOnly(primaryOnly: boolean): Promise<void> {
    if (this.#options.primaryOnly === primaryOnly) return;
    this.#options.primaryOnly = primaryOnly;
    await this.fill(this.slots.map((s) => ({ ...s.spec, replicaGroups: s.filledReplicaGroups })));
  }

  /** Milliseconds a request may wait on a blocked slot (0 = forever). */
  set slotLockTimeout(ms: number) {
    this.#options.slotLockTimeout = ms;
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
   * Sends the request `bytes` for `slotId`, or holds it while the slot is blocked, or fails it
   * when the slot is offline; on a migrating slot the forwarder moves its keys first.
   */
  dispatch(routed: Routed, slotId: number, bytes: ByteRange, readOnly: boolean, keys?: KeySource): void {
    const slot = this.slots[slotId];
    if (slot.blocked) {
      slot.waiters.push({
        routed,
        bytes: bytes.buf.slice(bytes.start, bytes.end),
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
      this.forwarder.forward(routed, slot, bytes.buf.slice(bytes.start, bytes.end), keys ? keys() : [], readOnly);
      return;
    }
    let conn: BackendConn | null = null;
    if (readOnly && slot.replicas.length > 0) {
      conn = this.#pickReplica(slot, routed.db, routed.seed);
    }
    if (conn === null) conn = slot.master.conn(routed.db, routed.seed);
    holdSlot(routed, slot);
    conn.send(routed, bytes.buf, bytes.start, bytes.end);
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

const EMPTY = new Uint8Array(0);

/** True when `spec` serves `slot` from another server than now, or holds it (locked, migrating). */
function movesAway(slot: Slot, spec: SlotSpec): boolean {
  return spec.locked || spec.backendAddr !== (slot.master?.addr ?? "") ||
    (spec.migrateFrom !== "" && spec.migrateFrom !== (slot.migrateFrom?.addr ?? ""));
}

/**
 * The specs among `specs` that `masters` (`gid → addr`) re-points, changed and marked
 * `switched`: the owner's address when its group has another master, the migration source's
 * likewise. Specs that need no change are left out.
 */
export async function switchedSpecs(
  specs: readonly SlotSpec[],
  masters: ReadonlyMap<number, string>,
  differs: (current: string, reported: string) => Promise<boolean>,
): Promise<SlotSpec[]> {
  const out: SlotSpec[] = [];
  const verdicts = new Map<string, Promise<boolean>>();
  const changed = (current: string, reported: string) => {
    if (current === reported) return Promise.resolve(false);
    const key = `${current} ${reported}`;
    let v = verdicts.get(key);
    if (!v) verdicts.set(key, v = differs(current, reported));
    return v;
  };
  for (const spec of specs) {
    let next: SlotSpec | null = null;
    const owner = masters.get(spec.backendAddrGroupId);
    if (spec.backendAddr && owner && await changed(spec.backendAddr, owner)) {
      next = { ...spec, backendAddr: owner, switched: true };
    }
    const from = masters.get(spec.migrateFromGroupId);
    if (spec.migrateFrom && from && await changed(spec.migrateFrom, from)) {
      next = { ...(next ?? spec), migrateFrom: from, switched: true };
    }
    if (next) out.push(next);
  }
  return out;
}
