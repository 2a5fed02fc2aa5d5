/**
 * Commands answered from every master: DBSIZE is the cluster's key count; SCRIPT LOAD puts a script
 * on every master so EVALSHA works whatever its keys' group; SCRIPT EXISTS and FLUSH answer for all.
 */

import assert from "node:assert/strict";
import { RespError } from "../../redis/resp_value.ts";
import { keyInSlots, startCluster } from "../_support/cluster.ts";

Deno.test("DBSIZE sums the masters; SCRIPT LOAD|EXISTS|FLUSH reach every master, so EVALSHA works on any slot", async () => {
  const cluster = await startCluster({ groups: 2 });
  const c = await cluster.client();
  try {
    assert.equal(await c.call("DBSIZE"), 0);
    await c.pipeline(Array.from({ length: 300 }, (_, i) => ["SET", `key:${i}`, i]));
    assert.equal(await c.call("DBSIZE"), 300);
    const perServer = await Promise.all(cluster.servers.map(async (s) => {
      const d = await s.client();
      try {
        return Number(await d.call("DBSIZE"));
      } finally {
        await d.close();
      }
    }));
    assert.ok(perServer.every((n) => n > 0), `keys on both groups: ${perServer}`);
    // In another database, its own count.
    await c.call("SELECT", 3);
    assert.equal(await c.call("DBSIZE"), 0);
    await c.call("SELECT", 0);
    await assert.rejects(c.call("DBSIZE", "x"), /wrong number of arguments for 'DBSIZE'/);

    const sha = await c.call("SCRIPT", "LOAD", "return redis.call('GET', KEYS[1])") as string;
    assert.match(sha, /^[0-9a-f]{40}$/);
    const a = keyInSlots(0, 511, "a");
    const b = keyInSlots(512, 1023, "b");
    await c.call("SET", a, "in-group-1");
    await c.call("SET", b, "in-group-2");
    assert.equal(await c.call("EVALSHA", sha, 1, a), "in-group-1");
    assert.equal(await c.call("EVALSHA", sha, 1, b), "in-group-2");
    assert.deepEqual(await c.call("SCRIPT", "EXISTS", sha, "0".repeat(40)), [1, 0]);
    assert.equal(await c.call("SCRIPT", "FLUSH"), "OK");
    assert.deepEqual(await c.call("SCRIPT", "EXISTS", sha), [0]);
    const gone = await c.send(["EVALSHA", sha, 1, a]);
    assert.ok(gone instanceof RespError && /^NOSCRIPT/.test(gone.message), String(gone));
    await assert.rejects(c.call("SCRIPT", "KILL"), /command 'SCRIPT KILL' is not allowed/);

    // RANDOMKEY: a key of some master; nil when the database is empty everywhere.
    const some = await c.call("RANDOMKEY");
    assert.ok(typeof some === "string" && await c.call("EXISTS", some) === 1, String(some));
    // FLUSHDB/FLUSHALL: refused by default.
    await assert.rejects(c.call("FLUSHALL"), /command 'FLUSHALL' is not allowed \(set proxy_allow_flush = true/);
    assert.ok(Number(await c.call("DBSIZE")) > 0, "nothing flushed");
    await cluster.proxy.applyConfig({ ...cluster.proxy.config, proxyAllowFlush: true });
    assert.equal(await c.call("FLUSHDB"), "OK");
    assert.equal(await c.call("DBSIZE"), 0, "every group emptied");
    assert.equal(await c.call("RANDOMKEY"), null);
    await assert.rejects(c.call("SCRIPT", "LOAD", "return 1 +"), /Error compiling script/);
  } finally {
    await c.close();
    await cluster.stop();
  }
});
