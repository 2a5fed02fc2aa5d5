/**
 * One product's metadata in a coordinator store, with Codis's layout (`models.Store`):
 *
 *     /codis3/{product}/topom                  the dashboard's lock and address
 *     /codis3/{product}/slots/slot-NNNN        slot mappings (absent = offline)
 *     /codis3/{product}/group/group-NNNN       groups
 *     /codis3/{product}/proxy/proxy-{token}    proxies
 *     /codis3/{product}/sentinel               sentinels
 *     /jodis/{product}/proxy-{token}           proxies for client discovery (ephemeral)
 *
 * Every node is Codis's JSON, pretty-printed with 4-space indentation.
 *
 * @module
 */

import { type CoordClient, type EphemeralNode, StoreError } from "./client.ts";
import {
  groupFromJson,
  type GroupModel,
  groupToJson,
  isDefaultSlotMapping,
  ModelError,
  offlineSlotMapping,
  type ProxyModel,
  proxyModelFromJson,
  proxyModelToJson,
  sentinelFromJson,
  type SentinelModel,
  sentinelToJson,
  type SlotMapping,
  slotMappingFromJson,
  slotMappingToJson,
  topomFromJson,
  type TopomModel,
  topomToJson,
} from "./models.ts";
import { MAX_SLOT_NUM } from "../redis/slot_hash.ts";
import { isValidProductName } from "../utils/xauth.ts";
import { fromUtf8, utf8 } from "../utils/bytes.ts";
import { toCodisJson } from "../utils/json.ts";
import { hostName } from "../utils/process_info.ts";

export const CODIS_DIR = "/codis3";
export const JODIS_DIR = "/jodis";

/** `/codis3/{product}` */
export function productDir(product: string): string {
  return `${CODIS_DIR}/${product}`;
}

/** A proxy as the store keeps it: its model and the dashboard's number for it. */
export interface StoredProxy {
  id: number;
  model: ProxyModel;
}

/** The dashboard's lock is held by someone else. */
/**
 * True when `holder` (a lock's record) names a process of this host that is no longer running:
 * its `sys` (`uname -a`) names this host, and no process has its pid.
 */
export function isStaleOnThisHost(holder: TopomModel): boolean {
  const host = holder.sys.split(" ")[1] ?? "";
  if (!host || host !== hostName()) return false;
  if (Deno.build.os !== "linux") return false;
  try {
    Deno.statSync(`/proc/${holder.pid}`);
    return false;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return true;
    // Deno reads /proc/<pid> only with --allow-all; with the tasks' permissions ask `ps` instead.
    // Anything else that fails says nothing about the holder: not stale.
    try {
      const ps = new Deno.Command("ps", { args: ["-p", String(holder.pid)], stdout: "null", stderr: "null" })
        .outputSync();
      return ps.code === 1;
    } catch {
      return false;
    }
  }
}

export class LockedError extends Error {
  readonly holder: TopomModel | null;
  constructor(message: string, holder: TopomModel | null) {
    super(message);
    this.name = "LockedError";
    this.holder = holder;
  }
}

export class ProductStore {
  readonly client: CoordClient;
  readonly product: string;
  #lock: EphemeralNode | null = null;

  constructor(client: CoordClient, product: string) {
    if (!isValidProductName(product)) {
      throw new ModelError(`invalid product name "${product}": it must match ^\\w[\\w\\.\\-]*$`);
    }
    this.client = client;
    this.product = product;
  }

  get dir(): string {
    return productDir(this.product);
  }
  get lockPath(): string {
    return `${this.dir}/topom`;
  }
  get slotsDir(): string {
    return `${this.dir}/slots`;
  }
  slotPath(id: number): string {
    return `${this.slotsDir}/slot-${String(id).padStart(4, "0")}`;
  }
  get groupDir(): string {
    return `${this.dir}/group`;
  }
  groupPath(id: number): string {
    return `${this.groupDir}/group-${String(id).padStart(4, "0")}`;
  }
  get proxyDir(): string {
    return `${this.dir}/proxy`;
  }
  proxyPath(token: string): string {
    return `${this.proxyDir}/proxy-${token}`;
  }
  get sentinelPath(): string {
    return `${this.dir}/sentinel`;
  }
  get jodisDir(): string {
    return `${JODIS_DIR}/${this.product}`;
  }
  jodisPath(token: string): string {
    return `${this.jodisDir}/proxy-${token}`;
  }

