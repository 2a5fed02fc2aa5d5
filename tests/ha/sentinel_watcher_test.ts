/**
 * The sentinel watcher's rule with real redis-sentinels: a majority must answer, the highest
 * config-epoch wins, a minority never switches anything; and a proxy following what they report
 * (slots re-pointed and marked switched, later fills held to the reported master, a new sentinel
 * list forgetting it).
 */

import assert from "node:assert/strict";
import { pickMasters, type SentinelMaster, SentinelWatcher } from "../../redis/sentinel.ts";
import { slotOfString } from "../../redis/slot_hash.ts";
import { startCluster } from "../_support/cluster.ts";
import { freePort, RedisServer, SentinelServer, waitFor } from "../_support/servers.ts";

function master(name: string, addr: string, epoch: number): SentinelMaster {
  return { name, addr, epoch, flags: "master", fields: {} };
}

Deno.test("each group's master is the one reported with the highest config-epoch; other names are ignored", () => {
  const picked = pickMasters("demo", [
    [master("demo-1", "10.0.0.1:6379", 3), master("demo-2", "10.0.0.2:6379", 0), master("other-1", "1.1.1.1:1", 9)],
    [master("demo-1", "10.0.0.9:6379", 4), master("demo-2", "10.0.0.8:6379", 0), master("demo-x", "1.1.1.1:1", 9)],
    [master("demo-1", "10.0.0.1:6379", 3), master("demo-12", "10.0.0.7:6379", 1), master("demo-1-2", "1.1.1.1:1", 9)],
  ]);
  assert.deepEqual(
    [...picked].map(([gid, m]) => [gid, m.addr]),
    [[1, "10.0.0.9:6379"], [2, "10.0.0.2:6379"], [12, "10.0.0.7:6379"]],
  );
});

/** Has `sentinel` monitor `addr` as group `gid` of `product`. */
async function monitor(sentinel: SentinelServer, product: string, gid: number, addr: string): Promise<void> {
  const c = await sentinel.client();
  try {
    const [host, port] = addr.split(":");
    await c.call("SENTINEL", "MONITOR", `${product}-${gid}`, host, port, 2);
  } finally {
    await c.close();
  }
}

Deno.test("sentinels: a minority never switches; a majority re-points the group's slots on a proxy", async () => {
  const [a, b] = await Promise.all([SentinelServer.start(), SentinelServer.start()]);
  const other = await RedisServer.start();
  const cluster = await startCluster({ groups: 2, config: { productName: "watch" } });
  const proxy = cluster.proxy;
  try {
    const original = cluster.servers[0].addr;
    await monitor(a, "watch", 1, other.addr);
    await monitor(b, "watch", 1, other.addr);
    const dead = () => `127.0.0.1:${freePort()}`;

    // The watcher alone: one sentinel of three answers, so nothing is reported.
    let reported = 0;
    const lonely = new SentinelWatcher({
      product: "watch",
      servers: [a.addr, dead(), dead()],
      timeoutMs: 1000,
      onMasters: () => void reported++,
      log: () => {},
    });
    lonely.start();
    lonely.trigger("test");
    await waitFor(() => lonely.failedRefreshes >= 1, { what: "a refresh only a minority answered" });
    await lonely.stop();
    assert.equal(reported, 0);
    assert.equal(lonely.refreshes, 0);

    // The proxy with the same minority: its slots stay where they are.
    // (One subscription of three is no majority, so only an event would make it refresh: trigger one.)
    await proxy.setSentinels([a.addr, dead(), dead()]);
    proxy.ha.watcher!.trigger("test");
    await waitFor(() => (proxy.ha.watcher?.failedRefreshes ?? 0) >= 1, { what: "the proxy's minority refresh" });
    assert.equal(proxy.router.slots[0].spec.backendAddr, original);
    assert.equal(proxy.ha.masters.size, 0);

    // Two of three: the group's slots go to the reported master, marked switched.
    await proxy.setSentinels([a.addr, b.addr, dead()]);
    await waitFor(() => proxy.router.slots[0].spec.backendAddr === other.addr, { what: "group 1 switched" });
    const group1 = proxy.router.slots.filter((s) => s.spec.backendAddrGroupId === 1);
    assert.ok(group1.every((s) => s.spec.backendAddr === other.addr && s.spec.switched === true));
    assert.ok(proxy.router.slots.filter((s) => s.spec.backendAddrGroupId === 2).every((s) => !s.spec.switched));
    const stats = proxy.statsJson(0).sentinels;
    assert.deepEqual(stats, {
      servers: [a.addr, b.addr, stats.servers![2]],
      masters: { "1": other.addr },
      switched: true,
    });
    // Writes reach the reported master.
    const client = await cluster.client();
    let key = "";
    for (let i = 0; !key; i++) {
      if (proxy.router.slots[slotOfString(`k${i}`)].spec.backendAddrGroupId === 1) key = `k${i}`;
    }
    await client.call("SET", key, "to-the-reported-master");
    const direct = await other.client();
    assert.equal(await direct.call("GET", key), "to-the-reported-master");
    await direct.close();
    await client.close();

    // A fill that still names the old master (a dashboard that has not seen the failover) is held to the new one.
    const stale = { ...proxy.router.slots[0].spec, backendAddr: original, switched: false };
    await proxy.fillSlots([stale]);
    assert.equal(proxy.router.slots[0].spec.backendAddr, other.addr);
    assert.equal(proxy.router.slots[0].spec.switched, true);

    // A new sentinel list (the dashboard's, after it changed what they monitor) forgets the old masters at once.
    await proxy.setSentinels([]);
    assert.equal(proxy.ha.masters.size, 0);
    await proxy.fillSlots([stale]);
    assert.equal(proxy.router.slots[0].spec.backendAddr, original);
    assert.equal(proxy.router.slots[0].spec.switched, false);
  } finally {
    await cluster.stop();
    await Promise.all([a.stop(), b.stop(), other.stop()]);
  }
});
