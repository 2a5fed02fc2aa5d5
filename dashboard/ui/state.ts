/**
 * The page's state: which product and page are shown, the dashboard's last answer (polled, one
 * request per refresh), the samples behind the charts, the failovers seen, and the messages and
 * confirmation dialog the actions use.
 *
 * @module
 */

import { batch, computed, signal } from "@preact/signals";
import { ApiError, Dashboard, listProducts } from "./api.ts";
import type { Overview, ProxyStats } from "./types.ts";

export const PAGES = ["overview", "proxies", "slots", "groups", "sentinels"] as const;
export type Page = typeof PAGES[number];

/** Products this page can show, sorted (`/list`). */
export const products = signal<string[] | null>(null);
export const productsError = signal<string | null>(null);
/** `#/<product>/<page>`. */
export const route = signal<{ product: string | null; page: Page }>({ product: null, page: "overview" });
/** The dashboard's last overview, and the error of the last poll (null when it succeeded). */
export const overview = signal<Overview | null>(null);
export const pollError = signal<string | null>(null);
export const lastPoll = signal<number>(0);
/** Seconds between polls (1–60). */
export const refreshSeconds = signal<number>(Number(localStorage.getItem("codis-refresh") ?? 2) || 2);
/** The admin secret the operator gave for this product (kept for the browser tab only). */
export const secret = signal<string>("");

/** One poll's figures for the charts. */
export interface Sample {
  /** Unix seconds. */
  t: number;
  /** Operations per second, by proxy token. */
  qps: Record<string, number>;
  /** Mean µs per command since the previous sample, by proxy token (null: no command). */
  usecs: Record<string, number | null>;
  totalQps: number;
  totalUsecs: number | null;
}
/** The last ten minutes of samples at most. */
export const samples = signal<Sample[]>([]);
const MAX_SAMPLE_SECONDS = 600;

/** Something that happened between polls: a failover, a proxy switching. */
export interface ClusterEvent {
  time: number;
  text: string;
}
export const events = signal<ClusterEvent[]>([]);

/** The most slot actions queued at once since the queue was last empty (the size of the migration under way). */
export const queuePeak = signal<number>(0);

export interface Toast {
  id: number;
  kind: "error" | "ok";
  text: string;
}
export const toasts = signal<Toast[]>([]);
let toastId = 0;

/** The confirmation dialog of a destructive action, when one is open. */
export const dialog = signal<
  { title: string; body: unknown; confirm: string; danger: boolean; resolve: (ok: boolean) => void } | null
>(null);

/** Actions running now (their buttons show as busy). */
export const busy = signal<ReadonlySet<string>>(new Set());

export const dashboard = computed(() => {
  const p = route.value.product;
  return p === null ? null : new Dashboard(p, secret.value);
});

export function toast(kind: Toast["kind"], text: string): void {
  const id = ++toastId;
  toasts.value = [...toasts.value.slice(-4), { id, kind, text }];
  setTimeout(() => dismissToast(id), kind === "error" ? 15_000 : 4000);
}

export function dismissToast(id: number): void {
  toasts.value = toasts.value.filter((t) => t.id !== id);
}

/** Asks before a destructive action; resolves true when confirmed. */
export function ask(title: string, body: unknown, confirm = "Confirm", danger = true): Promise<boolean> {
  return new Promise((resolve) => {
    dialog.value = { title, body, confirm, danger, resolve };
  });
}

/**
 * Runs a change against the dashboard: shows it as busy, reports the dashboard's `Cause` when it
 * fails, and polls at once when it succeeds. Resolves with the answer, or undefined on failure.
 */
export async function act<T = unknown>(
  label: string,
  route: (xauth: string) => string,
  options: { body?: unknown; done?: string } = {},
): Promise<T | undefined> {
  const d = dashboard.value;
  if (d === null) return undefined;
  busy.value = new Set([...busy.value, label]);
  try {
    const out = await d.change(route, options.body) as T;
    if (options.done) toast("ok", options.done);
    void poll();
    return out;
  } catch (e) {
    let text = e instanceof Error ? e.message : String(e);
    if (e instanceof ApiError && (e.status === 401 || e.status === 403) && !secret.value) {
      text += " (give the cluster's admin secret: 'Admin secret…' at the top)";
    }
    toast("error", `${label}: ${text}`);
    return undefined;
  } finally {
    const next = new Set(busy.value);
    next.delete(label);
    busy.value = next;
  }
}

// --- routing ---------------------------------------------------------------------------------

function readRoute(): void {
  const [product, page] = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const p = (PAGES as readonly string[]).includes(page) ? page as Page : "overview";
  const known = products.value;
  const name = product || (known && known.length > 0 ? known[0] : null);
  if (name !== route.value.product) {
    batch(() => {
      overview.value = null;
      samples.value = [];
      events.value = [];
      queuePeak.value = 0;
      pollError.value = null;
      previous = {};
      secret.value = sessionStorage.getItem(`codis-admin-auth:${name}`) ?? "";
    });
  }
  route.value = { product: name, page: p };
  if (name !== null) document.title = `${name} · ${p} · Codis`;
}