  // --- the dashboard's lock --------------------------------------------------------------------

  /**
   * Takes the product's lock for a dashboard; fails with LockedError naming the holder. On etcd
   * and ZooKeeper the lock is an ephemeral node (a lease, a session): it goes away by itself when
   * its holder dies, after the store's session timeout; {@linkcode lockLost} tells when that
   * happened to this holder. On the filesystem it stays until released (it names the holder's
   * pid and host, see {@linkcode isStaleOnThisHost}).
   */
  async acquire(topom: TopomModel): Promise<void> {
    const data = encode(topomToJson(topom));
    if (this.client.backend === "filesystem") {
      if (await this.client.createIfAbsent(this.lockPath, data)) return;
    } else {
      try {
        this.#lock = await this.client.createEphemeral(this.lockPath, data);
        return;
      } catch (e) {
        if (!(e instanceof StoreError && e.code === "exists")) throw e;
      }
    }
    const holder = await this.loadTopom().catch(() => null);
    const who = holder
      ? `dashboard ${holder.adminAddr} (pid ${holder.pid}, started ${holder.startTime})`
      : "another dashboard";
    const stale = holder && isStaleOnThisHost(holder)
      ? ` Its process ${holder.pid} is not running on this host: the lock is stale.`
      : "";
    throw new LockedError(
      `product "${this.product}" is locked by ${who}: ${this.lockPath} exists in ${this.client.backend} ${this.client.addr}.${stale} ` +
        `If that dashboard is dead, remove the lock (codis-admin --remove-lock, or codis-dashboard --remove-lock), ` +
        `or start this one with --standby to take over when the lock is free.`,
      holder,
    );
  }

  /** Settles when the ephemeral lock this store took is lost (null: none held, or on the filesystem). */
  get lockLost(): Promise<Error> | null {
    return this.#lock?.lost ?? null;
  }

  /**
   * Deletes the stale lock of `holder` (a filesystem lock whose process is gone), unless the lock
   * changed meanwhile; true when it was deleted.
   */
  async removeStaleLock(holder: TopomModel): Promise<boolean> {
    const now = await this.loadTopom().catch(() => null);
    if (!now || now.token !== holder.token || now.pid !== holder.pid) return false;
    await this.client.delete(this.lockPath);
    return true;
  }

  /** Deletes the lock (no error if there is none): this store's own, or another's (`--remove-lock`). */
  async release(): Promise<void> {
    const own = this.#lock;
    this.#lock = null;
    if (own) await own.remove();
    else await this.client.delete(this.lockPath);
  }

  /** The dashboard's record, or null when no dashboard holds the lock. */
  async loadTopom(): Promise<TopomModel | null> {
    const data = await this.client.read(this.lockPath);
    return data ? this.#decode(data, this.lockPath, topomFromJson) : null;
  }

  // --- slots -----------------------------------------------------------------------------------

  /** All 1024 slot mappings (absent nodes are offline slots), read in one call. */
  async slotMappings(): Promise<SlotMapping[]> {
    const slots = Array.from({ length: MAX_SLOT_NUM }, (_, i) => offlineSlotMapping(i));
    for (const { path, data } of await this.client.readChildren(this.slotsDir)) {
      if (data.length === 0) continue;
      const m = this.#decode(data, path, slotMappingFromJson);
      if (path !== this.slotPath(m.id)) throw this.#corrupt(path, `holds slot ${m.id}`);
      slots[m.id] = m;
    }
    return slots;
  }

