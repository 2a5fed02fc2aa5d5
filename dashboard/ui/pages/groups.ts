/**
 * Groups: each group's servers (role, replication link and lag, memory, keys per db, sync action,
 * HA and out-of-sync markers) and every group action: new group, add/remove server, promote,
 * sync, resync, replica reads.
 *
 * @module
 */

import { seg } from "../api.ts";
import { Badge, Button, Card, Empty, fmtBytes, fmtInt, InlineForm } from "../components.ts";
import { html } from "../html.ts";
import { serverView } from "../model.ts";
import { act } from "../state.ts";
import type { GroupJson, Overview } from "../types.ts";

function Server(props: { o: Overview; g: GroupJson; index: number }) {
  const { o, g, index } = props;
  const s = (g.servers ?? [])[index];
  const v = serverView(o, g, index);
  const sentinelMaster = o.stats.sentinels.masters[String(g.id)];
  const syncState = s.action?.state ?? "";
  const promoting = !!g.promoting?.state;
  return html`
    <tr key=${s.server} data-server=${s.server}>
      <td>${index}</td>
      <td>
          <code>${s.server}</code>
          ${v.role === "master"
            ? html`
              <${Badge} kind="info">master<//>
            `
            : v.role
            ? html`
              <${Badge} kind="muted">replica<//>
            `
            : null}
          ${v.ha
            ? html`
              <${Badge} kind="ok" title="the sentinels' master for this group">HA<//>
            `
            : null}
          ${index === 0 && sentinelMaster && sentinelMaster !== s.server
            ? html`
              <${Badge} kind="bad" title=${`the sentinels say ${sentinelMaster}`}>sentinels: ${sentinelMaster}<//>
            `
            : null}
          ${v.error ? html`<div class="cause">${v.error}</div>` : null}
        </td>
      <td>${s.datacenter || "–"}</td>
      <td class=${v.linkExpected ? "" : "warn-text"} title=${v.linkExpected ? "" : "not what the group expects"}>
        <code>${v.link}</code>
      </td>
      <td>${index === 0
        ? "–"
        : html`${v.lagBytes === null ? "–" : fmtBytes(v.lagBytes)}${
          v.lastIoSeconds !== null ? html`<span class="muted"> · ${v.lastIoSeconds} s</span>` : null
        }`}</td>
      <td>${fmtBytes(v.usedMemory)} / ${v.maxMemory ? fmtBytes(v.maxMemory) : "∞"}</td>
      <td>${v.keys.length === 0
        ? html`<span class="muted">empty</span>`
        : v.keys.map((d) => html`<div>db${d.db}: ${fmtInt(d.keys)}</div>`)}</td>
      <td>
          ${syncState
            ? html`
              <${Badge} kind=${syncState === "synced"
                ? "ok"
                : syncState === "synced_failed"
                ? "bad"
                : "info"}>${syncState}<//>
            `
            : null}
          ${index > 0 && (!syncState || syncState === "synced" || syncState === "synced_failed")
            ? html`
              <${Button} small label=${`Sync ${s.server}`} title="make it a replica of the group's master (REPLICAOF)"
                onClick=${() => act(`Sync ${s.server}`, (x) => `group/action/create/${x}/${seg(s.server)}`)}>Sync<//>
            `
            : null}
          ${syncState === "pending"
            ? html`
              <${Button} small label=${`Cancel sync ${s.server}`}
                onClick=${() =>
                  act(`Cancel sync ${s.server}`, (x) => `group/action/remove/${x}/${seg(s.server)}`)}>Cancel<//>
            `
            : null}
        </td>
      <td>
        <label class="check" title="serve reads of other groups' slots from this server">
            <input type="checkbox" checked=${!!s.replica_group} onChange=${(e: Event) =>
              act(
                `Replica reads ${s.server}`,
                (x) =>
                  `group/replica-groups/${x}/${g.id}/${seg(s.server)}/${
                    (e.target as HTMLInputElement).checked ? 1 : 0
                  }`,
              )} />
            reads
          </label>
      </td>
      <td class="actions">
          ${index > 0
            ? html`
              <${Button}
                small
                kind="warn"
                label=${`Promote ${s.server}`}
                disabled=${promoting}
                confirm=${html`<p>Make <code>${s.server}</code> the master of group ${g.id}? The proxies switch to it; the
            current master <code>${(g.servers ?? [])[0]?.server}</code> becomes a replica to resync.</p>`}
                onClick=${() => act(`Promote ${s.server}`, (x) => `group/promote/${x}/${g.id}/${seg(s.server)}`)}
              >Promote<//>
            `
            : null}
          <${Button}
            small
            kind="danger"
            label=${`Remove server ${s.server}`}
            confirm=${html`<p>Remove <code>${s.server}</code> from group ${g.id}? Its data stays on the server, but the
          cluster stops using it.</p>`}
            onClick=${() => act(`Remove server ${s.server}`, (x) => `group/del/${x}/${g.id}/${seg(s.server)}`)}
          >Remove<//>
        </td>
      </tr>
  `;
}

