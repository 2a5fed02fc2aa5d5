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
import { log } from "../utils/log.ts";
import { parseAddr } from "../utils/addr.ts";
import type { Proxy } from "./proxy.ts";
import { toCodisJson } from "../utils/json.ts";
import { errorMessage } from "../utils/errors.ts";

/** Codis's metric fields, from the proxy's counters. */
export function metricFields(proxy: Proxy): Record<string, number> {
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
export function statsdKey(prefix: string, proxy: Proxy, field: string): string {
  const addr = (a: string) => a.replace(/[.:]/g, "_");
  const parts = [proxy.config.productName, addr(proxy.model.adminAddr), addr(proxy.model.proxyAddr), field];
  return (prefix ? [prefix, ...parts] : parts).join(".");
}

/** One InfluxDB line: `codis_usage,tag=… field=…i,…`. */
export function influxLine(proxy: Proxy): string {
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

/** A reporter loop: `send` every `periodMs` (at least 1 s), backing off after failures. */
class Reporter {
  #stopped = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(readonly name: string, readonly periodMs: number, readonly send: () => Promise<void>) {
    this.#schedule(Math.max(1000, periodMs));
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => this.#run(), ms);
  }

  async #run(backoff = 0): Promise<void> {
    try {
      await this.send();
      this.#schedule(Math.max(1000, this.periodMs));
    } catch (e) {
      const next = Math.min(15_000, Math.max(1000, backoff * 2));
      log.warn(`metrics ${this.name}: ${errorMessage(e)}; next try in ${next / 1000} s`);
      if (!this.#stopped) this.#timer = setTimeout(() => this.#run(next), next);
    }
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}

/** The reporters the configuration asks for; `stop()` ends them. */
export class MetricsReporters {
  #reporters: Reporter[] = [];
  #udp: dgram.Socket | null = null;

  constructor(proxy: Proxy, overview: () => unknown) {
    const c = proxy.config;
    if (c.metricsReportServer) {
      this.#reporters.push(
        new Reporter("server", c.metricsReportPeriod, async () => {
          const res = await fetch(c.metricsReportServer, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: toCodisJson(overview()),
            signal: AbortSignal.timeout(5000),
          });
          await res.body?.cancel();
          if (!res.ok) throw new Error(`${c.metricsReportServer} answered ${res.status}`);
        }),
      );
    }
    if (c.metricsReportInfluxdbServer) {
      const url = new URL("/write", c.metricsReportInfluxdbServer);
      if (c.metricsReportInfluxdbDatabase) url.searchParams.set("db", c.metricsReportInfluxdbDatabase);
      if (c.metricsReportInfluxdbUsername) url.searchParams.set("u", c.metricsReportInfluxdbUsername);
      if (c.metricsReportInfluxdbPassword) url.searchParams.set("p", c.metricsReportInfluxdbPassword);
      this.#reporters.push(
        new Reporter("influxdb", c.metricsReportInfluxdbPeriod, async () => {
          const res = await fetch(url, { method: "POST", body: influxLine(proxy), signal: AbortSignal.timeout(5000) });
          await res.body?.cancel();
          if (!res.ok) throw new Error(`${url.origin} answered ${res.status}`);
        }),
      );
    }
    if (c.metricsReportStatsdServer) {
      const { host, port } = parseAddr(c.metricsReportStatsdServer);
      this.#reporters.push(
        new Reporter("statsd", c.metricsReportStatsdPeriod, async () => {
          const udp = this.#udp ??= dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
          const lines = Object.entries(metricFields(proxy))
            .map(([k, v]) => `${statsdKey(c.metricsReportStatsdPrefix, proxy, k)}:${v}|g`)
            .join("\n");
          await new Promise<void>((resolve, reject) =>
            udp.send(lines, port, host, (e: Error | null) => e ? reject(e) : resolve())
          );
        }),
      );
    }
  }

  stop(): void {
    for (const r of this.#reporters) r.stop();
    this.#udp?.close();
    this.#udp = null;
  }
}
