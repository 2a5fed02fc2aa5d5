import assert from "node:assert/strict";
import { RedisClient } from "../../redis/redis_client.ts";
import { parseInfo } from "../../redis/redis_client.ts";
import { offlineSlot } from "../../coord/models.ts";
import { startCluster } from "../_support/cluster.ts";
import { RedisServer, waitFor } from "../_support/servers.ts";

async function commandCalls(server: RedisServer, command: string): Promise<number> {
  const c = await server.client();
  try {
    const info = parseInfo(await c.call("INFO", "commandstats") as string);
    const m = /calls=(\d+)/.exec(info[`cmdstat_${command}`] ?? "");
    return m ? Number(m[1]) : 0;
  } finally {
    await c.close();
  }
}

Deno.test("reads go to a replica group; a MASTERDOWN replica is skipped until it recovers", async () => {
  const cluster = await startCluster({ groups: 1, config: { backendPingPeriod: 1000 } });
  const master = cluster.servers[0];
  const replica = await RedisServer.start({ args: ["--replica-serve-stale-data", "no"] });
  const c = await cluster.client();
  try {
    const r = await replica.client();
    await r.call("REPLICAOF", "127.0.0.1", master.port);
    await waitFor(async () => parseInfo(await r.call("INFO", "replication") as string).master_link_status === "up", {
      what: "replication",
    });
    await r.close();
    const specs = Array.from({ length: 1024 }, (_, id) => ({
      ...offlineSlot(id),
      backendAddr: master.addr,
      backendAddrGroupId: 1,
      replicaGroups: [[replica.addr]],
    }));
    await cluster.proxy.fillSlots(specs);
    assert.equal(await c.call("SET", "rk", "v"), "OK");
    // Replication is asynchronous: wait until the replica has the key.
    const direct = await replica.client();
    await waitFor(async () => await direct.call("GET", "rk") === "v", { what: "the key on the replica" });
    await direct.close();
    // The replica's connection warms up on first use; reads then go to it (and, replication being
    // asynchronous, see the key once the replica has it).
    await waitFor(async () => {
      const v = await c.call("GET", "rk");
      return v === "v" && await commandCalls(replica, "get") > 0;
    }, { what: "a GET served by the replica, with the key replicated" });
    const masterGets = await commandCalls(master, "get");
    for (let i = 0; i < 20; i++) assert.equal(await c.call("GET", "rk"), "v");
    assert.equal(await commandCalls(master, "get"), masterGets, "no GET went to the master");
    // Writes always go to the master.
    assert.equal(await c.call("INCR", "counter"), 1);

    // Break replication: the replica answers MASTERDOWN; the proxy passes that reply on once,
    // marks the replica stale, and reads go to the master.
    const rr = await replica.client();
    await rr.call("REPLICAOF", "127.0.0.1", 1);
    await rr.close();
    await waitFor(async () => {
      const reply = await c.send(["GET", "rk"]);
      return reply === "v" && await commandCalls(master, "get") > masterGets;
    }, { what: "reads to fall back to the master" });
    for (let i = 0; i < 5; i++) assert.equal(await c.call("GET", "rk"), "v");

    // Repair replication: the keepalive INFO notices and reads return to the replica.
    const r2 = await replica.client();
    await r2.call("REPLICAOF", "127.0.0.1", master.port);
    await r2.close();
    const replicaGets = await commandCalls(replica, "get");
    await waitFor(async () => {
      await c.call("GET", "rk");
      return await commandCalls(replica, "get") > replicaGets + 1;
    }, { what: "reads to return to the replica" });
  } finally {
    await c.close();
    await replica.stop();
    await cluster.stop();
  }
});

Deno.test("backend_primary_only keeps reads on the master", async () => {
  const cluster = await startCluster({ groups: 1, config: { backendPrimaryOnly: true } });
  const replica = await RedisServer.start();
  const c = await cluster.client();
  try {
    const specs = Array.from({ length: 1024 }, (_, id) => ({
      ...offlineSlot(id),
      backendAddr: cluster.servers[0].addr,
      replicaGroups: [[replica.addr]],
    }));
    await cluster.proxy.fillSlots(specs);
    await c.call("SET", "k", "v");
    for (let i = 0; i < 10; i++) assert.equal(await c.call("GET", "k"), "v");
    assert.equal(await commandCalls(replica, "get"), 0);
    assert.equal(cluster.proxy.router.specs()[0].replicaGroups.length, 0);
  } finally {
    await c.close();
    await replica.stop();
    await cluster.stop();
  }
});

