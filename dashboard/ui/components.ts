/**
 * The pieces every page uses: buttons that run a change (asking first when it destroys
 * something), small forms, the confirmation dialog, the messages, and number formatting.
 *
 * @module
 */

import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { html } from "./html.ts";
import { ask, busy, dialog, dismissToast, toasts } from "./state.ts";

/**
 * A button. With `confirm`, a dialog asks first (`confirm` is its text); `label` names the action
 * in messages and marks the button busy while it runs.
 */
export function Button(props: {
  label: string;
  children?: ComponentChildren;
  onClick: () => unknown;
  kind?: "primary" | "danger" | "plain" | "warn";
  confirm?: ComponentChildren;
  disabled?: boolean;
  small?: boolean;
  title?: string;
  testid?: string;
}) {
  const running = busy.value.has(props.label);
  const click = async () => {
    if (props.confirm !== undefined && !(await ask(props.label, props.confirm, props.label))) return;
    await props.onClick();
  };
  return html`
    <button
      class=${`btn ${props.kind ?? "plain"}${props.small ? " small" : ""}${running ? " busy" : ""}`}
      disabled=${props.disabled || running}
      title=${props.title}
      data-testid=${props.testid}
      onClick=${click}
    >${props.children ?? props.label}</button>
  `;
}

/** A one-line form: labelled inputs and a submit button. */
export function InlineForm(props: {
  label: string;
  fields: { name: string; placeholder: string; size?: number; value?: string; type?: string }[];
  submit: string;
  kind?: "primary" | "danger" | "plain";
  onSubmit: (values: Record<string, string>) => unknown;
  testid?: string;
}) {
  const [values, setValues] = useState<Record<string, string>>(() =>
    Object.fromEntries(props.fields.map((f) => [f.name, f.value ?? ""]))
  );
  const running = busy.value.has(props.label);
  const submit = async (e: Event) => {
    e.preventDefault();
    // Cleared when the change went through; kept to be corrected when it failed.
    if (await props.onSubmit(values) !== undefined) {
      setValues(Object.fromEntries(props.fields.map((f) => [f.name, f.value ?? ""])));
    }
  };
  return html`<form class="inline-form" data-testid=${props.testid} onSubmit=${submit}>
    <span class="form-label">${props.label}</span>
    ${
    props.fields.map((f) =>
      html`
        <input
          name=${f.name}
          type=${f.type ?? "text"}
          placeholder=${f.placeholder}
          aria-label=${f.placeholder}
          size=${f.size ?? 8}
          value=${values[f.name]}
          onInput=${(e: Event) => setValues({ ...values, [f.name]: (e.target as HTMLInputElement).value })}
        />
      `
    )
  }
    <button class=${`btn ${props.kind ?? "primary"}${running ? " busy" : ""}`} disabled=${running} type="submit">
      ${props.submit}
    </button>
  </form>`;
}

export function Card(
  props: { title?: ComponentChildren; actions?: ComponentChildren; children: ComponentChildren; testid?: string },
) {
  return html`<section class="card" data-testid=${props.testid}>
    ${
    props.title !== undefined || props.actions !== undefined
      ? html`
        <header class="card-head">
          <h2>${props.title}</h2>
          <div class="card-actions">${props.actions}</div>
        </header>
      `
      : null
  }
    ${props.children}
  </section>`;
}

/** A box saying what to do first, for a page with nothing to show yet. */
export function Empty(props: { title: string; children: ComponentChildren; testid?: string }) {
  return html`<div class="empty" data-testid=${props.testid}><strong>${props.title}</strong><p>${props.children}</p></div>`;
}

export function Badge(
  props: { kind: "ok" | "warn" | "bad" | "info" | "muted"; children: ComponentChildren; title?: string },
) {
  return html`<span class=${`badge ${props.kind}`} title=${props.title}>${props.children}</span>`;
}

export function Stat(props: { label: string; value: ComponentChildren; hint?: ComponentChildren; testid?: string }) {
  return html`<div class="stat" data-testid=${props.testid}>
    <div class="stat-value">${props.value}</div>
    <div class="stat-label">${props.label}</div>
    ${props.hint ? html`<div class="stat-hint">${props.hint}</div>` : null}
  </div>`;
}

export function ProgressBar(props: { fraction: number; label?: string }) {
  const pct = Math.max(0, Math.min(1, props.fraction)) * 100;
  return html`
    <div class="progress" role="progressbar" aria-valuenow=${pct.toFixed(0)} aria-valuemin="0" aria-valuemax="100">
      <div class="progress-fill" style=${`width:${pct.toFixed(1)}%`}></div>
      <span class="progress-text">${props.label ?? `${pct.toFixed(0)}%`}</span>
    </div>
  `;
}

/** The confirmation dialog (one at a time). */
export function Dialog() {
  const d = dialog.value;
  if (d === null) return null;
  const close = (ok: boolean) => {
    dialog.value = null;
    d.resolve(ok);
  };
  return html`
    <div class="overlay" onClick=${(e: Event) => e.target === e.currentTarget && close(false)}>
      <div class="dialog" role="dialog" aria-modal="true" aria-label=${d.title}>
        <h3>${d.title}</h3>
        <div class="dialog-body">${d.body}</div>
        <div class="dialog-actions">
          <button class="btn plain" onClick=${() => close(false)}>Cancel</button>
          <button class=${`btn ${d.danger ? "danger" : "primary"}`} data-testid="dialog-confirm" onClick=${() =>
            close(true)}>
              ${d.confirm}
            </button>
        </div>
      </div>
    </div>
  `;
}

export function Toasts() {
  return html`<div class="toasts" aria-live="polite">
    ${
    toasts.value.map((t) =>
      html`
        <div key=${t.id} class=${`toast ${t.kind}`} role=${t.kind === "error" ? "alert" : "status"}>
          <span>${t.text}</span>
          <button class="toast-close" aria-label="dismiss" onClick=${() => dismissToast(t.id)}>×</button>
        </div>
      `
    )
  }
  </div>`;
}

// --- formatting ------------------------------------------------------------------------------

export function fmtInt(n: number | null | undefined): string {
  return n === null || n === undefined || !Number.isFinite(n) ? "–" : Math.round(n).toLocaleString("en-US");
}

export function fmtBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n < 10 && i > 0 ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
}

export function fmtSeconds(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return "–";
  if (s < 60) return `${Math.ceil(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

export function fmtUsecs(us: number | null | undefined): string {
  if (us === null || us === undefined || !Number.isFinite(us)) return "–";
  return us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${Math.round(us)} µs`;
}

/** A stable colour per group id (0 = offline). */
export function groupColor(gid: number): string {
  if (gid <= 0) return "#c9ced6";
  const palette = [
    "#3b82f6",
    "#10b981",
    "#f59e0b",
    "#8b5cf6",
    "#ef4444",
    "#14b8a6",
    "#ec4899",
    "#84cc16",
    "#6366f1",
    "#f97316",
    "#06b6d4",
    "#a855f7",
  ];
  return palette[(gid - 1) % palette.length];
}
