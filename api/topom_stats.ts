/**
 * The JSON the dashboard reports (Codis's `pkg/topom/topom_api.go` `Stats`, `Overview`), declared
 * once: the dashboard builds values of these types, and codis-admin and codis-fe validate what
 * arrives with the same schemas.
 *
 * @module
 */

import * as v from "valibot";
import {
  GroupJsonSchema,
  ProxyJsonSchema,
  SentinelJsonSchema,
  SlotMappingJsonSchema,
  TopomJsonSchema,
} from "../coord/models.ts";
import { ProxyStatsJsonSchema } from "./proxy_stats.ts";

/** One probe's result in Codis's shape: the stats, or an error, or a timeout. */
function probeResult<T extends v.GenericSchema>(stats: T) {
  return v.object({
    stats: v.optional(stats),
    error: v.optional(v.object({ Cause: v.string() })),
    unixtime: v.number(),
    timeout: v.optional(v.boolean()),
  });
}

/** A server's INFO as a map of strings, plus `master_addr`, `maxmemory` and our `sync_note`. */
export const ServerStatsJsonSchema = v.record(v.string(), v.string());

/** What the stats loop learned from one Redis server. */
export const ServerProbeJsonSchema = probeResult(ServerStatsJsonSchema);
export type ServerProbeJson = v.InferInput<typeof ServerProbeJsonSchema>;

/** A sentinel's view of one of the product's masters: `SENTINEL masters`/`slaves` fields. */
export const SentinelMonitoredJsonSchema = v.object({
  master: v.record(v.string(), v.string()),
  slaves: v.array(v.record(v.string(), v.string())),
});

/** What the stats loop learned from one sentinel: its INFO and `{ "<product>-<gid>": {master, slaves} }`. */
export const SentinelProbeJsonSchema = v.object({
  ...ServerProbeJsonSchema.entries,
  sentinel: v.optional(v.record(v.string(), SentinelMonitoredJsonSchema)),
});
export type SentinelProbeJson = v.InferInput<typeof SentinelProbeJsonSchema>;

/** What the stats loop learned from one proxy. */
export const ProxyProbeJsonSchema = probeResult(ProxyStatsJsonSchema);
export type ProxyProbeJson = v.InferInput<typeof ProxyProbeJsonSchema>;

/** One slot being moved now, in `slot_action.migration.slots`. */
export const SlotProgressJsonSchema = v.object({
  slot: v.number(),
  from: v.string(),
  to: v.string(),
  /** Keys the mover has moved (proxies move some more on demand). */
  moved: v.number(),
  /** An estimate of the slot's keys still on the source. */
  remaining: v.number(),
  /** Full SCAN passes over the source so far. */
  passes: v.number(),
  seconds: v.number(),
});
export type SlotProgressJson = v.InferOutput<typeof SlotProgressJsonSchema>;

/** The slot-action scheduler's state (`slot_action`). */
export const SlotActionJsonSchema = v.object({
  interval: v.number(),
  disabled: v.boolean(),
  progress: v.object({ status: v.string() }),
  executor: v.number(),
  migration: v.object({
    keys_moved: v.number(),
    keys_per_second: v.number(),
    slots: v.array(SlotProgressJsonSchema),
    /** Big keys moved in pieces since the dashboard started. */
    big_keys_moved: v.optional(v.number()),
    /** The big key being copied now. */
    big_key: v.optional(v.object({
      key: v.string(),
      type: v.string(),
      db: v.number(),
      slot: v.number(),
      copied: v.number(),
      total: v.number(),
      seconds: v.number(),
    })),
  }),
});
export type SlotActionJson = v.InferOutput<typeof SlotActionJsonSchema>;

/** The dashboard's stats (`/topom/stats`, `/api/topom/stats/:xauth`). */
export const TopomStatsJsonSchema = v.object({
  closed: v.boolean(),
  slots: v.array(SlotMappingJsonSchema),
  group: v.object({
    models: v.array(GroupJsonSchema),
    stats: v.record(v.string(), ServerProbeJsonSchema),
  }),
  proxy: v.object({
    models: v.array(ProxyJsonSchema),
    stats: v.record(v.string(), ProxyProbeJsonSchema),
  }),
  slot_action: SlotActionJsonSchema,
  sentinels: v.object({
    model: SentinelJsonSchema,
    stats: v.record(v.string(), SentinelProbeJsonSchema),
    masters: v.record(v.string(), v.string()),
  }),
});

/** The dashboard's stats as the dashboard writes them. */
export type TopomStatsJson = v.InferInput<typeof TopomStatsJsonSchema>;
/** The dashboard's stats as a reader gets them (absent model fields filled in). */
export type TopomStats = v.InferOutput<typeof TopomStatsJsonSchema>;

/** The dashboard's overview (`/topom`): version, config, model, stats. */
export const TopomOverviewJsonSchema = v.object({
  version: v.string(),
  compile: v.string(),
  config: v.record(v.string(), v.union([v.string(), v.number(), v.boolean()])),
  model: TopomJsonSchema,
  stats: TopomStatsJsonSchema,
});
export type TopomOverviewJson = v.InferInput<typeof TopomOverviewJsonSchema>;
/** The dashboard's overview as a reader gets it. */
export type TopomOverview = v.InferOutput<typeof TopomOverviewJsonSchema>;
