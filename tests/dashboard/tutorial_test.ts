/**
 * Codis's tutorial end to end with real processes, through codis-admin: a dashboard on a store,
 * a proxy that comes online by itself, two groups of a master and a replica (synced), slots
 * 0-511 on group 1 and 512-1023 on group 2; then the dashboard restarted (state kept), a second
 * dashboard refused, and the proxy killed and restarted (re-onlined with the same slot table).
 */

import assert from "node:assert/strict";
import { RedisClient } from "../../redis/redis_client.ts";
import { slotOfString } from "../../redis/slot_hash.ts";
import { EtcdServer, ZooKeeperServer } from "../_support/coord_servers.ts";
import { admin, adminOk, DashboardProcess, ProxyProcess } from "../_support/programs.ts";
import { RedisServer, type ServerProcess, waitFor } from "../_support/servers.ts";

const PASSWORD = "tutorial-pw";

async function tutorial(coordinator: string, coordinatorAddr: string, proxyOnline: "dashboard" | "store") {
  const dir = await Deno.makeTempDir({ prefix: `codis-tutorial-${coordinator}-` });
  const servers: RedisServer[] = [];
  let dashboard: DashboardProcess | null = null;
  let proxy: ProxyProcess | null = null;
  const product = `tutorial-${coordinator}`;
  try {
    for (let i = 0; i < 4; i++) servers.push(await RedisServer.start({ password: PASSWORD }));
    const [m1, r1, m2, r2] = servers.map((s) => s.addr);

    // 1. The dashboard on the store.
    dashboard = await DashboardProcess.start(dir, { coordinator, coordinatorAddr, product, productAuth: PASSWORD });
    const d = `--dashboard=${dashboard.addr}`;

    // 2. A proxy that comes online by itself.
    const online = proxyOnline === "dashboard"
      ? [`--dashboard=${dashboard.addr}`]
      : [`--${coordinator}=${coordinatorAddr}`];
    proxy = await ProxyProcess.start(dir, { product, productAuth: PASSWORD, online });
    await proxy.waitOnline();
    const proxies = JSON.parse(await adminOk(d, "--list-proxy"));
    assert.equal(proxies.length, 1);
    assert.equal(proxies[0].admin_addr, proxy.adminAddr);
    // Healthy once the stats loop has polled it.
    await waitFor(async () => /^\[ \] proxy-1 /.test(await adminOk(d, "--proxy-status")), { what: "proxy status" });

    // 3-7. Groups, servers, replicas synced.
    await adminOk(d, "--create-group", "--gid=1");
    await adminOk(d, "--create-group", "--gid=2");
    await adminOk(d, "--group-add", "--gid=1", `--addr=${m1}`);
    await adminOk(d, "--group-add", "--gid=1", `--addr=${r1}`);
    await adminOk(d, "--group-add", "--gid=2", `--addr=${m2}`);
    await adminOk(d, "--group-add", "--gid=2", `--addr=${r2}`, "--datacenter=dc2");
    await adminOk(d, "--sync-action", "--create", `--addr=${r1}`);
    await adminOk(d, "--sync-action", "--create", `--addr=${r2}`);
    await waitFor(async () => {
      const status = await adminOk(d, "--group-status");
      return status.includes(`${r1} ==> ${m1}:up`) && status.includes(`${r2} ==> ${m2}:up`) &&
        !status.includes("[X]") && !status.includes("[?]");
    }, { timeoutMs: 60_000, intervalMs: 500, what: "replicas synced" });
    const groups = JSON.parse(await adminOk(d, "--list-group"));
    assert.deepEqual(groups.map((g: { servers: { action: { state: string } }[] }) => g.servers[1].action.state), [
      "synced",
      "synced",
    ]);

    // 8. Slots: 0-511 on group 1, 512-1023 on group 2.
    const preview = await adminOk(d, "--slots-assign", "--beg=0", "--end=511", "--gid=1");
    assert.equal(JSON.parse(preview).length, 512, "without --confirm it only shows");
    await adminOk(d, "--slots-assign", "--beg=0", "--end=511", "--gid=1", "--confirm");
    await adminOk(d, "--slots-assign", "--beg=512", "--end=1023", "--gid=2", "--confirm");
    await adminOk(d, "--resync-group", "--all");
    const slots = JSON.parse(await adminOk(d, "--slots-status"));
    assert.equal(slots[0].backend_addr, m1);
    assert.equal(slots[1023].backend_addr, m2);
    assert.match(await adminOk(d, "--rebalance"), /nothing changes/);

    // Clients through the proxy reach the right masters, and the replicas follow.
    const client = await RedisClient.connect(proxy.addr);
    try {
      const keys = Array.from({ length: 200 }, (_, i) => `tutorial:${i}`);
      for (const k of keys) assert.equal(await client.call("SET", k, k), "OK");
      const direct = await Promise.all(servers.map((s) => s.client()));
      try {
        for (const k of keys) {
          const owner = slotOfString(k) < 512 ? direct[0] : direct[2];
          assert.equal(await owner.call("GET", k), k);
        }
        for (const [master, replica, group] of [[0, 1, 1], [2, 3, 2]]) {
          await waitFor(async () => {
            for (const k of keys) {
              const onMaster = await direct[master].call("GET", k);
              if (await direct[replica].call("GET", k) !== onMaster) return false;
            }
            return await direct[replica].call("DBSIZE") === await direct[master].call("DBSIZE");
          }, { what: `group ${group}'s replica to hold every key of its master` });
        }
      } finally {
        await Promise.all(direct.map((c) => c.close()));
      }
    } finally {
      await client.close();
    }

    // A second dashboard for the same product is refused, clearly.
    const second = await DashboardProcess.start(dir, {
      coordinator,
      coordinatorAddr,
      product,
      productAuth: PASSWORD,
      wait: false,
    });
    const status = await second.exited;
    assert.notEqual(status.code, 0);
    assert.match(await second.log(), /is locked by dashboard 127\.0\.0\.1:\d+/);

    // The dashboard restarted keeps all state.
    const before = await dashboard.stats();
    assert.equal((await dashboard.kill("SIGTERM")).code, 0, await dashboard.log());
    dashboard = await DashboardProcess.start(dir, { coordinator, coordinatorAddr, product, productAuth: PASSWORD });
    const after = await dashboard.stats();
    assert.deepEqual(after.slots, before.slots);
    assert.deepEqual((after.group as { models: unknown }).models, (before.group as { models: unknown }).models);
    assert.deepEqual((after.proxy as { models: unknown }).models, (before.proxy as { models: unknown }).models);
    const d2 = `--dashboard=${dashboard.addr}`;

    // The proxy killed and restarted at the same address (with no online flag) is re-onlined by the dashboard.
    const slotsBefore = (await proxy.overview())!.slots;
    await proxy.kill("SIGKILL");
    proxy = await ProxyProcess.start(dir, {
      product,
      productAuth: PASSWORD,
      online: [],
      port: proxy.port,
      adminPort: proxy.adminPort,
    });
    await proxy.waitOnline();
    assert.deepEqual((await proxy.overview())!.slots, slotsBefore);
    const again = await RedisClient.connect(proxy.addr);
    try {
      assert.equal(await again.call("GET", "tutorial:7"), "tutorial:7");
    } finally {
      await again.close();
    }
    assert.equal(JSON.parse(await adminOk(d2, "--list-proxy")).length, 1, "the same proxy, not a second one");

    // Shut down through codis-admin: the lock is released.
    await adminOk(d2, "--shutdown");
    assert.equal((await dashboard.exited).code, 0);
    const r = await admin("--remove-lock", `--product=${product}`, `--${coordinator}=${coordinatorAddr}`);
    assert.match(r.stderr, /has no lock/);
  } catch (e) {
    for (const p of [dashboard, proxy]) if (p) console.error(`--- ${p.name} log ---\n${await p.log()}`);
    throw e;
  } finally {
    await proxy?.kill("SIGKILL");
    await dashboard?.kill("SIGKILL");
    await Promise.all(servers.map((s) => s.stop()));
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("Codis's tutorial through codis-admin on the filesystem store", async () => {
  const root = await Deno.makeTempDir({ prefix: "codis-tutorial-store-" });
  try {
    await tutorial("filesystem", root, "dashboard");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

async function withServer(start: () => Promise<ServerProcess>, fn: (s: ServerProcess) => Promise<void>) {
  const server = await start();
  try {
    await fn(server);
  } finally {
    await server.stop();
  }
}

Deno.test("Codis's tutorial through codis-admin on etcd, the proxy finding the dashboard in the store", async () => {
  await withServer(() => EtcdServer.start(), (s) => tutorial("etcd", s.addr, "store"));
});

Deno.test("Codis's tutorial through codis-admin on ZooKeeper, the proxy finding the dashboard in the store", async () => {
  await withServer(() => ZooKeeperServer.start(), (s) => tutorial("zookeeper", s.addr, "store"));
});
