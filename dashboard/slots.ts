/**
 * Slots: direct assignment, slot actions (create, remove, rebalance) and the state machine that
 * moves an action from one state to the next with Codis's barrier rules
 * (`pkg/topom/topom_slots.go`). The scheduler (`scheduler.ts`) decides when to advance.
 *
 * @module
 */

import {
  ACTION_FINISHED,
  ACTION_MIGRATING,
  ACTION_PENDING,
  ACTION_PREPARED,
  ACTION_PREPARING,
  nextActionState,
  type SlotMapping,
} from "../coord/models.ts";
import { MAX_SLOT_NUM } from "../redis/slot_hash.ts";
import { assertNever, conflict, errorMessage, invalid, notFound, upstream } from "../utils/errors.ts";
import { log } from "../utils/log.ts";
import { type RebalancePlan, rebalancePlan } from "./rebalance.ts";
import { checkSlotId, type Topom } from "./topom.ts";

/** A slot mapping with no action. */
function settled(id: number, groupId: number): SlotMapping {
  return { id, groupId, action: { index: 0, state: "", targetId: 0 } };
}

/** The slot mutations of one dashboard. */
export class Slots {
  #t: Topom;

  constructor(topom: Topom) {
    this.#t = topom;
  }

  /** Assigns slots to groups at once, without moving data (for empty clusters), as Codis's slots/assign. */
  assign(mappings: readonly SlotMapping[], offline: boolean): Promise<void> {
    const t = this.#t;
    return t.exclusive(async () => {
      const ctx = t.ctx();
      const touched = new Set<number>();
      const seen = new Set<number>();
      for (const m of mappings) {
        checkSlotId(m.id);
        if (seen.has(m.id)) throw invalid(`slot-[${m.id}] is given twice`);
        seen.add(m.id);
        if (m.action.state) throw invalid(`invalid slot-[${m.id}] action, must be empty`);
        if (ctx.snapshot.slots[m.id].action.state) throw conflict(`slot-[${m.id}] action already exists`);
        if (offline) {
          if (m.groupId !== 0) throw invalid(`invalid slot-[${m.id}] group id = ${m.groupId}, must be 0 to go offline`);
        } else {
          if (t.group(m.groupId).servers.length === 0) throw invalid(`group-[${m.groupId}] is empty`);
          touched.add(m.groupId);
        }
        if (ctx.snapshot.slots[m.id].groupId) touched.add(ctx.snapshot.slots[m.id].groupId);
      }
      for (const gid of touched) {
        const g = ctx.snapshot.groups.get(gid);
        if (g && !g.outOfSync) await t.storeGroup({ ...structuredClone(g), outOfSync: true });
      }
      const updated = mappings.map((m) => settled(m.id, m.groupId));
      await t.storeSlots(updated);
      await t.pushSlots(updated);
    });
  }

