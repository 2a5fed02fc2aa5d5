/**
 * Big keys moved in pieces (`dashboard/big_keys.ts`): each chunked type copied exactly with its
 * expiry, a key that expires during its transfer not brought back, the classification; then end
 * to end, a slot full of big keys migrated while clients write to them and their neighbours
 * through two proxies (every acknowledged write there, nothing doubled in lists, no temporary key
 * left), and a dashboard SIGKILLed mid-transfer and restarted with `--remove-lock`.
 */

import assert from "node:assert/strict";
import { collectionKeys, findBigKeys, transferBigKey, transferKeyName } from "../../dashboard/big_keys.ts";
import { RedisClient } from "../../redis/redis_client.ts";
import { slotOfString } from "../../redis/slot_hash.ts";
import { fromUtf8, utf8 } from "../../utils/bytes.ts";
import { type MigrationCluster, slotStatesList, startMigrationCluster } from "../_support/migration_cluster.ts";
import { adminOk, ProxyProcess } from "../_support/programs.ts";
import { RedisServer, waitFor } from "../_support/servers.ts";

const LIMITS = { maxBulks: 200, maxBytes: 32 * 1024 * 1024 };
const noPause = () => Promise.resolve();

/** Fills `key` of `type` with `n` elements, pipelined in batches. */
async function fill(c: RedisClient, type: string, key: string, n: number, offset = 0): Promise<void> {
  for (let i = 0; i < n; i += 1000) {
    const items: (string | number)[] = [];
    for (let j = i; j < Math.min(n, i + 1000); j++) {
      const k = j + offset;
      if (type === "hash") items.push(`f${k}`, `v${k}`);
      else if (type === "zset") items.push(k * 1.5, `m${k}`);
      else items.push(`e${k}`);
    }
    const cmd = { hash: "HSET", set: "SADD", zset: "ZADD", list: "RPUSH" }[type]!;
    await c.call(cmd, key, ...items);
  }
}

/** A key's content in a comparable form. */
async function content(c: RedisClient, type: string, key: string): Promise<unknown> {
  if (type === "hash") {
    const flat = await c.call("HGETALL", key) as string[];
    const pairs: string[] = [];
    for (let i = 0; i < flat.length; i += 2) pairs.push(`${flat[i]}=${flat[i + 1]}`);
    return pairs.sort();
  }
  if (type === "set") return (await c.call("SMEMBERS", key) as string[]).sort();
  if (type === "zset") return await c.call("ZRANGE", key, 0, -1, "WITHSCORES");
  return await c.call("LRANGE", key, 0, -1);
}

