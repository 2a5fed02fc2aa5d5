/**
 * The dashboard's pure queries (`dashboard/context.ts`), per slot-action state and promotion
 * state, without servers: what each proxy is told about a slot, who is a master, which actions
 * come next.
 */

import assert from "node:assert/strict";
import {
  ACTION_FINISHED,
  ACTION_MIGRATING,
  ACTION_PENDING,
  ACTION_PREPARED,
  ACTION_PREPARING,
  FORWARD_SEMI_ASYNC,
  FORWARD_SYNC,
  type GroupModel,
  offlineSlotMapping,
  type PromotingState,
  type SlotActionState,
  type SlotMapping,
  SYNC_PENDING,
} from "../../coord/models.ts";
import type { StoredProxy } from "../../coord/store.ts";
import { Context } from "../../dashboard/context.ts";

const M1 = "10.0.0.1:6379";
const R1 = "10.0.0.2:6379";
const R1_LOCAL = "10.0.9.9:6380";
const M2 = "10.0.1.1:6379";

function group(id: number, servers: string[], promoting: PromotingState | "" = ""): GroupModel {
  return {
    id,
    servers: servers.map((addr) => ({ addr, datacenter: "", action: { index: 0, state: "" }, replicaGroup: true })),
    promoting: { index: promoting ? 1 : 0, state: promoting },
    outOfSync: false,
  };
}

function slots(...changes: SlotMapping[]): SlotMapping[] {
  const all = Array.from({ length: 1024 }, (_, i) => offlineSlotMapping(i));
  for (const m of changes) all[m.id] = m;
  return all;
}

function action(id: number, from: number, to: number, state: SlotActionState, index = 1): SlotMapping {
  return { id, groupId: from, action: { index, state, targetId: to } };
}

function ctx(
  o: { slots?: SlotMapping[]; groups?: GroupModel[]; proxies?: StoredProxy[]; method?: string; parallel?: number },
): Context {
  return new Context({
    slots: o.slots ?? slots(),
    groups: new Map((o.groups ?? [group(1, [M1, R1]), group(2, [M2])]).map((g) => [g.id, g])),
    proxies: new Map((o.proxies ?? []).map((p) => [p.model.token, p])),
    sentinel: { servers: [], outOfSync: false },
  }, { migrationMethod: o.method ?? "semi-async", migrationParallelSlots: o.parallel ?? 100 });
}

Deno.test("a slot without an action goes to its group's master, with the group's replicas for reads", () => {
  const c = ctx({ slots: slots({ id: 5, groupId: 1, action: { index: 0, state: "", targetId: 0 } }) });
  const s = c.slotSpec(c.snapshot.slots[5]);
  assert.deepEqual(s, {
    id: 5,
    locked: false,
    backendAddr: M1,
    backendAddrGroupId: 1,
    migrateFrom: "",
    migrateFromGroupId: 0,
    forwardMethod: FORWARD_SEMI_ASYNC,
    replicaGroups: [[M1, R1]],
  });
  assert.equal(ctx({ method: "sync" }).slotSpec(c.snapshot.slots[5]).forwardMethod, FORWARD_SYNC);
});

Deno.test("an offline slot has no backend and no group", () => {
  const c = ctx({});
  const s = c.slotSpec(c.snapshot.slots[7]);
  assert.equal(s.backendAddr, "");
  assert.equal(s.backendAddrGroupId, 0);
  assert.equal(s.locked, false);
});

Deno.test("each slot-action state tells proxies what Codis's toSlot tells them", () => {
  const expect: Record<SlotActionState, { locked: boolean; backend: string; from: string; replicas: boolean }> = {
    pending: { locked: false, backend: M1, from: "", replicas: true },
    preparing: { locked: false, backend: M1, from: "", replicas: false },
    prepared: { locked: true, backend: M2, from: M1, replicas: false },
    migrating: { locked: false, backend: M2, from: M1, replicas: false },
    finished: { locked: false, backend: M2, from: "", replicas: false },
  };
  for (const [state, e] of Object.entries(expect) as [SlotActionState, typeof expect.pending][]) {
    const c = ctx({ slots: slots(action(9, 1, 2, state)) });
    const s = c.slotSpec(c.snapshot.slots[9]);
    assert.equal(s.locked, e.locked, `${state}: locked`);
    assert.equal(s.backendAddr, e.backend, `${state}: backend`);
    assert.equal(s.backendAddrGroupId, e.backend === M1 ? 1 : 2, `${state}: backend group`);
    assert.equal(s.migrateFrom, e.from, `${state}: migrate_from`);
    assert.equal(s.migrateFromGroupId, e.from ? 1 : 0, `${state}: migrate_from group`);
    assert.equal(s.replicaGroups.length > 0, e.replicas, `${state}: replicas`);
  }
});

Deno.test("a promotion locks its group's slots only once every proxy has locked them (prepared)", () => {
  for (
    const [promoting, locked] of [["", false], [ACTION_PREPARING, false], [ACTION_PREPARED, true], [
      ACTION_FINISHED,
      false,
    ]] as const
  ) {
    const c = ctx({
      groups: [group(1, [M1, R1], promoting), group(2, [M2])],
      slots: slots(
        { id: 1, groupId: 1, action: { index: 0, state: "", targetId: 0 } },
        action(2, 2, 1, ACTION_MIGRATING),
        action(3, 2, 1, ACTION_FINISHED),
      ),
    });
    assert.equal(c.isGroupLocked(1), locked, `promoting ${promoting || "none"}`);
    assert.equal(c.slotSpec(c.snapshot.slots[1]).locked, locked, "owned slot");
    assert.equal(c.slotSpec(c.snapshot.slots[2]).locked, locked, "slot migrating into the group");
    assert.equal(c.slotSpec(c.snapshot.slots[3]).locked, locked, "slot finished into the group");
    assert.deepEqual(c.replicaGroups(1), promoting ? [] : [[M1, R1]], "no replica reads while promoting");
  }
});

