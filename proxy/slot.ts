/**
 * One slot of the proxy's table: its current backends, the requests it holds while it is
 * blocked, and how many requests sent for it still await their replies.
 *
 * The counting is what makes a refill safe: a request that was sent for a slot holds a
 * reference on it ({@linkcode holdSlot}) until its reply (or failure) releases it, and a refill
 * blocks the slot, then waits until no reference is left ({@linkcode Slot.drain}) before it
 * switches the backends. So no request is ever in flight to a backend the slot no longer has.
 *
 * @module
 */

import { offlineSlot, type SlotSpec } from "../coord/models.ts";
import { Fifo } from "../utils/fifo.ts";
import type { BackendServer, Pending } from "./backend.ts";

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

/** Records that `routed` was sent for `slot`: the slot cannot be refilled until it is answered. */
export function holdSlot(routed: Routed, slot: Slot): void {
  slot.inflight++;
  if (routed.slots === null) routed.slots = [slot];
  else routed.slots.push(slot);
}

/** Releases the slot references a routed request holds (once it has its reply or failed). */
export function releaseSlots(r: Routed): void {
  const slots = r.slots;
  if (slots === null) return;
  r.slots = null;
  for (let i = 0; i < slots.length; i++) slots[i].release();
}

/** Told after each refill of the table, before the refilled slots serve requests again. */
export interface FillListener {
  /** Resolves once whatever follows the slots (subscriptions) has followed them. */
  slotsFilled(slots: readonly Slot[]): Promise<void>;
}

/** A request held while its slot is blocked (its bytes copied, since the session reads on). */
export interface Waiter {
  routed: Routed;
  bytes: Uint8Array;
  readOnly: boolean;
  /** `performance.now()` when it started waiting (for `slot_lock_timeout`). */
  since: number;
  /** The request's keys, when the slot may be migrating when it is released. */
  keys: Uint8Array[] | null;
  /** Set for requests that do not go the usual way (blocking commands): called instead of a dispatch. */
  resume?: () => void;
}

/**
 * A command blocked on a dedicated connection for this slot (BLPOP, XREAD BLOCK, …). It holds no
 * reference while it waits; a refill that moves the slot calls {@linkcode Blocker.unblock}, which
 * holds one until the server has answered, so the slot moves only once nothing waits there.
 */
export interface Blocker {
  /** Ends the wait at once (`CLIENT UNBLOCK … ERROR`), holding `slot` until the reply. */
  unblock(slot: Slot): void;
}

/** One slot of the router. */
export class Slot {
  readonly id: number;
  spec: SlotSpec;
  master: BackendServer | null = null;
  migrateFrom: BackendServer | null = null;
  replicas: BackendServer[][] = [];
  /** The replicas the last fill named (kept when `backend_primary_only` hides them, to show them again). */
  filledReplicaGroups: string[][] = [];
  /**
   * Big keys of this migrating slot that the dashboard moves in pieces, as latin1 strings of their
   * bytes (`latin1`; null: none): served by the source, never MIGRATEd.
   */
  held: Set<string> | null = null;
  /** Those of {@linkcode held} being copied now: writes to them wait among the {@linkcode waiters} until a fill drops them. */
  moving: Set<string> | null = null;
  /** The router's `moves` count when this slot last changed servers (for SCAN; 0 = never). */
  movedAt = 0;
  /** Requests sent for this slot and not yet answered. */
  inflight = 0;
  /** Requests held while the slot is blocked. */
  readonly waiters = new Fifo<Waiter>();
  /** Blocking commands waiting on a dedicated connection for this slot. */
  readonly blockers = new Set<Blocker>();
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
