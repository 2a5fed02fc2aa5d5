/**
 * The proxy's counters, reported in Codis's stats JSON: operations (total, fails, Redis error
 * replies, qps), per-command calls and latency, sessions, and resource usage.
 *
 * @module
 */

import type { ProxyStatsJson } from "../api/proxy_stats.ts";
import { STATS_CMD, STATS_RUNTIME } from "../api/proxy_stats.ts";
import { UsageSampler } from "../utils/process_info.ts";
import { COMMANDS } from "./command_table.ts";

/**
 * A coarse clock for request latency: set to `performance.now()` once per socket read, so that
 * timing a request costs no clock call of its own.
 *
 * One per process, shared by every proxy in it, and safe so: JavaScript runs one callback at a
 * time, a read sets it before any request of that read is timed, and every proxy wants the same
 * thing from it (the time of the latest read, a few microseconds late at most).
 */
export const clock = { now: performance.now() };

/** Most distinct unknown command names counted one by one. */
export const MAX_UNKNOWN_COMMANDS = 128;
/** The name the other unknown commands are counted under. */
export const OTHER_UNKNOWN = "(OTHER UNKNOWN)";

/**
 * Latency buckets: four per power of two of microseconds (so a bucket is at most 19% wide),
 * from 1 µs up to 2^26 µs (67 s); index = 4·log2(µs) + the two bits after the leading one.
 */
export const LATENCY_BUCKETS = 4 * 27;

/** The bucket of a latency of `us` microseconds (an integer ≥ 0). */
export function latencyBucket(us: number): number {
  if (us < 4) return us;
  const e = 31 - Math.clz32(us);
  const i = (e << 2) | ((us >>> (e - 2)) & 3);
  return i < LATENCY_BUCKETS ? i : LATENCY_BUCKETS - 1;
}

/** The lowest latency (µs) of bucket `i`. */
export function bucketLow(i: number): number {
  if (i < 4) return i;
  const e = i >>> 2;
  return (4 | (i & 3)) * 2 ** (e - 2);
}

/** Counters of one command. */
export class OpStats {
  readonly name: string;
  calls = 0;
  /** Total latency in microseconds, from request read to reply written. */
  usecs = 0;
  /** Requests the proxy failed (not allowed, slot offline, backend down, …). */
  fails = 0;
  /** Error replies from Redis. */
  redisErrors = 0;
  /** Calls by latency bucket ({@linkcode latencyBucket}); made on the first call. */
  hist: Uint32Array | null = null;
  /** The longest call, in microseconds. */
  maxUs = 0;
  constructor(name: string) {
    this.name = name;
  }

  /** Counts one call that took `us` microseconds. */
  record(us: number): void {
    this.calls++;
    this.usecs += us;
    const whole = us | 0;
    if (whole > this.maxUs) this.maxUs = whole;
    (this.hist ??= new Uint32Array(LATENCY_BUCKETS))[latencyBucket(whole)]++;
  }

  /** The latency (µs) under which a fraction `q` of the calls fell (upper bound of its bucket). */
  quantile(q: number): number {
    const h = this.hist;
    if (h === null || this.calls === 0) return 0;
    const want = Math.ceil(q * this.calls);
    let seen = 0;
    for (let i = 0; i < h.length; i++) {
      seen += h[i];
      if (seen >= want) return Math.min(this.maxUs, i + 1 < LATENCY_BUCKETS ? bucketLow(i + 1) : this.maxUs);
    }
    return this.maxUs;
  }

  clear(): void {
    this.calls =
      this.usecs =
      this.fails =
      this.redisErrors =
      this.maxUs =
        0;
    this.hist = null;
  }
}

/** The proxy's counters. */
export class ProxyStats {
  total = 0;
  fails = 0;
  redisErrors = 0;
  qps = 0;
  sessionsTotal = 0;
  sessionsAlive = 0;
  /** Connections refused because `proxy_max_clients` were open. */
  sessionsRejected = 0;
  /** Sessions closed for not reading their replies (`session_output_*` limits). */
  sessionsOutputLimited = 0;
  /** AUTH and HELLO … AUTH with a wrong user or password. */
  authFailures = 0;
  /** Bytes read from and written to clients. */
  bytesIn = 0;
  bytesOut = 0;
  /** How late the once-a-second tick ran, last time and at most since start (ms): event-loop lag. */
  loopLagMs = 0;
  loopLagMaxMs = 0;
  /** Per-command counters of the table's commands, by command id. */
  readonly byCommand: OpStats[] = COMMANDS.map((c) => new OpStats(c.name));
  /** Counters of unknown command names, at most {@linkcode MAX_UNKNOWN_COMMANDS}; the rest share one. */
  #unknown = new Map<string, OpStats>();
  #otherUnknown = new OpStats(OTHER_UNKNOWN);
  #lastTotal = 0;
  #lastTickAt = performance.now();
  readonly usage = new UsageSampler();

