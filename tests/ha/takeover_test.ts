/**
 * No single point of failure in the control plane: on etcd and ZooKeeper the dashboard's lock is
 * an ephemeral node, so when the dashboard is SIGKILLed in the middle of a migration, a dashboard
 * started with `--standby` takes the lock once the dead one's lease/session lapses, reloads the
 * state and finishes the migration; a proxy that finds its dashboard through the store finds the
 * new one. On the filesystem, a standby on the same host takes over when the holder's pid is gone.
 * Without `--standby`, a second dashboard is refused as before.
 */

import assert from "node:assert/strict";
import { DashboardClient } from "../../api/dashboard_client.ts";
import { RedisClient } from "../../redis/redis_client.ts";
import { dashboardXAuth } from "../../utils/xauth.ts";
import { EtcdServer, ZooKeeperServer } from "../_support/coord_servers.ts";
import { admin, adminOk, DashboardProcess, ProxyProcess } from "../_support/programs.ts";
import { RedisServer, type ServerProcess, waitFor } from "../_support/servers.ts";

const KEYS = 20_000;
const LOCK_TIMEOUT_MS = 3000;

async function takeover(coordinator: "etcd" | "zookeeper" | "filesystem", coordinatorAddr: string): Promise<void> {
  const product = `takeover-${coordinator}`;
  const dir = await Deno.makeTempDir({ prefix: "codis-takeover-" });
  const servers = await Promise.all([RedisServer.start(), RedisServer.start()]);
  const processes: { kill(signal?: Deno.Signal): Promise<unknown> }[] = [];
  const config = { lock_timeout: `${LOCK_TIMEOUT_MS}ms`, migration_async_numkeys: 20, migration_parallel_slots: 8 };
  const storeFlag = `--${coordinator}=${coordinatorAddr}`;
  let a: DashboardProcess | null = null;
  let b: DashboardProcess | null = null;
  try {
    a = await DashboardProcess.start(dir, { coordinator, coordinatorAddr, product, config });
    processes.push(a);
    const d = `--dashboard=${a.addr}`;
    await adminOk(d, "--create-group", "--gid=1");
    await adminOk(d, "--create-group", "--gid=2");
    await adminOk(d, "--group-add", "--gid=1", `--addr=${servers[0].addr}`);
    await adminOk(d, "--group-add", "--gid=2", `--addr=${servers[1].addr}`);
    await adminOk(d, "--slots-assign", "--beg=0", "--end=1023", "--gid=1", "--confirm");
    const proxy = await ProxyProcess.start(dir, { product, online: [storeFlag] });
    processes.push(proxy);
    await proxy.waitOnline();

    const client = await RedisClient.connect(proxy.addr);
    for (let i = 0; i < KEYS; i += 1000) {
      await client.pipeline(Array.from({ length: 1000 }, (_, j) => ["SET", `k${i + j}`, `v${i + j}`]));
    }
    await client.close();

    // Without --standby a second dashboard is refused, naming the holder.
    const refused = await DashboardProcess.start(dir, { coordinator, coordinatorAddr, product, config, wait: false });
    const status = await refused.exited;
    assert.notEqual(status.code, 0);
    assert.match(await refused.log(), new RegExp(`is locked by dashboard ${a.addr.replaceAll(".", "\\.")}`));

    // A standby waits (its API says it is not online) ...
    b = await DashboardProcess.start(dir, {
      coordinator,
      coordinatorAddr,
      product,
      config,
      wait: false,
      extra: ["--standby"],
    });
    processes.push(b);
    await waitFor(async () => /waiting for it/.test(await b!.log()), { what: "the standby waiting for the lock" });

    // ... while the holder migrates every slot to group 2, and is killed halfway.
    await adminOk(d, "--slot-action", "--create-range", "--beg=0", "--end=1023", "--gid=2");
    const api = new DashboardClient(a.addr, dashboardXAuth(product, ""));
    await waitFor(async () => (await api.stats()).slots.filter((s) => s.group_id === 2).length >= 100, {
      timeoutMs: 120_000,
      what: "a hundred slots moved",
    });
    await a.kill("SIGKILL");
    const killedAt = performance.now();
    await b.waitReady();
    const tookOver = performance.now() - killedAt;
    console.log(`  ${coordinator}: the standby took over ${Math.round(tookOver)} ms after the holder died`);
    assert.match(await b.log(), /took the lock/);

    // The standby finishes the migration.
    const api2 = new DashboardClient(b.addr, dashboardXAuth(product, ""));
    await waitFor(async () => {
      const s = await api2.stats();
      return s.slots.every((m) => m.group_id === 2 && !m.action?.state);
    }, { timeoutMs: 180_000, intervalMs: 500, what: "every slot in group 2 after the takeover" });
    const direct = await servers[0].client();
    assert.equal(await direct.call("DBSIZE"), 0, "nothing left on group 1");
    await direct.close();
    const check = await RedisClient.connect(proxy.addr);
    const values = await check.pipeline(Array.from({ length: KEYS }, (_, i) => ["GET", `k${i}`]));
    await check.close();
    values.forEach((v, i) => assert.equal(v, `v${i}`, `k${i}`));

    // A proxy that finds its dashboard through the store finds the new one.
    await proxy.kill("SIGKILL");
    await proxy.start();
    await proxy.waitOnline();
    const listed = JSON.parse(await adminOk(`--dashboard=${b.addr}`, "--list-proxy"));
    assert.equal(listed.length, 1);
  } catch (e) {
    for (const p of [a, b]) if (p) console.error(`--- ${p.addr} log ---\n${await p.log()}`);
    throw e;
  } finally {
    await Promise.all(processes.map((p) => p.kill("SIGKILL")));
    await Promise.all(servers.map((s) => s.stop()));
    await Deno.remove(dir, { recursive: true });
  }
}

async function withServer<S extends ServerProcess>(start: () => Promise<S>, fn: (s: S) => Promise<void>) {
  const s = await start();
  try {
    await fn(s);
  } finally {
    await s.stop();
  }
}

Deno.test("etcd: the dashboard killed mid-migration, a standby takes over and finishes it", async () => {
  await withServer(() => EtcdServer.start(), (s) => takeover("etcd", s.addr));
});

Deno.test("ZooKeeper: the dashboard killed mid-migration, a standby takes over and finishes it", async () => {
  await withServer(() => ZooKeeperServer.start(), (s) => takeover("zookeeper", s.addr));
});

Deno.test("filesystem: a standby on the same host takes over when the holder's process is gone", async () => {
  const root = await Deno.makeTempDir({ prefix: "codis-takeover-fs-" });
  try {
    await takeover("filesystem", root);
    // And --remove-lock is still how a lock is removed by hand.
    const r = await admin("--remove-lock", "--product=takeover-filesystem", `--filesystem=${root}`);
    assert.equal(r.code, 0, r.stderr);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