Deno.test("a wrong product_auth gives clients a clear error naming the backend", async () => {
  const cluster = await startCluster({ password: "right" });
  const c = await cluster.client();
  try {
    const addr = cluster.servers[0].addr;
    // Re-point slot 289 ("foo") at the same server through a proxy whose password is wrong.
    const { startProxy } = await import("../../proxy/proxy.ts");
    const { DEFAULT_PROXY_CONFIG } = await import("../../proxy/config.ts");
    const wrong = await startProxy({
      config: { ...DEFAULT_PROXY_CONFIG, proxyAddr: "127.0.0.1:0", adminAddr: "127.0.0.1:0", productAuth: "wrong" },
      fillSlots: [{ ...offlineSlot(289), backendAddr: addr }],
    });
    try {
      const w = await RedisClient.connect(wrong.model.proxyAddr);
      try {
        const reply = await w.send(["GET", "foo"]);
        assert.match(
          String(reply),
          /^ERR handle response, backend conn failure, AUTH to 127\.0\.0\.1:\d+ failed: WRONGPASS/,
        );
      } finally {
        await w.close();
      }
    } finally {
      await wrong.close();
    }
  } finally {
    await c.close();
    await cluster.stop();
  }
});

Deno.test("a server that accepts but never answers the login: clients get an error, the proxy lives on", async () => {
  // A frozen Redis (SIGSTOP), as a master that hangs before its sentinels fail it over.
  const frozen = await RedisServer.start();
  const { startProxy } = await import("../../proxy/proxy.ts");
  const { DEFAULT_PROXY_CONFIG } = await import("../../proxy/config.ts");
  const proxy = await startProxy({
    config: { ...DEFAULT_PROXY_CONFIG, proxyAddr: "127.0.0.1:0", adminAddr: "127.0.0.1:0", productAuth: "secret" },
    fillSlots: [{ ...offlineSlot(289), backendAddr: frozen.addr }],
  });
  const pid = frozen.pid;
  Deno.kill(pid, "SIGSTOP");
  try {
    const c = await RedisClient.connect(proxy.model.proxyAddr, { timeoutMs: 30_000 });
    try {
      // The login times out (the handshake closes its connection); the request fails with the reason.
      const reply = await c.send(["GET", "foo"]);
      assert.match(String(reply), /backend conn failure, login to 127\.0\.0\.1:\d+ failed: no reply to AUTH within/);
      assert.ok(!proxy.closed);
      // Still serving (a crash here used to take the whole proxy down).
      const res = await fetch(`http://${proxy.model.adminAddr}/proxy/model`);
      assert.equal(res.status, 200);
      await res.body?.cancel();
    } finally {
      await c.close();
    }
  } finally {
    Deno.kill(pid, "SIGCONT");
    await proxy.close();
    await frozen.stop();
  }
});

Deno.test("a graceful shutdown answers requests already in flight", async () => {
  const cluster = await startCluster({ groups: 1 });
  const c = await cluster.client();
  try {
    await c.call("SET", "k", "v");
    Deno.kill(cluster.servers[0].pid, "SIGSTOP");
    const inflight = c.send(["GET", "k"]);
    await waitFor(() => cluster.proxy.stats.total >= 2, { what: "the request to reach the proxy" });
    const closing = cluster.proxy.close(10_000);
    // The proxy has stopped accepting (so it is draining) before the server answers again.
    await waitFor(() => RedisClient.connect(cluster.proxy.model.proxyAddr).then((c) => c.close(), () => true), {
      what: "the proxy to stop accepting",
    });
    Deno.kill(cluster.servers[0].pid, "SIGCONT");
    assert.equal(await inflight, "v");
    await closing;
    await assert.rejects(() => c.call("PING"));
  } finally {
    Deno.kill(cluster.servers[0].pid, "SIGCONT");
    await c.close();
    await cluster.stop();
  }
});

Deno.test("backend_primary_parallel opens that many connections per server and spreads sessions over them", async () => {
  const cluster = await startCluster({ groups: 1, config: { backendPrimaryParallel: 3 } });
  const clients = await Promise.all(Array.from({ length: 6 }, () => cluster.client()));
  try {
    await Promise.all(clients.map(async (c, i) => {
      for (let j = 0; j < 50; j++) await c.call("SET", `par:${i}:${j}`, String(j));
    }));
    const direct = await cluster.servers[0].client();
    const list = (await direct.call("CLIENT", "LIST") as string).trim().split("\n");
    assert.equal(list.length - 1, 3, "three proxy connections besides ours");
    assert.equal(await direct.call("GET", "par:5:49"), "49");
    await direct.close();
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await cluster.stop();
  }
});
