/**
 * Model-checked resharding under load, in the spirit of Redis's `04-resharding` test: clients
 * through two proxies run SET, INCR, RPUSH, HSET, cross-slot MSET and DEL, and reads checked
 * against their own last writes, over 100,000 keys
 * (with and without hash tags, in db 0 and db 3) while every slot moves from group 1 to group 2
 * and back. At the end every key equals the clients' model: nothing lost, nothing stale, no
 * deleted key back; four big keys (moved in pieces) written meanwhile hold every acknowledged
 * element (lists exact). Then the same with the dashboard killed and restarted mid-migration, and
 * with a proxy killed while slots are being prepared.
 */

import assert from "node:assert/strict";
import { RedisClient } from "../../redis/redis_client.ts";
import { RespError } from "../../redis/resp_value.ts";
import { type MigrationCluster, slotStates, startMigrationCluster } from "../_support/migration_cluster.ts";
import { admin, adminOk, ProxyProcess } from "../_support/programs.ts";
import { RedisServer, waitFor } from "../_support/servers.ts";

const KEYS = 100_000;
const TYPES = ["s", "c", "l", "h"] as const;
type Kind = typeof TYPES[number];

/** Key `i` of the keyspace: its type, db and name (every fourth key carries a hash tag shared by 4 keys). */
function keyOf(i: number): { kind: Kind; db: number; name: string } {
  const kind = TYPES[i % 4];
  const db = i % 8 < 4 ? 0 : 3;
  const name = i % 3 === 0 ? `{tag${Math.floor(i / 12)}}${kind}:${i}` : `${kind}:${i}`;
  return { kind, db, name };
}

/** What the clients believe: per key, its value (absent = deleted or never written). */
class Model {
  readonly values = new Map<number, string | number | string[] | Record<string, string>>();
}