  createAction(sid: number, gid: number): Promise<void> {
    return this.#t.exclusive(async () => {
      checkSlotId(sid);
      this.#checkTarget(gid);
      await this.#createActions([[sid, gid]]);
    });
  }

  /** Queues the first `num` idle slots of group `src` to move to `dst`. */
  createSome(src: number, dst: number, num: number): Promise<void> {
    const t = this.#t;
    return t.exclusive(async () => {
      t.group(src);
      this.#checkTarget(dst);
      if (!Number.isSafeInteger(num) || num < 0) throw invalid(`invalid number of slots = ${num}`);
      const idle = t.ctx().snapshot.slots.filter((m) => m.groupId === src && !m.action.state).slice(0, num);
      await this.#createActions(idle.map((m) => [m.id, dst]));
    });
  }

  /** Queues [beg, end] to move to `gid` (slots already there are skipped; any slot with an action is an error). */
  createRange(beg: number, end: number, gid: number): Promise<void> {
    const t = this.#t;
    return t.exclusive(async () => {
      if (!(beg >= 0 && end < MAX_SLOT_NUM && beg <= end)) throw invalid(`invalid slot range [${beg},${end}]`);
      this.#checkTarget(gid);
      const slots = t.ctx().snapshot.slots;
      for (let i = beg; i <= end; i++) {
        if (slots[i].action.state) throw conflict(`slot-[${i}] action already exists`);
      }
      const list: [number, number][] = [];
      for (let i = beg; i <= end; i++) if (slots[i].groupId !== gid) list.push([i, gid]);
      await this.#createActions(list);
    });
  }

  removeAction(sid: number): Promise<void> {
    const t = this.#t;
    return t.exclusive(async () => {
      checkSlotId(sid);
      const m = t.ctx().snapshot.slots[sid];
      if (!m.action.state) throw notFound(`slot-[${sid}] action doesn't exist`);
      if (m.action.state !== ACTION_PENDING) throw invalid(`slot-[${sid}] action isn't pending`);
      await t.storeSlots([settled(sid, m.groupId)]);
    });
  }

  /** Codis's rebalance plan; with `confirm`, queues its actions in ascending slot order. */
  rebalance(confirm: boolean): Promise<RebalancePlan> {
    const t = this.#t;
    return t.exclusive(async () => {
      let plan: RebalancePlan;
      try {
        plan = rebalancePlan(t.ctx().snapshot.slots, t.groups());
      } catch (e) {
        throw invalid(errorMessage(e), { cause: e });
      }
      if (confirm) {
        await this.#createActions([...plan.keys()].sort((a, b) => a - b).map((sid) => [sid, plan.get(sid)!]));
      }
      return plan;
    });
  }

  /**
   * Moves slots' actions one state on, all slots in the same state together, with Codis's barrier
   * rules: `prepared` is stored only once every proxy has locked the slots (else every proxy is
   * unlocked again and the error thrown); `migrating` only once every proxy forwards from the
   * source; `finished` is pushed, then the slot belongs to its target. Returns the new mappings.
   */
  advance(sids: readonly number[]): Promise<SlotMapping[]> {
    const t = this.#t;
    return t.exclusive(async () => {
      const current = sids.map((sid) => t.slot(sid));
      const state = current[0]?.action.state;
      if (!current.every((m) => m.action.state === state)) throw new Error("advance: slots in different states");
      if (!state) return current;
      const next = (m: SlotMapping): SlotMapping => ({
        ...m,
        action: { ...m.action, state: nextActionState(state as Exclude<typeof state, "finished">) },
      });
      switch (state) {
        case ACTION_PENDING: {
          const out = current.map(next);
          await t.storeSlots(out);
          return out;
        }
        case ACTION_PREPARING: {
          const out = current.map(next);
          try {
            await t.pushSlots(out);
          } catch (e) {
            await this.#unlock(current, e);
          }
          await t.storeSlots(out);
          return out;
        }
        case ACTION_PREPARED: {
          const out = current.map(next);
          await t.pushSlots(out);
          await t.storeSlots(out);
          return out;
        }
        case ACTION_MIGRATING: {
          const out = current.map(next);
          await t.storeSlots(out);
          return out;
        }
        case ACTION_FINISHED: {
          await t.pushSlots(current);
          const out = current.map((m) => settled(m.id, m.action.targetId));
          await t.storeSlots(out);
          return out;
        }
        default:
          return assertNever(state);
      }
    });
  }

  /** The barrier failed on some proxy: unlocks the slots everywhere again; says so if that fails too. */
  async #unlock(preparing: SlotMapping[], cause: unknown): Promise<never> {
    try {
      await this.#t.pushSlots(preparing);
    } catch (e) {
      log.error(`unlocking slots after a failed barrier failed too: ${errorMessage(e)}`);
      throw upstream(
        `${errorMessage(cause)}; unlocking the slots again failed too (${errorMessage(e)}): they stay locked ` +
          `on the proxies that got them until the action is retried or the proxy is removed with force`,
        { cause },
      );
    }
    throw cause;
  }

  #checkTarget(gid: number): void {
    if (this.#t.group(gid).servers.length === 0) throw invalid(`group-[${gid}] is empty`);
  }

  /** Checks and stores new pending actions (`[slot, target group]`), numbered in the order given. */
  async #createActions(list: [number, number][]): Promise<void> {
    const ctx = this.#t.ctx();
    let index = ctx.nextActionIndex();
    const out: SlotMapping[] = [];
    for (const [sid, gid] of list) {
      const m = ctx.snapshot.slots[sid];
      if (m.action.state) throw conflict(`slot-[${sid}] action already exists`);
      if (m.groupId === gid) throw invalid(`slot-[${sid}] already in group-[${gid}]`);
      out.push({ id: sid, groupId: m.groupId, action: { index: index++, state: ACTION_PENDING, targetId: gid } });
    }
    await this.#t.storeSlots(out);
  }
}
