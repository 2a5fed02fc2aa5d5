/**
 * Codis's rebalance plan (`SlotsRebalance` in Codis's `pkg/topom/topom_slots.go`): near-equal slot counts
 * over the groups that have servers, with as few moves as possible.
 *
 * @module
 */

import type { GroupModel, SlotMapping } from "../coord/models.ts";
import { MAX_SLOT_NUM } from "../redis/slot_hash.ts";

/** Which slots should go to which group: `{slot id: group id}`, only slots that change. */
export type RebalancePlan = Map<number, number>;

/** Computes the plan; throws when no group has servers. */
export function rebalancePlan(slots: readonly SlotMapping[], groups: readonly GroupModel[]): RebalancePlan {
  const groupIds = groups.filter((g) => g.servers.length > 0).map((g) => g.id).sort((a, b) => a - b);
  if (groupIds.length === 0) throw new Error("no valid group could be found");

  const assigned = new Map<number, number>();
  const pendings = new Map<number, number[]>();
  const moveout = new Map<number, number>();
  let docking: number[] = [];
  const get = (m: Map<number, number>, gid: number) => m.get(gid) ?? 0;
  const size = (gid: number) => get(assigned, gid) + (pendings.get(gid)?.length ?? 0) - get(moveout, gid);

  // A slot being migrated counts for its target.
  for (const m of slots) {
    if (m.action.state) assigned.set(m.action.targetId, get(assigned, m.action.targetId) + 1);
  }
  const lower = Math.floor(MAX_SLOT_NUM / groupIds.length);
  // A group keeps its slots up to the lower bound; the rest may move.
  for (const m of slots) {
    if (m.action.state || m.groupId === 0) continue;
    if (size(m.groupId) < lower) {
      assigned.set(m.groupId, get(assigned, m.groupId) + 1);
    } else {
      const list = pendings.get(m.groupId) ?? [];
      list.push(m.id);
      pendings.set(m.groupId, list);
    }
  }

  // Groups ordered by (size, id), as Codis's red-black tree orders them.
  const live = new Set(groupIds);
  const order = (a: number, b: number) => size(a) - size(b) || a - b;
  const smallest = () => [...live].sort(order)[0];
  const largest = () => [...live].sort(order).at(-1)!;

  // Offline slots go to the smallest group, one at a time.
  for (const m of slots) {
    if (m.action.state || m.groupId !== 0) continue;
    const dest = smallest();
    docking.push(m.id);
    moveout.set(dest, get(moveout, dest) - 1);
  }

  const upper = Math.ceil(MAX_SLOT_NUM / groupIds.length);
  while (live.size >= 2) {
    const from = largest();
    live.delete(from);
    if ((pendings.get(from)?.length ?? 0) === get(moveout, from)) continue;
    const dest = smallest();
    live.delete(dest);
    const fromSize = size(from);
    const destSize = size(dest);
    if (fromSize <= lower || destSize >= upper || fromSize - destSize <= 1) break;
    moveout.set(from, get(moveout, from) + 1);
    moveout.set(dest, get(moveout, dest) - 1);
    live.add(from);
    live.add(dest);
  }

  // Donors give their highest-numbered movable slots.
  for (const [gid, n] of [...moveout.entries()]) {
    if (n < 0) continue;
    if (n > 0) {
      const sids = (pendings.get(gid) ?? []).sort((a, b) => b - a);
      docking.push(...sids.slice(0, n));
      pendings.set(gid, sids.slice(n));
    }
    moveout.delete(gid);
  }
  docking.sort((a, b) => a - b);
  const plan: RebalancePlan = new Map();
  for (const gid of groupIds) {
    const incoming = -get(moveout, gid);
    for (let i = 0; i < incoming && docking.length > 0; i++) {
      plan.set(docking[0], gid);
      docking = docking.slice(1);
    }
  }
  return plan;
}
