/**
 * What the pages derive from the dashboard's stats: a server's role, link, lag, memory and keys,
 * a proxy's status, slot ranges per group, the cluster's totals.
 *
 * @module
 */

import type { GroupJson, Overview, ProxyProbe, ServerProbe, SlotJson } from "./types.ts";

/** Keys per database from INFO's keyspace lines (`db0: keys=…,expires=…`). */
export function keysPerDb(info: Record<string, string> | undefined): { db: number; keys: number }[] {
  if (!info) return [];
  const out: { db: number; keys: number }[] = [];
  for (const [k, v] of Object.entries(info)) {
    const m = /^db(\d+)$/.exec(k);
    const keys = /keys=(\d+)/.exec(v);
    if (m && keys) out.push({ db: Number(m[1]), keys: Number(keys[1]) });
  }
  return out.sort((a, b) => a.db - b.db);
}

export interface ServerView {
  /** "master", "slave", or null while unreachable. */
  role: string | null;
  /** `NO:ONE` for a master, `host:port:up|down` for a replica. */
  link: string;
  /** Whether the link is what the group says it should be (index 0 a master, others replicas of it, up). */
  linkExpected: boolean;
  /** Replication lag in bytes behind its master (replicas), and seconds since the master was heard. */
  lagBytes: number | null;
  lastIoSeconds: number | null;
  usedMemory: number | null;
  maxMemory: number | null;
  keys: { db: number; keys: number }[];
  error: string | null;
  /** The sentinels' master for the group is this server. */
  ha: boolean;
}

export function serverView(o: Overview, g: GroupJson, index: number): ServerView {
  const s = (g.servers ?? [])[index];
  const probe: ServerProbe | undefined = o.stats.group.stats[s.server];
  const info = probe?.stats;
  const masterAddr = (g.servers ?? [])[0]?.server;
  const role = info?.role ?? null;
  let link = "–";
  let linkExpected = true;
  if (info) {
    if (info.master_addr) {
      link = `${info.master_addr}:${info.master_link_status === "up" ? "up" : "down"}`;
      linkExpected = index !== 0 && info.master_addr === masterAddr && info.master_link_status === "up";
    } else {
      link = "NO:ONE";
      linkExpected = index === 0;
    }
  }
  let lagBytes: number | null = null;
  if (index !== 0 && info?.slave_repl_offset !== undefined) {
    const master = o.stats.group.stats[info.master_addr ?? ""]?.stats;
    if (master?.master_repl_offset !== undefined) {
      lagBytes = Math.max(0, Number(master.master_repl_offset) - Number(info.slave_repl_offset));
    }
  }
  const num = (v: string | undefined) => v === undefined ? null : Number(v);
  return {
    role,
    link,
    linkExpected,
    lagBytes,
    lastIoSeconds: num(info?.master_last_io_seconds_ago),
    usedMemory: num(info?.used_memory),
    maxMemory: num(info?.maxmemory),
    keys: keysPerDb(info),
    error: probe?.timeout ? "timeout" : probe?.error?.Cause ?? (probe ? null : "not probed yet"),
    ha: o.stats.sentinels.masters[String(g.id)] === s.server,
  };
}

export type ProxyStatus = "HEALTHY" | "PENDING" | "TIMEOUT" | "ERROR";

export function proxyStatus(probe: ProxyProbe | undefined): { status: ProxyStatus; cause?: string } {
  if (!probe) return { status: "PENDING", cause: "not probed yet" };
  if (probe.timeout) return { status: "TIMEOUT" };
  if (probe.error) return { status: "ERROR", cause: probe.error.Cause };
  const s = probe.stats;
  if (!s?.online || s.closed) return { status: "PENDING", cause: s?.closed ? "closed" : "not online" };
  return { status: "HEALTHY" };
}

/** Consecutive slots of one group: `[beg, end]`. */
export interface SlotRange {
  beg: number;
  end: number;
  gid: number;
}

export function ranges<T extends { id: number }>(slots: T[], of: (s: T) => number): SlotRange[] {
  const out: SlotRange[] = [];
  for (const s of [...slots].sort((a, b) => a.id - b.id)) {
    const gid = of(s);
    const last = out[out.length - 1];
    if (last && last.gid === gid && last.end === s.id - 1) last.end = s.id;
    else out.push({ beg: s.id, end: s.id, gid });
  }
  return out;
}

export function isMigrating(s: SlotJson): boolean {
  return !!s.action?.state;
}

export interface Totals {
  qps: number;
  sessions: number;
  memory: number;
  keys: number;
  proxies: number;
  healthyProxies: number;
  groups: number;
  servers: number;
  offlineSlots: number;
  migratingSlots: number;
}

export function totals(o: Overview): Totals {
  let qps = 0, sessions = 0, healthyProxies = 0;
  for (const p of o.stats.proxy.models) {
    const probe = o.stats.proxy.stats[p.token];
    const s = probe?.stats;
    if (s) {
      qps += s.ops.qps;
      sessions += s.sessions.alive;
    }
    if (proxyStatus(probe).status === "HEALTHY") healthyProxies++;
  }
  let memory = 0, keys = 0, servers = 0;
  for (const g of o.stats.group.models) {
    servers += (g.servers ?? []).length;
    const master = (g.servers ?? [])[0]?.server;
    const info = master ? o.stats.group.stats[master]?.stats : undefined;
    if (!info) continue;
    memory += Number(info.used_memory ?? 0);
    for (const d of keysPerDb(info)) keys += d.keys;
  }
  const offlineSlots = o.stats.slots.filter((s) => !s.group_id).length;
  const migratingSlots = o.stats.slots.filter(isMigrating).length;
  return {
    qps,
    sessions,
    memory,
    keys,
    proxies: o.stats.proxy.models.length,
    healthyProxies,
    groups: o.stats.group.models.length,
    servers,
    offlineSlots,
    migratingSlots,
  };
}
