/**
 * Transactions through the proxy: byte for byte what one Redis answers (WATCH, MULTI, EXEC,
 * DISCARD, UNWATCH, errors while queueing, EXECABORT), keys of another group refused with
 * CROSSSLOT, and a transaction whose slot starts moving discarded before anything runs.
 */

import assert from "node:assert/strict";
import { RedisClient } from "../../redis/redis_client.ts";
import { RespError } from "../../redis/resp_value.ts";
import { slotOfString } from "../../redis/slot_hash.ts";
import { keyInSlots, startCluster } from "../_support/cluster.ts";
import { RedisServer } from "../_support/servers.ts";

/** Steps: a command of the client, or (prefixed "other:") of a second client. */
const SCRIPTS: Record<string, string[][]> = {
  "a transaction": [["MULTI"], ["SET", "{t}a", "1"], ["INCR", "{t}a"], ["GET", "{t}a"], ["EXEC"]],
  "keyless commands first": [["MULTI"], ["PING"], ["ECHO", "hi"], ["SET", "{t}a", "2"], ["PING", "x"], ["EXEC"]],
  "keyless only": [["MULTI"], ["PING"], ["EXEC"]],
  "empty": [["MULTI"], ["EXEC"]],
  "an error while queueing aborts EXEC": [["MULTI"], ["SET", "{t}a"], ["INCR", "{t}a"], ["EXEC"], ["GET", "{t}a"]],
  "an unknown command while queueing": [["MULTI"], ["NOSUCHCMD", "{t}a"], ["EXEC"]],
  "a runtime error inside EXEC": [["SET", "{t}s", "x"], ["MULTI"], ["INCR", "{t}s"], ["SET", "{t}b", "ok"], ["EXEC"]],
  "without MULTI, nested": [["EXEC"], ["DISCARD"], ["MULTI"], ["MULTI"], ["SET", "{t}c", "1"], ["DISCARD"], [
    "GET",
    "{t}c",
  ]],
  "WATCH, untouched": [["WATCH", "{t}w"], ["MULTI"], ["SET", "{t}w", "mine"], ["EXEC"], ["GET", "{t}w"]],
  "WATCH, touched by another client": [
    ["WATCH", "{t}w", "{t}w2"],
    ["GET", "{t}w"],
    ["other:SET", "{t}w", "theirs"],
    ["MULTI"],
    ["SET", "{t}w", "mine"],
    ["EXEC"],
    ["GET", "{t}w"],
  ],
  "UNWATCH": [["UNWATCH"], ["WATCH", "{t}w"], ["UNWATCH"], ["other:SET", "{t}w", "x"], ["MULTI"], ["GET", "{t}w"], [
    "EXEC",
  ]],
  "WATCH inside MULTI": [["MULTI"], ["WATCH", "{t}w"], ["GET", "{t}w"], ["EXEC"]],
  "WATCH without keys": [["WATCH"]],
  "a blocking pop inside MULTI does not block": [["MULTI"], ["BLPOP", "{t}list", "0"], ["RPUSH", "{t}list", "v"], [
    "EXEC",
  ]],
  "UNWATCH inside MULTI is queued": [["WATCH", "{t}w"], ["MULTI"], ["UNWATCH"], ["EXEC"]],
};

async function run(main: RedisClient, other: RedisClient, steps: string[][]): Promise<string[]> {
  const dec = new TextDecoder();
  const out: string[] = [];
  for (const step of steps) {
    if (step[0].startsWith("other:")) {
      await other.sendFrame([step[0].slice(6), ...step.slice(1)]);
      continue;
    }
    out.push(dec.decode(await main.sendFrame(step)));
  }
  return out;
}

