/**
 * Jodis registration on real etcd and ZooKeeper servers: the node appears when the proxy is
 * online, with Codis's JSON; it goes when the proxy closes; it comes back when lost.
 */

import assert from "node:assert/strict";
import { openClient } from "../../coord/open.ts";
import { DEFAULT_PROXY_CONFIG } from "../../proxy/config.ts";
import { startProxy } from "../../proxy/proxy.ts";
import { log } from "../../utils/log.ts";
import { EtcdServer, ZooKeeperServer } from "../_support/coord_servers.ts";
import { ProxyProcess } from "../_support/programs.ts";
import { RedisServer, type ServerProcess, waitFor } from "../_support/servers.ts";
import { fromUtf8 } from "../../utils/bytes.ts";

log.setLevel("NONE");

async function jodis(name: "etcd" | "zookeeper", server: ServerProcess, compatible: boolean) {
  const proxy = await startProxy({
    config: {
      ...DEFAULT_PROXY_CONFIG,
      productName: "jodis-test",
      proxyAddr: "127.0.0.1:0",
      adminAddr: "127.0.0.1:0",
      jodisName: name,
      jodisAddr: server.addr,
      jodisTimeout: 2000,
      jodisCompatible: compatible,
    },
  });
  const store = await openClient(name, server.addr);
  try {
    const path = compatible
      ? `/zk/codis/db_jodis-test/proxy/${proxy.model.token}`
      : `/jodis/jodis-test/proxy-${proxy.model.token}`;
    assert.equal(proxy.model.jodisPath, path);
    assert.equal(await store.read(path), null, "not registered while offline");
    proxy.start();
    const data = (await waitFor(() => store.read(path), { what: `${path} to appear` }))!;
    assert.deepEqual(JSON.parse(fromUtf8(data)), {
      addr: proxy.model.proxyAddr,
      admin: proxy.model.adminAddr,
      start: proxy.model.startTime,
      token: proxy.model.token,
      state: "online",
    });
    assert.match(fromUtf8(data), /^\{\n {4}"addr": /, "4-space JSON, as Codis writes it");

    // Lost (deleted behind its back, as when a session expires): made again.
    await store.delete(path);
    await waitFor(() => store.read(path), { what: `${path} to come back` });

    await proxy.close(1000);
    assert.equal(await store.read(path), null, "gone when the proxy closes");
  } finally {
    await proxy.close(1000);
    await store.close();
  }
}

const JODIS_TIMEOUT_MS = 3000;

/** A proxy process killed (no chance to delete its node): the node lives on for about jodis_timeout, then goes. */
async function outlives(name: "etcd" | "zookeeper", server: ServerProcess) {
  const redis = await RedisServer.start();
  const dir = await Deno.makeTempDir({ prefix: "codis-jodis-" });
  const store = await openClient(name, server.addr);
  let proxy: ProxyProcess | null = null;
  try {
    await Deno.writeTextFile(
      `${dir}/slots.json`,
      JSON.stringify(Array.from({ length: 1024 }, (_, id) => ({ id, backend_addr: redis.addr }))),
    );
    proxy = await ProxyProcess.start(dir, {
      product: "jodis-outlives",
      online: [`--fillslots=${dir}/slots.json`],
      config: { jodis_name: name, jodis_addr: server.addr, jodis_timeout: `${JODIS_TIMEOUT_MS}ms` },
    });
    const dirPath = "/jodis/jodis-outlives";
    const [path] = await waitFor(async () => {
      const nodes = await store.list(dirPath).catch(() => []);
      return nodes.length > 0 ? nodes : null;
    }, { what: `the proxy's node under ${dirPath} (log: ${proxy.logPath})` });
    await proxy.kill("SIGKILL");
    const killed = performance.now();
    assert.notEqual(await store.read(path), null, "the node outlives the killed proxy");
    await waitFor(async () => await store.read(path) === null, { timeoutMs: 60_000, what: `${path} to expire` });
    const lived = performance.now() - killed;
    // ZooKeeper expires a session a timeout after its last heartbeat (sent every third of it);
    // etcd a lease a TTL after its last keepalive (also every third).
    assert.ok(lived >= JODIS_TIMEOUT_MS / 2, `the node went ${lived.toFixed(0)} ms after the kill`);
  } finally {
    await proxy?.kill("SIGKILL");
    await store.delete("/jodis", { recursive: true }).catch(() => {});
    await store.close();
    await redis.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

for (
  const [name, start] of [["etcd", () => EtcdServer.start()], ["zookeeper", () => ZooKeeperServer.start()]] as const
) {
  Deno.test({
    name:
      `jodis registration on ${name}: appears online, comes back when lost, goes on close (both paths), outlives a killed proxy by jodis_timeout`,
    async fn() {
      const server = await start();
      try {
        await jodis(name, server, false);
        await jodis(name, server, true);
        await outlives(name, server);
      } finally {
        await server.stop();
      }
    },
  });
}
