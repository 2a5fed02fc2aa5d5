/**
 * Sessions that hold state on a backend, through a real migration and a real failover (dashboard,
 * two proxy processes, Sentinel): a BLPOP blocked on a slot that the dashboard migrates ends with
 * TRYAGAIN and nothing popped; an open MULTI on that slot is discarded at EXEC; a subscriber of a
 * channel in that slot keeps receiving through the migration and after its new master is killed
 * and replaced by its replica.
 */

import assert from "node:assert/strict";
import { RedisClient } from "../../redis/redis_client.ts";
import { RespError } from "../../redis/resp_value.ts";
import { slotOfString } from "../../redis/slot_hash.ts";
import { startHaCluster } from "../_support/ha_cluster.ts";
import { RawClient } from "../_support/raw_client.ts";
import { waitFor } from "../_support/servers.ts";

Deno.test("a blocked BLPOP, an open MULTI and a subscriber while their slot migrates and its master fails over", async () => {
  const cluster = await startHaCluster({ product: "stateful", groups: 2, proxies: 2, downAfterMs: 1000 });
  const [p1, p2] = cluster.proxies;
  const subscriber = await RawClient.connect(p1.addr);
  const blocked = await RedisClient.connect(p1.addr, { timeoutMs: 120_000 });
  const tx = await RedisClient.connect(p2.addr);
  const publisher = await RedisClient.connect(p2.addr);
  try {
    // One slot of group 1 holds the list, the transaction's key and the channel (hash tag).
    const [base] = cluster.keysOf(1, 1, "moving");
    const slot = slotOfString(base);
    const list = `{${base}}.list`;
    const key = `{${base}}.key`;
    const channel = `{${base}}.channel`;
    assert.equal(slotOfString(list), slot);

    await subscriber.call(1, "SUBSCRIBE", channel);
    let seen = 1;
    const publishAndReceive = async (text: string) => {
      // Published again if it has not arrived within 3 s: after a failover the subscription needs a
      // moment to follow (a message published while a master is down is lost, as with Redis).
      const until = performance.now() + 60_000;
      for (;;) {
        await publisher.call("PUBLISH", channel, text);
        const arrived = await waitFor(() => subscriber.frames.slice(seen).some((f) => f.endsWith(`${text}\r\n`)), {
          timeoutMs: 3000,
          what: `"${text}" delivered`,
        }).then(() => true, () => false);
        if (arrived) break;
        if (performance.now() > until) throw new Error(`"${text}" never delivered`);
      }
      seen = subscriber.frames.length;
    };
    await publishAndReceive("before");

    const pop = blocked.send(["BLPOP", list, 0]);
    pop.catch(() => {}); // awaited below
    assert.equal(await tx.call("MULTI"), "OK");
    assert.equal(await tx.call("SET", key, "queued"), "QUEUED");
    await waitFor(async () => {
      const o = await p1.overview() as { stats?: { sessions?: { alive?: number } } } | null;
      return (o?.stats?.sessions?.alive ?? 0) >= 2;
    }, { what: "the sessions open" });

    // The dashboard migrates the slot to group 2.
    await cluster.api.createSlotAction(slot, 2);
    await waitFor(async () => {
      const s = (await cluster.api.slots())[slot];
      return s.backendAddrGroupId === 2 && !s.migrateFrom;
    }, { timeoutMs: 60_000, what: `slot ${slot} on group 2` });

    const popped = await pop.then((v) => v, (e) => e);
    assert.ok(
      popped instanceof RespError && /^TRYAGAIN slot \d+ is moving/.test(popped.message),
      `BLPOP: ${String(popped)}`,
    );
    const exec = await tx.send(["EXEC"]);
    assert.ok(exec instanceof RespError && /^EXECABORT .*started moving/.test(exec.message), `EXEC: ${String(exec)}`);
    assert.equal(await publisher.call("GET", key), null, "the discarded transaction ran nothing");
    await publishAndReceive("after the migration");
    // The retried BLPOP waits on group 2 now, and a push serves it.
    const again = blocked.send(["BLPOP", list, 30]);
    await new Promise((r) => setTimeout(r, 200));
    await publisher.call("RPUSH", list, "job");
    assert.deepEqual(await again, [list, "job"]);

    // Group 2's master dies; the sentinels promote its replica and the proxies follow.
    const oldMaster = await cluster.storedMaster(2);
    await cluster.server(oldMaster).kill("SIGKILL");
    await waitFor(async () => (await cluster.storedMaster(2)) !== oldMaster, {
      timeoutMs: 60_000,
      what: "group 2's new master",
    });
    await publishAndReceive("after the failover");
    // Through the migration (subscribed on both sides for a while) no message came twice.
    const texts = subscriber.frames.slice(1).map((f) => f.split("\r\n").at(-2));
    for (const t of ["before", "after the migration"]) {
      assert.equal(texts.filter((x) => x === t).length, 1, `"${t}" once: ${JSON.stringify(texts)}`);
    }
  } finally {
    await subscriber.close();
    await blocked.close();
    await tx.close();
    await publisher.close();
    await cluster.stop();
  }
});
