/**
 * The dashboard's background work on actions: the slot-action scheduler (Codis's
 * `ProcessSlotAction` in `pkg/topom/topom_action.go`) and the sync-action loop (REPLICAOF, `ProcessSyncAction`).
 *
 * @module
 */

import {
  ACTION_FINISHED,
  ACTION_MIGRATING,
  ACTION_PENDING,
  ACTION_PREPARED,
  ACTION_PREPARING,
} from "../coord/models.ts";
import { log } from "../utils/log.ts";
import type { Topom } from "./topom.ts";
import { errorMessage } from "../utils/errors.ts";

/** One slot whose keys must move: from the source master to the target master. */
export interface SlotMove {
  slot: number;
  /** Source master ("" when the slot was offline: nothing to move). */
  from: string;
  to: string;
  fromGroup: number;
  toGroup: number;
}

/** Moves the keys of migrating slots; resolves when none of their keys is left on the source. */
export interface SlotMover {
  move(moves: SlotMove[], topom: Topom): Promise<void>;
}

/** A cancellable loop that runs `step` about every `periodMs`, backing off after errors. */
export class Loop {
  #stopped = false;
  #wake: (() => void) | null = null;
  #done: Promise<void>;

  constructor(name: string, periodMs: number, step: () => Promise<boolean | void>, errorBackoffMs = 5000) {
    this.#done = (async () => {
      while (!this.#stopped) {
        let delay = periodMs;
        try {
          // A step that did work runs again at once.
          if (await step()) delay = 10;
        } catch (e) {
          log.warn(`${name}: ${errorMessage(e)}`);
          delay = errorBackoffMs;
        }
        await this.sleep(delay);
      }
    })();
  }

  /** Sleeps unless stopped or woken. */
  sleep(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = null;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
    });
  }

  /** Runs the next step now. */
  wake(): void {
    this.#wake?.();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#done;
  }
}

/** One round of the slot-action scheduler; true when it did something. */
export async function processSlotActions(topom: Topom, mover: SlotMover): Promise<boolean> {
  let batch = topom.nextActionBatch();
  if (batch.length === 0) return false;
  // pending → preparing → prepared → migrating, slots in the same state together (each push is
  // one barrier on all proxies for all of them).
  const early = [ACTION_PENDING, ACTION_PREPARING, ACTION_PREPARED];
  while (batch.some((m) => early.includes(m.action.state))) {
    const state = early.find((st) => batch.some((m) => m.action.state === st))!;
    const ids = batch.filter((m) => m.action.state === state).map((m) => m.id);
    const t0 = performance.now();
    const advanced = await topom.advanceActions(ids);
    log.info(
      `slots ${ranges(ids)}: ${state} → ${advanced[0]?.action.state} in ${(performance.now() - t0).toFixed(0)} ms`,
    );
    const byId = new Map(advanced.map((m) => [m.id, m]));
    batch = batch.map((m) => byId.get(m.id) ?? m);
  }
  const finished = batch.filter((m) => m.action.state === ACTION_FINISHED);
  if (finished.length > 0) await finish(topom, finished.map((m) => m.id));
  const migrating = batch.filter((m) => m.action.state === ACTION_MIGRATING);
  if (migrating.length === 0) return true;

  // While disabled, data does not move.
  if (topom.actionDisabled) return false;
  const moves = migrating.map((m) => {
    const ends = topom.migrationEnds(m);
    return { slot: m.id, from: ends.from, to: ends.to, fromGroup: m.groupId, toGroup: m.action.targetId };
  });
  topom.actionExecutors = moves.length;
  try {
    await mover.move(moves, topom);
  } finally {
    topom.actionExecutors = 0;
  }
  const ids = migrating.map((m) => m.id);
  await topom.advanceActions(ids); // migrating → finished
  await finish(topom, ids);
  return true;
}

async function finish(topom: Topom, sids: number[]): Promise<void> {
  const done = await topom.advanceActions(sids); // finished → done, pushed to every proxy
  const byGroup = new Map<number, number[]>();
  for (const m of done) byGroup.set(m.groupId, [...(byGroup.get(m.groupId) ?? []), m.id]);
  for (const [gid, ids] of byGroup) log.info(`slots ${ranges(ids)} are now in group-[${gid}]`);
}

/** `0-3,7` for [0,1,2,3,7]. */
export function ranges(ids: number[]): string {
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

/** One round of the sync-action loop; true when it ran an action. */
export async function processSyncAction(topom: Topom): Promise<boolean> {
  const next = await topom.takeSyncAction();
  if (!next) return false;
  const what = next.master ? `replicate ${next.master}` : "be a master";
  try {
    const note = await topom.replicaOf(next.addr, next.master);
    if (note) {
      topom.syncNotes.set(next.addr, note);
      log.warn(`sync server-[${next.addr}]: ${note}`);
    } else {
      topom.syncNotes.delete(next.addr);
    }
    await topom.finishSyncAction(next.addr, true);
    log.info(`sync server-[${next.addr}] to ${what}: done`);
  } catch (e) {
    const message = errorMessage(e);
    topom.syncNotes.set(next.addr, `failed: ${message}`);
    await topom.finishSyncAction(next.addr, false);
    log.warn(`sync server-[${next.addr}] to ${what} failed: ${message}`);
  }
  return true;
}
