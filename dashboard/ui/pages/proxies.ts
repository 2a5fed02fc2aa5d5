/**
 * Proxies: Codis's table (status, addresses, sessions, commands, switched / primary-only), and
 * new / reinit / remove (forced when the proxy is gone).
 *
 * @module
 */

import { seg } from "../api.ts";
import { Badge, Button, Card, Empty, fmtInt, InlineForm } from "../components.ts";
import { html } from "../html.ts";
import { proxyStatus } from "../model.ts";
import { act } from "../state.ts";
import type { Overview } from "../types.ts";

const STATUS_KIND = { HEALTHY: "ok", PENDING: "warn", TIMEOUT: "bad", ERROR: "bad" } as const;

export function ProxiesPage(props: { o: Overview }) {
  const o = props.o;
  const proxies = [...o.stats.proxy.models].sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
  const addForm = html`
    <${InlineForm}
      label="New proxy"
      testid="proxy-create"
      fields=${[{ name: "addr", placeholder: "admin address (host:port)", size: 24 }]}
      submit="Add"
      onSubmit=${({ addr }: Record<string, string>) =>
        act("New proxy", (x) => `proxy/create/${x}/${seg(addr.trim())}`, { done: `proxy ${addr} added` })}
    />
  `;
  return html`
    <div class="page">
      <${Card} title=${`Proxies (${proxies.length})`} actions=${addForm} testid="proxies">
          ${proxies.length === 0
            ? html`<${Empty} title="No proxies yet">
          A proxy started with <code>--dashboard=${o.model.admin_addr}</code> registers itself; one started without it is
          added here by its admin address.
        <//>`
            : html`
              <table class="table" data-testid="proxy-table">
                <thead>
                  <tr>
                    <th>#</th>
                    <th>Status</th>
                    <th>Proxy</th>
                    <th>Admin</th>
                    <th>DC</th>
                    <th>Sessions</th>
                    <th>Commands</th>
                    <th>QPS</th>
                    <th>Markers</th>
                    <th></th>
                  </tr>
                </thead>
                <tbody>${proxies.map((p) => {
                  const probe = o.stats.proxy.stats[p.token];
                  const s = probe?.stats;
                  const st = proxyStatus(probe);
                  return html`
                    <tr key=${p.token} data-proxy=${p.proxy_addr}>
                      <td>${p.id}</td>
                      <td>
                        <${Badge} kind=${STATUS_KIND[st.status]} title=${st.cause}>${st.status}<//>
                                    ${st.cause && st.status !== "PENDING"
                                      ? html`<div class="cause">${st.cause}</div>`
                                      : null}</td>
                                  <td><code>${p.proxy_addr}</code></td>
                                  <td>
                                    <a href=${`http://${p.admin_addr}/proxy`} target="_blank" rel="noopener">${p
                                      .admin_addr}</a>${" · "}<a href=${`http://${p.admin_addr}/proxy/stats`} target="_blank" rel="noopener">stats</a>
                                  </td>
                                  <td>${p.datacenter || "–"}</td>
                                  <td>${s
                                    ? html`total=${fmtInt(s.sessions.total)}, alive=${fmtInt(s.sessions.alive)}`
                                    : "–"}</td>
                                  <td>${s
                                    ? html`total=${fmtInt(s.ops.total)}, fails=${fmtInt(s.ops.fails)}, rsp.errs=${
                                      fmtInt(s.ops.redis.errors)
                                    }`
                                    : "–"}</td>
                                  <td class="num">${s ? fmtInt(s.ops.qps) : "–"}</td>
                                  <td>
                                    ${s?.sentinels?.switched
                                      ? html`<${Badge} kind="warn" title="switched to the sentinels' masters">switched<//>`
                                      : null}
                                    ${s?.backend?.primary_only
                                      ? html`<${Badge} kind="info" title="reads only from masters">primary only<//>`
                                      : null}
                                  </td>
                                  <td class="actions">
                                    <${Button} small label=${`Reinit ${p.proxy_addr}`} onClick=${() =>
                                      act(`Reinit ${p.proxy_addr}`, (x) => `proxy/reinit/${x}/${p.token}`, {
                                        done: `proxy ${p.proxy_addr} reinitialized`,
                                      })}>
                                      Reinit
                                    <//>
                                    <${Button}
                                      small
                                      kind="danger"
                                      label=${`Remove proxy ${p.proxy_addr}`}
                                      confirm=${html`<p>Remove proxy <code>${p.proxy_addr}</code> (admin ${p.admin_addr}) from the product? It goes offline and
                    stops serving its clients.</p>`}
                                      onClick=${() =>
                                        act(`Remove proxy ${p.proxy_addr}`, (x) => `proxy/remove/${x}/${p.token}/0`)}
                                    >Remove<//>
                                    <${Button}
                                      small
                                      kind="danger"
                                      label=${`Force-remove proxy ${p.proxy_addr}`}
                                      confirm=${html`<p>Remove proxy <code>${p.proxy_addr}</code> from the store even if it does not answer? Use this
                    only for a proxy that is gone for good.</p>`}
                                      onClick=${() =>
                                        act(
                                          `Force-remove proxy ${p.proxy_addr}`,
                                          (x) => `proxy/remove/${x}/${p.token}/1`,
                                        )}
                                    >Force<//>
                                  </td>
                                </tr>
                  `;
                })}</tbody>
              </table>
            `}
        <//>
      </div>
  `;
}
