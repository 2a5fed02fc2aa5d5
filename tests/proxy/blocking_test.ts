/**
 * Blocking commands through the proxy: each waits on a dedicated connection to its slot's master,
 * is served by a push from another client, times out as Redis does, frees its connection when the
 * client leaves, and ends with TRYAGAIN (nothing popped) when its slot moves while it waits.
 */

import assert from "node:assert/strict";
import { RespError } from "../../redis/resp_value.ts";
import { slotOfString } from "../../redis/slot_hash.ts";
import { keyInSlots, startCluster, type TestCluster } from "../_support/cluster.ts";
import { RedisServer, waitFor } from "../_support/servers.ts";

/** Clients of `server` blocked on a command (INFO clients). */
async function blockedOn(server: RedisServer): Promise<number> {
  const c = await server.client();
  try {
    const info = String(await c.call("INFO", "clients"));
    return Number(/blocked_clients:(\d+)/.exec(info)?.[1] ?? -1);
  } finally {
    await c.close();
  }
}

function dedicatedInUse(cluster: TestCluster): number {
  let n = 0;
  for (const s of cluster.proxy.router.primary.servers()) n += s.dedicated.inUse;
  return n;
}

Deno.test("blocking pops wait on their own connection, are served by pushes, time out, and never stall other clients", async () => {
  const cluster = await startCluster({ groups: 2 });
  const waiter = await cluster.client({ timeoutMs: 20_000 });
  const pusher = await cluster.client();
  try {
    const a = keyInSlots(0, 511, "list");
    const b = keyInSlots(512, 1023, "list");
    // Timeout: nil after ~0.2 s.
    const t0 = performance.now();
    assert.equal(await waiter.call("BLPOP", a, "0.2"), null);
    assert.ok(performance.now() - t0 >= 150);

    // A BLPOP waits while the same client's other connection and others are served at once.
    const popped = waiter.send(["BLPOP", a, 0]);
    await waitFor(async () => await blockedOn(cluster.servers[0]) === 1, { what: "BLPOP blocked on group 1" });
    for (let i = 0; i < 50; i++) assert.equal(await pusher.call("SET", `other${i}`, i), "OK");
    assert.equal(await pusher.call("RPUSH", a, "x"), 1);
    assert.deepEqual(await popped, [a, "x"]);

    // Every blocking command of the table, served by a push.
    const z = keyInSlots(0, 511, "zset");
    const dst = keyInSlots(0, 511, "dst");
    const stream = keyInSlots(512, 1023, "stream");
    const cases: { cmd: (string | number)[]; push: (string | number)[]; expect: unknown }[] = [
      { cmd: ["BRPOP", a, 5], push: ["RPUSH", a, "r"], expect: [a, "r"] },
      { cmd: ["BLMOVE", a, dst, "LEFT", "RIGHT", 5], push: ["RPUSH", a, "m"], expect: "m" },
      { cmd: ["BRPOPLPUSH", a, dst, 5], push: ["RPUSH", a, "p"], expect: "p" },
      { cmd: ["BLMPOP", 5, 1, a, "LEFT"], push: ["RPUSH", a, "q"], expect: [a, ["q"]] },
      { cmd: ["BZPOPMIN", z, 5], push: ["ZADD", z, 1, "one"], expect: [z, "one", "1"] },
      { cmd: ["BZPOPMAX", z, 5], push: ["ZADD", z, 2, "two"], expect: [z, "two", "2"] },
      { cmd: ["BZMPOP", 5, 1, z, "MIN"], push: ["ZADD", z, 3, "three"], expect: [z, [["three", "3"]]] },
    ];
    for (const c of cases) {
      const pending = waiter.send(c.cmd);
      const server = cluster.servers[0];
      await waitFor(async () => await blockedOn(server) === 1, { what: `${c.cmd[0]} blocked` });
      await pusher.call(...c.push);
      assert.deepEqual(await pending, c.expect, String(c.cmd[0]));
    }
    // XREAD BLOCK on group 2.
    const read = waiter.send(["XREAD", "BLOCK", 5000, "STREAMS", stream, "$"]);
    await waitFor(async () => await blockedOn(cluster.servers[1]) === 1, { what: "XREAD BLOCK blocked" });
    const id = await pusher.call("XADD", stream, "*", "f", "v");
    assert.deepEqual(await read, [[stream, [[id, ["f", "v"]]]]]);
    assert.deepEqual(await waiter.call("XREAD", "BLOCK", 100, "STREAMS", stream, "$"), null);

    // Keys of two groups: CROSSSLOT, nothing blocks.
    const cross = await waiter.send(["BLPOP", a, b, 1]);
    assert.ok(cross instanceof RespError && /^CROSSSLOT/.test(cross.message), String(cross));
    // Errors come from Redis as they would directly.
    const wrong = await waiter.send(["BLPOP", a, "notanumber"]);
    assert.ok(wrong instanceof RespError && /timeout is not a float or out of range/.test(wrong.message));
    await pusher.call("SET", keyInSlots(0, 511, "str"), "v");
    const wrongType = await waiter.send(["BLPOP", keyInSlots(0, 511, "str"), 1]);
    assert.ok(wrongType instanceof RespError && /^WRONGTYPE/.test(wrongType.message));

    // Connections went back to the pool.
    await waitFor(() => dedicatedInUse(cluster) === 0, { what: "dedicated connections given back" });
  } finally {
    await waiter.close();
    await pusher.close();
    await cluster.stop();
  }
});

