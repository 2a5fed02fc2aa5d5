/**
 * Sentinels: add / remove (forced when one is gone) / resync, each sentinel's status and its view
 * of every group's master (flagged when it differs from the group's), and the failovers seen.
 *
 * @module
 */

import { seg } from "../api.ts";
import { Badge, Button, Card, Empty, InlineForm } from "../components.ts";
import { html } from "../html.ts";
import { act, events } from "../state.ts";
import type { Overview, SentinelProbe } from "../types.ts";

/** Codis's status text: `masters=…,down=…,slaves=<avg>,sentinels=<avg>` from a sentinel's INFO. */
function statusText(info: Record<string, string> | undefined, product: string): string {
  if (!info) return "–";
  let masters = 0, down = 0, slaves = 0, sentinels = 0;
  for (const [k, v] of Object.entries(info)) {
    if (!/^master\d+$/.test(k)) continue;
    const f = Object.fromEntries(v.split(",").map((kv) => kv.split("=", 2)));
    if (!String(f.name ?? "").startsWith(`${product}-`)) continue;
    masters++;
    if (f.status !== "ok") down++;
    slaves += Number(f.slaves ?? 0);
    sentinels += Number(f.sentinels ?? 0);
  }
  const avg = (n: number) => masters === 0 ? "0" : (n / masters).toFixed(masters > 1 && n % masters ? 2 : 0);
  return `masters=${masters},down=${down},slaves=${avg(slaves)},sentinels=${avg(sentinels)}`;
}

function Views(props: { o: Overview; probe: SentinelProbe | undefined }) {
  const { o, probe } = props;
  const product = String(o.config.product_name);
  const groups = [...o.stats.group.models].sort((a, b) => a.id - b.id);
  if (!probe?.sentinel) return html`<span class="muted">–</span>`;
  return html`<ul class="views">${
    groups.map((g) => {
      const seen = probe.sentinel?.[`${product}-${g.id}`];
      const expected = (g.servers ?? [])[0]?.server;
      if (!seen) return html`<li>group ${g.id}: <${Badge} kind="warn">not monitored<//></li>`;
      const addr = `${seen.master.ip}:${seen.master.port}`;
      const flags = seen.master.flags ?? "";
      return html`<li>
        group ${g.id}: <code>${addr}</code>
        ${
        addr !== expected
          ? html`
            <${Badge} kind="bad" title=${`the group's master is ${expected}`}>differs<//>
          `
          : null
      }
        ${
        flags !== "master"
          ? html`
            <${Badge} kind="warn">${flags}<//>
          `
          : null
      }
        <span class="muted"> · ${seen.slaves.length} replicas · epoch ${seen.master["config-epoch"] ?? "?"}</span>
      </li>`;
    })
  }</ul>`;
}

export function SentinelsPage(props: { o: Overview }) {
  const o = props.o;
  const model = o.stats.sentinels.model;
  const servers = model.servers ?? [];
  const product = String(o.config.product_name);
  const masters = Object.entries(o.stats.sentinels.masters).sort((a, b) => Number(a[0]) - Number(b[0]));
  const actions = html`
    <${InlineForm}
      label="Add sentinel"
      testid="sentinel-add"
      fields=${[{ name: "addr", placeholder: "host:port", size: 20 }]}
      submit="Add"
      onSubmit=${({ addr }: Record<string, string>) =>
        act("Add sentinel", (x) => `sentinels/add/${x}/${seg(addr.trim())}`, { done: `sentinel ${addr} added` })}
    />
    <${Button}
      kind=${model.out_of_sync ? "warn" : "plain"}
      label="Resync sentinels"
      title="program every sentinel with the groups' masters again"
      onClick=${() => act("Resync sentinels", (x) => `sentinels/resync-all/${x}`, { done: "sentinels resynced" })}
    >${model.out_of_sync ? "Resync all (out of sync)" : "Resync all"}<//>
  `;
  return html`
    <div class="page">
      <${Card} title=${`Sentinels (${servers.length})`} actions=${actions} testid="sentinels">
          ${servers.length === 0
            ? html`<${Empty} title="No sentinels">
          Without sentinels a dead master stays dead. Start three or more <code>redis-sentinel</code> processes, add them
          here, then Resync all: the dashboard programs them to watch every group.
        <//>`
            : html`
              <table class="table" data-testid="sentinel-table">
                <thead>
                  <tr>
                    <th>Sentinel</th>
                    <th>Status</th>
                    <th>Its view of the masters</th>
                    <th></th>
                  </tr>
                </thead>
                <tbody>${servers.map((addr) => {
                  const probe = o.stats.sentinels.stats[addr];
                  const error = probe?.timeout ? "timeout" : probe?.error?.Cause;
                  return html`
                    <tr key=${addr} data-sentinel=${addr}>
                      <td><code>${addr}</code></td>
                      <td>${error
                        ? html`<${Badge} kind="bad">${error}<//>`
                        : html`<code>${statusText(probe?.stats, product)}</code>`}</td>
                      <td>
                        <${Views} o=${o} probe=${probe} />
                      </td>
                      <td class="actions">
                        <${Button} small kind="danger" label=${`Remove sentinel ${addr}`}
                          confirm=${html`<p>Remove sentinel <code>${addr}</code>? It stops watching this product's groups.</p>`}
                          onClick=${() =>
                            act(`Remove sentinel ${addr}`, (x) => `sentinels/del/${x}/${seg(addr)}/0`)}>Remove<//>
                                    <${Button} small kind="danger" label=${`Force-remove sentinel ${addr}`}
                                      confirm=${html`<p>Drop sentinel <code>${addr}</code> from the list even if it cannot be reached?</p>`}
                                      onClick=${() =>
                                        act(
                                          `Force-remove sentinel ${addr}`,
                                          (x) => `sentinels/del/${x}/${seg(addr)}/1`,
                                        )}>Force<//>
                                  </td>
                                </tr>
                  `;
                })}</tbody>
              </table>
            `}
        <//>
        <${Card} title="Masters by the sentinels' majority" testid="sentinel-masters">
          ${masters.length === 0
            ? html`<p class="muted">No answer from a majority of sentinels yet.</p>`
            : html`<ul class="views">${
              masters.map(([gid, addr]) => {
                const g = o.stats.group.models.find((m) => String(m.id) === gid);
                const expected = g?.servers?.[0]?.server;
                return html`<li>group ${gid}: <code>${addr}</code>${
                  expected && expected !== addr
                    ? html`
                      <${Badge} kind="warn">group says ${expected}<//>
                    `
                    : null
                }</li>`;
              })
            }</ul>`}
        <//>
        <${Card} title="Failovers seen" testid="failovers">
          ${events.value.length === 0
            ? html`<p class="muted">None since this page was opened. A failover shows here as soon as the dashboard sees it.</p>`
            : html`<ul class="events">${
              events.value.map((e) => html`<li><time>${new Date(e.time).toLocaleTimeString()}</time> ${e.text}</li>`)
            }</ul>`}
        <//>
      </div>
  `;
}
