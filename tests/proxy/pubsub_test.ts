/**
 * Pub/Sub through the proxy: byte for byte what one Redis sends (confirmations with the session's
 * counts, messages, subscribed-mode rules), channels of every group and patterns delivered once,
 * subscriptions that follow a slot's migration and a master switch, PUBSUB answered for the
 * cluster, 1,000 subscribers, and connections freed when subscribers leave.
 */

import assert from "node:assert/strict";
import { slotOfString } from "../../redis/slot_hash.ts";
import { keyInSlots, startCluster, type TestCluster } from "../_support/cluster.ts";
import { RawClient } from "../_support/raw_client.ts";
import { RedisServer, waitFor } from "../_support/servers.ts";

function dedicatedInUse(cluster: TestCluster): number {
  let n = 0;
  for (const s of cluster.proxy.router.primary.servers()) n += s.dedicated.inUse;
  return n;
}

/** One step: [frames expected back, command…]; "pub:" commands go through the publisher. */
type Step = [number, ...(string | number)[]];

const a = keyInSlots(0, 511, "chan");
const b = keyInSlots(512, 1023, "chan");

const SCRIPT: Step[] = [
  [2, "SUBSCRIBE", a, b],
  [1, "pub:PUBLISH", a, "hello"],
  [1, "pub:PUBLISH", b, "world"],
  [1, "PING"],
  [1, "PING", "x"],
  [1, "GET", "k"],
  [1, "PSUBSCRIBE", "chan*"],
  [2, "pub:PUBLISH", a, "both"],
  [1, "SUBSCRIBE", a],
  [1, "UNSUBSCRIBE", a],
  [1, "pub:PUBLISH", a, "pattern only"],
  [1, "UNSUBSCRIBE", b],
  [1, "PUNSUBSCRIBE"],
  [1, "UNSUBSCRIBE"],
  [1, "PING"],
  [1, "SSUBSCRIBE", "{s}shard"],
  [1, "pub:SPUBLISH", "{s}shard", "sharded"],
  [1, "SUNSUBSCRIBE", "{s}shard"],
  [1, "SUBSCRIBE"],
];

async function runScript(sub: RawClient, pub: RawClient): Promise<string[]> {
  const out: string[] = [];
  for (const [count, ...cmd] of SCRIPT) {
    const name = String(cmd[0]);
    if (name.startsWith("pub:")) {
      const from = sub.frames.length;
      const reply = await pub.call(1, name.slice(4), ...cmd.slice(1));
      out.push(`(published: ${reply[0].trim()})`);
      out.push(...await sub.until(from + count, from));
    } else {
      out.push(...await sub.call(count, ...cmd));
    }
  }
  return out;
}

for (const proto of [2, 3]) {
  Deno.test(`Pub/Sub through the proxy answers byte for byte as one Redis (RESP${proto})`, async () => {
    await compareScript(proto);
  });
}

async function compareScript(proto: number): Promise<void> {
  const cluster = await startCluster({ groups: 2 });
  const direct = await RedisServer.start();
  const clients = await Promise.all([
    RawClient.connect(cluster.addr),
    RawClient.connect(cluster.addr),
    RawClient.connect(direct.addr),
    RawClient.connect(direct.addr),
  ]);
  try {
    if (proto === 3) { for (const c of [clients[0], clients[2]]) await c.call(1, "HELLO", 3); }
    const viaProxy = await runScript(clients[0], clients[1]);
    const viaRedis = await runScript(clients[2], clients[3]);
    // PUBLISH's count is the same: a channel's subscribers are on its master, patterns on every master.
    assert.deepEqual(viaProxy, viaRedis);
    await waitFor(() => dedicatedInUse(cluster) === 0, { what: "links closed after the last unsubscribe" });
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await direct.stop();
    await cluster.stop();
  }
}

Deno.test("channels of both groups and patterns reach every subscriber once; PUBSUB answers for the cluster", async () => {
  const cluster = await startCluster({ groups: 2 });
  const subs = await Promise.all([0, 1, 2].map(() => RawClient.connect(cluster.addr)));
  const pub = await cluster.client();
  try {
    const all = Array.from({ length: 400 }, (_, i) => `news.${i}`);
    const channels = [
      ...all.filter((c) => slotOfString(c) < 512).slice(0, 10),
      ...all.filter((c) => slotOfString(c) >= 512).slice(0, 10),
    ];
    await subs[0].call(channels.length, "SUBSCRIBE", ...channels);
    await subs[1].call(1, "PSUBSCRIBE", "news.*");
    await subs[2].call(1, "SUBSCRIBE", channels[0]);
    assert.ok(new Set(channels.map((c) => slotOfString(c) < 512)).size === 2, "channels in both groups");
    for (const c of channels) assert.equal(await pub.call("PUBLISH", c, `m-${c}`), c === channels[0] ? 3 : 2);
    // Each exactly once. Messages of channels on different groups come over different backend
    // connections, so their order across groups is not kept (within a group it is).
    const sorted = [...channels].sort();
    const got0 = await subs[0].until(channels.length * 2, channels.length);
    assert.deepEqual(got0.map((f) => f.split("\r\n")[4]).sort(), sorted);
    const got1 = await subs[1].until(1 + channels.length, 1);
    assert.deepEqual(got1.map((f) => f.split("\r\n")[6]).sort(), sorted);
    const inGroup1 = channels.filter((c) => slotOfString(c) < 512);
    assert.deepEqual(got0.map((f) => f.split("\r\n")[4]).filter((c) => inGroup1.includes(c)), inGroup1);
    const c0 = channels[0];
    assert.deepEqual(await subs[2].until(2, 1), [
      `*3\r\n$7\r\nmessage\r\n$${c0.length}\r\n${c0}\r\n$${c0.length + 2}\r\nm-${c0}\r\n`,
    ]);

    const listed = await pub.call("PUBSUB", "CHANNELS", "news.*") as string[];
    assert.deepEqual([...listed].sort(), [...channels].sort());
    assert.deepEqual(await pub.call("PUBSUB", "NUMSUB", channels[0], channels[1], "none"), [
      channels[0],
      2,
      channels[1],
      1,
      "none",
      0,
    ]);
    assert.equal(await pub.call("PUBSUB", "NUMPAT"), 1);
    // Nothing more arrives: every message came once.
    await pub.call("PING");
    assert.equal(subs[0].frames.length, channels.length * 2);
    assert.equal(subs[1].frames.length, 1 + channels.length);
  } finally {
    await Promise.all(subs.map((s) => s.close()));
    await pub.close();
    await cluster.stop();
  }
});

