/**
 * A cluster whose servers need a password (`product_auth`), the usual production case, end to
 * end: the dashboard makes a replica follow its master (it sets `masterauth` itself: the test
 * servers have none), moves every slot under traffic (its MIGRATEs and the proxy's carry `AUTH`),
 * promotes a replica, and reports every server's stats.
 */

import assert from "node:assert/strict";
import { DEFAULT_DASHBOARD_CONFIG } from "../../dashboard/config.ts";
import { startDashboard } from "../../dashboard/dashboard.ts";
import { DEFAULT_PROXY_CONFIG } from "../../proxy/config.ts";
import { startProxy } from "../../proxy/proxy.ts";
import { RedisClient, RedisReplyError } from "../../redis/redis_client.ts";
import { log } from "../../utils/log.ts";
import { RedisServer, waitFor } from "../_support/servers.ts";

log.setLevel("NONE");

const PASSWORD = "product-secret";
const KEYS = 3000;

/**
 * Runs `command` on `server` over a new connection: the dashboard's sync actions and promotions
 * kill the normal clients of the servers they change.
 */
async function on(server: RedisServer, ...command: (string | number)[]): Promise<unknown> {
  const c = await server.client();
  try {
    return await c.call(...command);
  } finally {
    await c.close();
  }
}

/** `INFO` field `name` of a server. */
async function infoField(server: RedisServer, section: string, name: string): Promise<string | undefined> {
  const info = String(await on(server, "INFO", section));
  return new RegExp(`^${name}:(.*)\\r?$`, "m").exec(info)?.[1]?.trim();
}

