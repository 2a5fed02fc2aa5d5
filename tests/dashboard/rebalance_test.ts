import assert from "node:assert/strict";
import { ACTION_PENDING, type GroupModel, offlineSlotMapping, type SlotMapping } from "../../coord/models.ts";
import { rebalancePlan } from "../../dashboard/rebalance.ts";

const group = (id: number, servers = 1): GroupModel => ({
  id,
  servers: Array.from({ length: servers }, (_, i) => ({
    addr: `127.0.0.1:${7000 + id * 10 + i}`,
    datacenter: "",
    action: { index: 0, state: "" },
    replicaGroup: false,
  })),
  promoting: { index: 0, state: "" },
  outOfSync: false,
});

const offline = (): SlotMapping[] => Array.from({ length: 1024 }, (_, i) => offlineSlotMapping(i));

function apply(slots: SlotMapping[], plan: Map<number, number>): SlotMapping[] {
  return slots.map((m) => plan.has(m.id) ? { ...m, groupId: plan.get(m.id)! } : m);
}

function counts(slots: SlotMapping[]): Record<number, number> {
  const c: Record<number, number> = {};
  for (const m of slots) c[m.groupId] = (c[m.groupId] ?? 0) + 1;
  return c;
}

Deno.test("rebalance of offline slots over two groups: contiguous halves, as Codis plans them", () => {
  const plan = rebalancePlan(offline(), [group(1), group(2)]);
  assert.equal(plan.size, 1024);
  for (let i = 0; i < 512; i++) assert.equal(plan.get(i), 1);
  for (let i = 512; i < 1024; i++) assert.equal(plan.get(i), 2);
});

Deno.test("rebalance over three groups: counts differ by at most one; empty groups get nothing", () => {
  const slots = apply(offline(), rebalancePlan(offline(), [group(1), group(2), group(3), group(4, 0)]));
  assert.deepEqual(counts(slots), { 1: 342, 2: 341, 3: 341 });
});

Deno.test("adding a group moves only what it needs, from the highest slots of each donor", () => {
  const two = apply(offline(), rebalancePlan(offline(), [group(1), group(2)]));
  const plan = rebalancePlan(two, [group(1), group(2), group(3)]);
  // 1024/3: group 3 needs 341, taken evenly from the two donors' highest slot numbers.
  assert.equal(plan.size, 341);
  assert.ok([...plan.values()].every((g) => g === 3));
  const after = apply(two, plan);
  const c = counts(after);
  assert.ok(Math.max(c[1], c[2], c[3]) - Math.min(c[1], c[2], c[3]) <= 1, JSON.stringify(c));
  assert.ok(plan.has(511) && plan.has(1023), "donors give their highest slots");
  assert.equal(rebalancePlan(after, [group(1), group(2), group(3)]).size, 0, "balanced: nothing changes");
});

Deno.test("slots being migrated count for their target; no groups is an error", () => {
  const slots = offline().map((m) =>
    m.id < 100 ? { ...m, action: { index: m.id + 1, state: ACTION_PENDING, targetId: 2 } } : m
  );
  const plan = rebalancePlan(slots, [group(1), group(2)]);
  assert.ok(![...plan.keys()].some((sid) => sid < 100), "slots with actions are left alone");
  const after = apply(slots, plan);
  assert.equal(after.filter((m) => m.groupId === 2).length + 100, 512);
  assert.throws(() => rebalancePlan(offline(), [group(1, 0)]), /no valid group could be found/);
});
