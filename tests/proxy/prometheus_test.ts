/**
 * The proxy's `/metrics`, read by Prometheus's own parser: every family has HELP and TYPE, names
 * are under `codis_proxy_`, and counters move by exactly what the test sent.
 */

import assert from "node:assert/strict";
import { startCluster } from "../_support/cluster.ts";
import { parsePrometheus, sampleValue } from "../_support/prometheus.ts";

async function scrape(adminAddr: string) {
  const res = await fetch(`http://${adminAddr}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await res.text());
}

Deno.test("proxy /metrics: valid exposition, counters move by what was sent", async () => {
  const cluster = await startCluster();
  const c = await cluster.client();
  try {
    const before = await scrape(cluster.adminAddr);
    for (const f of before.values()) {
      assert.ok(f.name.startsWith("codis_proxy_"), f.name);
      assert.ok(f.help.length > 0, `${f.name} has HELP`);
    }
    const setsBefore = sampleValue(before, "codis_proxy_command_calls_total", { command: "SET" }) ?? 0;
    const inBefore = sampleValue(before, "codis_proxy_received_bytes_total")!;

    for (let i = 0; i < 25; i++) await c.call("SET", `m${i}`, "v");
    await c.call("GET", "m1");
    await assert.rejects(c.call("FLUSHALL")); // refused by the proxy: a failure
    await assert.rejects(c.call("INCR", "m1")); // Redis's error reply

    const after = await scrape(cluster.adminAddr);
    assert.equal(sampleValue(after, "codis_proxy_command_calls_total", { command: "SET" }), setsBefore + 25);
    assert.equal(sampleValue(after, "codis_proxy_command_failures_total", { command: "FLUSHALL" }), 1);
    assert.equal(sampleValue(after, "codis_proxy_command_errors_total", { command: "INCR" }), 1);
    // The histogram of SET: 25 observations, cumulative buckets, +Inf = count.
    assert.equal(sampleValue(after, "codis_proxy_command_duration_seconds_count", { command: "SET" }), setsBefore + 25);
    assert.equal(
      sampleValue(after, "codis_proxy_command_duration_seconds_bucket", { command: "SET", le: "+Inf" }),
      setsBefore + 25,
    );
    const hist = [...after.values()].find((f) => f.name === "codis_proxy_command_duration_seconds")!;
    assert.equal(hist.type, "histogram");
    const setBuckets = hist.samples.filter((s) => s.name.endsWith("_bucket") && s.labels.command === "SET");
    for (let i = 1; i < setBuckets.length; i++) assert.ok(setBuckets[i].value >= setBuckets[i - 1].value);
    // Bytes: the 25 SETs alone were 25 × 29 bytes or more.
    assert.ok(sampleValue(after, "codis_proxy_received_bytes_total")! >= inBefore + 25 * 29);
    assert.equal(sampleValue(after, "codis_proxy_sessions_open"), 1);
    const ready = sampleValue(after, "codis_proxy_backend_connections", {
      server: cluster.servers[0].addr,
      state: "ready",
    });
    assert.ok(ready !== null && ready >= 1, "a ready connection to the first server");
    assert.ok(sampleValue(after, "codis_proxy_process_resident_memory_bytes")! > 0);
    assert.equal(sampleValue(after, "codis_proxy_up"), 1);
  } finally {
    await c.close();
    await cluster.stop();
  }
});
