/**
 * Keyspace commands over the cluster: SCAN with a cursor that spans the groups (MATCH, COUNT,
 * TYPE; every key once a full iteration is done, also when a slot moves mid-iteration), KEYS
 * through SCAN, and INFO's keyspace section summed over the masters.
 */

import assert from "node:assert/strict";
import type { RedisClient } from "../../redis/redis_client.ts";
import { RespError } from "../../redis/resp_value.ts";
import { slotOfString } from "../../redis/slot_hash.ts";
import { startCluster } from "../_support/cluster.ts";
import type { RedisServer } from "../_support/servers.ts";

async function scanAll(c: RedisClient, ...opts: (string | number)[]): Promise<{ keys: Set<string>; calls: number }> {
  const keys = new Set<string>();
  let cursor = "0";
  let calls = 0;
  do {
    const [next, page] = await c.call("SCAN", cursor, ...opts) as [string, string[]];
    for (const k of page) keys.add(k);
    cursor = next;
    calls++;
  } while (cursor !== "0");
  return { keys, calls };
}

async function onServer(server: RedisServer, ...cmd: (string | number)[]): Promise<unknown> {
  const c = await server.client();
  try {
    return await c.call(...cmd);
  } finally {
    await c.close();
  }
}

Deno.test("SCAN iterates every group with one cursor; MATCH, COUNT, TYPE; KEYS; INFO keyspace summed", async () => {
  const cluster = await startCluster({ groups: 2 });
  const c = await cluster.client();
  try {
    const n = 5000;
    for (let i = 0; i < n; i += 500) {
      await c.pipeline(Array.from({ length: 500 }, (_, j) => ["SET", `key:${i + j}`, "v"]));
    }
    await c.pipeline(Array.from({ length: 50 }, (_, i) => ["HSET", `hash:${i}`, "f", "v"]));
    await c.call("EXPIRE", "key:1", 1000);
    const perServer = await Promise.all(cluster.servers.map((s) => onServer(s, "DBSIZE")));
    assert.ok(perServer.every((x) => Number(x) > 1000), `keys on both groups: ${perServer}`);

    const all = await scanAll(c);
    assert.equal(all.keys.size, n + 50);
    const matched = await scanAll(c, "MATCH", "hash:*", "COUNT", 1000);
    assert.equal(matched.keys.size, 50);
    const typed = await scanAll(c, "TYPE", "hash", "COUNT", 500);
    assert.deepEqual([...typed.keys].sort(), [...matched.keys].sort());
    const big = await scanAll(c, "COUNT", 1000);
    assert.ok(big.calls < all.calls / 5, `COUNT is passed on (${big.calls} calls with 1000, ${all.calls} with 10)`);
    assert.equal(big.keys.size, n + 50);

    // Errors: a cursor that is not one, a bad option (Redis's own error).
    const bad = await c.send(["SCAN", "abc"]);
    assert.ok(bad instanceof RespError && bad.message === "ERR invalid cursor", String(bad));
    const badOpt = await c.send(["SCAN", "0", "FOO"]);
    assert.ok(badOpt instanceof RespError && /syntax error/.test(badOpt.message), String(badOpt));
    await assert.rejects(c.call("SCAN"), /wrong number of arguments for 'SCAN'/);

    // KEYS: every match, once.
    const keys = await c.call("KEYS", "hash:*") as string[];
    assert.deepEqual([...keys].sort(), [...matched.keys].sort());
    assert.equal((await c.call("KEYS", "key:*") as string[]).length, n);
    assert.deepEqual(await c.call("KEYS", "nothing*"), []);

    // INFO keyspace: the sum over the masters.
    const info = String(await c.call("INFO", "keyspace"));
    assert.match(info, new RegExp(`^db0:keys=${n + 50},expires=1,avg_ttl=\\d+\\r$`, "m"));
    assert.match(String(await c.call("INFO")), new RegExp(`db0:keys=${n + 50},`));
    assert.equal(await c.call("DBSIZE"), n + 50);
    // Another database: its own keys.
    await c.call("SELECT", 2);
    assert.deepEqual((await scanAll(c)).keys.size, 0);
  } finally {
    await c.close();
    await cluster.stop();
  }
});

Deno.test("a slot that moves during an iteration: no key that existed throughout is missed", async () => {
  const cluster = await startCluster({ groups: 2 });
  const c = await cluster.client();
  try {
    const keys = Array.from({ length: 3000 }, (_, i) => `m:${i}`);
    await c.pipeline(keys.map((k) => ["SET", k, "v"]));
    const [g1, g2] = cluster.servers;
    // Scan group 1 to its end, then move a slot of group 2 (with its keys) to group 1.
    const seen = new Set<string>();
    let cursor = "0";
    for (;;) {
      const [next, page] = await c.call("SCAN", cursor, "COUNT", 100) as [string, string[]];
      for (const k of page) seen.add(k);
      cursor = next;
      if (seen.size > 0 && [...seen].every((k) => slotOfString(k) < 512) && page.length === 0) break;
      if ([...seen].some((k) => slotOfString(k) >= 512)) break;
      if (cursor === "0") break;
    }
    const moving = keys.filter((k) => slotOfString(k) >= 512 && !seen.has(k));
    const slot = slotOfString(moving[0]);
    const inSlot = keys.filter((k) => slotOfString(k) === slot);
    await cluster.fillMove(slot, 2, 1, "migrating");
    const reply = await onServer(g2, "MIGRATE", "127.0.0.1", g1.port, "", 0, 5000, "KEYS", ...inSlot);
    assert.equal(reply, "OK");
    await cluster.fillMove(slot, 2, 1, "done");
    // Go on to the end: the moved keys are found in a second, filtered pass.
    while (cursor !== "0") {
      const [next, page] = await c.call("SCAN", cursor, "COUNT", 100) as [string, string[]];
      for (const k of page) seen.add(k);
      cursor = next;
    }
    const missed = keys.filter((k) => !seen.has(k));
    assert.deepEqual(missed, []);
    assert.ok(inSlot.length > 0);
  } finally {
    await c.close();
    await cluster.stop();
  }
});