/** One client worker: owns the keys `i ≡ w (mod workers)`, so its operations on them are ordered. */
async function worker(
  w: number,
  workers: number,
  proxyAddr: string,
  model: Model,
  stop: { stopped: boolean },
  counts: { ops: number },
): Promise<void> {
  const clients = [await RedisClient.connect(proxyAddr), await RedisClient.connect(proxyAddr, { db: 3 })];
  try {
    let seq = 0;
    const pick = () => {
      const n = Math.floor(Math.random() * (KEYS / workers));
      return n * workers + w;
    };
    while (!stop.stopped) {
      const i = pick();
      const { kind, db, name } = keyOf(i);
      const c = clients[db === 0 ? 0 : 1];
      const roll = Math.random();
      seq++;
      if (roll < 0.1) {
        assert.equal(await c.call("DEL", name), model.values.has(i) ? 1 : 0, `DEL ${name}`);
        model.values.delete(i);
      } else if (roll < 0.3) {
        // A read must see exactly this worker's last write, wherever the key is in its move.
        const want = model.values.get(i);
        if (want === undefined) assert.equal(await c.call("EXISTS", name), 0, `${name} deleted but visible`);
        else if (kind === "s") assert.equal(await c.call("GET", name), want, `GET ${name}`);
        else if (kind === "c") assert.equal(await c.call("GET", name), String(want), `GET ${name}`);
        else if (kind === "l") assert.deepEqual(await c.call("LRANGE", name, 0, -1), want, `LRANGE ${name}`);
        else {
          const flat = await c.call("HGETALL", name) as string[];
          const got: Record<string, string> = {};
          for (let j = 0; j < flat.length; j += 2) got[flat[j]] = flat[j + 1];
          assert.deepEqual(got, want, `HGETALL ${name}`);
        }
      } else if (kind === "s") {
        if (roll < 0.45) {
          // A cross-slot MSET of string keys of this worker in the same db.
          const others = [i];
          while (others.length < 4) {
            const j = pick();
            const k = keyOf(j);
            if (k.kind === "s" && k.db === db && !others.includes(j)) others.push(j);
          }
          const args: string[] = [];
          for (const j of others) args.push(keyOf(j).name, `v${w}.${seq}.${j}`);
          assert.equal(await c.call("MSET", ...args), "OK");
          for (const j of others) model.values.set(j, `v${w}.${seq}.${j}`);
        } else {
          assert.equal(await c.call("SET", name, `v${w}.${seq}`), "OK");
          model.values.set(i, `v${w}.${seq}`);
        }
      } else if (kind === "c") {
        const expected = ((model.values.get(i) as number | undefined) ?? 0) + 1;
        assert.equal(await c.call("INCR", name), expected, `INCR ${name}`);
        model.values.set(i, expected);
      } else if (kind === "l") {
        const list = [...((model.values.get(i) as string[] | undefined) ?? []), `e${seq}`];
        assert.equal(await c.call("RPUSH", name, `e${seq}`), list.length, `RPUSH ${name}`);
        model.values.set(i, list);
      } else {
        const hash = { ...((model.values.get(i) as Record<string, string> | undefined) ?? {}) };
        const field = `f${seq % 5}`;
        const isNew = !(field in hash);
        hash[field] = `x${seq}`;
        assert.equal(await c.call("HSET", name, field, `x${seq}`), isNew ? 1 : 0, `HSET ${name}`);
        model.values.set(i, hash);
      }
      counts.ops++;
    }
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

/** Big keys (over 16 × migration_async_maxbulks elements: moved in pieces) and what their writer got acknowledged. */
const BIG_TYPES = ["hash", "set", "zset", "list"] as const;
const BIG_INITIAL = 5_000;
class BigModel {
  /** Elements added after the preload, per type, in acknowledgement order. */
  readonly added = new Map<string, number[]>(BIG_TYPES.map((t) => [t, []]));
}
const bigKey = (type: string) => `{big:${type}}k`;

/** Creates the big keys through the proxy. */
async function preloadBig(proxyAddr: string): Promise<void> {
  const c = await RedisClient.connect(proxyAddr);
  try {
    for (const type of BIG_TYPES) {
      const items: (string | number)[] = [];
      for (let i = 0; i < BIG_INITIAL; i++) {
        if (type === "hash") items.push(`f${i}`, `v${i}`);
        else if (type === "zset") items.push(i, `m${i}`);
        else items.push(`e${i}`);
      }
      await c.call({ hash: "HSET", set: "SADD", zset: "ZADD", list: "RPUSH" }[type], bigKey(type), ...items);
    }
  } finally {
    await c.close();
  }
}

/** Adds elements to the big keys and checks their sizes after each write, until stopped. */
async function bigWriter(proxyAddr: string, model: BigModel, stop: { stopped: boolean }): Promise<void> {
  const c = await RedisClient.connect(proxyAddr, { timeoutMs: 60_000 });
  try {
    for (let i = BIG_INITIAL; !stop.stopped; i++) {
      const type = BIG_TYPES[i % 4];
      const key = bigKey(type);
      if (type === "hash") await c.call("HSET", key, `f${i}`, `v${i}`);
      else if (type === "set") await c.call("SADD", key, `e${i}`);
      else if (type === "zset") await c.call("ZADD", key, i, `m${i}`);
      else await c.call("RPUSH", key, `e${i}`);
      model.added.get(type)!.push(i);
      const size = await c.call({ hash: "HLEN", set: "SCARD", zset: "ZCARD", list: "LLEN" }[type], key);
      assert.equal(size, BIG_INITIAL + model.added.get(type)!.length, `${key}: its size after my write`);
    }
  } finally {
    await c.close();
  }
}

/** Every big key holds exactly its initial elements and the acknowledged ones (lists: in order, none twice). */
async function verifyBig(proxyAddr: string, model: BigModel): Promise<void> {
  const c = await RedisClient.connect(proxyAddr);
  try {
    for (const type of BIG_TYPES) {
      const all = [...Array(BIG_INITIAL).keys(), ...model.added.get(type)!];
      const key = bigKey(type);
      if (type === "hash") {
        const flat = await c.call("HGETALL", key) as string[];
        const got = new Map<string, string>();
        for (let i = 0; i < flat.length; i += 2) got.set(flat[i], flat[i + 1]);
        assert.equal(got.size, all.length, `${key} fields`);
        for (const i of all) assert.equal(got.get(`f${i}`), `v${i}`, `${key} f${i}`);
      } else if (type === "set") {
        const got = new Set(await c.call("SMEMBERS", key) as string[]);
        assert.equal(got.size, all.length, `${key} members`);
        for (const i of all) assert.ok(got.has(`e${i}`), `${key} e${i}`);
      } else if (type === "zset") {
        assert.equal(await c.call("ZCARD", key), all.length, `${key} members`);
        for (const i of [0, BIG_INITIAL - 1, ...model.added.get(type)!]) {
          assert.equal(await c.call("ZSCORE", key, `m${i}`), String(i), `${key} m${i}`);
        }
      } else {
        assert.deepEqual(await c.call("LRANGE", key, 0, -1), all.map((i) => `e${i}`), `${key}: exact`);
      }
    }
  } finally {
    await c.close();
  }
}

/** Loads every key with a first value, through the proxy, pipelined. */
async function preload(proxyAddr: string, model: Model): Promise<void> {
  const clients = [await RedisClient.connect(proxyAddr), await RedisClient.connect(proxyAddr, { db: 3 })];
  try {
    for (let base = 0; base < KEYS; base += 2000) {
      const batches: [RedisClient, (string | number)[]][] = [];
      for (let i = base; i < Math.min(KEYS, base + 2000); i++) {
        const { kind, db, name } = keyOf(i);
        const c = clients[db === 0 ? 0 : 1];
        if (kind === "s") batches.push([c, ["SET", name, `init${i}`]]), model.values.set(i, `init${i}`);
        else if (kind === "c") batches.push([c, ["INCRBY", name, i]]), model.values.set(i, i);
        else if (kind === "l") {
          batches.push([c, ["RPUSH", name, `a${i}`, `b${i}`]]), model.values.set(i, [`a${i}`, `b${i}`]);
        } else batches.push([c, ["HSET", name, "init", `${i}`]]), model.values.set(i, { init: `${i}` });
      }
      const replies = await Promise.all(batches.map(([c, cmd]) => c.send(cmd)));
      for (const r of replies) assert.ok(!(r instanceof RespError), `preload: ${(r as RespError).message}`);
    }
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

/** Checks every key of the keyspace against the model, through a proxy. */
async function verify(proxyAddr: string, model: Model): Promise<void> {
  const clients = [await RedisClient.connect(proxyAddr), await RedisClient.connect(proxyAddr, { db: 3 })];
  try {
    for (let base = 0; base < KEYS; base += 2000) {
      const checks: Promise<void>[] = [];
      for (let i = base; i < Math.min(KEYS, base + 2000); i++) {
        const { kind, db, name } = keyOf(i);
        const c = clients[db === 0 ? 0 : 1];
        const want = model.values.get(i);
        checks.push((async () => {
          if (want === undefined) {
            assert.equal(await c.call("EXISTS", name), 0, `${name} was deleted but is back`);
          } else if (kind === "s") {
            assert.equal(await c.call("GET", name), want, name);
          } else if (kind === "c") {
            assert.equal(await c.call("GET", name), String(want), name);
          } else if (kind === "l") {
            assert.deepEqual(await c.call("LRANGE", name, 0, -1), want, name);
          } else {
            const flat = await c.call("HGETALL", name) as string[];
            const got: Record<string, string> = {};
            for (let j = 0; j < flat.length; j += 2) got[flat[j]] = flat[j + 1];
            assert.deepEqual(got, want, name);
          }
        })());
      }
      await Promise.all(checks);
    }
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

async function allSlotsIn(c: MigrationCluster, gid: number, timeoutMs = 300_000): Promise<void> {
  await waitFor(async () => (await slotStates(c)).get(`${gid}:`) === 1024, {
    timeoutMs,
    intervalMs: 250,
    what: `every slot in group ${gid}`,
  });
}

async function dbsize(server: RedisServer): Promise<number> {
  let total = 0;
  for (const db of [0, 3]) {
    const c = await server.client(db);
    try {
      total += await c.call("DBSIZE") as number;
    } finally {
      await c.close();
    }
  }
  return total;
}

async function withLoad(
  proxyAddrs: string[],
  model: Model,
  during: (counts: { ops: number }) => Promise<void>,
): Promise<number> {
  const stop = { stopped: false };
  const counts = { ops: 0 };
  const workers = 8;
  const running = Array.from(
    { length: workers },
    (_, w) =>
      worker(w, workers, proxyAddrs[w % proxyAddrs.length], model, stop, counts).catch((e) => {
        stop.stopped = true;
        throw e;
      }),
  );
  try {
    await during(counts);
  } finally {
    stop.stopped = true;
    await Promise.all(running);
  }
  return counts.ops;
}

function logsOnFailure(c: MigrationCluster) {
  return async (e: unknown) => {
    for (const p of [c.dashboard, ...c.proxies]) {
      console.error(`--- ${p.name} log (tail) ---\n${(await p.log()).slice(-4000)}`);
    }
    throw e;
  };
}

Deno.test("reshard under load through two proxies: every slot to group 2 and back, model-checked", async () => {
  const c = await startMigrationCluster("reshard");
  try {
    const model = new Model();
    await preload(c.proxies[0].addr, model);
    await preloadBig(c.proxies[0].addr);
    assert.equal(await dbsize(c.masters[0]), KEYS + BIG_TYPES.length);
    const big = new BigModel();
    const stopBig = { stopped: false };
    const bigWriting = bigWriter(c.proxies[1].addr, big, stopBig).catch((e) => {
      stopBig.stopped = true;
      throw e;
    });
    const ops = await withLoad(c.proxies.map((p) => p.addr), model, async (counts) => {
      await waitFor(() => counts.ops > 200, { what: "load to start" });
      await adminOk(c.d, "--slot-action", "--create-range", "--beg=0", "--end=1023", "--gid=2");
      // Disabling stops the mover at once, mid-pass; enabling resumes it.
      const moved = async () =>
        ((await c.dashboard.stats()).slot_action as { migration: { keys_moved: number } }).migration.keys_moved;
      await waitFor(async () => await moved() > 1000, { timeoutMs: 120_000, what: "the mover to start" });
      await adminOk(c.d, "--slot-action", "--disabled=1");
      const atPause = await moved();
      await new Promise((r) => setTimeout(r, 1500)); // an observation window, not a wait for a condition
      assert.ok(await moved() - atPause <= 500 * 2, "at most the MIGRATE in flight finishes after disabling");
      assert.match(await adminOk(c.d, "--slot-action", "--status"), /actions: disabled/);
      await adminOk(c.d, "--slot-action", "--disabled=0");
      await allSlotsIn(c, 2);
      assert.equal(await dbsize(c.masters[0]), 0, "nothing left on group 1");
      await adminOk(c.d, "--slot-action", "--create-range", "--beg=0", "--end=1023", "--gid=1");
      await allSlotsIn(c, 1);
    });
    stopBig.stopped = true;
    await bigWriting;
    assert.ok(ops > 1000, `only ${ops} operations ran during the migrations`);
    const moved = (await c.dashboard.stats()).slot_action as { migration: { big_keys_moved: number } };
    assert.equal(moved.migration.big_keys_moved, 2 * BIG_TYPES.length, "each big key moved in pieces, both ways");
    await verifyBig(c.proxies[0].addr, big);
    assert.equal(await dbsize(c.masters[1]), 0, "nothing left on group 2");
    await verify(c.proxies[0].addr, model);
    await verify(c.proxies[1].addr, model);
  } catch (e) {
    await logsOnFailure(c)(e);
  } finally {
    await c.stop();
  }
});

Deno.test("reshard with the dashboard killed and restarted mid-migration: it resumes; model-checked", async () => {
  const c = await startMigrationCluster("reshard-restart");
  try {
    const model = new Model();
    await preload(c.proxies[1].addr, model);
    await withLoad(c.proxies.map((p) => p.addr), model, async () => {
      await adminOk(c.d, "--slot-action", "--create-range", "--beg=0", "--end=1023", "--gid=2");
      // Kill it while slots are on the move.
      await waitFor(async () => ((await slotStates(c)).get("2:") ?? 0) >= 100, {
        timeoutMs: 120_000,
        what: "some slots moved",
      });
      await c.dashboard.kill("SIGKILL");
      // The lock stays behind a killed dashboard: a new one needs --remove-lock.
      await c.restartDashboard();
      await allSlotsIn(c, 2);
    });
    assert.equal(await dbsize(c.masters[0]), 0, "nothing left on group 1");
    await verify(c.proxies[0].addr, model);
  } catch (e) {
    await logsOnFailure(c)(e);
  } finally {
    await c.stop();
  }
});

Deno.test("a proxy killed while slots are prepared: rolled back, then completed once it is back", async () => {
  const c = await startMigrationCluster("reshard-proxy");
  try {
    const model = new Model();
    await preload(c.proxies[0].addr, model);
    const [a, b] = c.proxies;
    await withLoad([a.addr], model, async () => {
      await adminOk(c.d, "--slot-action", "--disabled=1");
      await adminOk(c.d, "--slot-action", "--create-range", "--beg=0", "--end=299", "--gid=2");
      await b.kill("SIGKILL");
      await adminOk(c.d, "--slot-action", "--disabled=0");
      // The barrier cannot pass with a proxy down: slots go to preparing and no further, and the
      // other proxy is unlocked again (the clients on it keep going).
      await waitFor(async () => ((await slotStates(c)).get("1:preparing") ?? 0) > 0, { what: "slots in preparing" });
      for (let i = 0; i < 3; i++) {
        const states = await slotStates(c);
        assert.equal(states.get("1:prepared") ?? 0, 0, JSON.stringify([...states]));
        assert.equal(states.get("1:migrating") ?? 0, 0, JSON.stringify([...states]));
        assert.equal(states.get("2:") ?? 0, 0);
        await new Promise((r) => setTimeout(r, 1000));
      }
      const slots = (await a.overview())!.slots as { id: number; locked?: boolean }[];
      assert.ok(slots.every((s) => !s.locked), "rolled back: nothing stays locked on the live proxy");
      // The proxy comes back at the same address, with no online flag: the dashboard re-onlines it.
      c.proxies[1] = await ProxyProcess.start(c.dir, {
        product: "reshard-proxy",
        online: [],
        port: b.port,
        adminPort: b.adminPort,
      });
      await waitFor(async () => ((await slotStates(c)).get("2:") ?? 0) === 300, {
        timeoutMs: 180_000,
        what: "the 300 slots moved once the proxy is back",
      });
    });
    await verify(c.proxies[1].addr, model);

    // The other way out: a proxy that stays dead is removed with --force, and migrations go on.
    await c.proxies[1].kill("SIGKILL");
    await adminOk(c.d, "--slot-action", "--create-range", "--beg=300", "--end=399", "--gid=2");
    await waitFor(async () => ((await slotStates(c)).get("1:preparing") ?? 0) > 0, { what: "slots in preparing" });
    const r = await admin(c.d, "--remove-proxy", `--addr=${c.proxies[1].adminAddr}`);
    assert.notEqual(r.code, 0, "without --force the dead proxy cannot be removed");
    await adminOk(c.d, "--remove-proxy", `--addr=${c.proxies[1].adminAddr}`, "--force");
    await waitFor(async () => ((await slotStates(c)).get("2:") ?? 0) === 400, {
      timeoutMs: 180_000,
      what: "the next 100 slots moved once the dead proxy is removed",
    });
    await verify(a.addr, model);
  } catch (e) {
    await logsOnFailure(c)(e);
  } finally {
    await c.stop();
  }
});