Deno.test("product_auth: replicas sync, slots move under traffic, a replica is promoted, stats come in", async () => {
  // m1 + r1 in group 1, m2 + r2 in group 2.
  const servers = await Promise.all(Array.from({ length: 4 }, () => RedisServer.start({ password: PASSWORD })));
  const [m1, r1, m2, r2] = servers;
  const root = await Deno.makeTempDir({ prefix: "codis-product-auth-" });
  const dashboard = await startDashboard({
    config: {
      ...DEFAULT_DASHBOARD_CONFIG,
      coordinatorAddr: root,
      productName: "auth-test",
      productAuth: PASSWORD,
      adminAddr: "127.0.0.1:0",
      migrationAsyncNumkeys: 50,
    },
  });
  const proxy = await startProxy({
    config: {
      ...DEFAULT_PROXY_CONFIG,
      productName: "auth-test",
      productAuth: PASSWORD,
      proxyAddr: "127.0.0.1:0",
      adminAddr: "127.0.0.1:0",
    },
  });
  let client: RedisClient | null = null;
  let running = false;
  let traffic: Promise<void> = Promise.resolve();
  try {
    // Without the password nobody gets in: what the cluster does below, it does with it.
    const stranger = await RedisClient.connect(m1.addr);
    await assert.rejects(stranger.call("GET", "x"), (e) => e instanceof RedisReplyError && /NOAUTH/.test(e.message));
    await stranger.close();

    await dashboard.groups.create(1);
    await dashboard.groups.create(2);
    await dashboard.groups.addServer(1, m1.addr);
    await dashboard.groups.addServer(1, r1.addr);
    await dashboard.groups.addServer(2, m2.addr);
    await dashboard.groups.addServer(2, r2.addr);
    await dashboard.proxies.create(proxy.model.adminAddr);
    client = await RedisClient.connect(proxy.model.proxyAddr);

    // Sync actions: each replica follows its master, authenticating with the masterauth the
    // dashboard set.
    await dashboard.syncActions.create(r1.addr);
    await dashboard.syncActions.create(r2.addr);
    await waitFor(
      () => [1, 2].every((gid) => dashboard.topom.group(gid)!.servers[1].action.state === "synced"),
      { timeoutMs: 60_000, what: "both sync actions to finish" },
    );
    for (const [replica, master] of [[r1, m1], [r2, m2]]) {
      await waitFor(async () => await infoField(replica, "replication", "master_link_status") === "up", {
        timeoutMs: 60_000,
        what: `the replica of ${master.addr} to be linked`,
      });
      assert.equal((await on(replica, "CONFIG", "GET", "masterauth") as string[])[1], PASSWORD);
    }

    // Every slot on group 1, and data through the proxy.
    await dashboard.slots.assign(
      Array.from(
        { length: 1024 },
        (_, id) => ({ id, groupId: 1, action: { index: 0, state: "" as const, targetId: 0 } }),
      ),
      false,
    );
    for (let i = 0; i < KEYS; i += 100) {
      const batch = Array.from({ length: 100 }, (_, j) => ["SET", `k:${i + j}`, `v${i + j}`]);
      await client.pipeline(batch);
    }
    assert.equal(await on(m1, "DBSIZE"), KEYS);

    // Under traffic (writes move their keys first, through the proxy's own MIGRATE … AUTH), every
    // slot moves to group 2 (the mover's MIGRATE … AUTH).
    const counters = new Map<string, number>();
    running = true;
    traffic = (async () => {
      const writer = await RedisClient.connect(proxy.model.proxyAddr);
      try {
        for (let n = 0; running; n++) {
          const key = `counter:${n % 400}`;
          assert.equal(await writer.call("INCR", key), (counters.get(key) ?? 0) + 1);
          counters.set(key, (counters.get(key) ?? 0) + 1);
        }
      } finally {
        await writer.close();
      }
    })();
    await waitFor(() => counters.size === 400, { what: "traffic on every counter" });
    const migratesBefore = Number(
      /calls=(\d+)/.exec(await infoField(m1, "commandstats", "cmdstat_migrate") ?? "")?.[1] ?? 0,
    );
    await dashboard.slots.createRange(0, 1023, 2);
    dashboard.scheduler.wake();
    await waitFor(() => dashboard.topom.slots().every((m) => m.groupId === 2 && !m.action.state), {
      timeoutMs: 120_000,
      intervalMs: 200,
      what: "every slot to move to group 2",
    });
    running = false;
    await traffic;
    const migrates = Number(
      /calls=(\d+)/.exec(await infoField(m1, "commandstats", "cmdstat_migrate") ?? "")?.[1] ?? 0,
    );
    assert.ok(migrates > migratesBefore, "the keys moved with MIGRATE");
    assert.match(dashboard.scheduler.toJson().progress.status, /^\[OK\]/);
    assert.equal(await on(m1, "DBSIZE"), 0, "nothing left on the old master");
    assert.equal(await on(m2, "DBSIZE"), KEYS + 400);
    const values = await client.call("MGET", ...Array.from({ length: KEYS }, (_, i) => `k:${i}`)) as string[];
    values.forEach((v, i) => assert.equal(v, `v${i}`));
    for (const [key, n] of counters) assert.equal(await client.call("GET", key), String(n), key);

    // Promotion: r2 becomes group 2's master, and the proxy writes to it with the password.
    await on(m2, "WAIT", 1, 10_000); // r2 has every write
    await dashboard.groups.promote(2, r2.addr);
    assert.deepEqual(dashboard.topom.group(2)!.servers.map((s) => s.addr), [r2.addr, m2.addr]);
    assert.equal(await infoField(r2, "replication", "role"), "master");
    assert.equal(proxy.router.specs()[7].backendAddr, r2.addr);
    assert.equal(await client.call("SET", "after-promotion", "1"), "OK");
    assert.equal(await on(r2, "GET", "after-promotion"), "1");
    assert.equal(await client.call("GET", "k:7"), "v7");

    // Stats: the dashboard reads every server's INFO (with the password) and the proxy's stats.
    await dashboard.stats.refresh();
    for (const s of servers) {
      const probe = dashboard.stats.servers[s.addr];
      assert.equal(probe?.error, undefined, `${s.addr}: ${JSON.stringify(probe?.error)}`);
      assert.ok(probe?.stats?.redis_version, `${s.addr} has INFO in the stats`);
    }
    assert.equal(dashboard.stats.servers[r2.addr].stats!.role, "master");
    const proxyProbe = Object.values(dashboard.stats.proxies)[0];
    assert.equal(proxyProbe.error, undefined);
    assert.equal(proxyProbe.stats!.online, true);
  } finally {
    running = false;
    await traffic.catch(() => {});
    await client?.close();
    await proxy.close(1000);
    await dashboard.close();
    await Promise.all(servers.map((s) => s.stop()));
    await Deno.remove(root, { recursive: true });
  }
});
