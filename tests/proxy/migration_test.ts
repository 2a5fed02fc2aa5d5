/**
 * The proxy's side of a migration, with slot tables filled by hand: a request on a migrating
 * slot first moves its keys from the source to the target with one MIGRATE, then runs on the
 * target; failures reach the client as error replies.
 */

import assert from "node:assert/strict";
import { offlineSlot, type SlotSpec } from "../../coord/models.ts";
import { type RedisClient, RedisReplyError } from "../../redis/redis_client.ts";
import { RespError } from "../../redis/resp_value.ts";
import { slotOfString } from "../../redis/slot_hash.ts";
import { startCluster } from "../_support/cluster.ts";

/** Key names whose slots are all different, with their slots. */
function keysInSlots(prefix: string, n: number): { key: string; slot: number }[] {
  const out: { key: string; slot: number }[] = [];
  const seen = new Set<number>();
  for (let i = 0; out.length < n; i++) {
    const key = `${prefix}${i}`;
    const slot = slotOfString(key);
    if (!seen.has(slot)) {
      seen.add(slot);
      out.push({ key, slot });
    }
  }
  return out;
}

/** How many MIGRATE commands a server has run (from `INFO commandstats`). */
async function migrateCalls(server: RedisClient): Promise<number> {
  const info = String(await server.call("INFO", "commandstats"));
  return Number(/cmdstat_migrate:calls=(\d+)/.exec(info)?.[1] ?? 0);
}

for (const password of ["", "product-pw"]) {
  const auth = password ? " (servers with a password: MIGRATE … AUTH)" : "";
  Deno.test(
    `a migrating slot: reads are served where the key is, writes move it first, new keys go to the target${auth}`,
    () => migratingSlot(password),
  );
}