Deno.test("big keys: each chunked type copied exactly with its expiry; an expiring key is not brought back", async () => {
  const [a, b] = [await RedisServer.start(), await RedisServer.start()];
  const src = await RedisClient.connect(a.addr, { raw: true });
  const dst = await RedisClient.connect(b.addr, { raw: true });
  const srcText = await a.client();
  const dstText = await b.client();
  try {
    for (const type of ["hash", "set", "zset", "list"] as const) {
      const key = `big:${type}`;
      await fill(srcText, type, key, 50_000);
      await srcText.call("PEXPIREAT", key, Date.now() + 3_600_000);
      const expireAt = await srcText.call("PEXPIRETIME", key);
      const before = await content(srcText, type, key);
      const [found] = await findBigKeys(src, 0, [utf8(key)], LIMITS);
      assert.equal(found?.type, type, `${type} found big`);
      const r = await transferBigKey(src, dst, found, LIMITS, noPause);
      assert.ok(r.moved);
      assert.equal(r.elements, type === "hash" || type === "zset" ? 50_000 : 50_000);
      assert.ok(r.chunks >= 250, `${type}: in pieces (${r.chunks} chunks)`);
      assert.deepEqual(await content(dstText, type, key), before, `${type} identical`);
      assert.equal(await dstText.call("PEXPIRETIME", key), expireAt, `${type} keeps its expiry`);
      assert.equal(await srcText.call("EXISTS", key), 0, `${type} gone from the source`);
      assert.equal(await dstText.call("EXISTS", fromUtf8(transferKeyName(utf8(key))!)), 0, "no temporary key");
    }

    // Small values, strings and streams are not chunked.
    await srcText.call("HSET", "small", "f", "v");
    await srcText.call("SET", "str", "x".repeat(100_000));
    await srcText.call("XADD", "stream", "*", "f", "v");
    assert.deepEqual(await findBigKeys(src, 0, ["small", "str", "stream"].map(utf8), LIMITS), []);

    // A key that expires while it moves does not come back, and leaves nothing behind.
    await fill(srcText, "hash", "expiring", 20_000);
    await srcText.call("PEXPIRE", "expiring", 400);
    const [exp] = await findBigKeys(src, 0, [utf8("expiring")], LIMITS);
    let chunks = 0;
    const r = await transferBigKey(src, dst, exp, LIMITS, async () => {
      if (++chunks === 5) await waitFor(async () => await srcText.call("EXISTS", "expiring") === 0, { what: "expiry" });
    });
    assert.equal(r.moved, false);
    assert.equal(await dstText.call("EXISTS", "expiring"), 0, "expired key not brought back");
    assert.equal(await dstText.call("DBSIZE"), 4, "only the four moved keys on the target");

    // The temporary key keeps the slot: the key's hash tag, or the key as the tag.
    for (const key of ["plain", "{tag}x", "a{b}c", "{}x"]) {
      const t = transferKeyName(utf8(key));
      assert.ok(t !== null && slotOfString(fromUtf8(t)) === slotOfString(key), key);
    }
  } finally {
    await Promise.all([src.close(), dst.close(), srcText.close(), dstText.close()]);
    await a.stop();
    await b.stop();
  }
});

Deno.test("big keys: the look for collections finds exactly the hashes, sets, sorted sets and lists, with or without scripts", async () => {
  const server = await RedisServer.start();
  const admin = await server.client();
  try {
    const expected: string[] = [];
    const pipeline: (string | number)[][] = [];
    for (let i = 0; i < 5_000; i++) {
      pipeline.push(["SET", `s${i}`, "x"]);
      if (i % 50 === 0) {
        const type = ["hash", "set", "zset", "list"][(i / 50) % 4];
        const key = `${type}${i}`;
        pipeline.push(
          type === "hash"
            ? ["HSET", key, "f", "v"]
            : type === "set"
            ? ["SADD", key, "m"]
            : type === "zset"
            ? ["ZADD", key, 1, "m"]
            : ["RPUSH", key, "e"],
        );
        expected.push(key);
      }
    }
    pipeline.push(["XADD", "stream", "*", "f", "v"]);
    await admin.pipeline(pipeline);
    const look = async (c: RedisClient) => {
      const found = new Set<string>();
      for await (const keys of collectionKeys(c, 100)) for (const k of keys) found.add(fromUtf8(k));
      return [...found].sort();
    };
    // One pass in the server's script.
    const raw = await RedisClient.connect(server.addr, { raw: true });
    await admin.call("CONFIG", "RESETSTAT");
    assert.deepEqual(await look(raw), expected.sort());
    const stats = await admin.call("INFO", "commandstats") as string;
    assert.match(stats, /cmdstat_evalsha:calls=\d+/);
    await raw.close();
    // A user who may not run scripts: one SCAN … TYPE pass per type, the same keys.
    await admin.call("ACL", "SETUSER", "noscripts", "on", ">pw", "~*", "+@all", "-@scripting");
    const limited = await RedisClient.connect(server.addr, { raw: true });
    try {
      await limited.call("AUTH", "noscripts", "pw");
      assert.deepEqual(await look(limited), expected.sort());
    } finally {
      await limited.close();
    }
  } finally {
    await admin.close();
    await server.stop();
  }
});