  /**
   * Counters of a command that is not in the table (created on first use). Past
   * {@linkcode MAX_UNKNOWN_COMMANDS} names, every new name counts in one bucket, so a client
   * sending random names cannot grow the stats.
   */
  unknown(name: string): OpStats {
    let s = this.#unknown.get(name);
    if (!s) {
      if (this.#unknown.size >= MAX_UNKNOWN_COMMANDS) return this.#otherUnknown;
      s = new OpStats(name);
      this.#unknown.set(name, s);
    }
    return s;
  }

  /** Once a second: recompute qps, sample resource usage and event-loop lag. */
  tick(): void {
    const now = performance.now();
    const seconds = (now - this.#lastTickAt) / 1000;
    this.loopLagMs = Math.max(0, now - this.#lastTickAt - 1000);
    if (this.loopLagMs > this.loopLagMaxMs) this.loopLagMaxMs = this.loopLagMs;
    if (seconds > 0) this.qps = Math.round((this.total - this.#lastTotal) / seconds);
    this.#lastTotal = this.total;
    this.#lastTickAt = now;
    this.usage.sample();
  }

  /** Clears the counters as Codis's stats reset does (sessions.total becomes sessions.alive). */
  reset(): void {
    this.total = 0;
    this.fails = 0;
    this.redisErrors = 0;
    this.#lastTotal = 0;
    for (const s of this.byCommand) s.clear();
    this.#unknown.clear();
    this.#otherUnknown = new OpStats(OTHER_UNKNOWN);
    this.sessionsTotal = this.sessionsAlive;
    this.sessionsRejected = 0;
    this.sessionsOutputLimited = 0;
    this.authFailures = 0;
  }

  /** Every command's counters that were used (the table's, then the unknown names). */
  usedCommands(): OpStats[] {
    return [...this.byCommand, ...this.#unknown.values(), this.#otherUnknown].filter((s) => s.calls > 0 || s.fails > 0);
  }

  /** The `ops.cmd` list: commands that were called, sorted by name. */
  commandsJson(): NonNullable<ProxyStatsJson["ops"]["cmd"]> {
    const all = this.usedCommands();
    all.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    return all.map((s) => ({
      opstr: s.name,
      calls: s.calls,
      usecs: Math.round(s.usecs),
      usecs_percall: s.calls > 0 ? Math.round(s.usecs / s.calls) : 0,
      fails: s.fails,
      redis_errtype: s.redisErrors,
      p50: s.quantile(0.5),
      p99: s.quantile(0.99),
      p999: s.quantile(0.999),
      max: s.maxUs,
    }));
  }

  /** The `ops`, `sessions`, `rusage` (and with `STATS_RUNTIME`, `runtime`) parts of Codis's stats JSON. */
  toJson(flags: number): Pick<ProxyStatsJson, "ops" | "sessions" | "rusage" | "runtime"> {
    const ops: ProxyStatsJson["ops"] = {
      total: this.total,
      fails: this.fails,
      redis: { errors: this.redisErrors },
      qps: this.qps,
    };
    if (flags & STATS_CMD) ops.cmd = this.commandsJson();
    const u = this.usage;
    const rusage: ProxyStatsJson["rusage"] = { now: u.now, cpu: u.cpu, mem: u.mem };
    if (u.raw) rusage.raw = { ...u.raw };
    const out: Pick<ProxyStatsJson, "ops" | "sessions" | "rusage" | "runtime"> = {
      ops,
      sessions: {
        total: this.sessionsTotal,
        alive: this.sessionsAlive,
        rejected: this.sessionsRejected,
        output_limited: this.sessionsOutputLimited,
        auth_failures: this.authFailures,
      },
      rusage,
    };
    if (flags & STATS_RUNTIME) {
      const m = Deno.memoryUsage();
      out.runtime = {
        general: { alloc: m.heapUsed, sys: m.rss, heap_total: m.heapTotal, external: m.external },
        num_procs: navigator.hardwareConcurrency,
        deno: Deno.version.deno,
        v8: Deno.version.v8,
      };
    }
    return out;
  }
}
