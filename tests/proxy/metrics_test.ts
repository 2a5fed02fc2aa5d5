/**
 * The proxy's metrics reporters, received by a local HTTP server (overview JSON, InfluxDB line
 * protocol) and a local UDP socket (statsd gauges).
 */

import assert from "node:assert/strict";
import dgram from "node:dgram";
import { startCluster } from "../_support/cluster.ts";
import { waitFor } from "../_support/servers.ts";

Deno.test({
  name: "metrics reach a report server, InfluxDB and statsd with Codis's fields and names",
  async fn() {
    const posts: { path: string; query: string; body: string }[] = [];
    const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const url = new URL(req.url);
      posts.push({ path: url.pathname, query: url.search, body: await req.text() });
      return new Response(url.pathname === "/write" ? null : "ok", { status: url.pathname === "/write" ? 204 : 200 });
    });
    const httpAddr = `127.0.0.1:${(http.addr as Deno.NetAddr).port}`;
    const udp = dgram.createSocket("udp4");
    const gauges: string[] = [];
    udp.on("message", (m: Uint8Array) => gauges.push(...new TextDecoder().decode(m).split("\n")));
    await new Promise<void>((r) => udp.bind(0, "127.0.0.1", () => r()));
    const udpPort = (udp.address() as { port: number }).port;

    const cluster = await startCluster({
      config: {
        productName: "metrics-test",
        metricsReportServer: `http://${httpAddr}/codis`,
        metricsReportPeriod: 1000,
        metricsReportInfluxdbServer: `http://${httpAddr}`,
        metricsReportInfluxdbPeriod: 1000,
        metricsReportInfluxdbDatabase: "codis",
        metricsReportStatsdServer: `127.0.0.1:${udpPort}`,
        metricsReportStatsdPeriod: 1000,
        metricsReportStatsdPrefix: "pre",
      },
    });
    try {
      const c = await cluster.client();
      await c.call("SET", "a", "1");
      await c.close();
      await waitFor(() => posts.some((p) => p.path === "/codis") && posts.some((p) => p.path === "/write"), {
        what: "both HTTP reports",
      });
      await waitFor(() => gauges.length > 0, { what: "statsd gauges" });

      const overview = JSON.parse(posts.find((p) => p.path === "/codis")!.body);
      assert.equal(overview.model.product_name, "metrics-test");
      assert.ok(overview.stats.ops.total >= 1);

      const influx = posts.find((p) => p.path === "/write")!;
      assert.equal(influx.query, "?db=codis");
      const token = cluster.proxy.model.token;
      assert.match(influx.body, new RegExp(`^codis_usage,token=${token},product_name=metrics-test,admin_addr=`));
      assert.match(
        influx.body,
        / ops_total=\d+i,ops_fails=\d+i,ops_redis_errors=\d+i,ops_qps=\d+i,sessions_total=\d+i/,
      );

      const addr = (a: string) => a.replace(/[.:]/g, "_");
      const key = `pre.metrics-test.${addr(cluster.proxy.model.adminAddr)}.${addr(cluster.proxy.model.proxyAddr)}`;
      assert.ok(
        gauges.some((g) => new RegExp(`^${key.replace(/\./g, "\\.")}\\.ops_total:\\d+\\|g$`).test(g)),
        gauges[0],
      );
      assert.ok(gauges.some((g) => g.includes(".sessions_alive:")));
    } finally {
      await cluster.stop();
      await http.shutdown();
      udp.close();
    }
  },
});
