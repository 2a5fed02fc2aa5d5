/** Real client libraries (ioredis, node-redis) used against the proxy as their users would. */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { startCluster } from "../_support/cluster.ts";

const sanitizers = { sanitizeOps: false, sanitizeResources: false }; // the libraries keep timers

Deno.test({
  name: "ioredis works through the proxy: commands, pipelines, cross-slot MGET, errors",
  ...sanitizers,
  fn: async () => {
    const cluster = await startCluster({ config: { sessionAuth: "pw" } });
    const [host, port] = cluster.addr.split(":");
    const client = new Redis({
      host,
      port: Number(port),
      password: "pw",
      db: 2,
      lazyConnect: true,
      maxRetriesPerRequest: 1,
    });
    try {
      await client.connect();
      assert.equal(await client.set("io:a", "1"), "OK");
      assert.equal(await client.incr("io:a"), 2);
      await client.hset("io:h", { f1: "v1", f2: "v2" });
      assert.deepEqual(await client.hgetall("io:h"), { f1: "v1", f2: "v2" });
      await client.mset({ "io:x": "x", "io:y": "y", "io:z": "z" });
      assert.deepEqual(await client.mget("io:x", "io:y", "io:z", "io:none"), ["x", "y", "z", null]);
      const results = await client.pipeline().set("io:p", "1").incr("io:p").get("io:p").del("io:p", "io:x").exec();
      assert.deepEqual(results, [[null, "OK"], [null, 2], [null, "2"], [null, 2]]);
      await assert.rejects(() => client.keys("*"), /command 'KEYS' is not allowed/);
      await client.zadd("io:z1", 1, "a", 2, "b");
      assert.deepEqual(await client.zrange("io:z1", 0, -1, "WITHSCORES"), ["a", "1", "b", "2"]);
      assert.equal(await client.eval("return redis.call('GET', KEYS[1])", 1, "io:a"), "2");
    } finally {
      client.disconnect();
      await cluster.stop();
    }
  },
});

Deno.test({
  name: "node-redis works through the proxy: commands, multi-key, pipelining, errors",
  ...sanitizers,
  fn: async () => {
    const cluster = await startCluster({ config: { sessionAuth: "pw" } });
    const client = createClient({ url: `redis://:pw@${cluster.addr}/1` });
    client.on("error", () => {});
    try {
      await client.connect();
      assert.equal(await client.set("nr:a", "1"), "OK");
      assert.equal(await client.incrBy("nr:a", 5), 6);
      await client.mSet({ "nr:x": "x", "nr:y": "y" });
      assert.deepEqual(await client.mGet(["nr:x", "nr:y", "nr:none"]), ["x", "y", null]);
      const replies = await Promise.all(Array.from({ length: 500 }, (_, i) => client.set(`nr:k${i}`, String(i))));
      assert.equal(replies.length, 500);
      assert.equal(await client.exists(["nr:k1", "nr:k2", "nr:none"]), 2);
      assert.equal(await client.del(Array.from({ length: 500 }, (_, i) => `nr:k${i}`)), 500);
      await client.rPush("nr:l", ["a", "b", "c"]);
      assert.deepEqual(await client.lRange("nr:l", 0, -1), ["a", "b", "c"]);
      await assert.rejects(() => client.flushAll(), /command 'FLUSHALL' is not allowed/);
      assert.equal(await client.ping(), "PONG");
    } finally {
      await client.quit().catch(() => {});
      await cluster.stop();
    }
  },
});