async function migratingSlot(password: string): Promise<void> {
  const cluster = await startCluster({ groups: 2, password });
  const [source, target] = cluster.servers;
  try {
    const [a, b, c] = keysInSlots("mig:", 3);
    const src = await source.client();
    const dst = await target.client();
    const client = await cluster.client();
    try {
      // All three slots live on the source.
      const onSource = (s: number): SlotSpec => ({
        ...offlineSlot(s),
        backendAddr: source.addr,
        backendAddrGroupId: 1,
      });
      await cluster.proxy.fillSlots([onSource(a.slot), onSource(b.slot), onSource(c.slot)]);
      await client.call("SET", a.key, "va");
      await client.call("RPUSH", b.key, "1", "2");
      assert.equal(await src.call("EXISTS", a.key, b.key), 2);

      // Slots a and b start migrating to the target; c stays.
      const migrating = (s: number): SlotSpec => ({
        ...offlineSlot(s),
        backendAddr: target.addr,
        backendAddrGroupId: 2,
        migrateFrom: source.addr,
        migrateFromGroupId: 1,
      });
      await cluster.proxy.fillSlots([migrating(a.slot), migrating(b.slot)]);

      // A read is answered by the source while the key is there, and moves nothing.
      const migrates0 = await migrateCalls(src);
      assert.equal(await client.call("GET", a.key), "va");
      assert.equal(await src.call("EXISTS", a.key), 1);
      assert.deepEqual(await client.call("LRANGE", b.key, 0, -1), ["1", "2"]);
      assert.equal(await migrateCalls(src), migrates0, "reads run no MIGRATE");

      // A write moves the key first, then runs on the target.
      assert.equal(await client.call("RPUSH", b.key, "3"), 3);
      assert.equal(await src.call("EXISTS", b.key), 0);
      assert.deepEqual(await dst.call("LRANGE", b.key, 0, -1), ["1", "2", "3"]);
      assert.deepEqual(await client.call("LRANGE", b.key, 0, -1), ["1", "2", "3"], "read from the target now");

      // A cross-slot MSET touching a migrating slot and another one: one MIGRATE moves a.
      const migrates1 = await migrateCalls(src);
      assert.equal(await client.call("MSET", a.key, "va2", c.key, "vc", `{${a.key}}x`, "y"), "OK");
      assert.equal(await migrateCalls(src) - migrates1, 1, "exactly one MIGRATE for the keys of slot a");
      assert.equal(await src.call("EXISTS", a.key), 0);
      assert.equal(await dst.call("GET", a.key), "va2");
      assert.equal(await client.call("GET", a.key), "va2");
      assert.equal(await src.call("GET", c.key), "vc", "a slot that is not migrating stays where it is");

      // A new key (NOKEY on the source) is created on the target.
      const fresh = `{${b.key}}new`;
      assert.equal(await client.call("INCR", fresh), 1);
      assert.equal(await dst.call("GET", fresh), "1");
      assert.equal(await src.call("EXISTS", fresh), 0);

      // A read the source cannot answer inside MULTI (a wrong arity aborts the transaction) falls
      // back to moving the key and running the read on the target: Redis's own error, key moved.
      await src.call("SET", `{${a.key}}r`, "on-source");
      const wrong = await client.send(["GET", `{${a.key}}r`, "extra"]);
      assert.ok(wrong instanceof RespError && /wrong number of arguments/.test(wrong.message), String(wrong));
      assert.equal(await dst.call("GET", `{${a.key}}r`), "on-source", "moved by the fallback");
      assert.equal(await src.call("EXISTS", `{${a.key}}r`), 0);

      // A request naming a key twice moves it once (MIGRATE … KEYS l l would fail with BUSYKEY).
      await src.call("RPUSH", `{${a.key}}ring`, "1", "2", "3");
      assert.equal(await client.call("RPOPLPUSH", `{${a.key}}ring`, `{${a.key}}ring`), "3");
      assert.deepEqual(await dst.call("LRANGE", `{${a.key}}ring`, 0, -1), ["3", "1", "2"]);
      await src.call("SET", `{${a.key}}twice`, "t");
      assert.deepEqual(await client.call("MGET", `{${a.key}}twice`, `{${a.key}}twice`), ["t", "t"]);
      await src.call("SET", `{${a.key}}del2`, "d");
      assert.equal(await client.call("DEL", `{${a.key}}del2`, `{${a.key}}del2`), 1);
      assert.equal(await src.call("EXISTS", `{${a.key}}del2`), 0);

      // DEL of a key still on the source deletes it for good (moved, then deleted on the target).
      await src.call("SET", `{${a.key}}old`, "stale");
      assert.equal(await client.call("DEL", `{${a.key}}old`), 1);
      assert.equal(await src.call("EXISTS", `{${a.key}}old`), 0);
      assert.equal(await dst.call("EXISTS", `{${a.key}}old`), 0);
      if (password) {
        // The keys above moved, so each MIGRATE authenticated to the target; nothing was refused
        // there but the proxy's one try of its ACL user (absent without a dashboard).
        const info = String(await dst.call("INFO", "errorstats"));
        assert.doesNotMatch(info, /NOAUTH/, info);
        assert.ok(Number(/errorstat_WRONGPASS:count=(\d+)/.exec(info)?.[1] ?? 0) <= 1, info);
      }
    } finally {
      await Promise.all([src.close(), dst.close(), client.close()]);
    }
  } finally {
    await cluster.stop();
  }
}

Deno.test("a failed MIGRATE reaches the client as an error reply, and nothing is lost", async () => {
  const cluster = await startCluster({ groups: 2 });
  const [source, target] = cluster.servers;
  try {
    const [{ key, slot }] = keysInSlots("busy:", 1);
    const src = await source.client();
    const dst = await target.client();
    const client = await cluster.client();
    try {
      // The same key on both sides: MIGRATE refuses to overwrite the target (BUSYKEY).
      await src.call("SET", key, "old");
      await dst.call("SET", key, "new");
      await cluster.proxy.fillSlots([{
        ...offlineSlot(slot),
        backendAddr: target.addr,
        backendAddrGroupId: 2,
        migrateFrom: source.addr,
        migrateFromGroupId: 1,
      }]);
      await assert.rejects(client.call("APPEND", key, "!"), (e) => {
        assert.ok(e instanceof RedisReplyError);
        assert.match(e.reply.message, /^ERR handle request, bad migrate resp: .*BUSYKEY/);
        assert.ok(e.reply.message.includes(source.addr), e.reply.message);
        return true;
      });
      assert.equal(await src.call("GET", key), "old", "the source keeps its key");
      assert.equal(await dst.call("GET", key), "new");
      // The session goes on.
      assert.equal(await client.call("PING"), "PONG");
    } finally {
      await Promise.all([src.close(), dst.close(), client.close()]);
    }
  } finally {
    await cluster.stop();
  }
});
