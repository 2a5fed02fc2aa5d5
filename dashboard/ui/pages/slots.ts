/**
 * Slots: a map of the 1024 slots coloured by group (migrating and offline ones marked), the
 * migration forms (a range, N slots, rebalance with its preview), the scheduler's interval and
 * switch, the queued actions, and the live progress of the batch being moved.
 *
 * @module
 */

import { useState } from "preact/hooks";
import { Badge, Button, Card, Empty, fmtInt, fmtSeconds, groupColor, InlineForm, ProgressBar } from "../components.ts";
import { html } from "../html.ts";
import { isMigrating, ranges, type SlotRange } from "../model.ts";
import { act, ask, queuePeak } from "../state.ts";
import type { Overview, SlotJson } from "../types.ts";

/** Rows of the batch table shown (the rest are counted). */
const ROWS = 12;
const pad = (n: number) => String(n).padStart(4, "0");

function slotTitle(s: SlotJson): string {
  if (isMigrating(s)) {
    return `slot ${s.id}: group ${
      s.group_id ?? 0
    } → group ${s.action?.target_id} (${s.action?.state}, #${s.action?.index})`;
  }
  return s.group_id ? `slot ${s.id}: group ${s.group_id}` : `slot ${s.id}: offline`;
}

function SlotMap(props: { slots: SlotJson[] }) {
  return html`<div class="slot-map" data-testid="slot-map">
    ${
    props.slots.map((s) => {
      const gid = s.group_id ?? 0;
      const migrating = isMigrating(s);
      const style = migrating
        ? `background: repeating-linear-gradient(135deg, ${groupColor(gid)} 0 3px, ${
          groupColor(s.action?.target_id ?? 0)
        } 3px 6px)`
        : `background: ${groupColor(gid)}`;
      return html`
        <div
          key=${s.id}
          class=${`slot${migrating ? " migrating" : ""}${gid === 0 ? " offline" : ""}`}
          style=${style}
          title=${slotTitle(s)}
          data-slot=${s.id}
          data-group=${gid}
          data-state=${s.action?.state ?? ""}
        ></div>
      `;
    })
  }
  </div>`;
}

function Legend(props: { slots: SlotJson[]; groups: number[] }) {
  const count = new Map<number, number>();
  for (const s of props.slots) count.set(s.group_id ?? 0, (count.get(s.group_id ?? 0) ?? 0) + 1);
  const migrating = props.slots.filter(isMigrating).length;
  return html`<div class="legend">
    ${
    props.groups.map((g) =>
      html`<span class="legend-item"><i style=${`background:${groupColor(g)}`}></i>group ${g}: ${
        count.get(g) ?? 0
      }</span>`
    )
  }
    ${
    count.get(0)
      ? html`<span class="legend-item"><i style=${`background:${groupColor(0)}`}></i>offline: ${count.get(0)}</span>`
      : null
  }
    ${
    migrating ? html`<span class="legend-item"><i class="striped"></i>migrating or queued: ${migrating}</span>` : null
  }
  </div>`;
}

function RangeList(props: { list: SlotRange[]; testid?: string }) {
  return html`<ul class="ranges" data-testid=${props.testid}>
    ${
    props.list.map((r) =>
      html`<li><i style=${`background:${groupColor(r.gid)}`}></i><code>[${pad(r.beg)}, ${pad(r.end)}]</code> ${
        r.gid ? html`group ${r.gid}` : "offline"
      } <span class="muted">(${r.end - r.beg + 1})</span></li>`
    )
  }
  </ul>`;
}

