/**
 * The dashboard's REST API: every mutating route answers bad input with 4xx and Codis's text and
 * changes nothing; each change succeeds as Codis's does (slot actions, servers, groups, proxies,
 * promotion, replica groups by datacenter). Also: the stats loop is not stalled by a hung server,
 * slot actions on offline slots complete by themselves, and a failing MIGRATE is shown and retried.
 */

import assert from "node:assert/strict";
import { DEFAULT_DASHBOARD_CONFIG } from "../../dashboard/config.ts";
import { type Dashboard, startDashboard } from "../../dashboard/dashboard.ts";
import { log } from "../../utils/log.ts";
import { DEFAULT_PROXY_CONFIG } from "../../proxy/config.ts";
import { startProxy } from "../../proxy/proxy.ts";
import { newXAuth } from "../../utils/xauth.ts";
import { RedisClient } from "../../redis/redis_client.ts";
import { RedisServer, waitFor } from "../_support/servers.ts";

log.setLevel("NONE");

interface Setup {
  dashboard: Dashboard;
  servers: RedisServer[];
  base: string;
  xauth: string;
  stop(): Promise<void>;
}

async function setup(nServers = 3): Promise<Setup> {
  const root = await Deno.makeTempDir({ prefix: "codis-api-" });
  const servers: RedisServer[] = [];
  for (let i = 0; i < nServers; i++) servers.push(await RedisServer.start());
  const dashboard = await startDashboard({
    config: {
      ...DEFAULT_DASHBOARD_CONFIG,
      coordinatorAddr: root,
      productName: "api-test",
      adminAddr: "127.0.0.1:0",
    },
  });
  return {
    dashboard,
    servers,
    base: `http://${dashboard.adminAddr}`,
    xauth: newXAuth("api-test"),
    async stop() {
      await dashboard.close();
      await Promise.all(servers.map((s) => s.stop()));
      await Deno.remove(root, { recursive: true });
    },
  };
}

