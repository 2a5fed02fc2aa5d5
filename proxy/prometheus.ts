/**
 * The proxy's `/metrics` in Prometheus's text format: the counters of the stats JSON (nothing is
 * counted twice on the request path), per-command latency histograms, sessions, bytes, backend
 * connections by state, failover switches, migration moves, and the process.
 *
 * @module
 */

import { MetricsText } from "../utils/prometheus.ts";
import type { Router } from "./router.ts";
import { type OpStats, type ProxyStats } from "./stats.ts";
import type { ProxyHa } from "./ha.ts";

/** What the exposition reads. */
export interface PrometheusSource {
  readonly stats: ProxyStats;
  readonly router: Router;
  readonly ha: ProxyHa;
  readonly model: { readonly productName: string; readonly token: string };
  readonly online: boolean;
}

/** Powers of two from 16 µs to 2^24 µs (16.8 s): histogram bucket edges fit for 20 µs - 10 s. */
const EDGES = Array.from({ length: 21 }, (_, i) => i + 4);

/** A command's latency buckets as Prometheus's cumulative `[seconds, count]` pairs. */
function latencyBuckets(op: OpStats): [number, number][] {
  const h = op.hist;
  const out: [number, number][] = [];
  let cumulative = 0;
  let next = 0;
  for (const e of EDGES) {
    // Fine bucket i holds latencies in [low(i), low(i + 1)); low(4e) = 2^e µs.
    const upTo = 4 * e;
    while (h !== null && next < upTo && next < h.length) cumulative += h[next++];
    out.push([2 ** e / 1e6, cumulative]);
  }
  return out;
}

/** The exposition text. */
export function proxyMetrics(p: PrometheusSource): string {
  const s = p.stats;
  const m = new MetricsText();
  const c = "codis_proxy_";
  m.single(`${c}up`, "gauge", "1 while the proxy is online (serving sessions).", p.online ? 1 : 0, {
    product: p.model.productName,
    token: p.model.token,
  });
  m.single(`${c}requests_total`, "counter", "Requests read from clients.", s.total);
  m.single(
    `${c}failures_total`,
    "counter",
    "Requests the proxy failed (not allowed, offline slot, backend down).",
    s.fails,
  );
  m.single(`${c}redis_errors_total`, "counter", "Error replies from the Redis servers.", s.redisErrors);

  const used = s.usedCommands();
  const perCommand: [string, string, (op: OpStats) => number][] = [
    ["command_calls_total", "Calls answered, by command.", (op) => op.calls],
    ["command_failures_total", "Calls the proxy failed, by command.", (op) => op.fails],
    ["command_errors_total", "Error replies from Redis, by command.", (op) => op.redisErrors],
  ];
  for (const [name, help, value] of perCommand) {
    m.family(`${c}${name}`, "counter", help);
    for (const op of used) m.sample(`${c}${name}`, value(op), { command: op.name });
  }
  m.family(
    `${c}command_duration_seconds`,
    "histogram",
    "Time from a request's arrival to its reply, by command.",
  );
  for (const op of used) {
    m.histogram(`${c}command_duration_seconds`, latencyBuckets(op), op.calls, op.usecs / 1e6, { command: op.name });
  }

  m.single(`${c}sessions_open`, "gauge", "Client sessions open now.", s.sessionsAlive);
  m.single(`${c}sessions_total`, "counter", "Client sessions accepted.", s.sessionsTotal);
  m.single(`${c}sessions_rejected_total`, "counter", "Sessions refused at proxy_max_clients.", s.sessionsRejected);
  m.single(
    `${c}sessions_output_limited_total`,
    "counter",
    "Sessions closed for not reading their replies.",
    s.sessionsOutputLimited,
  );
  m.single(`${c}auth_failures_total`, "counter", "AUTH or HELLO AUTH with a wrong password.", s.authFailures);
  m.single(`${c}received_bytes_total`, "counter", "Bytes read from clients.", s.bytesIn);
  m.single(`${c}sent_bytes_total`, "counter", "Bytes written to clients.", s.bytesOut);

  m.family(`${c}backend_connections`, "gauge", "Backend connections by server, role and state.");
  for (const [role, pool] of [["primary", p.router.primary], ["replica", p.router.replica]] as const) {
    for (const server of pool.servers()) {
      const states = new Map<string, number>();
      for (const conn of server.connections()) states.set(conn.state, (states.get(conn.state) ?? 0) + 1);
      for (const [state, n] of states) {
        m.sample(`${c}backend_connections`, n, { server: server.addr, role, state });
      }
    }
  }
  const switched = p.router.slots.filter((x) => x.spec.switched === true).length;
  m.single(`${c}slots_switched`, "gauge", "Slots re-pointed by a sentinel failover, not yet resynced.", switched);
  m.single(
    `${c}slots_switched_total`,
    "counter",
    "Slot switches done on failovers since start.",
    p.ha.switchedSlots,
  );
  m.single(
    `${c}migration_moves_total`,
    "counter",
    "MIGRATEs the proxy ran to move keys of migrating slots before serving them.",
    p.router.forwarder.migrates,
  );
  m.single(
    `${c}migration_moved_keys_total`,
    "counter",
    "Keys those MIGRATEs carried.",
    p.router.forwarder.migratedKeys,
  );

  const raw = s.usage.raw;
  const mem = Deno.memoryUsage();
  m.single(
    `${c}process_cpu_seconds_total`,
    "counter",
    "User and system CPU time of the process.",
    raw ? (raw.utime + raw.stime) / 1e9 : 0,
  );
  m.single(`${c}process_resident_memory_bytes`, "gauge", "Resident memory of the process.", s.usage.mem);
  m.single(`${c}heap_used_bytes`, "gauge", "V8 heap in use.", mem.heapUsed);
  m.single(`${c}heap_total_bytes`, "gauge", "V8 heap reserved.", mem.heapTotal);
  m.single(
    `${c}event_loop_lag_seconds`,
    "gauge",
    "How late the last once-a-second tick ran (time other work held the event loop).",
    s.loopLagMs / 1000,
  );
  m.single(`${c}event_loop_lag_max_seconds`, "gauge", "The largest tick delay since start.", s.loopLagMaxMs / 1000);
  return m.toString();
}