function Progress(props: { o: Overview }) {
  const m = props.o.stats.slot_action.migration;
  const queued = props.o.stats.slots.filter(isMigrating);
  if (m.slots.length === 0 && queued.length === 0) return null;
  const moved = m.slots.reduce((n, s) => n + s.moved, 0);
  const remaining = m.slots.reduce((n, s) => n + s.remaining, 0);
  const rate = m.keys_per_second;
  const eta = rate > 0 ? remaining / rate : null;
  // The slots with most left first: those are the ones the batch waits for.
  const rows = [...m.slots].sort((a, b) => b.remaining - a.remaining || a.slot - b.slot);
  const total = Math.max(queuePeak.value, queued.length);
  return html`<${Card} title="Migration in progress" testid="migration-progress">
    <div class="progress-row">
      <span class="progress-label">Slots</span>
      <${ProgressBar} fraction=${total > 0 ? (total - queued.length) / total : 0}
        label=${`${total - queued.length} of ${total} slots moved (counted from when this page saw the queue)`} />
    </div>
    ${
    m.big_key
      ? html`
        <div class="progress-row" data-testid="big-key">
          <span class="progress-label">Big key</span>
          <${ProgressBar} fraction=${m.big_key.total > 0 ? m.big_key.copied / m.big_key.total : 0}
            label=${`${m.big_key.key} (${m.big_key.type}, db ${m.big_key.db}): ${fmtInt(m.big_key.copied)} of ${
              fmtInt(m.big_key.total)
            } elements copied in pieces; writes to it wait`} />
        </div>
      `
      : null
  }
    <div class="progress-summary">
      <span><strong data-testid="batch-slots">${m.slots.length}</strong> slots in this batch</span>
      <span><strong>${queued.length}</strong> slots queued or moving</span>
      <span><strong data-testid="keys-moved">${fmtInt(moved)}</strong> keys moved</span>
      <span><strong data-testid="keys-per-second">${fmtInt(rate)}</strong> keys/s</span>
      <span>about <strong data-testid="eta">${eta === null ? "–" : fmtSeconds(eta)}</strong> left in this batch</span>
    </div>
    ${
    m.slots.length > 0
      ? html`
        <${ProgressBar} fraction=${moved + remaining > 0 ? moved / (moved + remaining) : 0}
          label=${`${fmtInt(moved)} of ~${fmtInt(moved + remaining)} keys`} />
                <table class="table compact">
          <thead>
            <tr>
              <th>Slot</th>
              <th>From</th>
              <th>To</th>
              <th>Moved</th>
              <th>Left (est.)</th>
              <th>Passes</th>
              <th>Time</th>
              <th></th>
            </tr>
          </thead>
          <tbody>${rows.slice(0, ROWS).map((s) =>
            html`
              <tr key=${s.slot}>
                <td>${s.slot}</td>
                <td><code>${s.from}</code></td>
                <td><code>${s.to}</code></td>
                <td class="num">${fmtInt(s.moved)}</td>
                <td class="num">${fmtInt(s.remaining)}</td>
                <td class="num">${s.passes}</td>
                <td class="num">${fmtSeconds(s.seconds)}</td>
                <td class="bar-cell">
                  <${ProgressBar} fraction=${s.moved + s.remaining > 0 ? s.moved / (s.moved + s.remaining) : 0} />
                </td>
              </tr>
            `
          )}</tbody>
        </table>
                ${rows.length > ROWS
                  ? html`<p class="muted">and ${rows.length - ROWS} more slots in this batch</p>`
                  : null}
      `
      : html`<p class="muted">Waiting for the next batch (the scheduler's interval, or it is disabled).</p>`
  }
  <//>`;
}

function ActionList(props: { o: Overview }) {
  const queued = props.o.stats.slots.filter(isMigrating).sort((a, b) =>
    (a.action?.index ?? 0) - (b.action?.index ?? 0)
  );
  if (queued.length === 0) return html`<p class="muted">No slot actions.</p>`;
  return html`
    <table class="table compact" data-testid="action-list">
      <thead>
        <tr>
          <th>Slot</th>
          <th>Group</th>
          <th>Target</th>
          <th>Index</th>
          <th>State</th>
          <th></th>
        </tr>
      </thead>
      <tbody>${queued.slice(0, 300).map((s) =>
        html`
          <tr key=${s.id}>
            <td>${s.id}</td>
            <td>${s.group_id}</td>
            <td>${s.action?.target_id}</td>
            <td>${s.action?.index}</td>
            <td>
              <${Badge} kind=${s.action?.state === "pending" ? "muted" : "info"}>${s.action?.state}<//></td>
                  <td>${s.action?.state === "pending"
                    ? html`
                      <${Button} small kind="danger" label=${`Remove action of slot ${s.id}`}
                        onClick=${() =>
                          act(`Remove action of slot ${s.id}`, (x) => `slots/action/remove/${x}/${s.id}`)}>Remove<//>
                    `
                    : null}</td>
                </tr>
        `
      )}</tbody>
    </table>${queued.length > 300 ? html`<p class="muted">and ${queued.length - 300} more</p>` : null}
  `;
}

async function rebalance(): Promise<void> {
  const plan = await act<Record<string, number>>("Rebalance preview", (x) => `slots/rebalance/${x}/0`);
  if (plan === undefined) return;
  const moves = Object.entries(plan).map(([sid, gid]) => ({ id: Number(sid), group_id: gid }));
  if (moves.length === 0) {
    await ask("Rebalance all slots", html`<p>Nothing changes: the slots are already balanced.</p>`, "OK", false);
    return;
  }
  const list = ranges(moves, (s) => s.group_id ?? 0);
  const body = html`
    <p>${moves.length} slots would move:</p>
    <ul class="ranges plan" data-testid="rebalance-plan">${list.map((r) =>
      html`<li><code>[${pad(r.beg)}, ${pad(r.end)}]</code> ⇒ group ${r.gid}</li>`
    )}</ul>
  `;
  if (!(await ask("Rebalance all slots", body, "Migrate these slots", false))) return;
  await act("Rebalance", (x) => `slots/rebalance/${x}/1`, { done: `${moves.length} slot actions created` });
}