Deno.test("withGroup shows a state before it is stored, and leaves the snapshot alone", () => {
  const c = ctx({ slots: slots({ id: 1, groupId: 1, action: { index: 0, state: "", targetId: 0 } }) });
  const prepared = group(1, [M1, R1], ACTION_PREPARED);
  assert.equal(c.withGroup(prepared).slotSpec(c.snapshot.slots[1]).locked, true);
  assert.equal(c.slotSpec(c.snapshot.slots[1]).locked, false);
});

Deno.test("replicas are ordered for each proxy: same host, then same datacenter, then the rest", () => {
  const g: GroupModel = {
    id: 1,
    servers: [
      { addr: M1, datacenter: "dc1", action: { index: 0, state: "" }, replicaGroup: true },
      { addr: R1, datacenter: "dc2", action: { index: 0, state: "" }, replicaGroup: true },
      { addr: R1_LOCAL, datacenter: "dc1", action: { index: 0, state: "" }, replicaGroup: true },
      { addr: "10.0.0.3:6379", datacenter: "dc1", action: { index: 0, state: "" }, replicaGroup: false },
    ],
    promoting: { index: 0, state: "" },
    outOfSync: false,
  };
  const proxy: StoredProxy = {
    id: 1,
    model: {
      token: "t",
      startTime: "",
      adminAddr: "10.0.9.9:11080",
      protoType: "tcp4",
      proxyAddr: "10.0.9.9:19000",
      jodisPath: "",
      productName: "p",
      pid: 1,
      pwd: "",
      sys: "",
      hostname: "",
      datacenter: "dc1",
    },
  };
  const c = ctx({ groups: [g] });
  assert.deepEqual(c.replicaGroups(1, proxy), [[R1_LOCAL], [M1], [R1]]);
  assert.deepEqual(c.replicaGroups(1), [[M1, R1, R1_LOCAL]], "no proxy: one tier, flagged servers only");
  assert.deepEqual(ctx({ groups: [group(1, [M1])] }).replicaGroups(1), [], "a lone master has no replicas");
});

Deno.test("the next batch takes in-progress actions first, then pending ones by index, up to the limit", () => {
  const c = ctx({
    parallel: 3,
    slots: slots(
      action(10, 1, 2, ACTION_PENDING, 1),
      action(11, 1, 2, ACTION_PENDING, 2),
      action(12, 1, 2, ACTION_MIGRATING, 5),
      action(13, 1, 2, ACTION_PENDING, 3),
      action(14, 1, 2, ACTION_PREPARED, 4),
    ),
  });
  assert.deepEqual(c.actionBatch(false).map((m) => m.id), [14, 12, 10]);
  assert.deepEqual(c.actionBatch(true).map((m) => m.id), [14, 12], "disabled: nothing new starts");
  assert.equal(c.nextActionIndex(), 6);
  const promoting = ctx({
    groups: [group(1, [M1, R1], ACTION_PREPARING), group(2, [M2])],
    slots: slots(action(10, 1, 2, ACTION_PENDING, 1)),
  });
  assert.deepEqual(promoting.actionBatch(false), [], "no slot of a promoting group moves");
});

Deno.test("a group is in use while a slot belongs to it or moves to it", () => {
  assert.equal(ctx({}).isGroupInUse(1), false);
  assert.equal(ctx({ slots: slots(action(3, 2, 1, ACTION_PENDING)) }).isGroupInUse(1), true);
  const c = ctx({ slots: slots({ id: 4, groupId: 1, action: { index: 0, state: "", targetId: 0 } }) });
  assert.equal(c.isGroupInUse(1), true);
  assert.deepEqual(c.groupSlots(1).map((m) => m.id), [4]);
  assert.deepEqual(c.serverPlace(R1)?.index, 1);
  assert.equal(c.serverPlace("10.9.9.9:1"), null);
  assert.equal(c.master(2), M2);
  assert.equal(c.master(3), "", "a missing group has no master");
});

Deno.test("the next sync action is the pending one with the smallest index, outside promoting groups", () => {
  const g1 = group(1, [M1, R1]);
  g1.servers[1].action = { index: 7, state: SYNC_PENDING };
  const g2 = group(2, [M2, "10.0.1.2:6379"]);
  g2.servers[1].action = { index: 3, state: SYNC_PENDING };
  assert.equal(ctx({ groups: [g1, g2] }).nextSyncAction()?.server.addr, "10.0.1.2:6379");
  assert.equal(ctx({ groups: [g1, g2] }).nextSyncActionIndex(), 8);
  const g2Promoting = { ...g2, promoting: { index: 1, state: ACTION_PREPARING } } as GroupModel;
  assert.equal(ctx({ groups: [g1, g2Promoting] }).nextSyncAction()?.server.addr, R1);
  assert.equal(ctx({ groups: [group(1, [M1])] }).nextSyncAction(), null);
});
