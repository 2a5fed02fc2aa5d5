/**
 * The proxies' Redis ACL user on real servers: the dashboard creates it when it adds a server,
 * the proxy logs in as it, and a script sent through the proxy cannot do what the proxy refuses
 * (Redis answers NOPERM, and the data stays); the proxy's own MIGRATEs still move keys.
 */

import assert from "node:assert/strict";
import { DEFAULT_DASHBOARD_CONFIG } from "../../dashboard/config.ts";
import { startDashboard } from "../../dashboard/dashboard.ts";
import { DEFAULT_PROXY_CONFIG } from "../../proxy/config.ts";
import { startProxy } from "../../proxy/proxy.ts";
import { RedisClient } from "../../redis/redis_client.ts";
import { slotOfString } from "../../redis/slot_hash.ts";
import { log } from "../../utils/log.ts";
import { RedisServer, waitFor } from "../_support/servers.ts";

log.setLevel("NONE");

Deno.test("a script through the proxy cannot FLUSHALL, CONFIG SET or SHUTDOWN: NOPERM, keys intact; moves still work", async () => {
  const password = "pw";
  const servers = [await RedisServer.start({ password }), await RedisServer.start({ password })];
  const root = await Deno.makeTempDir({ prefix: "codis-acl-" });
  const dashboard = await startDashboard({
    config: {
      ...DEFAULT_DASHBOARD_CONFIG,
      coordinatorAddr: root,
      productName: "acl-test",
      productAuth: password,
      adminAddr: "127.0.0.1:0",
    },
  });
  const proxy = await startProxy({
    config: {
      ...DEFAULT_PROXY_CONFIG,
      productName: "acl-test",
      productAuth: password,
      proxyAddr: "127.0.0.1:0",
      adminAddr: "127.0.0.1:0",
    },
  });
  let c: RedisClient | null = null;
  try {
    await dashboard.groups.create(1);
    await dashboard.groups.create(2);
    await dashboard.groups.addServer(1, servers[0].addr);
    await dashboard.groups.addServer(2, servers[1].addr);
    await dashboard.slots.assign(
      Array.from(
        { length: 1024 },
        (_, id) => ({ id, groupId: 1, action: { index: 0, state: "" as const, targetId: 0 } }),
      ),
      false,
    );
    await dashboard.proxies.create(proxy.model.adminAddr);
    c = await RedisClient.connect(proxy.model.proxyAddr);

    // The user is there, as the dashboard made it.
    const direct = await servers[0].client();
    const users = await direct.call("ACL", "USERS") as string[];
    assert.ok(users.includes("codis-proxy"), users.join(","));

    await c.call("SET", "k", "v");
    assert.equal(await c.call("EVAL", "return redis.call('GET', KEYS[1])", 1, "k"), "v", "scripts run");
    for (
      const script of [
        "FLUSHALL",
        "CONFIG', 'SET', 'maxmemory', '1",
        "SHUTDOWN",
        "MIGRATE', '127.0.0.1', '1', 'k', '0', '100",
      ]
    ) {
      await assert.rejects(
        c.call("EVAL", `return redis.call('${script}')`, 1, "k"),
        // Redis 7.0 words it "can't run this command" inside a script (NOPERM outside one).
        /NOPERM|can't run this command|not allowed from script/,
        `a script calling ${script.split("'")[0]} is refused`,
      );
    }
    assert.equal(await c.call("GET", "k"), "v", "the key is intact");
    assert.equal(await c.call("PING"), "PONG", "the server is up");
    assert.equal(await direct.call("CONFIG", "GET", "maxmemory").then((r) => (r as string[])[1]), "0");
    // The proxy's own forms that reach a server still work under the ACL user.
    assert.match(String(await c.call("INFO", servers[0].addr, "server")), /redis_version/);
    assert.equal(typeof await c.call("SLOWLOG", servers[0].addr, "LEN"), "number");
    await direct.close();

    // The proxy's own MIGRATE (for a key of a migrating slot) is not the ACL user's.
    const key = "moved-key";
    await c.call("SET", key, "here");
    await dashboard.slots.createAction(slotOfString(key), 2);
    dashboard.scheduler.wake();
    await waitFor(() => dashboard.topom.slot(slotOfString(key)).groupId === 2, {
      timeoutMs: 60_000,
      what: "the slot to move to group 2",
    });
    assert.equal(await c.call("GET", key), "here");
    const target = await servers[1].client();
    assert.equal(await target.call("GET", key), "here", "the key is on the target server");
    await target.close();
  } finally {
    await c?.close();
    await proxy.close(1000);
    await dashboard.close();
    await Promise.all(servers.map((s) => s.stop()));
    await Deno.remove(root, { recursive: true });
  }
});