Deno.test("a client that disconnects while blocked frees its connection at once; 1,000 blocked clients at once", async () => {
  const cluster = await startCluster({ groups: 2, config: { proxyMaxClients: 2000 } });
  const pusher = await cluster.client();
  try {
    const a = keyInSlots(0, 511, "q");
    const gone = await cluster.client();
    void gone.send(["BLPOP", a, 0]).catch(() => {});
    await waitFor(async () => await blockedOn(cluster.servers[0]) === 1, { what: "BLPOP blocked" });
    await gone.close();
    await waitFor(async () => await blockedOn(cluster.servers[0]) === 0, { what: "the server forgetting the BLPOP" });
    assert.equal(dedicatedInUse(cluster), 0);
    // The element pushed afterwards is not lost to the departed client.
    await pusher.call("RPUSH", a, "kept");
    assert.deepEqual(await pusher.call("LRANGE", a, 0, -1), ["kept"]);
    await pusher.call("DEL", a);

    // 1,000 clients blocked on 1,000 lists over both groups, all served.
    const n = 1000;
    const clients = await Promise.all(Array.from({ length: n }, () => cluster.client({ timeoutMs: 60_000 })));
    try {
      const keys = Array.from({ length: n }, (_, i) => `many:${i}`);
      const pops = clients.map((c, i) => c.send(["BLPOP", keys[i], 0]));
      pops.forEach((p) => p.catch(() => {})); // awaited below; a failure must not go unhandled meanwhile
      await waitFor(async () => (await blockedOn(cluster.servers[0])) + (await blockedOn(cluster.servers[1])) === n, {
        timeoutMs: 60_000,
        what: `${n} clients blocked`,
      });
      assert.equal(dedicatedInUse(cluster), n);
      await pusher.pipeline(keys.map((k, i) => ["RPUSH", k, `v${i}`]));
      const got = await Promise.all(pops);
      got.forEach((g, i) => assert.deepEqual(g, [keys[i], `v${i}`]));
      await waitFor(() => dedicatedInUse(cluster) === 0, { what: "connections given back" });
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  } finally {
    await pusher.close();
    await cluster.stop();
  }
});

Deno.test("over backend_max_dedicated, a blocking command gets a clear error and nothing else suffers", async () => {
  const cluster = await startCluster({ groups: 1, config: { backendMaxDedicated: 2 } });
  const clients = await Promise.all([0, 1, 2].map(() => cluster.client()));
  try {
    const first = clients[0].send(["BLPOP", "k1", 0]);
    const second = clients[1].send(["BLPOP", "k2", 0]);
    await waitFor(async () => await blockedOn(cluster.servers[0]) === 2, { what: "two blocked" });
    const third = await clients[2].send(["BLPOP", "k3", 0]);
    assert.ok(
      third instanceof RespError &&
        /too many dedicated connections .* \(backend_max_dedicated = 2\)/.test(third.message),
      String(third),
    );
    assert.equal(await clients[2].call("RPUSH", "k1", "a"), 1);
    assert.equal(await clients[2].call("RPUSH", "k2", "b"), 1);
    assert.deepEqual(await first, ["k1", "a"]);
    assert.deepEqual(await second, ["k2", "b"]);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await cluster.stop();
  }
});

Deno.test("a slot that moves while a BLPOP waits on it: TRYAGAIN, nothing popped, and the next BLPOP waits on the new owner", async () => {
  const cluster = await startCluster({ groups: 2 });
  const waiter = await cluster.client({ timeoutMs: 20_000 });
  const pusher = await cluster.client();
  try {
    const key = keyInSlots(0, 511, "moving");
    const slot = slotOfString(key);
    const pending = waiter.send(["BLPOP", key, 0]);
    await waitFor(async () => await blockedOn(cluster.servers[0]) === 1, { what: "BLPOP blocked" });
    // The slot starts migrating to group 2 (as the dashboard's barrier would push it).
    await cluster.fillMove(slot, 1, 2, "migrating");
    const reply = await pending;
    assert.ok(reply instanceof RespError && /^TRYAGAIN slot \d+ is moving .* nothing was taken/.test(reply.message));
    assert.equal(await blockedOn(cluster.servers[0]), 0);
    // Retried: it waits on the target now, and a push (moved there by the proxy) serves it.
    const again = waiter.send(["BLPOP", key, 0]);
    await waitFor(async () => await blockedOn(cluster.servers[1]) === 1, { what: "BLPOP blocked on the target" });
    await pusher.call("RPUSH", key, "after");
    assert.deepEqual(await again, [key, "after"]);
  } finally {
    await waiter.close();
    await pusher.close();
    await cluster.stop();
  }
});

Deno.test("WAIT counts the replicas of the group the client last wrote to", async () => {
  const master = await RedisServer.start();
  const replica = await RedisServer.start({ args: ["--replicaof", "127.0.0.1", String(master.port)] });
  const cluster = await startCluster({ servers: [master] });
  const c = await cluster.client();
  try {
    await waitFor(async () => {
      const r = await replica.client();
      try {
        return /master_link_status:up/.test(String(await r.call("INFO", "replication")));
      } finally {
        await r.close();
      }
    }, { what: "the replica in sync" });
    assert.equal(await c.call("SET", "w", "1"), "OK");
    assert.equal(await c.call("WAIT", 1, 5000), 1);
    // The replica left: the write cannot be acknowledged, WAIT times out with 0.
    const r = await replica.client();
    await r.call("REPLICAOF", "NO", "ONE");
    await r.close();
    await waitFor(async () => {
      const m = await master.client();
      try {
        return /connected_slaves:0/.test(String(await m.call("INFO", "replication")));
      } finally {
        await m.close();
      }
    }, { what: "the master without replicas" });
    assert.equal(await c.call("SET", "w", "2"), "OK");
    const t0 = performance.now();
    assert.equal(await c.call("WAIT", 1, 300), 0);
    assert.ok(performance.now() - t0 >= 250);
    await assert.rejects(c.call("WAIT", 1), /wrong number of arguments for 'WAIT'/);
  } finally {
    await c.close();
    await cluster.stop();
    await replica.stop();
    await master.stop();
  }
});