// Adaptive pacing on too: the small keys of the slot move with it.
const CONFIG = { migration_async_maxbulks: 100, migration_latency_bound: "1ms" };

/** The slot's `group:state`. */
async function slotGroup(c: MigrationCluster, slot: number): Promise<string> {
  return (await slotStatesList(c))[slot];
}

/** Keys on a server whose name starts with the transfer prefix. */
async function leftovers(server: RedisServer): Promise<string[]> {
  const c = await server.client();
  try {
    return await c.call("KEYS", "__codis_transfer__*") as string[];
  } finally {
    await c.close();
  }
}

const TAG = "{big}";
const SLOT = slotOfString(TAG);
const TYPES = ["hash", "set", "zset", "list"] as const;
const N = 30_000;

Deno.test("big keys: a slot of big keys migrates under writes through two proxies; every write kept", async () => {
  const c = await startMigrationCluster("bigkeys", CONFIG);
  try {
    const loader = await RedisClient.connect(c.proxies[0].addr);
    for (const type of TYPES) await fill(loader, type, `${TAG}${type}`, N);
    await loader.call("EXPIRE", `${TAG}hash`, 3600);
    for (let i = 0; i < 200; i++) await loader.call("SET", `${TAG}n:${i}`, `n${i}`);
    await loader.close();
    // Slow enough (a pause after each chunk) that the writers below overlap the transfers.
    await adminOk(c.d, "--slot-action", "--interval=2000");

    const stop = { stopped: false };
    const acked = { hash: [] as number[], set: [] as number[], zset: [] as number[], list: [] as number[], n: 0 };
    const writer = async (w: number) => {
      const cl = await RedisClient.connect(c.proxies[w % 2].addr);
      try {
        for (let i = 0; !stop.stopped; i++) {
          const k = N + w * 1_000_000 + i;
          const type = TYPES[i % 4];
          if (type === "hash") await cl.call("HSET", `${TAG}hash`, `f${k}`, `v${k}`);
          else if (type === "set") await cl.call("SADD", `${TAG}set`, `e${k}`);
          else if (type === "zset") await cl.call("ZADD", `${TAG}zset`, k * 1.5, `m${k}`);
          else await cl.call("RPUSH", `${TAG}list`, `e${k}`);
          acked[type].push(k);
          // A neighbour of the same slot: flows while the big keys are held.
          assert.equal(await cl.call("SET", `${TAG}n:${i % 200}`, `w${w}.${i}`), "OK");
          assert.ok(String(await cl.call("GET", `${TAG}n:${i % 200}`)).length > 0);
          acked.n++;
        }
      } finally {
        await cl.close();
      }
    };
    const writers = [0, 1, 2, 3].map(writer);
    await waitFor(() => acked.n > 50, { what: "writers running" });
    await adminOk(c.d, "--slot-action", "--create-range", `--beg=${SLOT}`, `--end=${SLOT}`, "--gid=2");
    await waitFor(async () => await slotGroup(c, SLOT) === "2:", {
      timeoutMs: 180_000,
      intervalMs: 200,
      what: "slot moved",
    });
    await waitFor(() => acked.n > 200 + 50, { what: "writes after the move" });
    stop.stopped = true;
    await Promise.all(writers);

    const target = await c.masters[1].client();
    const source = await c.masters[0].client();
    try {
      for (const type of TYPES) {
        const key = `${TAG}${type}`;
        const got = await content(target, type, key) as string[];
        const want = [...Array(N).keys(), ...acked[type].sort((x, y) => x - y)];
        if (type === "list") {
          // Exactly the initial elements then each acknowledged push once, in order per writer.
          assert.equal(got.length, want.length, "list: nothing lost, nothing doubled");
          assert.deepEqual(got.slice(0, N), [...Array(N).keys()].map((k) => `e${k}`));
          assert.deepEqual([...got.slice(N)].sort(), acked.list.map((k) => `e${k}`).sort());
        } else if (type === "hash") {
          assert.equal(got.length, want.length, "hash: every field");
          assert.ok(await target.call("TTL", key) as number > 3000, "the hash keeps its TTL");
        } else {
          assert.equal(got.length / (type === "zset" ? 2 : 1), want.length, `${type}: every member`);
        }
        assert.equal(await source.call("EXISTS", key), 0, `${key} gone from the source`);
      }
      assert.deepEqual(await leftovers(c.masters[1]), [], "no temporary key on the target");
      assert.deepEqual(await leftovers(c.masters[0]), []);
    } finally {
      await target.close();
      await source.close();
    }
    const log = await Deno.readTextFile(c.dashboard.logPath);
    console.log(log.split("\n").filter((l) => l.includes("big key")).join("\n"));
    console.log(`acknowledged writes: ${acked.hash.length + acked.set.length + acked.zset.length + acked.list.length}`);
    for (const type of TYPES) assert.match(log, new RegExp(`big key \\{big\\}${type} \\(${type}, db 0\\) moved`));
  } finally {
    await c.stop();
  }
});

