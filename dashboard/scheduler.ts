/**
 * The slot-action scheduler (Codis's `ProcessSlotAction` in `pkg/topom/topom_action.go`): a loop
 * that takes the next batch of slot actions, moves them through pending → preparing → prepared →
 * migrating (each step one barrier on every proxy for the whole batch), has the mover move their
 * keys, and finishes them.
 *
 * The scheduler is the only owner of the actions' settings and progress: the pause between
 * MIGRATEs (`interval`), `disabled`, the last status line and the number of slots moving. The API
 * changes them through its methods; the mover reads them through {@linkcode MoverHost}.
 *
 * @module
 */

import { ACTION_FINISHED, ACTION_MIGRATING, type SlotActionState, type SlotMapping } from "../coord/models.ts";
import type { SlotActionJson } from "../api/topom_stats.ts";
import { Loop } from "../utils/async.ts";
import { latin1 } from "../utils/bytes.ts";
import { log } from "../utils/log.ts";
import type { MoverHost, SlotMove } from "./mover.ts";
import { ScanMover } from "./mover.ts";
import type { Slots } from "./slots.ts";
import type { Topom } from "./topom.ts";

/** Longest pause between MIGRATEs the operator may set, in microseconds (one second). */
export const MAX_ACTION_INTERVAL_US = 1_000_000;

/** Runs the slot actions of one dashboard. */
export class SlotActionScheduler implements MoverHost {
  readonly mover: ScanMover;
  #t: Topom;
  #slots: Slots;
  #intervalUs = 0;
  #disabled = false;
  #status = "";
  #executors = 0;
  #loop: Loop | null = null;

  constructor(topom: Topom, slots: Slots) {
    this.#t = topom;
    this.#slots = slots;
    this.mover = new ScanMover(this);
  }

  // --- settings (the API's) ----------------------------------------------------------------------

  /** Microseconds the mover pauses after each MIGRATE (clamped to 0..1 s). */
  get intervalUs(): number {
    return this.#intervalUs;
  }

  setInterval(us: number): void {
    this.#intervalUs = Math.max(0, Math.min(MAX_ACTION_INTERVAL_US, us));
  }

  /** While disabled, no new action starts and no key moves; actions resume where they stopped. */
  get disabled(): boolean {
    return this.#disabled;
  }

  setDisabled(disabled: boolean): void {
    this.#disabled = disabled;
    this.wake();
  }

  /** Slots whose keys are being moved now. */
  get executors(): number {
    return this.#executors;
  }

  // --- what the mover needs ----------------------------------------------------------------------

  get closed(): boolean {
    return this.#t.closed || (this.#loop?.stopped ?? false);
  }

  get settings(): MoverHost["settings"] {
    return this.#t.config;
  }

  report(status: string): void {
    this.#status = status;
  }

  get connect(): MoverHost["connect"] {
    return this.#t.connectServer;
  }

  async holdKeys(slot: number, keys: readonly Uint8Array[], moving: readonly Uint8Array[] = []): Promise<void> {
    this.#noteHeld(slot, keys, moving);
    await this.#t.pushSlots([this.#t.slot(slot)]);
  }

