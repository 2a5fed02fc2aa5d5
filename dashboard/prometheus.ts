/**
 * The dashboard's `/metrics` in Prometheus's text format, from what the stats loop, the
 * scheduler and the sentinel watcher already know: groups and servers (up, role, replication link
 * and lag, memory, keys per db), slots per group and state, slot actions, the current migration,
 * proxies, sentinels and failovers, and the store's operations.
 *
 * @module
 */

import type { SentinelProbeJson, ServerProbeJson, SlotActionJson } from "../api/topom_stats.ts";
import type { ProxyProbeJson } from "../api/topom_stats.ts";
import type { GroupModel, SentinelModel, SlotMapping } from "../coord/models.ts";
import type { StoredProxy } from "../coord/store.ts";
import type { StoreOpStats } from "../coord/timed_client.ts";
import { MetricsText } from "../utils/prometheus.ts";

/** What the exposition reads. */
export interface DashboardMetricsSource {
  productName: string;
  groups: GroupModel[];
  slots: SlotMapping[];
  proxies: StoredProxy[];
  sentinel: SentinelModel;
  servers: Record<string, ServerProbeJson>;
  proxyProbes: Record<string, ProxyProbeJson>;
  sentinelProbes: Record<string, SentinelProbeJson>;
  actions: SlotActionJson;
  /** Failovers the dashboard applied to the stored groups. */
  failovers: number;
  store: Map<string, StoreOpStats>;
}

/** `db0:keys=1,expires=0,avg_ttl=0` → 1. */
function keysOf(field: string): number {
  return Number(/keys=(\d+)/.exec(field)?.[1] ?? 0);
}