Deno.test("big keys: the dashboard SIGKILLed mid-transfer, restarted with --remove-lock: key intact, no temporary key", async () => {
  const c = await startMigrationCluster("bigkeys-kill", CONFIG);
  try {
    const loader = await RedisClient.connect(c.proxies[0].addr);
    await fill(loader, "hash", `${TAG}hash`, 100_000);
    const before = await content(loader, "hash", `${TAG}hash`);
    await loader.close();
    await adminOk(c.d, "--slot-action", "--interval=3000");
    await adminOk(c.d, "--slot-action", "--create-range", `--beg=${SLOT}`, `--end=${SLOT}`, "--gid=2");
    const target = await c.masters[1].client();
    try {
      // Half way: the temporary key has some of the fields.
      await waitFor(async () => {
        const t = await leftovers(c.masters[1]);
        return t.length === 1 && (await target.call("HLEN", t[0]) as number) > 2_000;
      }, { timeoutMs: 120_000, intervalMs: 50, what: "a transfer half way" });
      // The operator sees it: codis-admin and the stats name the key and its progress.
      await waitFor(
        async () =>
          /big key "\{big\}hash" \(hash, db 0, slot \d+\) moving in pieces: \d+ of 100000 elements/.test(
            await adminOk(c.d, "--slot-action", "--status"),
          ),
        { what: "the big key in --slot-action --status" },
      );
      await c.dashboard.kill("SIGKILL");
      // A client through a proxy still reads the key (from the source) while nobody moves it.
      const reader = await RedisClient.connect(c.proxies[1].addr);
      assert.equal(await reader.call("HGET", `${TAG}hash`, "f99999"), "v99999");
      await reader.close();
      await c.restartDashboard();
      await adminOk(c.d, "--slot-action", "--interval=0");
      await waitFor(async () => await slotGroup(c, SLOT) === "2:", {
        timeoutMs: 180_000,
        intervalMs: 200,
        what: "slot moved",
      });
      assert.deepEqual(await content(target, "hash", `${TAG}hash`), before, "the key intact on the target");
      assert.deepEqual(await leftovers(c.masters[1]), [], "no temporary key left");
      const source = await c.masters[0].client();
      assert.equal(await source.call("EXISTS", `${TAG}hash`), 0);
      await source.close();
    } finally {
      await target.close();
    }
  } finally {
    await c.stop();
  }
});

