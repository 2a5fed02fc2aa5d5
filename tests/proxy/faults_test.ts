import assert from "node:assert/strict";
import { RedisClient } from "../../redis/redis_client.ts";
import { RespError } from "../../redis/resp_value.ts";
import { slotOfString } from "../../redis/slot_hash.ts";
import { startCluster } from "../_support/cluster.ts";
import { waitFor } from "../_support/servers.ts";

/** A key whose slot is served by group `g` (1 or 2) of a two-group test cluster. */
function keyOnGroup(g: number, i: number): string {
  for (let n = i * 1000;; n++) {
    const k = `fault:${n}`;
    if ((slotOfString(k) < 512) === (g === 1)) return k;
  }
}

/** Connections a Redis server has open, not counting the asker's own. */
async function connectedClients(client: RedisClient): Promise<number> {
  const list = await client.call("CLIENT", "LIST") as string;
  return list.trim().split("\n").length - 1;
}

Deno.test("a backend killed and restarted under traffic: errors, then recovery, no hang, no leak", async () => {
  const cluster = await startCluster({ config: { backendPingPeriod: 1000 } });
  const [g1, g2] = cluster.servers;
  const clients = await Promise.all(Array.from({ length: 8 }, () => cluster.client({ timeoutMs: 15_000 })));
  let running = true;
  const outcomes = { ok1: 0, ok2: 0, errors1: 0, errors2: 0, messages: new Set<string>() };
  const loops = clients.map(async (c, i) => {
    let n = 0;
    while (running) {
      const g = (n++ % 2) + 1;
      const key = keyOnGroup(g, i);
      const r = await c.send(["INCR", key]); // a hang would reject after 15 s and fail the test
      if (r instanceof RespError) {
        outcomes.messages.add(r.message.replace(/,.*/, ""));
        if (g === 1) outcomes.errors1++;
        else outcomes.errors2++;
      } else if (g === 1) outcomes.ok1++;
      else outcomes.ok2++;
    }
  });
  const stopTraffic = async () => {
    running = false;
    await Promise.all(loops);
    await Promise.all(clients.map((c) => c.close()));
  };
  try {
    await waitFor(() => outcomes.ok1 > 100 && outcomes.ok2 > 100, { what: "traffic on both groups" });
    await g1.kill("SIGKILL");
    await waitFor(() => outcomes.errors1 > 20, { what: "errors for the killed group" });
    const ok2AtKill = outcomes.ok2;
    await waitFor(() => outcomes.ok2 > ok2AtKill + 100, { what: "the other group to keep serving" });
    await g1.restart();
    const ok1AtRestart = outcomes.ok1;
    await waitFor(() => outcomes.ok1 > ok1AtRestart + 100, { what: "the restarted group to serve again" });
    assert.equal(outcomes.errors2, 0);
    for (const m of outcomes.messages) {
      assert.match(m, /^ERR handle (response|request)$/, `error text: ${m}`);
    }
    await stopTraffic();
    // No leak: every session ends, and the proxy holds one connection per server and database used.
    await waitFor(() => cluster.proxy.sessionCount === 0, { what: "sessions to close" });
    for (const g of [g1, g2]) {
      const admin = await g.client();
      try {
        assert.equal(await connectedClients(admin), 1);
      } finally {
        await admin.close();
      }
    }
  } finally {
    await stopTraffic();
    await cluster.stop();
  }
});

Deno.test("a backend that stops answering fails requests after backend_recv_timeout instead of hanging", async () => {
  const cluster = await startCluster({ config: { backendRecvTimeout: 1000, backendPingPeriod: 0 } });
  const c = await cluster.client({ timeoutMs: 20_000 });
  const key = keyOnGroup(1, 0);
  try {
    assert.equal(await c.call("SET", key, "v"), "OK");
    Deno.kill(cluster.servers[0].pid, "SIGSTOP");
    const r = await c.send(["GET", key]);
    assert.ok(r instanceof RespError);
    assert.match(r.message, /^ERR handle response, backend conn failure, no reply within 1000 ms/);
    assert.equal(await c.call("SET", keyOnGroup(2, 0), "still-served"), "OK");
  } finally {
    Deno.kill(cluster.servers[0].pid, "SIGCONT");
  }
  try {
    await waitFor(async () => await c.call("GET", key) === "v", { what: "recovery" });
  } finally {
    await c.close();
    await cluster.stop();
  }
});