export function dashboardMetrics(s: DashboardMetricsSource): string {
  const m = new MetricsText();
  const d = "codis_dashboard_";
  m.single(`${d}up`, "gauge", "1 while the dashboard holds the product's lock.", 1, { product: s.productName });
  m.single(`${d}groups`, "gauge", "Groups of the product.", s.groups.length);

  m.family(`${d}server_up`, "gauge", "1 when the server answered the last stats round (role: as stored).");
  const rows = s.groups.flatMap((g) => g.servers.map((srv, i) => ({ g, srv, i })));
  for (const { g, srv, i } of rows) {
    const ok = !!s.servers[srv.addr]?.stats;
    m.sample(`${d}server_up`, ok ? 1 : 0, { group: g.id, server: srv.addr, role: i === 0 ? "master" : "replica" });
  }
  m.family(`${d}server_replication_link_up`, "gauge", "A replica's link to its master (INFO master_link_status).");
  for (const { g, srv, i } of rows) {
    const info = s.servers[srv.addr]?.stats;
    if (i === 0 || !info) continue;
    m.sample(`${d}server_replication_link_up`, info.master_link_status === "up" ? 1 : 0, {
      group: g.id,
      server: srv.addr,
    });
  }
  m.family(`${d}server_replication_lag_bytes`, "gauge", "How far a replica's offset is behind its master's.");
  for (const { g, srv, i } of rows) {
    const info = s.servers[srv.addr]?.stats;
    const master = s.servers[g.servers[0].addr]?.stats;
    if (i === 0 || !info || !master || info.slave_repl_offset === undefined) continue;
    const lag = Number(master.master_repl_offset ?? 0) - Number(info.slave_repl_offset);
    m.sample(`${d}server_replication_lag_bytes`, Math.max(0, lag), { group: g.id, server: srv.addr });
  }
  m.family(`${d}server_used_memory_bytes`, "gauge", "INFO used_memory.");
  for (const { g, srv } of rows) {
    const info = s.servers[srv.addr]?.stats;
    if (info?.used_memory) {
      m.sample(`${d}server_used_memory_bytes`, Number(info.used_memory), { group: g.id, server: srv.addr });
    }
  }
  m.family(`${d}server_max_memory_bytes`, "gauge", "CONFIG GET maxmemory (0 = no limit).");
  for (const { g, srv } of rows) {
    const info = s.servers[srv.addr]?.stats;
    if (info?.maxmemory !== undefined) {
      m.sample(`${d}server_max_memory_bytes`, Number(info.maxmemory), { group: g.id, server: srv.addr });
    }
  }
  m.family(`${d}server_keys`, "gauge", "Keys per database (INFO keyspace).");
  for (const { g, srv } of rows) {
    const info = s.servers[srv.addr]?.stats ?? {};
    for (const [k, v] of Object.entries(info)) {
      if (/^db\d+$/.test(k)) m.sample(`${d}server_keys`, keysOf(v), { group: g.id, server: srv.addr, db: k.slice(2) });
    }
  }

  m.family(`${d}slots`, "gauge", 'Slots by owning group and action state ("" = no action).');
  const bySlot = new Map<string, { group: number; state: string; n: number }>();
  for (const x of s.slots) {
    const key = `${x.groupId}/${x.action.state}`;
    const e = bySlot.get(key) ?? { group: x.groupId, state: x.action.state, n: 0 };
    e.n++;
    bySlot.set(key, e);
  }
  for (const e of [...bySlot.values()].sort((a, b) => a.group - b.group || a.state.localeCompare(b.state))) {
    m.sample(`${d}slots`, e.n, { group: e.group, state: e.state });
  }
  const pending = s.slots.filter((x) => x.action.state === "pending").length;
  const running = s.slots.filter((x) => x.action.state !== "" && x.action.state !== "pending").length;
  m.family(`${d}slot_actions`, "gauge", "Slot actions waiting (pending) and under way (running).");
  m.sample(`${d}slot_actions`, pending, { state: "pending" });
  m.sample(`${d}slot_actions`, running, { state: "running" });
  m.single(`${d}slot_action_executors`, "gauge", "Slots being moved by the mover now.", s.actions.executor);
  m.single(`${d}migration_keys_moved`, "gauge", "Keys moved by the current migration.", s.actions.migration.keys_moved);
  m.single(
    `${d}migration_keys_per_second`,
    "gauge",
    "Keys per second of the current migration.",
    s.actions.migration.keys_per_second,
  );

  m.family(`${d}proxies`, "gauge", "Registered proxies by the last stats round: ok, error, timeout.");
  const states = { ok: 0, error: 0, timeout: 0 };
  for (const p of s.proxies) {
    const probe = s.proxyProbes[p.model.token];
    if (probe?.timeout) states.timeout++;
    else if (probe?.stats) states.ok++;
    else states.error++;
  }
  for (const [state, n] of Object.entries(states)) m.sample(`${d}proxies`, n, { state });
  m.family(`${d}proxy_online`, "gauge", "1 when the proxy says it is online.");
  for (const p of s.proxies) {
    const online = s.proxyProbes[p.model.token]?.stats?.online === true;
    m.sample(`${d}proxy_online`, online ? 1 : 0, { token: p.model.token, addr: p.model.proxyAddr });
  }

  m.single(`${d}sentinels`, "gauge", "Sentinels configured.", s.sentinel.servers.length);
  m.single(`${d}sentinels_out_of_sync`, "gauge", "1 when the sentinels need a resync.", s.sentinel.outOfSync ? 1 : 0);
  m.family(`${d}sentinel_up`, "gauge", "1 when the sentinel answered the last stats round.");
  for (const addr of s.sentinel.servers) {
    m.sample(`${d}sentinel_up`, s.sentinelProbes[addr]?.stats ? 1 : 0, { sentinel: addr });
  }
  m.single(`${d}failovers_total`, "counter", "Sentinel failovers applied to the stored groups.", s.failovers);

  m.family(`${d}store_operations_total`, "counter", "Store operations, by operation.");
  for (const [op, st] of s.store) m.sample(`${d}store_operations_total`, st.calls, { op });
  m.family(`${d}store_errors_total`, "counter", "Store operations that failed, by operation.");
  for (const [op, st] of s.store) m.sample(`${d}store_errors_total`, st.errors, { op });
  m.family(`${d}store_operation_seconds_total`, "counter", "Time spent in store operations, by operation.");
  for (const [op, st] of s.store) m.sample(`${d}store_operation_seconds_total`, st.seconds, { op });
  return m.toString();
}