export function go(page: Page, product = route.value.product): void {
  location.hash = `#/${encodeURIComponent(product ?? "")}/${page}`;
}

export function setSecret(value: string): void {
  const p = route.value.product;
  if (p === null) return;
  if (value) sessionStorage.setItem(`codis-admin-auth:${p}`, value);
  else sessionStorage.removeItem(`codis-admin-auth:${p}`);
  secret.value = value;
}

export function setRefresh(seconds: number): void {
  refreshSeconds.value = Math.min(60, Math.max(1, Math.round(seconds)));
  localStorage.setItem("codis-refresh", String(refreshSeconds.value));
  schedule(0);
}

// --- polling ---------------------------------------------------------------------------------

let timer: number | undefined;
let polling: Promise<void> | null = null;

function schedule(ms: number): void {
  clearTimeout(timer);
  timer = setTimeout(() => void poll(), ms);
}

/** Reads the dashboard once now (a poll already running is awaited instead). */
export function poll(): Promise<void> {
  polling ??= pollOnce().finally(() => {
    polling = null;
    schedule(refreshSeconds.value * 1000);
  });
  return polling;
}

async function pollOnce(): Promise<void> {
  const d = dashboard.value;
  if (d === null) return;
  try {
    const o = await d.overview();
    if (dashboard.value?.product !== d.product) return; // the operator switched products meanwhile
    batch(() => {
      noteEvents(overview.value, o);
      addSample(o);
      const queued = o.stats.slots.filter((s) => s.action?.state).length;
      queuePeak.value = queued === 0 ? 0 : Math.max(queuePeak.value, queued);
      overview.value = o;
      pollError.value = null;
      lastPoll.value = Date.now();
    });
  } catch (e) {
    pollError.value = e instanceof Error ? e.message : String(e);
  }
}

/** Σ calls and Σ µs over a proxy's commands. */
function callTotals(s: ProxyStats | undefined): { calls: number; usecs: number } | null {
  if (!s?.ops?.cmd) return null;
  let calls = 0, usecs = 0;
  for (const c of s.ops.cmd) {
    calls += c.calls;
    usecs += c.usecs;
  }
  return { calls, usecs };
}

let previous: Record<string, { calls: number; usecs: number }> = {};

function addSample(o: Overview): void {
  const now = Date.now() / 1000;
  const qps: Record<string, number> = {};
  const usecs: Record<string, number | null> = {};
  let totalQps = 0, dCalls = 0, dUsecs = 0;
  const next: typeof previous = {};
  for (const [token, probe] of Object.entries(o.stats.proxy.stats)) {
    const s = probe.stats;
    if (!s) continue;
    qps[token] = s.ops.qps;
    totalQps += s.ops.qps;
    const t = callTotals(s);
    if (t === null) continue;
    next[token] = t;
    const p = previous[token];
    if (p && t.calls > p.calls && t.usecs >= p.usecs) {
      usecs[token] = (t.usecs - p.usecs) / (t.calls - p.calls);
      dCalls += t.calls - p.calls;
      dUsecs += t.usecs - p.usecs;
    } else {
      usecs[token] = null;
    }
  }
  previous = next;
  const kept = samples.value.filter((x) => x.t > now - MAX_SAMPLE_SECONDS);
  samples.value = [...kept, { t: now, qps, usecs, totalQps, totalUsecs: dCalls > 0 ? dUsecs / dCalls : null }];
}

/** Failovers and switches: what changed in the masters since the last poll. */
function noteEvents(before: Overview | null, after: Overview): void {
  if (before === null) return;
  const found: ClusterEvent[] = [];
  const time = Date.now();
  const master = (o: Overview, gid: number) => o.stats.group.models.find((g) => g.id === gid)?.servers?.[0]?.server;
  for (const g of after.stats.group.models) {
    const was = master(before, g.id), now = master(after, g.id);
    if (was && now && was !== now) found.push({ time, text: `group ${g.id}: master ${was} → ${now}` });
  }
  const seen = before.stats.sentinels.masters, heard = after.stats.sentinels.masters;
  for (const [gid, addr] of Object.entries(heard)) {
    if (seen[gid] && seen[gid] !== addr) {
      found.push({ time, text: `sentinels: group ${gid} failed over from ${seen[gid]} to ${addr}` });
    }
  }
  for (const [token, probe] of Object.entries(after.stats.proxy.stats)) {
    const s = probe.stats;
    const b = before.stats.proxy.stats[token]?.stats;
    if (s?.sentinels?.switched && b && !b.sentinels?.switched) {
      const p = after.stats.proxy.models.find((m) => m.token === token);
      found.push({ time, text: `proxy ${p?.proxy_addr ?? token} switched its slots to the sentinels' masters` });
    }
  }
  if (found.length > 0) events.value = [...found.reverse(), ...events.value].slice(0, 50);
}

/** Starts the page: the products, the route, and the polling. */
export async function start(): Promise<void> {
  addEventListener("hashchange", () => {
    readRoute();
    void poll();
  });
  try {
    products.value = await listProducts();
  } catch (e) {
    productsError.value = e instanceof Error ? e.message : String(e);
    products.value = [];
  }
  readRoute();
  void poll();
}
