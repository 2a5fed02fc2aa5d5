/** Real client libraries (ioredis, node-redis) used against the proxy as their users would. */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { createClient as createClient5 } from "redis5";
import { slotOfString } from "../../redis/slot_hash.ts";
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
      assert.deepEqual((await client.keys("io:*")).sort(), ["io:a", "io:h", "io:y", "io:z"]);
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

Deno.test({
  name: "ioredis: subscriber and publisher, MULTI/EXEC with WATCH, blocking pops, scanStream over 100,000 keys",
  ...sanitizers,
  fn: async () => {
    const cluster = await startCluster({ groups: 2 });
    const [host, port] = cluster.addr.split(":");
    const options = { host, port: Number(port), lazyConnect: true, maxRetriesPerRequest: 1 };
    const client = new Redis(options);
    const subscriber = new Redis(options);
    const blocker = new Redis(options);
    try {
      await Promise.all([client.connect(), subscriber.connect(), blocker.connect()]);
      // Pub/Sub: channels of both groups and a pattern.
      const got: string[] = [];
      subscriber.on("message", (channel: string, message: string) => got.push(`${channel}=${message}`));
      subscriber.on("pmessage", (_p: string, channel: string, message: string) => got.push(`p:${channel}=${message}`));
      assert.equal(await subscriber.subscribe("news", "sport", "weather"), 3);
      assert.equal(await subscriber.psubscribe("alert.*"), 4);
      assert.equal(await client.publish("news", "n1"), 1);
      assert.equal(await client.publish("weather", "w1"), 1);
      assert.equal(await client.publish("alert.fire", "a1"), 1);
      const deadline = Date.now() + 10_000;
      while (got.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(got.sort(), ["news=n1", "p:alert.fire=a1", "weather=w1"]);

      // Transactions: MULTI/EXEC, and WATCH that aborts when another client writes.
      const results = await client.multi().set("{acct}a", "10").incrby("{acct}a", 5).get("{acct}a").exec();
      assert.deepEqual(results, [[null, "OK"], [null, 15], [null, "15"]]);
      await client.watch("{acct}a");
      await blocker.set("{acct}a", "0");
      assert.equal(await client.multi().set("{acct}a", "99").exec(), null);
      assert.equal(await client.get("{acct}a"), "0");

      // Blocking pops: one waits while the other client pushes.
      const popped = blocker.blpop("jobs", 10);
      await new Promise((r) => setTimeout(r, 100));
      await client.rpush("jobs", "job-1");
      assert.deepEqual(await popped, ["jobs", "job-1"]);
      assert.equal(await blocker.brpop("nothing", 0.1), null);

      // scanStream over 100,000 keys spread over both groups: every key, each batch a page.
      const n = 100_000;
      for (let i = 0; i < n; i += 10_000) {
        const p = client.pipeline();
        for (let j = i; j < i + 10_000; j++) p.set(`scan:${j}`, "v");
        await p.exec();
      }
      const seen = new Set<string>();
      await new Promise<void>((resolve, reject) => {
        const stream = client.scanStream({ match: "scan:*", count: 1000 });
        stream.on("data", (keys: string[]) => keys.forEach((k) => seen.add(k)));
        stream.on("end", resolve);
        stream.on("error", reject);
      });
      assert.equal(seen.size, n);
    } finally {
      client.disconnect();
      subscriber.disconnect();
      blocker.disconnect();
      await cluster.stop();
    }
  },
});

Deno.test({
  name: "node-redis: subscriber and publisher, MULTI/EXEC, blocking pops, scanIterator",
  ...sanitizers,
  fn: async () => {
    const cluster = await startCluster({ groups: 2 });
    const client = createClient({ url: `redis://${cluster.addr}` });
    const subscriber = client.duplicate();
    const blocker = client.duplicate();
    for (const c of [client, subscriber, blocker]) c.on("error", () => {});
    try {
      await Promise.all([client.connect(), subscriber.connect(), blocker.connect()]);
      const got: string[] = [];
      await subscriber.subscribe(["orders", "payments"], (message, channel) => got.push(`${channel}=${message}`));
      await subscriber.pSubscribe("log.*", (message, channel) => got.push(`p:${channel}=${message}`));
      assert.equal(await client.publish("orders", "o1"), 1);
      assert.equal(await client.publish("payments", "p1"), 1);
      assert.equal(await client.publish("log.error", "e1"), 1);
      const deadline = Date.now() + 10_000;
      while (got.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(got.sort(), ["orders=o1", "p:log.error=e1", "payments=p1"]);

      const replies = await client.multi().set("{c}x", "1").incr("{c}x").exec();
      assert.deepEqual(replies, ["OK", 2]);
      const [low, high] = ["a", "b", "c", "d", "e", "f", "g", "h"].reduce<[string, string]>(
        ([l, h], k) => slotOfString(k) < 512 ? [l || k, h] : [l, h || k],
        ["", ""],
      );
      await assert.rejects(() => client.multi().set(low, "1").set(high, "2").exec(), /EXECABORT|CROSSSLOT/);
      assert.equal(await client.exists([low, high]), 0);

      const popped = blocker.blPop("queue", 10);
      await new Promise((r) => setTimeout(r, 100));
      await client.rPush("queue", "item");
      assert.deepEqual(await popped, { key: "queue", element: "item" });

      await Promise.all(Array.from({ length: 2000 }, (_, i) => client.set(`it:${i}`, "v")));
      const keys = new Set<string>();
      for await (const k of client.scanIterator({ MATCH: "it:*", COUNT: 500 })) keys.add(k);
      assert.equal(keys.size, 2000);
    } finally {
      for (const c of [client, subscriber, blocker]) await c.quit().catch(() => {});
      await cluster.stop();
    }
  },
});

Deno.test({
  name: "node-redis 5 in RESP3: typed replies, a subscriber on the same connection as commands, transactions",
  ...sanitizers,
  fn: async () => {
    const cluster = await startCluster({ groups: 2 });
    const client = createClient5({ url: `redis://${cluster.addr}`, RESP: 3 });
    const subscriber = client.duplicate();
    for (const c of [client, subscriber]) c.on("error", () => {});
    try {
      await Promise.all([client.connect(), subscriber.connect()]);
      await client.hSet("r3:h", { a: "1", b: "2" });
      assert.deepEqual({ ...(await client.hGetAll("r3:h")) }, { a: "1", b: "2" });
      await client.sAdd("r3:s", ["x", "y"]);
      const members = await client.sMembers("r3:s");
      assert.deepEqual([...members].sort(), ["x", "y"]);
      await client.zAdd("r3:z", [{ score: 1.5, value: "m" }]);
      assert.equal(await client.zScore("r3:z", "m"), 1.5);
      assert.equal(await client.get("r3:none"), null);
      assert.deepEqual(await client.mGet(["r3:none", "r3:h2"]), [null, null]);
      const got: string[] = [];
      await subscriber.subscribe("r3:chan", (message, channel) => got.push(`${channel}=${message}`));
      assert.equal(await client.publish("r3:chan", "hello"), 1);
      const deadline = Date.now() + 10_000;
      while (got.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(got, ["r3:chan=hello"]);
      // In RESP3 a subscribed connection still runs commands.
      assert.equal(await subscriber.ping(), "PONG");
      const replies = await client.multi().set("{r3}a", "1").incr("{r3}a").exec();
      assert.deepEqual(replies, ["OK", 2]);
    } finally {
      for (const c of [client, subscriber]) await c.quit().catch(() => {});
      await cluster.stop();
    }
  },
});