Deno.test("a client that disconnects mid-pipeline leaves nothing behind", async () => {
  const cluster = await startCluster();
  try {
    const before = await cluster.servers.reduce(async (acc, s) => {
      const c = await s.client();
      const n = await connectedClients(c);
      await c.close();
      return (await acc) + n;
    }, Promise.resolve(0));
    for (let round = 0; round < 5; round++) {
      const [host, port] = cluster.addr.split(":");
      const conn = await Deno.connect({ hostname: host, port: Number(port) });
      const frames = Array.from(
        { length: 10_000 },
        (_, i) => `*3\r\n$3\r\nSET\r\n$7\r\nmid:${String(i).padStart(3, "0")}\r\n$1\r\nx\r\n`,
      ).join("");
      await conn.write(new TextEncoder().encode(frames));
      conn.close();
    }
    await waitFor(() => cluster.proxy.sessionCount === 0, { what: "the sessions to end" });
    const c = await cluster.client();
    assert.equal(await c.call("SET", "after", "1"), "OK");
    assert.equal(await c.call("GET", "after"), "1");
    await c.close();
    const after = await cluster.servers.reduce(async (acc, s) => {
      const c = await s.client();
      const n = await connectedClients(c);
      await c.close();
      return (await acc) + n;
    }, Promise.resolve(0));
    assert.ok(after <= Math.max(before, 2), `backend connections: ${before} before, ${after} after`);
  } finally {
    await cluster.stop();
  }
});

Deno.test("a client that trickles a frame byte by byte does not hold up others", async () => {
  const cluster = await startCluster();
  const fast = await cluster.client();
  const [host, port] = cluster.addr.split(":");
  const slow = await Deno.connect({ hostname: host, port: Number(port) });
  try {
    const frame = new TextEncoder().encode("*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n");
    // Every byte but the last, one at a time (each one read by the proxy on its own).
    for (let i = 0; i < frame.length - 1; i++) {
      await slow.write(frame.subarray(i, i + 1));
      await new Promise((r) => setTimeout(r, 20));
    }
    // The incomplete frame holds up nobody: other clients are served at full speed.
    for (let i = 0; i < 200; i++) assert.equal(await fast.call("SET", `fast:${i}`, "v"), "OK");
    await slow.write(frame.subarray(frame.length - 1));
    const buf = new Uint8Array(64);
    const n = await slow.read(buf);
    assert.equal(new TextDecoder().decode(buf.subarray(0, n ?? 0)), "$2\r\nhi\r\n");
  } finally {
    slow.close();
    await fast.close();
    await cluster.stop();
  }
});

Deno.test("session_recv_timeout drops idle clients", async () => {
  const cluster = await startCluster({ config: { sessionRecvTimeout: 1000 } });
  const c = await cluster.client();
  try {
    assert.equal(await c.call("PING"), "PONG");
    await waitFor(() => cluster.proxy.sessionCount === 0, { what: "the idle session to be dropped" });
    await assert.rejects(() => c.call("PING"));
  } finally {
    await c.close();
    await cluster.stop();
  }
});

Deno.test("requests to an offline slot fail with Codis's error", async () => {
  const cluster = await startCluster();
  const c = await cluster.client();
  try {
    await cluster.proxy.fillSlots([{ ...cluster.proxy.router.specs()[289], backendAddr: "", backendAddrGroupId: 0 }]);
    const r = await c.send(["GET", "foo"]); // slot 289
    assert.equal((r as RespError).message, "ERR handle request, slot is not ready, may be offline");
    assert.deepEqual(
      await c.send(["MGET", "foo", "bar"]),
      new RespError("ERR handle request, slot is not ready, may be offline"),
    );
  } finally {
    await c.close();
    await cluster.stop();
  }
});

Deno.test("a locked slot holds requests until it is unlocked, then serves them in order", async () => {
  const cluster = await startCluster();
  const c = await cluster.client();
  try {
    const spec = cluster.proxy.router.specs()[289];
    await cluster.proxy.fillSlots([{ ...spec, locked: true }]);
    const pending = c.pipeline([["SET", "foo", "1"], ["INCR", "foo"], ["GET", "bar"]]);
    let settled = false;
    void pending.then(() => settled = true);
    // The SETs on the locked slot wait in it; then nothing has been answered.
    const slot = cluster.proxy.router.slots[289];
    await waitFor(() => slot.waiters.length === 2, { what: "both requests to wait on the locked slot" });
    await Promise.resolve();
    assert.equal(settled, false, "requests wait while the slot is locked");
    await cluster.proxy.fillSlots([{ ...spec, locked: false }]);
    assert.deepEqual(await pending, ["OK", 2, null]);
  } finally {
    await c.close();
    await cluster.stop();
  }
});

Deno.test("a request on a slot locked longer than slot_lock_timeout fails clearly", async () => {
  const cluster = await startCluster({ config: { slotLockTimeout: 1000 } });
  const c = await cluster.client();
  try {
    await cluster.proxy.fillSlots([{ ...cluster.proxy.router.specs()[289], locked: true }]);
    const r = await c.send(["GET", "foo"]);
    assert.match((r as RespError).message, /^ERR handle request, slot-0289 is locked, timed out after 1000 ms$/);
  } finally {
    await c.close();
    await cluster.stop();
  }
});