async function put(s: Setup, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${s.base}${path}`, {
    method: "PUT",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

/** What must not change when a request is refused. */
async function state(s: Setup): Promise<unknown> {
  const stats = await (await fetch(`${s.base}/topom/stats`)).json();
  return { slots: stats.slots, groups: stats.group.models, proxies: stats.proxy.models };
}

Deno.test("every mutating route refuses bad input with Codis's text and changes nothing", async () => {
  const s = await setup();
  const x = s.xauth;
  const [a, b, c] = s.servers.map((r) => r.addr);
  try {
    // A small valid state to protect.
    for (
      const path of [
        `/api/topom/group/create/${x}/1`,
        `/api/topom/group/create/${x}/2`,
        `/api/topom/group/create/${x}/3`,
        `/api/topom/group/add/${x}/1/${a}`,
        `/api/topom/group/add/${x}/2/${b}`,
      ]
    ) assert.equal((await put(s, path)).status, 200, path);
    assert.equal((await put(s, `/api/topom/slots/assign/${x}`, [{ id: 5, group_id: 1 }])).status, 200);
    const before = await state(s);

    const cases: [string, unknown, number, RegExp][] = [
      [`/api/topom/group/create/${"0".repeat(32)}/4`, undefined, 403, /invalid xauth/],
      [`/api/topom/group/create/${x}/0`, undefined, 400, /invalid group id = 0, out of range/],
      [`/api/topom/group/create/${x}/10000`, undefined, 400, /invalid group id = 10000, out of range/],
      [`/api/topom/group/create/${x}/abc`, undefined, 400, /invalid group id = abc/],
      [`/api/topom/group/create/${x}/1`, undefined, 409, /group-\[1\] already exists/],
      [`/api/topom/group/remove/${x}/9`, undefined, 404, /group-\[9\] doesn't exist/],
      [`/api/topom/group/remove/${x}/1`, undefined, 400, /group-\[1\] isn't empty/],
      [`/api/topom/group/add/${x}/9/${c}`, undefined, 404, /group-\[9\] doesn't exist/],
      [`/api/topom/group/add/${x}/3/not-an-address`, undefined, 400, /invalid server address/],
      [`/api/topom/group/add/${x}/3/${a}`, undefined, 409, new RegExp(`server-\\[${a}\\] already exists`)],
      [`/api/topom/group/add/${x}/3/127.0.0.1:1`, undefined, 502, /server-\[127\.0\.0\.1:1\] is not a usable Redis/],
      [`/api/topom/group/del/${x}/1/${c}`, undefined, 404, new RegExp(`server-\\[${c}\\] doesn't exist`)],
      [`/api/topom/group/del/${x}/1/${a}`, undefined, 400, /group-\[1\] can't remove master, still in use/],
      [`/api/topom/group/promote/${x}/1/${a}`, undefined, 400, /group-\[1\] can't promote master/],
      [`/api/topom/group/action/create/${x}/${c}`, undefined, 404, /doesn't exist/],
      [`/api/topom/group/action/remove/${x}/${a}`, undefined, 404, /action doesn't exist/],
      [`/api/topom/group/replica-groups/${x}/1/${c}/1`, undefined, 404, /doesn't exist/],
      [`/api/topom/group/resync/${x}/9`, undefined, 404, /group-\[9\] doesn't exist/],
      [`/api/topom/slots/action/create/${x}/1024/1`, undefined, 400, /invalid slot id = 1024, out of range/],
      [`/api/topom/slots/action/create/${x}/-1/1`, undefined, 400, /invalid slot id = -1/],
      [`/api/topom/slots/action/create/${x}/5/1`, undefined, 400, /slot-\[5\] already in group-\[1\]/],
      [`/api/topom/slots/action/create/${x}/6/3`, undefined, 400, /group-\[3\] is empty/],
      [`/api/topom/slots/action/create/${x}/6/9`, undefined, 404, /group-\[9\] doesn't exist/],
      [`/api/topom/slots/action/create-range/${x}/10/5/1`, undefined, 400, /invalid slot range \[10,5\]/],
      [`/api/topom/slots/action/create-range/${x}/0/1024/1`, undefined, 400, /invalid slot range \[0,1024\]/],
      [`/api/topom/slots/action/create-some/${x}/1/3/4`, undefined, 400, /group-\[3\] is empty/],
      [`/api/topom/slots/action/remove/${x}/6`, undefined, 404, /slot-\[6\] action doesn't exist/],
      [`/api/topom/slots/assign/${x}`, [{ id: 1024, group_id: 1 }], 400, /invalid slot id = 1024/],
      [`/api/topom/slots/assign/${x}`, [{ id: 7, group_id: 3 }], 400, /group-\[3\] is empty/],
      [`/api/topom/slots/assign/${x}`, [{ id: 7, group_id: 9 }], 404, /group-\[9\] doesn't exist/],
      [`/api/topom/slots/assign/${x}`, [{ id: 7, group_id: 1 }, { id: 8, group_id: 9 }], 404, /group-\[9\]/],
      [`/api/topom/slots/assign/${x}`, { id: 7 }, 400, /expected a JSON array/],
      [`/api/topom/slots/assign/${x}`, "[not json", 400, /bad request body|expected a JSON array/],
      [`/api/topom/slots/assign/${x}/offline`, [{ id: 5, group_id: 1 }], 400, /must be 0 to go offline/],
      [`/api/topom/proxy/create/${x}/127.0.0.1:1`, undefined, 502, /proxy@127\.0\.0\.1:1 fetch model failed/],
      [`/api/topom/proxy/create/${x}/nonsense`, undefined, 400, /invalid proxy address/],
      [`/api/topom/proxy/reinit/${x}/abc`, undefined, 404, /proxy-\[abc\] doesn't exist/],
      [`/api/topom/proxy/remove/${x}/abc/1`, undefined, 404, /proxy-\[abc\] doesn't exist/],
      [`/api/topom/slots/action/interval/${x}/fast`, undefined, 400, /invalid interval/],
    ];
    for (const [path, body, status, cause] of cases) {
      const res = typeof body === "string"
        ? await (async () => {
          const r = await fetch(`${s.base}${path}`, { method: "PUT", body });
          return { status: r.status, json: await r.json() };
        })()
        : await put(s, path, body);
      assert.equal(res.status, status, `${path}: ${JSON.stringify(res.json)}`);
      const text = (res.json as { Cause?: string }).Cause ?? "";
      assert.match(text, cause, path);
      assert.deepEqual(await state(s), before, `${path} changed the state`);
    }
    // A "proxy" whose model carries a token that would escape the store's proxy directory: 400.
    const fake = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => Response.json({ token: "../../x", product_name: "api-test", admin_addr: "127.0.0.1:1" }),
    );
    try {
      const addr = `127.0.0.1:${(fake.addr as Deno.NetAddr).port}`;
      const res = await put(s, `/api/topom/proxy/create/${x}/${addr}`);
      assert.equal(res.status, 400, JSON.stringify(res.json));
      assert.match((res.json as { Cause: string }).Cause, /invalid token "\.\.\/\.\.\/x"/);
      assert.deepEqual(await state(s), before);
    } finally {
      await fake.shutdown();
    }
    // A missing xauth is not a route at all: 404 with a JSON cause, nothing changed.
    const missing = await put(s, `/api/topom/group/create`);
    assert.equal(missing.status, 404);
    assert.deepEqual(await state(s), before);
  } finally {
    await s.stop();
  }
});

Deno.test("a hung server does not stall the stats loop", async () => {
  const s = await setup(2);
  const x = s.xauth;
  const [healthy, hung] = s.servers;
  try {
    for (
      const path of [
        `/api/topom/group/create/${x}/1`,
        `/api/topom/group/add/${x}/1/${healthy.addr}`,
        `/api/topom/group/create/${x}/2`,
        `/api/topom/group/add/${x}/2/${hung.addr}`,
      ]
    ) assert.equal((await put(s, path)).status, 200, path);
    await waitFor(() => s.dashboard.stats.servers[hung.addr]?.stats, { what: "first stats of both servers" });
    Deno.kill(hung.pid, "SIGSTOP");
    try {
      await waitFor(() => s.dashboard.stats.servers[hung.addr]?.timeout === true, {
        what: "the hung server to time out",
      });
      // Rounds go on: the healthy server's stats keep coming, fresh.
      const t0 = s.dashboard.stats.servers[healthy.addr].unixtime;
      await waitFor(() => s.dashboard.stats.servers[healthy.addr].unixtime >= t0 + 2, {
        what: "two more rounds of the healthy server",
      });
      assert.ok(s.dashboard.stats.servers[healthy.addr].stats);
      assert.equal(s.dashboard.stats.servers[hung.addr].timeout, true);
    } finally {
      Deno.kill(hung.pid, "SIGCONT");
    }
    await waitFor(() => s.dashboard.stats.servers[hung.addr]?.stats, { what: "the server back in the stats" });
  } finally {
    await s.stop();
  }
});

Deno.test("rebalance over offline slots: actions complete by themselves; nothing left to change", async () => {
  const s = await setup(2);
  const x = s.xauth;
  try {
    for (
      const path of [
        `/api/topom/group/create/${x}/1`,
        `/api/topom/group/add/${x}/1/${s.servers[0].addr}`,
        `/api/topom/group/create/${x}/2`,
        `/api/topom/group/add/${x}/2/${s.servers[1].addr}`,
      ]
    ) assert.equal((await put(s, path)).status, 200, path);
    const plan = (await put(s, `/api/topom/slots/rebalance/${x}/1`)).json as Record<string, number>;
    assert.equal(Object.keys(plan).length, 1024);
    assert.equal(plan["0"], 1);
    assert.equal(plan["1023"], 2);
    await waitFor(() => s.dashboard.topom.slots().every((m) => !m.action.state && m.groupId), {
      what: "every slot assigned",
    });
    const slots = s.dashboard.topom.slots();
    assert.equal(slots.filter((m) => m.groupId === 1).length, 512);
    assert.deepEqual((await put(s, `/api/topom/slots/rebalance/${x}/0`)).json, {});
  } finally {
    await s.stop();
  }
});

Deno.test("promote a replica: the group is reordered, the new master stops replicating, proxies follow", async () => {
  const s = await setup(2);
  const x = s.xauth;
  const [master, replica] = s.servers;
  const proxy = await startProxy({
    config: {
      ...DEFAULT_PROXY_CONFIG,
      productName: "api-test",
      proxyAddr: "127.0.0.1:0",
      adminAddr: "127.0.0.1:0",
    },
  });
  try {
    for (
      const path of [
        `/api/topom/group/create/${x}/1`,
        `/api/topom/group/add/${x}/1/${master.addr}`,
        `/api/topom/group/add/${x}/1/${replica.addr}`,
        `/api/topom/group/action/create/${x}/${replica.addr}`,
        `/api/topom/proxy/create/${x}/${proxy.model.adminAddr}`,
      ]
    ) assert.equal((await put(s, path)).status, 200, path);
    assert.equal(
      (await put(s, `/api/topom/slots/assign/${x}`, [{ id: 0, group_id: 1 }, { id: 1, group_id: 1 }])).status,
      200,
    );
    await waitFor(() => s.dashboard.topom.group(1)?.servers[1].action.state === "synced", { what: "replica synced" });
    assert.equal(proxy.router.specs()[0].backendAddr, master.addr);

    assert.equal((await put(s, `/api/topom/group/promote/${x}/1/${replica.addr}`)).status, 200);
    const g = s.dashboard.topom.group(1)!;
    assert.deepEqual(g.servers.map((v) => v.addr), [replica.addr, master.addr]);
    assert.equal(g.promoting.state, "");
    assert.equal(proxy.router.specs()[0].backendAddr, replica.addr, "the proxy follows the new master");
    assert.equal(proxy.router.specs()[1].locked, false);
    const c = await replica.client();
    try {
      assert.match(String(await c.call("INFO", "replication")), /role:master/);
    } finally {
      await c.close();
    }
    assert.match(
      ((await put(s, `/api/topom/group/promote/${x}/1/${replica.addr}`)).json as { Cause: string }).Cause,
      /can't promote master/,
    );
  } finally {
    await proxy.close(1000);
    await s.stop();
  }
});

/** A proxy in this test's product, on free loopback ports. */
function startTestProxy(extra: Partial<typeof DEFAULT_PROXY_CONFIG> = {}) {
  return startProxy({
    config: {
      ...DEFAULT_PROXY_CONFIG,
      productName: "api-test",
      proxyAddr: "127.0.0.1:0",
      adminAddr: "127.0.0.1:0",
      ...extra,
    },
  });
}

Deno.test("each change succeeds as Codis's does: slot actions (create-some, remove, interval), delete server, remove group, reinit proxy", async () => {
  const s = await setup(3);
  const x = s.xauth;
  const [a, b, c] = s.servers.map((r) => r.addr);
  const proxy = await startTestProxy();
  const ok = async (path: string, body?: unknown) => {
    const res = await put(s, path, body);
    assert.equal(res.status, 200, `${path}: ${JSON.stringify(res.json)}`);
    return res.json;
  };
  const slotsOf = (gid: number) => s.dashboard.topom.slots().filter((m) => m.groupId === gid).map((m) => m.id);
  try {
    for (const gid of [1, 2, 3]) await ok(`/api/topom/group/create/${x}/${gid}`);
    await ok(`/api/topom/group/add/${x}/1/${a}`);
    await ok(`/api/topom/group/add/${x}/2/${b}`);
    await ok(`/api/topom/group/add/${x}/3/${c}`);
    await ok(`/api/topom/proxy/create/${x}/${proxy.model.adminAddr}`);
    await ok(`/api/topom/slots/assign/${x}`, Array.from({ length: 10 }, (_, id) => ({ id, group_id: 1 })));

    // With actions disabled, create-some queues the first 4 idle slots of group 1; one is removed.
    await ok(`/api/topom/slots/action/disabled/${x}/1`);
    await ok(`/api/topom/slots/action/interval/${x}/2000`);
    await ok(`/api/topom/slots/action/create-some/${x}/1/2/4`);
    const queued = () => s.dashboard.topom.slots().filter((m) => m.action.state).map((m) => [m.id, m.action.targetId]);
    assert.deepEqual(queued(), [[0, 2], [1, 2], [2, 2], [3, 2]]);
    await ok(`/api/topom/slots/action/remove/${x}/2`);
    assert.deepEqual(queued(), [[0, 2], [1, 2], [3, 2]]);
    const stats = (await (await fetch(`${s.base}/topom/stats`)).json()).slot_action;
    assert.equal(stats.interval, 2000);
    assert.equal(stats.disabled, true);
    assert.equal(s.dashboard.scheduler.intervalUs, 2000, "the mover pauses 2 ms between MIGRATEs");
    await ok(`/api/topom/slots/action/disabled/${x}/0`);
    await waitFor(() => queued().length === 0, { what: "the three actions to finish" });
    assert.deepEqual(slotsOf(2), [0, 1, 3]);
    assert.deepEqual(slotsOf(1), [2, 4, 5, 6, 7, 8, 9]);
    assert.equal(proxy.router.specs()[1].backendAddr, b, "the proxy follows");

    // Delete a replica, then the last server of an unused group, then the group.
    await ok(`/api/topom/group/del/${x}/3/${c}`);
    assert.deepEqual(s.dashboard.topom.group(3)!.servers, []);
    await ok(`/api/topom/group/add/${x}/1/${c}`);
    assert.deepEqual(s.dashboard.topom.group(1)!.servers.map((v) => v.addr), [a, c]);
    await ok(`/api/topom/group/del/${x}/1/${c}`);
    assert.deepEqual(s.dashboard.topom.group(1)!.servers.map((v) => v.addr), [a]);
    await ok(`/api/topom/group/remove/${x}/3`);
    assert.equal(s.dashboard.topom.ctx().snapshot.groups.has(3), false);
    const groups = (await (await fetch(`${s.base}/topom/stats`)).json()).group.models;
    assert.deepEqual(groups.map((g: { id: number }) => g.id), [1, 2]);

    // A proxy whose table went wrong is filled again by reinit.
    await proxy.fillSlots([{ ...proxy.router.specs()[4], backendAddr: "", backendAddrGroupId: 0 }]);
    assert.equal(proxy.router.specs()[4].backendAddr, "");
    await ok(`/api/topom/proxy/reinit/${x}/${proxy.model.token}`);
    assert.equal(proxy.router.specs()[4].backendAddr, a);
    assert.equal(proxy.online, true);
  } finally {
    await proxy.close(1000);
    await s.stop();
  }
});

/** How many times a server ran `command` (from `INFO commandstats`). */
async function calls(server: RedisServer, command: string): Promise<number> {
  const c = await server.client();
  try {
    const info = String(await c.call("INFO", "commandstats"));
    return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
  } finally {
    await c.close();
  }
}

Deno.test("replica groups: a proxy reads from the replicas in its datacenter first; turned off, from the master", async () => {
  const s = await setup(3);
  const x = s.xauth;
  const [master, far, near] = s.servers;
  const proxy = await startTestProxy({ proxyDatacenter: "dc1" });
  const ok = async (path: string) => assert.equal((await put(s, path)).status, 200, path);
  try {
    await ok(`/api/topom/group/create/${x}/1`);
    await ok(`/api/topom/group/add/${x}/1/${master.addr}/dc1`);
    await ok(`/api/topom/group/add/${x}/1/${far.addr}/dc2`);
    await ok(`/api/topom/group/add/${x}/1/${near.addr}/dc1`);
    await ok(`/api/topom/group/action/create/${x}/${far.addr}`);
    await ok(`/api/topom/group/action/create/${x}/${near.addr}`);
    await ok(`/api/topom/proxy/create/${x}/${proxy.model.adminAddr}`);
    assert.equal((await put(s, `/api/topom/slots/assign/${x}`, [{ id: 289, group_id: 1 }])).status, 200);
    await waitFor(() => s.dashboard.topom.group(1)!.servers.slice(1).every((v) => v.action.state === "synced"), {
      timeoutMs: 60_000,
      what: "both replicas synced",
    });
    const c = await RedisClient.connect(proxy.model.proxyAddr);
    try {
      await c.call("SET", "foo", "bar"); // slot 289
      // Both replicas flagged: the near one (same datacenter and host) first, the far one next.
      await ok(`/api/topom/group/replica-groups/${x}/1/${far.addr}/1`);
      await ok(`/api/topom/group/replica-groups/${x}/1/${near.addr}/1`);
      // As in Codis, the group is now out of sync until it is resynced to the proxies.
      assert.equal(s.dashboard.topom.group(1)!.outOfSync, true);
      assert.deepEqual(proxy.router.specs()[289].replicaGroups, []);
      await ok(`/api/topom/group/resync/${x}/1`);
      assert.equal(s.dashboard.topom.group(1)!.outOfSync, false);
      assert.deepEqual(proxy.router.specs()[289].replicaGroups, [[near.addr], [far.addr]]);
      await waitFor(async () => {
        const probe = await near.client();
        try {
          return await probe.call("GET", "foo") === "bar";
        } finally {
          await probe.close();
        }
      }, { what: "the write to reach the near replica" });
      // Reads go to the master until the proxy's connection to the replica is up (as in Codis).
      const direct = await calls(near, "get");
      await waitFor(async () => {
        assert.equal(await c.call("GET", "foo"), "bar");
        return await calls(near, "get") > direct;
      }, { what: "a read served by the near replica" });
      const before = await Promise.all(s.servers.map((r) => calls(r, "get")));
      for (let i = 0; i < 20; i++) assert.equal(await c.call("GET", "foo"), "bar");
      const after = await Promise.all(s.servers.map((r) => calls(r, "get")));
      assert.deepEqual(after.map((n, i) => n - before[i]), [0, 0, 20], "every read went to the near replica");

      // All flags off: reads go to the master again.
      await ok(`/api/topom/group/replica-groups-all/${x}/0`);
      await ok(`/api/topom/group/resync-all/${x}`);
      assert.deepEqual(proxy.router.specs()[289].replicaGroups, []);
      const masterBefore = await calls(master, "get");
      assert.equal(await c.call("GET", "foo"), "bar");
      assert.equal(await calls(master, "get"), masterBefore + 1);
    } finally {
      await c.close();
    }
  } finally {
    await proxy.close(1000);
    await s.stop();
  }
});

Deno.test("a MIGRATE that fails: the progress shows the error, the slot is retried, and it finishes", async () => {
  const s = await setup(2);
  const x = s.xauth;
  const [source, target] = s.servers;
  const ok = async (path: string) => assert.equal((await put(s, path)).status, 200, path);
  const src = await source.client();
  const dst = await target.client();
  try {
    await ok(`/api/topom/group/create/${x}/1`);
    await ok(`/api/topom/group/add/${x}/1/${source.addr}`);
    await ok(`/api/topom/group/create/${x}/2`);
    await ok(`/api/topom/group/add/${x}/2/${target.addr}`);
    assert.equal((await put(s, `/api/topom/slots/assign/${x}`, [{ id: 289, group_id: 1 }])).status, 200);
    // "foo" (slot 289) on both sides: MIGRATE refuses to replace the target's (BUSYKEY).
    await src.call("SET", "foo", "from-source");
    await src.call("SET", "{foo}2", "also");
    await dst.call("SET", "foo", "stale-on-target");
    await ok(`/api/topom/slots/action/create/${x}/289/2`);
    const status = await waitFor(async () => {
      const st = (await (await fetch(`${s.base}/topom/stats`)).json()).slot_action.progress.status as string;
      return st.startsWith("[ERROR]") ? st : "";
    }, { what: "the error in the progress" });
    assert.match(status, /^\[ERROR\] Slot\[0289\]: MIGRATE of \d+ keys? from 127\.0\.0\.1:\d+ to .*BUSYKEY/);
    assert.equal(s.dashboard.topom.slot(289).action.state, "migrating", "the slot is still migrating");
    assert.equal(await src.call("GET", "foo"), "from-source", "nothing lost");

    // The operator clears the conflict: the next try moves the keys and the slot finishes.
    await dst.call("DEL", "foo");
    await waitFor(() => s.dashboard.topom.slot(289).groupId === 2 && !s.dashboard.topom.slot(289).action.state, {
      what: "the slot to finish after the retry",
    });
    assert.equal(await dst.call("GET", "foo"), "from-source");
    assert.equal(await dst.call("GET", "{foo}2"), "also");
    assert.equal(await src.call("DBSIZE"), 0);
    assert.match(s.dashboard.scheduler.toJson().progress.status, /^\[OK\] Slot\[0289\]/);
  } finally {
    await Promise.all([src.close(), dst.close()]);
    await s.stop();
  }
});