  async loadSlotMapping(id: number): Promise<SlotMapping> {
    const data = await this.client.read(this.slotPath(id));
    return data && data.length > 0
      ? this.#decode(data, this.slotPath(id), slotMappingFromJson)
      : offlineSlotMapping(id);
  }

  /** Stores a slot mapping; an offline slot with no action is stored as no node, as Codis reads it. */
  async updateSlotMapping(m: SlotMapping): Promise<void> {
    if (isDefaultSlotMapping(m)) {
      await this.client.delete(this.slotPath(m.id));
    } else {
      await this.client.update(this.slotPath(m.id), encode(slotMappingToJson(m)));
    }
  }

  /** Stores many slot mappings at once (offline ones with no action as no node). */
  async updateSlotMappings(ms: readonly SlotMapping[]): Promise<void> {
    const writes = ms.filter((m) => !isDefaultSlotMapping(m));
    await this.client.updateMany(
      writes.map((m) => ({ path: this.slotPath(m.id), data: encode(slotMappingToJson(m)) })),
    );
    for (const m of ms) if (isDefaultSlotMapping(m)) await this.client.delete(this.slotPath(m.id));
  }

  // --- groups ----------------------------------------------------------------------------------

  async listGroups(): Promise<GroupModel[]> {
    const groups: GroupModel[] = [];
    for (const { path, data } of await this.client.readChildren(this.groupDir)) {
      if (data.length === 0) continue;
      groups.push(this.#decode(data, path, groupFromJson));
    }
    return groups.sort((a, b) => a.id - b.id);
  }

  async loadGroup(id: number): Promise<GroupModel | null> {
    const data = await this.client.read(this.groupPath(id));
    return data && data.length > 0 ? this.#decode(data, this.groupPath(id), groupFromJson) : null;
  }

  async updateGroup(g: GroupModel): Promise<void> {
    await this.client.update(this.groupPath(g.id), encode(groupToJson(g)));
  }

  async deleteGroup(id: number): Promise<void> {
    await this.client.delete(this.groupPath(id));
  }

  // --- proxies ---------------------------------------------------------------------------------

  async listProxies(): Promise<StoredProxy[]> {
    const proxies: StoredProxy[] = [];
    for (const { path, data } of await this.client.readChildren(this.proxyDir)) {
      if (data.length === 0) continue;
      proxies.push(this.#decode(data, path, proxyModelFromJson));
    }
    return proxies.sort((a, b) => a.id - b.id || a.model.token.localeCompare(b.model.token));
  }

  async updateProxy(p: StoredProxy): Promise<void> {
    await this.client.update(this.proxyPath(p.model.token), encode(proxyModelToJson(p.model, p.id)));
  }

  async deleteProxy(token: string): Promise<void> {
    await this.client.delete(this.proxyPath(token));
  }

  // --- sentinels -------------------------------------------------------------------------------

  async loadSentinel(): Promise<SentinelModel | null> {
    const data = await this.client.read(this.sentinelPath);
    return data && data.length > 0 ? this.#decode(data, this.sentinelPath, sentinelFromJson) : null;
  }

  async updateSentinel(s: SentinelModel): Promise<void> {
    await this.client.update(this.sentinelPath, encode(sentinelToJson(s)));
  }

  // --- internals -------------------------------------------------------------------------------

  #decode<T>(data: Uint8Array, path: string, fromJson: (json: unknown) => T): T {
    let json: unknown;
    try {
      json = JSON.parse(fromUtf8(data));
    } catch (e) {
      throw this.#corrupt(path, `is not JSON (${(e as Error).message})`);
    }
    try {
      return fromJson(json);
    } catch (e) {
      if (e instanceof ModelError) throw this.#corrupt(path, `is not what Codis writes there: ${e.message}`);
      throw e;
    }
  }

  #corrupt(path: string, detail: string): StoreError {
    return new StoreError(this.client.backend, this.client.addr, "read", path, "failed", `the node ${detail}`);
  }
}

/** A model's JSON as Codis stores it. */
export function encode(json: unknown): Uint8Array {
  return utf8(toCodisJson(json));
}