Deno.test("a subscriber follows its channel's slot through a migration and a master switch", async () => {
  const cluster = await startCluster({ groups: 2 });
  const sub = await RawClient.connect(cluster.addr);
  const pub = await cluster.client();
  try {
    const ch = keyInSlots(0, 511, "moving");
    const slot = slotOfString(ch);
    const [g1, g2] = cluster.servers;
    await sub.call(1, "SUBSCRIBE", ch);
    const router = cluster.proxy.router;
    let received = 1;
    const publish = async (text: string) => {
      assert.equal(await pub.call("PUBLISH", ch, text), 1, `one subscriber reached: ${text}`);
      received++;
      const [frame] = await sub.until(received, received - 1);
      assert.ok(frame.endsWith(`${text}\r\n`), frame);
    };
    await publish("before");
    // The migration's barrier (locked, target and source named), then migrating, then done.
    await cluster.fillMove(slot, 1, 2, "locked");
    await cluster.fillMove(slot, 1, 2, "migrating");
    await publish("while migrating");
    // A publisher whose proxy still routes to the source reaches the subscriber too.
    const onSource = await g1.client();
    assert.equal(await onSource.call("PUBLISH", ch, "via the source"), 1);
    await onSource.close();
    received++;
    assert.ok((await sub.until(received, received - 1))[0].endsWith("via the source\r\n"));
    await cluster.fillMove(slot, 1, 2, "done");
    await publish("after");
    const numsub = async (server: RedisServer) => {
      const c = await server.client();
      try {
        return (await c.call("PUBSUB", "NUMSUB", ch) as unknown[])[1];
      } finally {
        await c.close();
      }
    };
    assert.equal(await numsub(g1), 0, "unsubscribed from the source");
    assert.equal(await numsub(g2), 1);

    // Its master dies and group 2's slots switch to a new master (as after a failover).
    const replacement = await RedisServer.start();
    try {
      await g2.kill("SIGKILL");
      const specs = router.specs().filter((s) => s.backendAddr === g2.addr).map((s) => ({
        ...s,
        backendAddr: replacement.addr,
        switched: true,
      }));
      await router.fill(specs);
      await waitFor(async () => await numsub(replacement) === 1, { what: "the subscription on the new master" });
      await publish("after the switch");
    } finally {
      await replacement.stop();
    }
  } finally {
    await sub.close();
    await pub.close();
    await cluster.stop();
  }
});

Deno.test("1,000 subscribers at once; a subscriber that leaves frees its connections", async () => {
  const cluster = await startCluster({ groups: 2, config: { proxyMaxClients: 2000 } });
  const pub = await cluster.client();
  const n = 1000;
  const subs = await Promise.all(Array.from({ length: n }, () => RawClient.connect(cluster.addr)));
  try {
    await Promise.all(subs.map((s, i) => s.call(1, "SUBSCRIBE", `ch:${i % 100}`)));
    assert.equal(dedicatedInUse(cluster), n);
    const counts = await pub.pipeline(Array.from({ length: 100 }, (_, i) => ["PUBLISH", `ch:${i}`, `m${i}`]));
    assert.deepEqual(counts, Array.from({ length: 100 }, () => 10));
    await Promise.all(subs.map(async (s, i) => {
      const [frame] = await s.until(2, 1);
      assert.ok(frame.endsWith(`m${i % 100}\r\n`));
    }));
    await Promise.all(subs.map((s) => s.close()));
    await waitFor(() => dedicatedInUse(cluster) === 0, { what: "every subscriber's connection closed" });
    for (const server of cluster.servers) {
      const c = await server.client();
      const numsub = await c.call("PUBSUB", "NUMSUB", "ch:0", "ch:1") as unknown[];
      await c.close();
      assert.deepEqual([numsub[1], numsub[3]], [0, 0]);
    }
  } finally {
    await Promise.all(subs.map((s) => s.close()));
    await pub.close();
    await cluster.stop();
  }
});
