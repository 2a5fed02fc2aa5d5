/**
 * TLS on both sides of the proxy: clients connect over TLS (redis-cli --tls, ioredis with `tls`),
 * and the proxy reaches servers that speak TLS only; the dashboard reaches them too.
 */

import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { DEFAULT_DASHBOARD_CONFIG } from "../../dashboard/config.ts";
import { startDashboard } from "../../dashboard/dashboard.ts";
import { DEFAULT_PROXY_CONFIG } from "../../proxy/config.ts";
import { startProxy } from "../../proxy/proxy.ts";
import { RedisClient } from "../../redis/redis_client.ts";
import { log } from "../../utils/log.ts";
import { evenSlots } from "../_support/cluster.ts";
import { RedisServer } from "../_support/servers.ts";
import { makeCerts } from "../_support/tls.ts";

log.setLevel("NONE");

Deno.test({
  name: "clients reach the proxy over TLS (redis-cli --tls, ioredis) and the proxy reaches TLS-only servers",
  // ioredis keeps a timer of its own for a moment after quit()
  sanitizeOps: false,
  async fn() {
    const certs = await makeCerts();
    const tls = { cert: certs.cert, key: certs.key, ca: certs.ca };
    const servers = [
      await RedisServer.start({ tls, password: "pw" }),
      await RedisServer.start({ tls, password: "pw" }),
    ];
    const proxy = await startProxy({
      config: {
        ...DEFAULT_PROXY_CONFIG,
        proxyAddr: "127.0.0.1:0",
        adminAddr: "127.0.0.1:0",
        productAuth: "pw",
        proxyTlsCert: certs.cert,
        proxyTlsKey: certs.key,
        backendTls: true,
        backendTlsCa: certs.ca,
      },
      fillSlots: evenSlots(servers.map((s) => s.addr)),
    });
    const port = proxy.model.proxyAddr.split(":")[1];
    try {
      // Our own client.
      const c = await RedisClient.connect(proxy.model.proxyAddr, {
        tls: { caCerts: [await Deno.readTextFile(certs.ca)] },
      });
      await c.call("MSET", "a", "1", "b", "2", "c", "3");
      assert.deepEqual(await c.call("MGET", "a", "b", "c"), ["1", "2", "3"]);
      await c.close();

      // redis-cli --tls.
      const cli = await new Deno.Command("redis-cli", {
        args: ["--tls", "--cacert", certs.ca, "-h", "127.0.0.1", "-p", port, "GET", "b"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(new TextDecoder().decode(cli.stdout).trim(), "2", new TextDecoder().decode(cli.stderr));

      // ioredis with tls.
      const io = new Redis({
        host: "127.0.0.1",
        port: Number(port),
        tls: { ca: await Deno.readTextFile(certs.ca) },
        lazyConnect: true,
        maxRetriesPerRequest: 1,
      });
      try {
        await io.connect();
        await io.set("io", "works");
        assert.equal(await io.get("io"), "works");
        assert.equal(await io.get("c"), "3");
      } finally {
        io.disconnect();
      }

      // A plain-text client is not served.
      const plain = await RedisClient.connect(proxy.model.proxyAddr, { connectTimeoutMs: 2000, timeoutMs: 2000 });
      await assert.rejects(plain.call("PING"));
      await plain.close();
    } finally {
      await proxy.close(1000);
      await Promise.all(servers.map((s) => s.stop()));
      await certs.remove();
    }
  },
});

Deno.test("the dashboard adds TLS-only servers and reads their stats with backend_tls", async () => {
  const certs = await makeCerts();
  const server = await RedisServer.start({ tls: { cert: certs.cert, key: certs.key, ca: certs.ca } });
  const root = await Deno.makeTempDir({ prefix: "codis-tls-" });
  const dashboard = await startDashboard({
    config: {
      ...DEFAULT_DASHBOARD_CONFIG,
      coordinatorAddr: root,
      productName: "tls-test",
      adminAddr: "127.0.0.1:0",
      backendTls: true,
      backendTlsCa: certs.ca,
    },
  });
  try {
    await dashboard.groups.create(1);
    await dashboard.groups.addServer(1, server.addr);
    await dashboard.stats.refresh();
    assert.equal(dashboard.stats.servers[server.addr].stats?.redis_version !== undefined, true);
  } finally {
    await dashboard.close();
    await server.stop();
    await Deno.remove(root, { recursive: true });
    await certs.remove();
  }
});
