/**
 * The JSON a proxy reports about itself (Codis's `pkg/proxy/proxy_api.go` `Stats`, `Overview`),
 * declared once: the proxy builds values of these types, and the dashboard, codis-admin and
 * codis-fe validate what arrives with the same schemas.
 *
 * @module
 */

import * as v from "valibot";
import { ProxyJsonSchema, SlotJsonSchema } from "../coord/models.ts";

/** Stats flags of `/api/proxy/stats/:xauth/:flags` (Codis's `StatsFlags`). */
export const STATS_CMD = 1;
/** Adds the slot table to the stats. */
export const STATS_SLOTS = 2;
/** Adds the runtime's memory figures to the stats. */
export const STATS_RUNTIME = 4;

/** One command's counters in `ops.cmd`. */
export const OpStatsJsonSchema = v.object({
  opstr: v.string(),
  calls: v.number(),
  usecs: v.number(),
  usecs_percall: v.number(),
  fails: v.number(),
  redis_errtype: v.number(),
  /** Latency percentiles and the maximum, in microseconds (from per-command histograms). */
  p50: v.optional(v.number()),
  p99: v.optional(v.number()),
  p999: v.optional(v.number()),
  max: v.optional(v.number()),
});

/** The proxy's stats (`/api/proxy/stats/:xauth[/:flags]`, `/proxy/stats`). */
export const ProxyStatsJsonSchema = v.looseObject({
  online: v.boolean(),
  closed: v.boolean(),
  sentinels: v.looseObject({
    servers: v.optional(v.array(v.string())),
    masters: v.optional(v.record(v.string(), v.string())),
    switched: v.optional(v.boolean()),
  }),
  ops: v.looseObject({
    total: v.number(),
    fails: v.number(),
    redis: v.looseObject({ errors: v.number() }),
    qps: v.number(),
    cmd: v.optional(v.array(OpStatsJsonSchema)),
  }),
  sessions: v.looseObject({
    total: v.number(),
    alive: v.number(),
    /** Refused because `proxy_max_clients` were open. */
    rejected: v.optional(v.number()),
    /** Closed for not reading their replies. */
    output_limited: v.optional(v.number()),
    /** AUTH (or HELLO AUTH) with a wrong user or password. */
    auth_failures: v.optional(v.number()),
  }),
  rusage: v.looseObject({
    now: v.string(),
    cpu: v.number(),
    mem: v.number(),
    raw: v.optional(v.record(v.string(), v.number())),
  }),
  runtime: v.optional(v.looseObject({
    general: v.looseObject({ alloc: v.number(), sys: v.number(), heap_total: v.number(), external: v.number() }),
    num_procs: v.number(),
    deno: v.string(),
    v8: v.string(),
  })),
  backend: v.looseObject({ primary_only: v.boolean() }),
  slots: v.optional(v.array(SlotJsonSchema)),
});

/** The proxy's stats as the proxy writes them. */
export type ProxyStatsJson = v.InferInput<typeof ProxyStatsJsonSchema>;
/** The proxy's stats as a reader gets them from {@linkcode ProxyStatsJsonSchema}. */
export type ProxyStats = v.InferOutput<typeof ProxyStatsJsonSchema>;

/** The proxy's overview (`/proxy`): version, config, model, full stats, slots. */
export const ProxyOverviewJsonSchema = v.looseObject({
  version: v.string(),
  compile: v.string(),
  config: v.record(v.string(), v.union([v.string(), v.number(), v.boolean()])),
  model: ProxyJsonSchema,
  stats: ProxyStatsJsonSchema,
  slots: v.array(SlotJsonSchema),
});

/** The proxy's overview as the proxy writes it. */
export type ProxyOverviewJson = v.InferInput<typeof ProxyOverviewJsonSchema>;
/** The proxy's overview as a reader gets it. */
export type ProxyOverview = v.InferOutput<typeof ProxyOverviewJsonSchema>;
