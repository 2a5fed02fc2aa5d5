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
import type { ServerProcess } from "../_support/servers.ts";
import { waitFor } from "../_support/servers.ts";
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

for (
  const [name, start] of [["etcd", () => EtcdServer.start()], ["zookeeper", () => ZooKeeperServer.start()]] as const
) {
  Deno.test({
    name: `jodis registration on ${name}: appears online, comes back when lost, goes on close (both paths)`,
    async fn() {
      const server = await start();
      try {
        await jodis(name, server, false);
        await jodis(name, server, true);
      } finally {
        await server.stop();
      }
    },
  });
}
