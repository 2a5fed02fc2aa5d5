/**
 * A product's whole configuration as one JSON document: what `codis-admin --config-dump` prints
 * and `--config-restore` reads (Codis's `ConfigV3`: `{"slots": [...], "group": [...],
 * "proxy": [...]}`; we add `"sentinel"` when there is one, which Codis's reader ignores).
 *
 * @module
 */

import {
  groupFromJson,
  type GroupModel,
  groupToJson,
  MAX_GROUP_ID,
  ModelError,
  proxyModelFromJson,
  proxyModelToJson,
  sentinelFromJson,
  type SentinelModel,
  sentinelToJson,
  type SlotMapping,
  slotMappingFromJson,
  slotMappingToJson,
} from "./models.ts";
import type { ProductStore, StoredProxy } from "./store.ts";
import { MAX_SLOT_NUM } from "../redis/slot_hash.ts";

export interface ProductConfig {
  slots: SlotMapping[];
  groups: GroupModel[];
  proxies: StoredProxy[];
  sentinel: SentinelModel | null;
}

/** A product configuration that cannot be dumped or restored, with Codis's reasons. */
export class ConfigDumpError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConfigDumpError";
  }
}

/** Reads a product's configuration; fails when the product has neither groups nor proxies. */
export async function dumpConfig(store: ProductStore): Promise<ProductConfig> {
  const [slots, groups, proxies, sentinel] = await Promise.all([
    store.slotMappings(),
    store.listGroups(),
    store.listProxies(),
    store.loadSentinel(),
  ]);
  if (groups.length === 0 && proxies.length === 0) {
    throw new ConfigDumpError(
      `product "${store.product}" has no groups and no proxies in ${store.client.backend} ${store.client.addr} ` +
        `(nothing under ${store.dir}): check the product name and the coordinator`,
    );
  }
  return { slots, groups, proxies, sentinel };
}

/** The configuration as Codis's JSON. */
export function configToJson(c: ProductConfig): Record<string, unknown> {
  const o: Record<string, unknown> = {
    slots: c.slots.map(slotMappingToJson),
    group: c.groups.map(groupToJson),
    proxy: c.proxies.map((p) => proxyModelToJson(p.model, p.id)),
  };
  if (c.sentinel) o.sentinel = sentinelToJson(c.sentinel);
  return o;
}

/**
 * Parses and checks a configuration as Codis does before restoring it: unique proxy tokens;
 * group ids in 1..9999, unique, not promoting; each server in one group only; slot ids in
 * 0..1023, unique, without an action, on a group that exists and has servers.
 */
export function configFromJson(json: unknown): ProductConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ConfigDumpError("the configuration must be a JSON object with slots, group and proxy");
  }
  const o = json as Record<string, unknown>;
  const list = (key: string): unknown[] => {
    const v = o[key] ?? [];
    if (!Array.isArray(v)) throw new ConfigDumpError(`"${key}" must be a JSON array`);
    return v;
  };
  let config: ProductConfig;
  try {
    config = {
      slots: list("slots").map(slotMappingFromJson),
      groups: list("group").map(groupFromJson),
      proxies: list("proxy").map(proxyModelFromJson),
      sentinel: o.sentinel === undefined || o.sentinel === null ? null : sentinelFromJson(o.sentinel),
    };
  } catch (e) {
    if (e instanceof ModelError) throw new ConfigDumpError(e.message);
    throw e;
  }

  const tokens = new Set<string>();
  for (const p of config.proxies) {
    if (tokens.has(p.model.token)) throw new ConfigDumpError(`proxy-${p.model.token} already exists`);
    tokens.add(p.model.token);
  }
  const groups = new Map<number, GroupModel>();
  const servers = new Map<string, number>();
  for (const g of config.groups) {
    if (g.id <= 0 || g.id > MAX_GROUP_ID) {
      throw new ConfigDumpError(`invalid group id = ${g.id}, out of range [1,${MAX_GROUP_ID}]`);
    }
    if (groups.has(g.id)) throw new ConfigDumpError(`group-${pad(g.id)} already exists`);
    if (g.promoting.state) throw new ConfigDumpError(`group-${pad(g.id)} is promoting`);
    for (const s of g.servers) {
      const other = servers.get(s.addr);
      if (other !== undefined) {
        throw new ConfigDumpError(`server ${s.addr} is in group-${pad(other)} and group-${pad(g.id)}`);
      }
      servers.set(s.addr, g.id);
    }
    groups.set(g.id, g);
  }
  const seen = new Set<number>();
  for (const m of config.slots) {
    if (m.id < 0 || m.id >= MAX_SLOT_NUM) throw new ConfigDumpError(`invalid slot id = ${m.id}`);
    if (seen.has(m.id)) throw new ConfigDumpError(`slot-${pad(m.id)} already exists`);
    seen.add(m.id);
    if (m.action.state) throw new ConfigDumpError(`slot-${pad(m.id)} action is not empty (state ${m.action.state})`);
    if (m.groupId !== 0) {
      const g = groups.get(m.groupId);
      if (!g) throw new ConfigDumpError(`slot-${pad(m.id)} is on group-${pad(m.groupId)}, which does not exist`);
      if (g.servers.length === 0) {
        throw new ConfigDumpError(`slot-${pad(m.id)} is on group-${pad(m.groupId)}, which has no servers`);
      }
    }
  }
  return config;
}

/**
 * Writes a configuration into a product that has no groups and no proxies, and no dashboard
 * holding its lock (the dashboard would not see the change).
 */
export async function restoreConfig(store: ProductStore, config: ProductConfig): Promise<void> {
  const where = `${store.client.backend} ${store.client.addr}`;
  const topom = await store.loadTopom();
  if (topom) {
    throw new ConfigDumpError(
      `product "${store.product}" has a dashboard holding its lock in ${where} (${topom.adminAddr}, pid ${topom.pid}): ` +
        `stop it before restoring`,
    );
  }
  const [groups, proxies] = await Promise.all([store.listGroups(), store.listProxies()]);
  if (groups.length > 0 || proxies.length > 0) {
    throw new ConfigDumpError(
      `product "${store.product}" is not empty in ${where} (${groups.length} groups, ${proxies.length} proxies): ` +
        `restore only into an empty product`,
    );
  }
  for (const m of config.slots) await store.updateSlotMapping(m);
  for (const g of config.groups) await store.updateGroup(g);
  for (const p of config.proxies) await store.updateProxy(p);
  if (config.sentinel) await store.updateSentinel(config.sentinel);
}

function pad(id: number): string {
  return String(id).padStart(4, "0");
}
