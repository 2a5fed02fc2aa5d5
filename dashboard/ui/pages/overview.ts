/**
 * Overview: the product, its coordinator and dashboard, the cluster's totals, and live charts of
 * QPS and latency per proxy and in total.
 *
 * @module
 */

import { Chart } from "../chart.ts";
import { Card, Empty, fmtBytes, fmtInt, fmtUsecs, Stat } from "../components.ts";
import { html } from "../html.ts";
import { totals } from "../model.ts";
import { events, go, samples } from "../state.ts";
import type { Overview as OverviewJson } from "../types.ts";

const trim = (v: number) => String(Number(v.toFixed(2)));
const axisCount = (v: number) => v >= 1e6 ? `${trim(v / 1e6)}M` : v >= 1e3 ? `${trim(v / 1e3)}k` : trim(v);
const axisUsecs = (v: number) => v >= 1000 ? `${trim(v / 1000)} ms` : `${trim(v)} µs`;

export function OverviewPage(props: { o: OverviewJson }) {
  const o = props.o;
  const t = totals(o);
  const config = o.config;
  const ss = samples.value;
  const times = ss.map((s) => s.t);
  const proxies = o.stats.proxy.models;
  const name = (token: string) => proxies.find((p) => p.token === token)?.proxy_addr || token.slice(0, 8);
  const tokens = [...new Set(ss.flatMap((s) => Object.keys(s.qps)))].sort();
  const qpsSeries = [
    { label: "total", values: ss.map((s) => s.totalQps), bold: true },
    ...tokens.map((tk) => ({ label: name(tk), values: ss.map((s) => s.qps[tk] ?? null) })),
  ];
  const latencySeries = [
    { label: "total", values: ss.map((s) => s.totalUsecs), bold: true },
    ...tokens.map((tk) => ({ label: name(tk), values: ss.map((s) => s.usecs[tk] ?? null) })),
  ];
  return html`
    <div class="page">
      <${Card} title="Product" testid="overview-product">
          <dl class="facts">
            <dt>Product</dt><dd data-testid="product-name">${config.product_name}</dd>
            <dt>Coordinator</dt><dd>${config.coordinator_name} · <code>${config.coordinator_addr}</code></dd>
            <dt>Dashboard</dt><dd>
              <a href=${`http://${o.model.admin_addr}/`} target="_blank" rel="noopener"><code>${o.model
                .admin_addr}</code></a>
              · <a href=${`http://${o.model.admin_addr}/topom`} target="_blank" rel="noopener">/topom</a>
              · pid ${o.model.pid} · since ${o.model.start_time}
            </dd>
            <dt>Version</dt><dd>${o.version}</dd>
          </dl>
        <//>
        <div class="stats-row">
          <${Stat} label="QPS" value=${fmtInt(
            t.qps,
          )} hint=${`${t.healthyProxies} of ${t.proxies} proxies healthy`} testid="total-qps" />
          <${Stat} label="Sessions" value=${fmtInt(t.sessions)} testid="total-sessions" />
          <${Stat} label="Redis memory" value=${fmtBytes(t.memory)} hint="used by the masters" testid="total-memory" />
          <${Stat} label="Redis keys" value=${fmtInt(t.keys)} hint="on the masters" testid="total-keys" />
          <${Stat}
            label="Slots"
            value=${fmtInt(1024 - t.offlineSlots)}
            hint=${t.migratingSlots > 0
              ? `${t.migratingSlots} migrating`
              : t.offlineSlots > 0
              ? `of 1024; ${t.offlineSlots} offline`
              : "of 1024: all assigned"}
            testid="total-slots"
          />
          <${Stat} label="Groups" value=${fmtInt(t.groups)} hint=${`${t.servers} servers`} />
        </div>
        ${t.groups === 0
          ? html`<${Empty} title="No groups yet" testid="empty-groups">
          Create a group and add its Redis servers on the <a href="#" onClick=${(e: Event) => {
            e.preventDefault();
            go("groups");
          }}>Groups</a> page, then assign the slots to it on the Slots page.
        <//>`
          : null}
        ${t.proxies === 0
          ? html`<${Empty} title="No proxies yet" testid="empty-proxies">
          Start one with <code>deno task proxy --config=proxy.toml --dashboard=${o.model.admin_addr}</code>: it registers
          itself. A proxy started without <code>--dashboard</code> is added by its admin address on the Proxies page.
        <//>`
          : null}
        <div class="charts">
          <${Chart} title="Operations per second" times=${times} series=${qpsSeries} unit=${fmtInt} axis=${axisCount} testid="chart-qps" />
          <${Chart}
            title="Mean latency per command (proxy side)"
            times=${times}
            series=${latencySeries}
            unit=${fmtUsecs}
            axis=${axisUsecs}
            testid="chart-latency"
          />
        </div>
        ${events.value.length > 0
          ? html`
            <${Card} title="Recent events" testid="events">
              <ul class="events">${events.value.map((e) =>
                html`<li><time>${new Date(e.time).toLocaleTimeString()}</time> ${e.text}</li>`
              )}</ul>
              <//>
          `
          : null}
      </div>
  `;
}