Deno.test("transactions through the proxy answer byte for byte as one Redis, in RESP2 and RESP3", async (t) => {
  const cluster = await startCluster({ groups: 2 });
  const direct = await RedisServer.start();
  try {
    for (const [name, steps, proto] of Object.entries(SCRIPTS).flatMap(([n, s]) => [[n, s, 2], [n, s, 3]] as const)) {
      await t.step(`${name} (RESP${proto})`, async () => {
        const clients = await Promise.all([
          cluster.client(),
          cluster.client(),
          RedisClient.connect(direct.addr),
          RedisClient.connect(direct.addr),
        ]);
        try {
          await clients[1].call("DEL", "{t}a", "{t}b", "{t}c", "{t}s", "{t}w", "{t}w2", "{t}list");
          await clients[3].call("DEL", "{t}a", "{t}b", "{t}c", "{t}s", "{t}w", "{t}w2", "{t}list");
          if (proto === 3) { for (const c of clients) await c.call("HELLO", 3); }
          const viaProxy = await run(clients[0], clients[1], steps);
          const viaRedis = await run(clients[2], clients[3], steps);
          assert.deepEqual(viaProxy, viaRedis);
        } finally {
          await Promise.all(clients.map((c) => c.close()));
        }
      });
    }
    await t.step("pipelined, as client libraries send them", async () => {
      const p = await cluster.client();
      const r = await RedisClient.connect(direct.addr);
      try {
        const steps = Object.values(SCRIPTS).flat().filter((s) => !s[0].startsWith("other:"));
        const dec = new TextDecoder();
        const [a, b] = await Promise.all([
          Promise.all(steps.map((s) => p.sendFrame(s))),
          Promise.all(steps.map((s) => r.sendFrame(s))),
        ]);
        assert.deepEqual(a.map((f) => dec.decode(f)), b.map((f) => dec.decode(f)));
      } finally {
        await p.close();
        await r.close();
      }
    });
    await t.step("every dedicated connection went back", () => {
      for (const s of cluster.proxy.router.primary.servers()) assert.equal(s.dedicated.inUse, 0);
    });
  } finally {
    await direct.stop();
    await cluster.stop();
  }
});

Deno.test("a transaction with keys of two groups answers CROSSSLOT and EXECABORT; nothing runs", async () => {
  const cluster = await startCluster({ groups: 2 });
  const c = await cluster.client();
  try {
    const a = keyInSlots(0, 511, "a");
    const b = keyInSlots(512, 1023, "b");
    assert.equal(await c.call("MULTI"), "OK");
    assert.equal(await c.call("SET", a, "1"), "QUEUED");
    const cross = await c.send(["SET", b, "2"]);
    assert.ok(cross instanceof RespError && /^CROSSSLOT/.test(cross.message), String(cross));
    const exec = await c.send(["EXEC"]);
    assert.ok(
      exec instanceof RespError && exec.message === "EXECABORT Transaction discarded because of previous errors.",
    );
    assert.equal(await c.call("EXISTS", a, b), 0);
    // WATCH across groups too.
    const watch = await c.send(["WATCH", a, b]);
    assert.ok(watch instanceof RespError && /^CROSSSLOT/.test(watch.message), String(watch));
    // The connection is usable as usual afterwards.
    assert.equal(await c.call("SET", a, "ok"), "OK");
    // A refused command inside MULTI flags the transaction too.
    assert.equal(await c.call("MULTI"), "OK");
    const refused = await c.send(["SELECT", "1"]);
    assert.ok(refused instanceof RespError && /not allowed in a transaction/.test(refused.message));
    const aborted = await c.send(["EXEC"]);
    assert.ok(aborted instanceof RespError && /^EXECABORT/.test(aborted.message));
  } finally {
    await c.close();
    await cluster.stop();
  }
});

Deno.test("a transaction whose slot starts migrating is discarded at EXEC; one that disconnects leaves nothing", async () => {
  const cluster = await startCluster({ groups: 2 });
  const c = await cluster.client();
  try {
    const key = keyInSlots(0, 511, "tx");
    const slot = slotOfString(key);
    assert.equal(await c.call("MULTI"), "OK");
    assert.equal(await c.call("SET", key, "queued"), "QUEUED");
    await cluster.fillMove(slot, 1, 2, "migrating");
    const exec = await c.send(["EXEC"]);
    assert.ok(
      exec instanceof RespError && /^EXECABORT .*slot \d+ started moving.*retry/.test(exec.message),
      String(exec),
    );
    assert.equal(await c.call("GET", key), null);
    // While it migrates, a transaction on it answers TRYAGAIN (then EXECABORT).
    assert.equal(await c.call("MULTI"), "OK");
    const again = await c.send(["SET", key, "x"]);
    assert.ok(again instanceof RespError && /^TRYAGAIN/.test(again.message), String(again));
    assert.ok((await c.send(["EXEC"])) instanceof RespError);

    // A client that leaves in the middle of a transaction: its connection closes, nothing runs.
    const other = keyInSlots(600, 1023, "left");
    const gone = await cluster.client();
    assert.equal(await gone.call("MULTI"), "OK");
    assert.equal(await gone.call("SET", other, "never"), "QUEUED");
    await gone.close();
    const servers = [...cluster.proxy.router.primary.servers()];
    const { waitFor } = await import("../_support/servers.ts");
    await waitFor(() => servers.every((s) => s.dedicated.inUse === 0), { what: "the connection closed" });
    assert.equal(await c.call("GET", other), null);
  } finally {
    await c.close();
    await cluster.stop();
  }
});
