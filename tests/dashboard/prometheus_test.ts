/**
 * The dashboard's `/metrics`, read by Prometheus's own parser: groups, servers (up, replication
 * link and lag, memory, keys), slots by group and state, slot actions, proxies, sentinels, store
 * operations — each matching the cluster the test built.
 */

import assert from "node:assert/strict";
import { DEFAULT_DASHBOARD_CONFIG } from "../../dashboard/config.ts";
import { startDashboard } from "../../dashboard/dashboard.ts";
import { DEFAULT_PROXY_CONFIG } from "../../proxy/config.ts";
import { startProxy } from "../../proxy/proxy.ts";
import { log } from "../../utils/log.ts";
import { parsePrometheus, sampleValue } from "../_support/prometheus.ts";
import { RedisServer, waitFor } from "../_support/servers.ts";

log.setLevel("NONE");

Deno.test("dashboard /metrics: valid exposition that matches the cluster", async () => {
  const [m1, r1, m2] = await Promise.all([RedisServer.start(), RedisServer.start(), RedisServer.start()]);
  const root = await Deno.makeTempDir({ prefix: "codis-dash-metrics-" });
  const dashboard = await startDashboard({
    config: { ...DEFAULT_DASHBOARD_CONFIG, coordinatorAddr: root, productName: "metrics", adminAddr: "127.0.0.1:0" },
  });
  const proxy = await startProxy({
    config: { ...DEFAULT_PROXY_CONFIG, productName: "metrics", proxyAddr: "127.0.0.1:0", adminAddr: "127.0.0.1:0" },
  });
  try {
    await dashboard.groups.create(1);
    await dashboard.groups.create(2);
    await dashboard.groups.addServer(1, m1.addr);
    await dashboard.groups.addServer(1, r1.addr);
    await dashboard.groups.addServer(2, m2.addr);
    await dashboard.syncActions.create(r1.addr);
    await dashboard.proxies.create(proxy.model.adminAddr);
    const all = Array.from(
      { length: 1024 },
      (_, id) => ({ id, groupId: 1, action: { index: 0, state: "" as const, targetId: 0 } }),
    );
    await dashboard.slots.assign(all, false);
    const c = await m1.client();
    await c.pipeline(Array.from({ length: 100 }, (_, i) => ["SET", `k${i}`, "v"]));
    await c.close();

    const scrape = async () => {
      const res = await fetch(`http://${dashboard.adminAddr}/metrics`);
      assert.equal(res.status, 200);
      return parsePrometheus(await res.text());
    };
    // Wait for a stats round that sees the replica linked and the keys.
    const families = await waitFor(async () => {
      const f = await scrape();
      const linked = sampleValue(f, "codis_dashboard_server_replication_link_up", { server: r1.addr }) === 1;
      const keys = sampleValue(f, "codis_dashboard_server_keys", { server: m1.addr, db: "0" }) === 100;
      return linked && keys ? f : false;
    }, { what: "a stats round with the replica linked and the keys counted" });
    for (const f of families.values()) {
      assert.ok(f.name.startsWith("codis_dashboard_"), f.name);
      assert.ok(f.help.length > 0, `${f.name} has HELP`);
    }
    assert.equal(sampleValue(families, "codis_dashboard_groups"), 2);
    assert.equal(sampleValue(families, "codis_dashboard_server_up", { server: m1.addr, role: "master" }), 1);
    assert.equal(sampleValue(families, "codis_dashboard_server_up", { server: r1.addr, role: "replica" }), 1);
    assert.ok(sampleValue(families, "codis_dashboard_server_replication_lag_bytes", { server: r1.addr })! >= 0);
    assert.ok(sampleValue(families, "codis_dashboard_server_used_memory_bytes", { server: m1.addr })! > 0);
    assert.equal(sampleValue(families, "codis_dashboard_slots", { group: "1", state: "" }), 1024);
    assert.equal(sampleValue(families, "codis_dashboard_proxies", { state: "ok" }), 1);
    assert.equal(sampleValue(families, "codis_dashboard_proxy_online", { token: proxy.model.token }), 1);
    assert.equal(sampleValue(families, "codis_dashboard_sentinels"), 0);
    assert.ok(sampleValue(families, "codis_dashboard_store_operations_total", { op: "update" })! > 0);

    // Queued actions show as pending (migrations disabled, so they stay so).
    dashboard.scheduler.setDisabled(true);
    await dashboard.slots.createRange(0, 9, 2);
    const queued = await scrape();
    assert.equal(sampleValue(queued, "codis_dashboard_slot_actions", { state: "pending" }), 10);
    assert.equal(sampleValue(queued, "codis_dashboard_slots", { group: "1", state: "pending" }), 10);

    // A server that dies shows as down at the next round.
    await m2.kill();
    await waitFor(async () => sampleValue(await scrape(), "codis_dashboard_server_up", { server: m2.addr }) === 0, {
      what: "the killed server reported down",
    });
  } finally {
    await proxy.close();
    await dashboard.close();
    await Promise.all([m1.stop(), r1.stop(), m2.stop()]);
    await Deno.remove(root, { recursive: true });
  }
});