  /** Records the big keys of `slot` for the fills (pushed by whoever fills the slot next). */
  #noteHeld(slot: number, keys: readonly Uint8Array[], moving: readonly Uint8Array[] = []): void {
    const b64 = (k: Uint8Array) => btoa(latin1(k));
    if (keys.length === 0) this.#t.heldKeys.delete(slot);
    else this.#t.heldKeys.set(slot, { held: keys.map(b64), moving: moving.map(b64) });
  }

  // --- the loop ------------------------------------------------------------------------------------

  /** Starts the loop. */
  start(): void {
    this.#loop ??= new Loop("slot actions", () => this.step(), {
      onError: (name, message) => log.warn(`${name}: ${message}`),
    });
  }

  /** Runs the next round now (after actions were created or enabled). */
  wake(): void {
    this.#loop?.wake();
  }

  /** Stops the loop; resolves when the round in progress has ended. */
  async stop(): Promise<void> {
    await this.#loop?.stop();
  }

  /** The `slot_action` part of the dashboard's stats. */
  toJson(): SlotActionJson {
    return {
      interval: this.#intervalUs,
      disabled: this.#disabled,
      progress: { status: this.#status },
      executor: this.#executors,
      migration: this.mover.toJson(),
    };
  }

  /** One round: true when it did something (the loop then runs again at once). */
  async step(): Promise<boolean> {
    const t = this.#t;
    let batch = t.ctx().actionBatch(this.#disabled);
    if (batch.length === 0) return false;
    // pending → preparing → prepared → migrating, slots in the same state together (each push is
    // one barrier on all proxies for all of them).
    const early: readonly SlotActionState[] = ["pending", "preparing", "prepared"];
    for (;;) {
      const state = early.find((st) => batch.some((m) => m.action.state === st));
      if (state === undefined) break;
      const ids = batch.filter((m) => m.action.state === state).map((m) => m.id);
      if (state === "pending") {
        // Before the slots lock: find their big keys, so that the migrating fill holds them. One
        // scan of a source serves every pending slot of it (later batches reuse what it found).
        const pending = t.ctx().snapshot.slots.filter((m) => m.action.state === "pending");
        await this.mover.findBig(this.#moves(pending));
        for (const id of ids) this.#noteHeld(id, this.mover.heldKeys(id));
      }
      const t0 = performance.now();
      const advanced = await this.#slots.advance(ids);
      log.info(
        `slots ${ranges(ids)}: ${state} → ${advanced[0]?.action.state} in ${(performance.now() - t0).toFixed(0)} ms`,
      );
      const byId = new Map(advanced.map((m) => [m.id, m]));
      batch = batch.map((m) => byId.get(m.id) ?? m);
    }
    const finished = batch.filter((m) => m.action.state === ACTION_FINISHED);
    if (finished.length > 0) await this.#finish(finished.map((m) => m.id));
    const migrating = batch.filter((m) => m.action.state === ACTION_MIGRATING);
    if (migrating.length === 0) return true;

    // While disabled, data does not move.
    if (this.#disabled) return false;
    const moves = this.#moves(migrating);
    this.#executors = moves.length;
    try {
      await this.mover.move(moves);
    } finally {
      this.#executors = 0;
    }
    const ids = migrating.map((m) => m.id);
    await this.#slots.advance(ids); // migrating → finished
    await this.#finish(ids);
    return true;
  }

  /** Where each slot's keys go. */
  #moves(mappings: readonly SlotMapping[]): SlotMove[] {
    const ctx = this.#t.ctx();
    const owned = new Map<number, number>();
    for (const x of ctx.snapshot.slots) owned.set(x.groupId, (owned.get(x.groupId) ?? 0) + 1);
    return mappings.map((m) => {
      const ends = ctx.migrationEnds(m);
      return {
        slot: m.id,
        from: ends.from,
        to: ends.to,
        fromGroup: m.groupId,
        toGroup: m.action.targetId,
        sourceSlots: owned.get(m.groupId) ?? 0,
      };
    });
  }

  async #finish(sids: number[]): Promise<void> {
    const done = await this.#slots.advance(sids); // finished → done, pushed to every proxy
    const byGroup = new Map<number, number[]>();
    for (const m of done) byGroup.set(m.groupId, [...(byGroup.get(m.groupId) ?? []), m.id]);
    for (const [gid, ids] of byGroup) log.info(`slots ${ranges(ids)} are now in group-[${gid}]`);
  }
}

/** `0-3,7` for [0,1,2,3,7]. */
export function ranges(ids: readonly number[]): string {
  const sorted = [...ids].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    out.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return out.join(",");
}