function Group(props: { o: Overview; g: GroupJson }) {
  const { o, g } = props;
  const slots = o.stats.slots.filter((s) => s.group_id === g.id).length;
  const servers = g.servers ?? [];
  const actions = html`
    ${g.promoting?.state ? html`<${Badge} kind="warn">promoting: ${g.promoting.state}<//>` : null}
    <${Button}
      small
      kind=${g.out_of_sync ? "warn" : "plain"}
      label=${`Resync group ${g.id}`}
      title=${g.out_of_sync ? "the proxies' view of this group is out of date" : "push this group to the proxies again"}
      onClick=${() =>
        act(`Resync group ${g.id}`, (x) => `group/resync/${x}/${g.id}`, { done: `group ${g.id} resynced` })}
    >${g.out_of_sync ? "Resync (out of sync)" : "Resync"}<//>
    <${Button}
      small
      kind="danger"
      label=${`Remove group ${g.id}`}
      confirm=${html`<p>Remove group ${g.id}? Only an empty group (no servers, no slots) can be removed.</p>`}
      onClick=${() => act(`Remove group ${g.id}`, (x) => `group/remove/${x}/${g.id}`)}
    >Remove group<//>
  `;
  return html`
    <${Card}
      title=${html`Group ${g.id} <span class="muted">· ${slots} slots · ${servers.length} servers</span>`}
      actions=${actions}
      testid=${`group-${g.id}`}
    >
        ${servers.length === 0
          ? html`<p class="muted">No servers: add the group's master first (Add server above), then its replicas.</p>`
          : html`
            <table class="table">
              <thead>
                <tr>
                  <th>#</th>
                  <th>Server</th>
                  <th>DC</th>
                  <th>Master link</th>
                  <th>Lag</th>
                  <th>Memory</th>
                  <th>Keys</th>
                  <th>Sync</th>
                  <th>Replica</th>
                  <th></th>
                </tr>
              </thead>
              <tbody>${servers.map((_, i) => html`<${Server} o=${o} g=${g} index=${i} />`)}</tbody>
            </table>
          `}
      <//>
  `;
}

export function GroupsPage(props: { o: Overview }) {
  const o = props.o;
  const groups = [...o.stats.group.models].sort((a, b) => a.id - b.id);
  return html`
    <div class="page">
      <${Card} title="Groups" testid="group-forms">
        <div class="form-grid">
          <${InlineForm}
            label="New group"
            testid="group-create"
            fields=${[{ name: "gid", placeholder: "group id", size: 6, type: "number" }]}
            submit="Create"
            onSubmit=${({ gid }: Record<string, string>) =>
              act("New group", (x) => `group/create/${x}/${seg(gid)}`, { done: `group ${gid} created` })}
          />
          <${InlineForm}
            label="Add server"
            testid="group-add"
            fields=${[
              { name: "gid", placeholder: "group id", size: 6, type: "number" },
              { name: "addr", placeholder: "host:port", size: 20 },
              { name: "dc", placeholder: "datacenter (optional)", size: 12 },
            ]}
            submit="Add"
            onSubmit=${({ gid, addr, dc }: Record<string, string>) =>
              act(
                "Add server",
                (x) => `group/add/${x}/${seg(gid)}/${seg(addr.trim())}${dc.trim() ? `/${seg(dc.trim())}` : ""}`,
                { done: `${addr} added to group ${gid}` },
              )}
          />
          <div class="inline-form">
            <span class="form-label">All groups</span>
            <${Button} label="Resync all groups" onClick=${() =>
              act("Resync all groups", (x) => `group/resync-all/${x}`, { done: "all groups resynced" })}>Resync all<//>
              <${Button} label="Enable replica reads" onClick=${() =>
                act("Enable replica reads", (x) => `group/replica-groups-all/${x}/1`)}>Replica reads on<//>
              <${Button} label="Disable replica reads" onClick=${() =>
                act("Disable replica reads", (x) => `group/replica-groups-all/${x}/0`)}>Replica reads off<//>
            </div>
          </div>
        <//>
        ${groups.length === 0
          ? html`<${Empty} title="No groups yet" testid="empty-groups">
          Create a group (its id, 1 to 9999), add its master's address, then its replicas; then give it slots on the
          Slots page.
        <//>`
          : groups.map((g) => html`<${Group} key=${g.id} o=${o} g=${g} />`)}
      </div>
  `;
}