export function SlotsPage(props: { o: Overview }) {
  const o = props.o;
  const [showActions, setShowActions] = useState(false);
  const slots = [...o.stats.slots].sort((a, b) => a.id - b.id);
  const groups = o.stats.group.models.map((g) => g.id).sort((a, b) => a - b);
  const sa = o.stats.slot_action;
  const queued = slots.filter(isMigrating).length;
  return html`<div class="page">
    ${
    groups.length === 0
      ? html`<${Empty} title="No groups yet">Slots are assigned to groups: create one on the Groups page first.<//>`
      : null
  }
    <${Progress} o=${o} />
    <${Card} title="Slot map" actions=${html`<${Legend} slots=${slots} groups=${groups} />`}>
      <div class="slot-layout">
        <${SlotMap} slots=${slots} />
        <div class="slot-side">
          <h3>Ranges</h3>
          <${RangeList} list=${ranges(slots, (s) => s.group_id ?? 0)} testid="slot-ranges" />
        </div>
      </div>
    <//>
    <${Card} title="Migrate" testid="migrate">
      <div class="form-grid">
        <${InlineForm}
          label="Range"
          testid="migrate-range"
          fields=${[
    { name: "beg", placeholder: "first slot", size: 6, type: "number" },
    { name: "end", placeholder: "last slot", size: 6, type: "number" },
    { name: "gid", placeholder: "to group", size: 6, type: "number" },
  ]}
          submit="Migrate range"
          onSubmit=${({ beg, end, gid }: Record<string, string>) =>
    act("Migrate range", (x) => `slots/action/create-range/${x}/${beg}/${end}/${gid}`, {
      done: `slots ${beg}-${end} queued to group ${gid}`,
    })}
        />
        <${InlineForm}
          label="Some slots"
          testid="migrate-some"
          fields=${[
    { name: "src", placeholder: "from group", size: 6, type: "number" },
    { name: "dst", placeholder: "to group", size: 6, type: "number" },
    { name: "num", placeholder: "how many", size: 6, type: "number" },
  ]}
          submit="Migrate slots"
          onSubmit=${({ src, dst, num }: Record<string, string>) =>
    act("Migrate slots", (x) => `slots/action/create-some/${x}/${src}/${dst}/${num}`, {
      done: `${num} slots of group ${src} queued to group ${dst}`,
    })}
        />
        <div class="inline-form">
          <span class="form-label">All</span>
          <${Button} kind="primary" label="Rebalance preview" onClick=${rebalance} testid="rebalance">Rebalance all slots…<//>
        </div>
      </div>
    <//>
    <${Card}
      title="Slot actions"
      testid="slot-actions"
      actions=${html`
    <${Button} small label=${showActions ? "Hide actions" : "Show actions"}
      onClick=${() => setShowActions(!showActions)}>${showActions ? "Hide" : `Show (${queued})`}<//>
  `}
    >
      <div class="action-status">
        <span>Scheduler: ${
    sa.disabled ? html`<${Badge} kind="warn">disabled<//>` : html`<${Badge} kind="ok">enabled<//>`
  }</span>
        <span>Interval: <strong data-testid="action-interval">${fmtInt(sa.interval)}</strong> µs</span>
        ${
    sa.progress.status
      ? html`<span>Status: <code data-testid="action-status">${sa.progress.status}</code></span>`
      : null
  }
        ${
    sa.disabled
      ? html`
        <${Button} kind="primary" small label="Enable slot actions"
          onClick=${() => act("Enable slot actions", (x) => `slots/action/disabled/${x}/0`)}>Enable<//>
      `
      : html`
        <${Button} kind="warn" small label="Disable slot actions"
          onClick=${() => act("Disable slot actions", (x) => `slots/action/disabled/${x}/1`)}>Disable<//>
      `
  }
        <${InlineForm}
          label="Interval"
          testid="action-interval-form"
          fields=${[{ name: "us", placeholder: "µs between slots", size: 10, type: "number" }]}
          submit="Set"
          kind="plain"
          onSubmit=${({ us }: Record<string, string>) =>
    act("Set interval", (x) => `slots/action/interval/${x}/${us}`, { done: `interval set to ${us} µs` })}
        />
      </div>
      ${showActions ? html`<${ActionList} o=${o} />` : null}
    <//>
  </div>`;
}
