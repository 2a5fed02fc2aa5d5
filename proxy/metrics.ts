/**
 * The proxy's metrics reporters (Codis's `pkg/proxy/metrics.go`): every period, the proxy's overview
 * JSON POSTed to `metrics_report_server`; Codis's fields to InfluxDB (measurement `codis_usage`,
 * line protocol over HTTP) and to statsd (gauges over UDP). A reporter that fails backs off from
 * 1 s to 15 s and says so in the log; it never holds up the proxy.
 *
 * Go-runtime fields of Codis (`runtime_gc_*`, `runtime_num_goroutines`, `runtime_num_cgo_call`,
 * `runtime_num_mem_offheap`) have no meaning here and are not sent.
 *
 * @module
 */

import dgram from "node:dgram";
import type { ProxyModel } from "../coord/models.ts";
import { parseAddr } from "../utils/addr.ts";
import { Loop } from "../utils/async.ts";
import { toCodisJson } from "../utils/json.ts";
import { log } from "../utils/log.ts";
import type { ProxyConfig } from "./config.ts";
import type { ProxyStats } from "./stats.ts";

/** What the reporters read from the proxy. */
export interface MetricsSource {
  readonly config: ProxyConfig;
  readonly model: ProxyModel;
  readonly stats: ProxyStats;
  /** The overview JSON the metrics server gets. */
  overviewJson(): unknown;
}

/** Codis's metric fields, from the proxy's counters. */
export function metricFields(proxy: MetricsSource): Record<string, number> {
  const s = proxy.stats;
  return {
    ops_total: s.total,
    ops_fails: s.fails,
    ops_redis_errors: s.redisErrors,
    ops_qps: s.qps,
    sessions_total: s.sessionsTotal,
    sessions_alive: s.sessionsAlive,
    rusage_mem: s.usage.mem,
    rusage_cpu: s.usage.cpu,
    runtime_num_procs: navigator.hardwareConcurrency,
  };
}

/** Codis's statsd key: `prefix.product.admin_addr.proxy_addr.field`, with `.` and `:` in the addresses as `_`. */
export function statsdKey(prefix: string, proxy: MetricsSource, field: string): string {
  const addr = (a: string) => a.replace(/[.:]/g, "_");
  const parts = [proxy.config.productName, addr(proxy.model.adminAddr), addr(proxy.model.proxyAddr), field];
  return (prefix ? [prefix, ...parts] : parts).join(".");
}

/** One InfluxDB line: `codis_usage,tag=… field=…i,…`. */
export function influxLine(proxy: MetricsSource): string {
  const esc = (v: string) => v.replace(/([,= ])/g, "\\$1");
  const tags = {
    token: proxy.model.token,
    product_name: proxy.config.productName,
    admin_addr: proxy.model.adminAddr,
    proxy_addr: proxy.model.proxyAddr,
    hostname: proxy.model.hostname,
  };
  const tagText = Object.entries(tags).map(([k, v]) => `${k}=${esc(v)}`).join(",");
  const fields = Object.entries(metricFields(proxy))
    .map(([k, v]) => `${k}=${Number.isInteger(v) ? `${v}i` : v}`)
    .join(",");
  return `codis_usage,${tagText} ${fields}`;
}

/** A reporter: `send` every period (at least 1 s), backing off from 1 s to 15 s after failures. */
function reporter(name: string, periodMs: number, send: () => Promise<void>): Loop {
  const period = Math.max(1000, periodMs);
  return new Loop(`metrics ${name}`, async () => void await send(), {
    periodMs: period,
    initialDelayMs: period,
    errorBackoffMs: 1000,
    errorBackoffMaxMs: 15_000,
    onError: (loop, message, retryMs) => log.warn(`${loop}: ${message}; next try in ${retryMs / 1000} s`),
  });
}

/** The reporters the configuration asks for; `stop()` ends them. */
export class MetricsReporters {
  #reporters: Loop[] = [];
  #udp: dgram.Socket | null = null;

  constructor(proxy: MetricsSource) {
    const c = proxy.config;
    if (c.metricsReportServer) {
      this.#reporters.push(reporter("server", c.metricsReportPeriod, async () => {
        const res = await fetch(c.metricsReportServer, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: toCodisJson(proxy.overviewJson()),
          signal: AbortSignal.timeout(5000),
        });
        await res.body?.cancel();
        if (!res.ok) throw new Error(`${c.metricsReportServer} answered ${res.status}`);
      }));
    }
    if (c.metricsReportInfluxdbServer) {
      const url = new URL("/write", c.metricsReportInfluxdbServer);
      if (c.metricsReportInfluxdbDatabase) url.searchParams.set("db", c.metricsReportInfluxdbDatabase);
      if (c.metricsReportInfluxdbUsername) url.searchParams.set("u", c.metricsReportInfluxdbUsername);
      if (c.metricsReportInfluxdbPassword) url.searchParams.set("p", c.metricsReportInfluxdbPassword);
      this.#reporters.push(reporter("influxdb", c.metricsReportInfluxdbPeriod, async () => {
        const res = await fetch(url, { method: "POST", body: influxLine(proxy), signal: AbortSignal.timeout(5000) });
        await res.body?.cancel();
        if (!res.ok) throw new Error(`${url.origin} answered ${res.status}`);
      }));
    }
    if (c.metricsReportStatsdServer) {
      const { host, port } = parseAddr(c.metricsReportStatsdServer);
      this.#reporters.push(reporter("statsd", c.metricsReportStatsdPeriod, async () => {
        const udp = this.#udp ??= dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
        const lines = Object.entries(metricFields(proxy))
          .map(([k, v]) => `${statsdKey(c.metricsReportStatsdPrefix, proxy, k)}:${v}|g`)
          .join("\n");
        await new Promise<void>((resolve, reject) =>
          udp.send(lines, port, host, (e: Error | null) => e ? reject(e) : resolve())
        );
      }));
    }
  }

  /** Stops every reporter (a report in flight finishes first). */
  async stop(): Promise<void> {
    await Promise.all(this.#reporters.map((r) => r.stop()));
    this.#udp?.close();
    this.#udp = null;
  }
}