Deno.test("big keys: a proxy SIGKILLed mid-transfer: the next key's hold rolls back, and all completes once it is back", async () => {
  const c = await startMigrationCluster("bigkeys-proxy", CONFIG);
  try {
    const loader = await RedisClient.connect(c.proxies[0].addr);
    for (const type of ["hash", "set"] as const) await fill(loader, type, `${TAG}${type}`, 60_000);
    const before = {
      hash: await content(loader, "hash", `${TAG}hash`),
      set: await content(loader, "set", `${TAG}set`),
    };
    await loader.close();
    await adminOk(c.d, "--slot-action", "--interval=2000");
    await adminOk(c.d, "--slot-action", "--create-range", `--beg=${SLOT}`, `--end=${SLOT}`, "--gid=2");
    const target = await c.masters[1].client();
    const [a, b] = c.proxies;
    try {
      await waitFor(async () => (await leftovers(c.masters[1])).length === 1, {
        timeoutMs: 120_000,
        intervalMs: 50,
        what: "the first big key in transfer",
      });
      const first = (await leftovers(c.masters[1]))[0].endsWith("hash") ? "hash" : "set";
      const second = first === "hash" ? "set" : "hash";
      await b.kill("SIGKILL");
      // The first key is put in place; the second cannot start with a proxy down: the live proxy
      // is told to serve it from the source again, and writes to it go through.
      await waitFor(async () => await target.call("EXISTS", `${TAG}${first}`) === 1, {
        timeoutMs: 120_000,
        what: "the first key in place",
      });
      const writer = await RedisClient.connect(a.addr, { timeoutMs: 60_000 });
      try {
        const extra = second === "hash" ? ["HSET", `${TAG}hash`, "extra", "1"] : ["SADD", `${TAG}set`, "extra"];
        assert.equal(await writer.call(...extra), 1, "a write to the second big key while the proxy is down");
        assert.equal(await writer.call(first === "hash" ? "HLEN" : "SCARD", `${TAG}${first}`), 60_000);
      } finally {
        await writer.close();
      }
      assert.equal(await slotGroup(c, SLOT), "1:migrating", "the slot waits for the proxy");
      // The proxy comes back at the same address: re-onlined by the dashboard, and the move completes.
      c.proxies[1] = await ProxyProcess.start(c.dir, {
        product: c.product,
        online: [],
        port: b.port,
        adminPort: b.adminPort,
      });
      await waitFor(async () => await slotGroup(c, SLOT) === "2:", {
        timeoutMs: 180_000,
        intervalMs: 200,
        what: "slot moved",
      });
      const want = second === "hash"
        ? { hash: [...(before.hash as string[]), "extra=1"].sort(), set: before.set }
        : { hash: before.hash, set: [...(before.set as string[]), "extra"].sort() };
      assert.deepEqual(await content(target, "hash", `${TAG}hash`), want.hash);
      assert.deepEqual(await content(target, "set", `${TAG}set`), want.set);
      assert.deepEqual(await leftovers(c.masters[1]), []);
    } finally {
      await target.close();
    }
  } finally {
    await c.stop();
  }
});

Deno.test('big keys: with migration_method = "sync" every key moves with MIGRATE, as Codis\'s sync method', async () => {
  const c = await startMigrationCluster("bigkeys-sync", { ...CONFIG, migration_method: "sync" });
  try {
    const loader = await RedisClient.connect(c.proxies[0].addr);
    await fill(loader, "hash", `${TAG}hash`, 5_000);
    const before = await content(loader, "hash", `${TAG}hash`);
    await loader.close();
    await adminOk(c.d, "--slot-action", "--create-range", `--beg=${SLOT}`, `--end=${SLOT}`, "--gid=2");
    await waitFor(async () => await slotGroup(c, SLOT) === "2:", {
      timeoutMs: 120_000,
      intervalMs: 200,
      what: "slot moved",
    });
    const target = await c.masters[1].client();
    try {
      assert.deepEqual(await content(target, "hash", `${TAG}hash`), before);
    } finally {
      await target.close();
    }
    const log = await Deno.readTextFile(c.dashboard.logPath);
    assert.doesNotMatch(log, /big key/, "nothing moved in pieces");
  } finally {
    await c.stop();
  }
});
