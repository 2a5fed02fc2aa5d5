/**
 * The dashboard's core ("topom" in Codis): the product's state from the store, every mutation
 * with Codis's rules and error texts (`codis-behaviour.md` §4), and pushing slot tables to the
 * proxies. The HTTP API (`api.ts`) and the background loops (`actions.ts`, `stats.ts`) call in here.
 *
 * Every mutation runs under one mutex, writes the store first, then updates the in-memory
 * state, then pushes what changed to every proxy.
 *
 * @module
 */

import {
  ACTION_FINISHED,
  ACTION_MIGRATING,
  ACTION_PENDING,
  ACTION_PREPARED,
  ACTION_PREPARING,
  FORWARD_SEMI_ASYNC,
  FORWARD_SYNC,
  type GroupModel,
  type GroupServer,
  MAX_GROUP_ID,
  offlineSlot,
  type SentinelModel,
  type SlotMapping,
  type SlotSpec,
  type TopomModel,
} from "../coord/models.ts";
import type { ProductStore, StoredProxy } from "../coord/store.ts";
import { MAX_SLOT_NUM } from "../redis/slot_hash.ts";
import { parseInfo, RedisClient } from "../redis/redis_client.ts";
import { RespError } from "../redis/resp_value.ts";
import { ProxyAdminClient } from "../proxy/admin_client.ts";
import { ApiError } from "../utils/http.ts";
import { AddressError, parseAddr } from "../utils/addr.ts";
import { log } from "../utils/log.ts";
import { newXAuth } from "../utils/xauth.ts";
import type { DashboardConfig } from "./config.ts";
import { rebalancePlan } from "./rebalance.ts";
import { errorMessage } from "../utils/errors.ts";

/** A request the state does not allow (400), or names something missing (404) or present (409). */
function bad(message: string): ApiError {
  return new ApiError(400, message);
}
function missing(message: string): ApiError {
  return new ApiError(404, message);
}
function conflict(message: string): ApiError {
  return new ApiError(409, message);
}

/** What the slot-action scheduler shows (`slot_action` in the stats). */
export interface ActionStatus {
  interval: number;
  disabled: boolean;
  progress: { status: string };
  executor: number;
}

/** How long one call to a proxy's admin API may take. */
const PROXY_CALL_TIMEOUT_MS = 5000;

export class Topom {
  readonly config: DashboardConfig;
  readonly store: ProductStore;
  readonly model: TopomModel;
  readonly xauth: string;
  #slots: SlotMapping[] = [];
  #groups = new Map<number, GroupModel>();
  #proxies = new Map<string, StoredProxy>();
  #sentinel: SentinelModel = { servers: [], outOfSync: false };
  #mutex: Promise<unknown> = Promise.resolve();
  #closed = false;
  /** µs pause between migration steps. */
  actionInterval = 0;
  actionDisabled = false;
  actionProgress = "";
  actionExecutors = 0;
  /** What the last sync action of each server found worth telling (e.g. CONFIG REWRITE impossible). */
  readonly syncNotes = new Map<string, string>();

  constructor(config: DashboardConfig, store: ProductStore, model: TopomModel) {
    this.config = config;
    this.store = store;
    this.model = model;
    this.xauth = newXAuth(config.productName);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Reads the whole state from the store (at start, and for `reload`). */
  async load(): Promise<void> {
    const [slots, groups, proxies, sentinel] = await Promise.all([
      this.store.slotMappings(),
      this.store.listGroups(),
      this.store.listProxies(),
      this.store.loadSentinel(),
    ]);
    this.#sentinel = sentinel ?? { servers: [], outOfSync: false };
    this.#slots = slots;
    this.#groups = new Map(groups.map((g) => [g.id, g]));
    this.#proxies = new Map(proxies.map((p) => [p.model.token, p]));
  }

  close(): void {
    this.#closed = true;
  }

  /** Runs `fn` alone: mutations never interleave. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = () => {
      if (this.#closed) throw new ApiError(503, "topom is not online");
      return fn();
    };
    const result = this.#mutex.then(run, run);
    this.#mutex = result.catch(() => {});
    return result;
  }

  // --- views ----------------------------------------------------------------------------------

  slots(): SlotMapping[] {
    return this.#slots.map((m) => structuredClone(m));
  }

  slot(id: number): SlotMapping {
    return structuredClone(this.#slots[id]);
  }

  groups(): GroupModel[] {
    return [...this.#groups.values()].sort((a, b) => a.id - b.id).map((g) => structuredClone(g));
  }

  group(id: number): GroupModel | undefined {
    const g = this.#groups.get(id);
    return g ? structuredClone(g) : undefined;
  }

  /** The sentinels as stored (managing them is not built yet). */
  sentinel(): SentinelModel {
    return structuredClone(this.#sentinel);
  }

  proxies(): StoredProxy[] {
    return [...this.#proxies.values()].sort((a, b) => a.id - b.id).map((p) => structuredClone(p));
  }

  /** The proxy's admin client, with its xauth. */
  proxyClient(p: StoredProxy): ProxyAdminClient {
    return new ProxyAdminClient(
      p.model.adminAddr,
      newXAuth(this.config.productName, this.config.productAuth, p.model.token),
      PROXY_CALL_TIMEOUT_MS,
    );
  }

  #master(gid: number): string {
    return this.#groups.get(gid)?.servers[0]?.addr ?? "";
  }

  #promoting(gid: number): boolean {
    return !!this.#groups.get(gid)?.promoting.state;
  }

  #isPrepared(gid: number): boolean {
    const state = this.#groups.get(gid)?.promoting.state;
    return state === ACTION_PREPARING || state === ACTION_PREPARED;
  }

  /** Replicas that may serve reads of group `gid`, by priority for a proxy (same host, same datacenter, others). */
  #replicaGroups(gid: number, proxy?: StoredProxy): string[][] {
    const g = this.#groups.get(gid);
    if (!g || g.promoting.state || g.servers.length <= 1) return [];
    const dc = proxy?.model.datacenter ?? "";
    let proxyHost = "";
    try {
      proxyHost = proxy ? parseAddr(proxy.model.adminAddr).host : "";
    } catch {
      proxyHost = "";
    }
    const tiers: string[][] = [[], [], []];
    for (const s of g.servers) {
      if (!s.replicaGroup) continue;
      let tier = 2;
      if (proxyHost && dc === s.datacenter) {
        let host = "";
        try {
          host = parseAddr(s.addr).host;
        } catch {
          host = "";
        }
        tier = host === proxyHost ? 0 : 1;
      }
      tiers[tier].push(s.addr);
    }
    return tiers.filter((t) => t.length > 0);
  }

  /** The proxy's view of a slot mapping (Codis's `toSlot`). */
  slotSpec(m: SlotMapping, proxy?: StoredProxy): SlotSpec {
    const s = offlineSlot(m.id);
    s.forwardMethod = this.config.migrationMethod === "sync" ? FORWARD_SYNC : FORWARD_SEMI_ASYNC;
    const from = m.groupId;
    const to = m.action.targetId;
    switch (m.action.state) {
      case "":
      case ACTION_PENDING:
        s.locked = this.#isPrepared(from);
        s.backendAddr = this.#master(from);
        s.backendAddrGroupId = from;
        s.replicaGroups = this.#replicaGroups(from, proxy);
        break;
      case ACTION_PREPARING:
        s.locked = this.#isPrepared(from);
        s.backendAddr = this.#master(from);
        s.backendAddrGroupId = from;
        break;
      case ACTION_PREPARED:
        s.locked = true;
        s.backendAddr = this.#master(to);
        s.backendAddrGroupId = to;
        s.migrateFrom = this.#master(from);
        s.migrateFromGroupId = from;
        break;
      case ACTION_MIGRATING:
        s.locked = this.#isPrepared(from) || this.#isPrepared(to);
        s.backendAddr = this.#master(to);
        s.backendAddrGroupId = to;
        s.migrateFrom = this.#master(from);
        s.migrateFromGroupId = from;
        break;
      case ACTION_FINISHED:
        s.locked = this.#isPrepared(to);
        s.backendAddr = this.#master(to);
        s.backendAddrGroupId = to;
        break;
    }
    if (!s.backendAddr) s.backendAddrGroupId = 0;
    if (!s.migrateFrom) s.migrateFromGroupId = 0;
    return s;
  }

  /** All 1024 slots as a proxy in no datacenter sees them (`/topom/slots`). */
  slotSpecs(): SlotSpec[] {
    return this.#slots.map((m) => this.slotSpec(m));
  }

  // --- pushing to proxies ------------------------------------------------------------------------

  /**
   * Pushes slots to every proxy at once; fails (after all have answered) if any proxy failed,
   * naming each. `override` replaces the stored mapping of some slots (for the migration barrier).
   */
  async pushSlots(mappings: SlotMapping[]): Promise<void> {
    if (mappings.length === 0 || this.#proxies.size === 0) return;
    const failures: string[] = [];
    await Promise.all([...this.#proxies.values()].map(async (p) => {
      try {
        await this.proxyClient(p).fillSlots(mappings.map((m) => this.slotSpec(m, p)));
      } catch (e) {
        failures.push(`proxy-[${p.model.token}] fillslots failed: ${errorMessage(e)}`);
      }
    }));
    if (failures.length > 0) throw new ApiError(502, failures.sort().join("; "));
  }

  /** Fills all 1024 slots on one proxy and starts it (Codis's reinit). */
  async #reinit(p: StoredProxy): Promise<void> {
    const client = this.proxyClient(p);
    try {
      await client.fillSlots(this.#slots.map((m) => this.slotSpec(m, p)));
    } catch (e) {
      throw new ApiError(502, `proxy-[${p.model.token}] fillslots failed: ${errorMessage(e)}`);
    }
    try {
      await client.start();
    } catch (e) {
      throw new ApiError(502, `proxy-[${p.model.token}] start failed: ${errorMessage(e)}`);
    }
  }

  // --- proxies ------------------------------------------------------------------------------------

  /** Fetches a proxy's model and checks its xauth, as Codis does before registering it. */
  async #probeProxy(addr: string): Promise<StoredProxy> {
    checkAddr(addr, "proxy");
    const client = new ProxyAdminClient(addr, "", PROXY_CALL_TIMEOUT_MS);
    let model;
    try {
      model = await client.model();
    } catch (e) {
      throw new ApiError(502, `proxy@${addr} fetch model failed, ${errorMessage(e)}`);
    }
    if (model.productName !== this.config.productName) {
      throw bad(`proxy@${addr} belongs to product "${model.productName}", not "${this.config.productName}"`);
    }
    client.xauth = newXAuth(this.config.productName, this.config.productAuth, model.token);
    try {
      await client.xping();
    } catch (e) {
      throw new ApiError(502, `proxy@${addr} check xauth failed, ${errorMessage(e)}`);
    }
    return { id: 0, model };
  }

  #nextProxyId(): number {
    let max = 0;
    for (const p of this.#proxies.values()) max = Math.max(max, p.id);
    return max + 1;
  }

  /** Registers a new proxy by its admin address and brings it online. */
  createProxy(addr: string): Promise<void> {
    return this.exclusive(async () => {
      const p = await this.#probeProxy(addr);
      if (this.#proxies.has(p.model.token)) throw conflict(`proxy-[${p.model.token}] already exists`);
      p.id = this.#nextProxyId();
      await this.store.updateProxy(p);
      this.#proxies.set(p.model.token, p);
      log.info(`proxy-[${p.model.token}] ${addr} created`);
      await this.#reinit(p);
    });
  }

  /** Registers (or updates) a proxy and brings it online: what a proxy started with --dashboard asks for. */
  onlineProxy(addr: string): Promise<void> {
    return this.exclusive(async () => {
      const p = await this.#probeProxy(addr);
      const known = this.#proxies.get(p.model.token);
      p.id = known?.id ?? this.#nextProxyId();
      await this.store.updateProxy(p);
      this.#proxies.set(p.model.token, p);
      log.info(`proxy-[${p.model.token}] ${addr} online`);
      await this.#reinit(p);
    });
  }

  #findProxy(token: string): StoredProxy {
    const p = this.#proxies.get(token);
    if (!p) throw missing(`proxy-[${token}] doesn't exist`);
    return p;
  }

  reinitProxy(token: string): Promise<void> {
    return this.exclusive(() => this.#reinit(this.#findProxy(token)));
  }

  /** Re-onlines a registered proxy that came back empty (restarted at the same address). */
  reonlineProxy(token: string): Promise<void> {
    return this.exclusive(async () => {
      const p = this.#proxies.get(token);
      if (!p) return;
      // Brought online meanwhile (by its own online call, say)?
      const now = await this.proxyClient(p).stats().catch(() => null) as { online?: boolean } | null;
      if (!now || now.online !== false) return;
      log.warn(`proxy-[${token}] ${p.model.adminAddr} is up but offline (restarted?): bringing it online`);
      // Its model (start time, pid) changed with the restart.
      const fresh = await this.#probeProxy(p.model.adminAddr).catch(() => null);
      if (fresh && fresh.model.token === token) {
        fresh.id = p.id;
        await this.store.updateProxy(fresh);
        this.#proxies.set(token, fresh);
      }
      await this.#reinit(this.#proxies.get(token)!);
    });
  }

  /** Shuts a proxy down and forgets it; with `force`, forgets it even when it cannot be reached. */
  removeProxy(token: string, force: boolean): Promise<void> {
    return this.exclusive(async () => {
      const p = this.#findProxy(token);
      try {
        await this.proxyClient(p).shutdown();
      } catch (e) {
        if (!force) {
          throw new ApiError(
            502,
            `proxy-[${token}] shutdown failed: ${errorMessage(e)} (remove it with force to forget it anyway)`,
          );
        }
        log.warn(`proxy-[${token}] shutdown failed, removed by force: ${errorMessage(e)}`);
      }
      await this.store.deleteProxy(token);
      this.#proxies.delete(token);
    });
  }

  // --- groups and servers -------------------------------------------------------------------------

  #findGroup(gid: number): GroupModel {
    checkGroupId(gid);
    const g = this.#groups.get(gid);
    if (!g) throw missing(`group-[${gid}] doesn't exist`);
    return g;
  }

  async #storeGroup(g: GroupModel): Promise<void> {
    await this.store.updateGroup(g);
    this.#groups.set(g.id, g);
  }

  createGroup(gid: number): Promise<void> {
    return this.exclusive(async () => {
      checkGroupId(gid);
      if (this.#groups.has(gid)) throw conflict(`group-[${gid}] already exists`);
      await this.#storeGroup({ id: gid, servers: [], promoting: { index: 0, state: "" }, outOfSync: false });
    });
  }

  removeGroup(gid: number): Promise<void> {
    return this.exclusive(async () => {
      const g = this.#findGroup(gid);
      if (g.servers.length > 0) throw bad(`group-[${gid}] isn't empty`);
      await this.store.deleteGroup(gid);
      this.#groups.delete(gid);
    });
  }

  #serverOwner(addr: string): { group: GroupModel; index: number } | null {
    for (const g of this.#groups.values()) {
      const index = g.servers.findIndex((s) => s.addr === addr);
      if (index >= 0) return { group: g, index };
    }
    return null;
  }

  /** Adds a server after checking that it is a Redis server answering with product_auth. */
  addServer(gid: number, addr: string, datacenter = ""): Promise<void> {
    return this.exclusive(async () => {
      checkAddr(addr, "server");
      const g = structuredClone(this.#findGroup(gid));
      if (g.promoting.state) throw bad(`group-[${gid}] is promoting`);
      const owner = this.#serverOwner(addr);
      if (owner) throw conflict(`server-[${addr}] already exists in group-[${owner.group.id}]`);
      await this.#probeServer(addr);
      g.servers.push({ addr, datacenter, action: { index: 0, state: "" }, replicaGroup: false });
      await this.#storeGroup(g);
      await this.#sentinelOutOfSync();
    });
  }

  /** Checks that a Redis server answers PING and INFO with product_auth (Codis asked for SLOTSINFO). */
  async #probeServer(addr: string): Promise<void> {
    let client: RedisClient | null = null;
    try {
      client = await RedisClient.connect(addr, {
        password: this.config.productAuth,
        connectTimeoutMs: 2000,
        timeoutMs: 2000,
      });
      await client.call("PING");
      const info = parseInfo(String(await client.call("INFO", "server")));
      if (!info.redis_version) throw new Error("INFO has no redis_version");
    } catch (e) {
      throw new ApiError(502, `server-[${addr}] is not a usable Redis server: ${errorMessage(e)}`);
    } finally {
      await client?.close();
    }
  }

  async #sentinelOutOfSync(): Promise<void> {
    const s = this.#sentinel;
    if (s.servers.length > 0 && !s.outOfSync) {
      this.#sentinel = { ...s, outOfSync: true };
      await this.store.updateSentinel(this.#sentinel);
    }
  }

  #groupInUse(gid: number): boolean {
    return this.#slots.some((m) => m.groupId === gid || m.action.targetId === gid);
  }

  delServer(gid: number, addr: string): Promise<void> {
    return this.exclusive(async () => {
      checkAddr(addr, "server");
      const g = structuredClone(this.#findGroup(gid));
      if (g.promoting.state) throw bad(`group-[${gid}] is promoting`);
      const index = g.servers.findIndex((s) => s.addr === addr);
      if (index < 0) throw missing(`server-[${addr}] doesn't exist`);
      if (index === 0 && (g.servers.length !== 1 || this.#groupInUse(gid))) {
        throw bad(`group-[${gid}] can't remove master, still in use`);
      }
      const [removed] = g.servers.splice(index, 1);
      if (removed.replicaGroup) g.outOfSync = true;
      await this.#storeGroup(g);
      this.syncNotes.delete(addr);
      await this.#sentinelOutOfSync();
    });
  }

  setReplicaGroups(gid: number, addr: string, value: boolean): Promise<void> {
    return this.exclusive(async () => {
      checkAddr(addr, "server");
      const g = structuredClone(this.#findGroup(gid));
      if (g.promoting.state) throw bad(`group-[${gid}] is promoting`);
      const s = g.servers.find((x) => x.addr === addr);
      if (!s) throw missing(`server-[${addr}] doesn't exist`);
      s.replicaGroup = value;
      if (g.servers.length > 1 && this.#groupInUse(gid)) g.outOfSync = true;
      await this.#storeGroup(g);
    });
  }

  setReplicaGroupsAll(value: boolean): Promise<void> {
    return this.exclusive(async () => {
      for (const g0 of this.#groups.values()) {
        if (g0.promoting.state) throw bad(`group-[${g0.id}] is promoting`);
      }
      for (const g0 of [...this.#groups.values()]) {
        const g = structuredClone(g0);
        let changed = false;
        for (const s of g.servers) {
          if (s.replicaGroup !== value) {
            s.replicaGroup = value;
            changed = true;
          }
        }
        if (!changed) continue;
        if (g.servers.length > 1 && this.#groupInUse(g.id)) g.outOfSync = true;
        await this.#storeGroup(g);
      }
    });
  }

  /** Pushes every slot of the group (as owner or target) to every proxy; clears out_of_sync. */
  resyncGroup(gid: number): Promise<void> {
    return this.exclusive(async () => {
      const g = structuredClone(this.#findGroup(gid));
      if (g.promoting.state) throw bad(`group-[${gid}] is promoting`);
      await this.pushSlots(this.#slots.filter((m) => m.groupId === gid || m.action.targetId === gid));
      g.outOfSync = false;
      await this.#storeGroup(g);
    });
  }

  resyncGroupAll(): Promise<void> {
    return this.exclusive(async () => {
      for (const g of this.#groups.values()) {
        if (g.promoting.state) throw bad(`group-[${g.id}] is promoting`);
      }
      await this.pushSlots(this.#slots);
      for (const g0 of [...this.#groups.values()]) {
        if (!g0.outOfSync) continue;
        await this.#storeGroup({ ...structuredClone(g0), outOfSync: false });
      }
    });
  }

  /** Makes a replica the group's master (Codis's manual failover, §4.5). */
  promoteServer(gid: number, addr: string): Promise<void> {
    return this.exclusive(async () => {
      checkAddr(addr, "server");
      let g = structuredClone(this.#findGroup(gid));
      const index = g.servers.findIndex((s) => s.addr === addr);
      if (!g.promoting.state) {
        if (index < 0) throw missing(`server-[${addr}] doesn't exist`);
        if (index === 0) throw bad(`group-[${gid}] can't promote master`);
        if (this.actionExecutors > 0) throw bad(`slots-migration is running = ${this.actionExecutors}`);
        g.promoting = { index, state: ACTION_PREPARING };
        await this.#storeGroup(g);
      } else if (g.servers[g.promoting.index]?.addr !== addr && g.promoting.state !== ACTION_FINISHED) {
        throw bad(`group-[${gid}] is promoting`);
      }
      const groupSlots = () => this.#slots.filter((m) => m.groupId === gid || m.action.targetId === gid);
      if (g.promoting.state === ACTION_PREPARING) {
        // Lock the group's slots on every proxy; roll back if any proxy cannot.
        g.promoting.state = ACTION_PREPARED;
        this.#groups.set(gid, g);
        try {
          await this.pushSlots(groupSlots());
        } catch (e) {
          g.promoting.state = ACTION_PREPARING;
          this.#groups.set(gid, g);
          await this.pushSlots(groupSlots()).catch(() => {});
          throw e;
        }
        await this.#storeGroup(g);
      }
      if (g.promoting.state === ACTION_PREPARED) {
        const promoted = g.servers[g.promoting.index];
        const others = g.servers.filter((_, i) => i !== 0 && i !== g.promoting.index);
        g = structuredClone(g);
        g.servers = [promoted, ...others, g.servers[0]].map((s) => ({ ...s, action: { index: 0, state: "" } }));
        g.promoting = { index: 0, state: ACTION_FINISHED };
        await this.#storeGroup(g);
        await this.#sentinelOutOfSync();
        try {
          await this.replicaOf(promoted.addr, "");
        } catch (e) {
          log.warn(`promote: REPLICAOF NO ONE on ${promoted.addr} failed: ${errorMessage(e)}`);
        }
      }
      if (g.promoting.state === ACTION_FINISHED) {
        g = { ...structuredClone(g), promoting: { index: 0, state: "" }, outOfSync: false };
        this.#groups.set(gid, g);
        await this.pushSlots(groupSlots());
        await this.#storeGroup(g);
      }
    });
  }

  // --- sync (REPLICAOF) actions -------------------------------------------------------------------

  /** A copy of the group of the server at `addr` (not promoting), and the server in it. */
  #serverToChange(addr: string): { g: GroupModel; s: GroupServer } {
    checkAddr(addr, "server");
    const owner = this.#serverOwner(addr);
    if (!owner) throw missing(`server-[${addr}] doesn't exist`);
    const g = structuredClone(owner.group);
    if (g.promoting.state) throw bad(`group-[${g.id}] is promoting`);
    return { g, s: g.servers[owner.index] };
  }

  createSyncAction(addr: string): Promise<void> {
    return this.exclusive(async () => {
      const { g, s } = this.#serverToChange(addr);
      if (s.action.state === ACTION_PENDING || s.action.state === "syncing") {
        throw conflict(`server-[${addr}] action already exist`);
      }
      let max = 0;
      for (const x of this.#groups.values()) for (const y of x.servers) max = Math.max(max, y.action.index);
      s.action = { index: max + 1, state: ACTION_PENDING };
      this.syncNotes.delete(addr);
      await this.#storeGroup(g);
    });
  }

  removeSyncAction(addr: string): Promise<void> {
    return this.exclusive(async () => {
      const { g, s } = this.#serverToChange(addr);
      if (!s.action.state) throw missing(`server-[${addr}] action doesn't exist`);
      if (s.action.state === "syncing") throw bad(`server-[${addr}] action is running`);
      s.action = { index: 0, state: "" };
      await this.#storeGroup(g);
    });
  }

  /** The pending sync action with the smallest index, marked `syncing`; null when there is none. */
  takeSyncAction(): Promise<{ addr: string; master: string } | null> {
    return this.exclusive(async () => {
      let best: { g: GroupModel; s: GroupServer; i: number } | null = null;
      for (const g of this.#groups.values()) {
        if (g.promoting.state) continue;
        g.servers.forEach((s, i) => {
          if (s.action.state === ACTION_PENDING && (!best || s.action.index < best.s.action.index)) best = { g, s, i };
        });
      }
      if (!best) return null;
      const { g: g0, i } = best as { g: GroupModel; s: GroupServer; i: number };
      const g = structuredClone(g0);
      g.servers[i].action.state = "syncing";
      await this.#storeGroup(g);
      return { addr: g.servers[i].addr, master: i === 0 ? "" : g.servers[0].addr };
    });
  }

  /** Records the end of a sync action. */
  finishSyncAction(addr: string, ok: boolean): Promise<void> {
    return this.exclusive(async () => {
      const owner = this.#serverOwner(addr);
      if (!owner) return;
      const g = structuredClone(owner.group);
      const s = g.servers[owner.index];
      if (s.action.state !== "syncing") return;
      s.action.state = ok ? "synced" : "synced_failed";
      await this.#storeGroup(g);
    });
  }

  /**
   * Points a server at `master` ("" = make it a master), as Codis's sync action does:
   * CONFIG SET masterauth, REPLICAOF, CONFIG REWRITE, CLIENT KILL TYPE normal, in one MULTI.
   * Returns a note when the setting could not be written to the server's config file.
   */
  async replicaOf(addr: string, master: string): Promise<string> {
    const client = await RedisClient.connect(addr, {
      password: this.config.productAuth,
      connectTimeoutMs: 5000,
      timeoutMs: 30_000,
    });
    try {
      const target = master ? parseAddr(master) : null;
      const replies = await client.pipeline([
        ["MULTI"],
        ["CONFIG", "SET", "masterauth", this.config.productAuth],
        target ? ["REPLICAOF", target.host, String(target.port)] : ["REPLICAOF", "NO", "ONE"],
        ["CONFIG", "REWRITE"],
        ["CLIENT", "KILL", "TYPE", "normal"],
        ["EXEC"],
      ]);
      const exec = replies.at(-1);
      if (!Array.isArray(exec)) {
        const first = replies.find((r) => r instanceof RespError);
        throw new Error(`MULTI failed: ${first instanceof RespError ? first.message : String(exec)}`);
      }
      const [setAuth, replicaof, rewrite] = exec;
      if (setAuth instanceof RespError) throw new Error(`CONFIG SET masterauth failed: ${setAuth.message}`);
      if (replicaof instanceof RespError) throw new Error(`REPLICAOF failed: ${replicaof.message}`);
      if (rewrite instanceof RespError) {
        return `CONFIG REWRITE failed (${rewrite.message}): the server replicates ${
          master || "no one"
        } now, but will forget it when it restarts`;
      }
      return "";
    } finally {
      await client.close();
    }
  }

  // --- slots ----------------------------------------------------------------------------------------

  async #storeSlot(m: SlotMapping): Promise<void> {
    await this.store.updateSlotMapping(m);
    this.#slots[m.id] = m;
  }

  async #storeSlots(ms: SlotMapping[]): Promise<void> {
    await this.store.updateSlotMappings(ms);
    for (const m of ms) this.#slots[m.id] = m;
  }

  /** Assigns slots to groups at once, without moving data (for empty clusters), as Codis's slots/assign. */
  assignSlots(mappings: SlotMapping[], offline: boolean): Promise<void> {
    return this.exclusive(async () => {
      const touched = new Set<number>();
      const seen = new Set<number>();
      for (const m of mappings) {
        checkSlotId(m.id);
        if (seen.has(m.id)) throw bad(`slot-[${m.id}] is given twice`);
        seen.add(m.id);
        if (m.action.state) throw bad(`invalid slot-[${m.id}] action, must be empty`);
        if (this.#slots[m.id].action.state) throw conflict(`slot-[${m.id}] action already exists`);
        if (offline) {
          if (m.groupId !== 0) throw bad(`invalid slot-[${m.id}] group id = ${m.groupId}, must be 0 to go offline`);
        } else {
          const g = this.#findGroup(m.groupId);
          if (g.servers.length === 0) throw bad(`group-[${m.groupId}] is empty`);
          touched.add(m.groupId);
        }
        if (this.#slots[m.id].groupId) touched.add(this.#slots[m.id].groupId);
      }
      for (const gid of touched) {
        const g = this.#groups.get(gid);
        if (g && !g.outOfSync) await this.#storeGroup({ ...structuredClone(g), outOfSync: true });
      }
      const updated = mappings.map((m) => ({
        id: m.id,
        groupId: m.groupId,
        action: { index: 0, state: "", targetId: 0 },
      }));
      await this.#storeSlots(updated);
      await this.pushSlots(updated);
    });
  }

  #nextActionIndex(): number {
    let max = 0;
    for (const m of this.#slots) max = Math.max(max, m.action.index);
    return max + 1;
  }

  #checkTarget(gid: number): void {
    const g = this.#findGroup(gid);
    if (g.servers.length === 0) throw bad(`group-[${gid}] is empty`);
  }

  /** Checks and stores new pending actions (`[slot, target group]`), numbered in the order given. */
  async #createActions(list: [number, number][]): Promise<void> {
    let index = this.#nextActionIndex();
    const out: SlotMapping[] = [];
    for (const [sid, gid] of list) {
      const m = this.#slots[sid];
      if (m.action.state) throw conflict(`slot-[${sid}] action already exists`);
      if (m.groupId === gid) throw bad(`slot-[${sid}] already in group-[${gid}]`);
      out.push({ id: sid, groupId: m.groupId, action: { index: index++, state: ACTION_PENDING, targetId: gid } });
    }
    await this.#storeSlots(out);
  }

  createSlotAction(sid: number, gid: number): Promise<void> {
    return this.exclusive(async () => {
      checkSlotId(sid);
      this.#checkTarget(gid);
      await this.#createActions([[sid, gid]]);
    });
  }

  /** Queues the first `num` idle slots of group `src` to move to `dst`. */
  createSlotActionSome(src: number, dst: number, num: number): Promise<void> {
    return this.exclusive(async () => {
      this.#findGroup(src);
      this.#checkTarget(dst);
      if (!Number.isSafeInteger(num) || num < 0) throw bad(`invalid number of slots = ${num}`);
      const idle = this.#slots.filter((m) => m.groupId === src && !m.action.state).slice(0, num);
      await this.#createActions(idle.map((m) => [m.id, dst]));
    });
  }

  /** Queues [beg, end] to move to `gid` (slots already there are skipped; any slot with an action is an error). */
  createSlotActionRange(beg: number, end: number, gid: number): Promise<void> {
    return this.exclusive(async () => {
      if (!(beg >= 0 && end < MAX_SLOT_NUM && beg <= end)) throw bad(`invalid slot range [${beg},${end}]`);
      this.#checkTarget(gid);
      for (let i = beg; i <= end; i++) {
        if (this.#slots[i].action.state) throw conflict(`slot-[${i}] action already exists`);
      }
      const list: [number, number][] = [];
      for (let i = beg; i <= end; i++) if (this.#slots[i].groupId !== gid) list.push([i, gid]);
      await this.#createActions(list);
    });
  }

  removeSlotAction(sid: number): Promise<void> {
    return this.exclusive(async () => {
      checkSlotId(sid);
      const m = this.#slots[sid];
      if (!m.action.state) throw missing(`slot-[${sid}] action doesn't exist`);
      if (m.action.state !== ACTION_PENDING) throw bad(`slot-[${sid}] action isn't pending`);
      await this.#storeSlot({ id: sid, groupId: m.groupId, action: { index: 0, state: "", targetId: 0 } });
    });
  }

  /** Codis's rebalance plan; with `confirm`, queues its actions in ascending slot order. */
  rebalance(confirm: boolean): Promise<Map<number, number>> {
    return this.exclusive(async () => {
      let plan;
      try {
        plan = rebalancePlan(this.#slots, [...this.#groups.values()]);
      } catch (e) {
        throw bad(errorMessage(e));
      }
      if (confirm) {
        await this.#createActions([...plan.keys()].sort((a, b) => a - b).map((sid) => [sid, plan.get(sid)!]));
      }
      return plan;
    });
  }

  // --- the slot-action state machine (used by actions.ts) ------------------------------------------

  /**
   * Slots to work on next: in-progress actions first, by index, then (when enabled) pending ones
   * by index; at most `migration_parallel_slots`. Unlike Codis, slots that share a source or
   * target group go in one batch: the mover scans each source once for the whole batch.
   */
  nextActionBatch(): SlotMapping[] {
    const withAction = this.#slots.filter((m) => m.action.state).sort((a, b) => a.action.index - b.action.index);
    const batch: SlotMapping[] = [];
    const take = (m: SlotMapping) => {
      if (batch.length >= this.config.migrationParallelSlots) return;
      if (this.#promoting(m.groupId) || this.#promoting(m.action.targetId)) return;
      batch.push(structuredClone(m));
    };
    for (const m of withAction) if (m.action.state !== ACTION_PENDING) take(m);
    if (!this.actionDisabled) { for (const m of withAction) if (m.action.state === ACTION_PENDING) take(m); }
    return batch;
  }

  /**
   * Moves slots' actions one state on, all slots in the same state together, with Codis's
   * barrier rules: `prepared` is stored only once every proxy has locked the slots (else they
   * are rolled back to `preparing` and the error is thrown); `migrating` only once every proxy
   * forwards from the source; `finished` is pushed, then the slot belongs to its target.
   */
  advanceActions(sids: number[]): Promise<SlotMapping[]> {
    return this.exclusive(async () => {
      const current = sids.map((sid) => structuredClone(this.#slots[sid]));
      const state = current[0]?.action.state;
      if (!current.every((m) => m.action.state === state)) throw new Error("advanceActions: slots in different states");
      const next = (m: SlotMapping, st: string) => ({ ...m, action: { ...m.action, state: st } });
      switch (state) {
        case ACTION_PENDING: {
          const out = current.map((m) => next(m, ACTION_PREPARING));
          await this.#storeSlots(out);
          return out;
        }
        case ACTION_PREPARING: {
          const out = current.map((m) => next(m, ACTION_PREPARED));
          try {
            await this.pushSlots(out);
          } catch (e) {
            await this.pushSlots(current).catch(() => {});
            throw e;
          }
          await this.#storeSlots(out);
          return out;
        }
        case ACTION_PREPARED: {
          const out = current.map((m) => next(m, ACTION_MIGRATING));
          await this.pushSlots(out);
          await this.#storeSlots(out);
          return out;
        }
        case ACTION_MIGRATING: {
          const out = current.map((m) => next(m, ACTION_FINISHED));
          await this.#storeSlots(out);
          return out;
        }
        case ACTION_FINISHED: {
          await this.pushSlots(current);
          const out = current.map((m) => ({
            id: m.id,
            groupId: m.action.targetId,
            action: { index: 0, state: "", targetId: 0 },
          }));
          await this.#storeSlots(out);
          return out;
        }
      }
      return current;
    });
  }

  /** Masters of a migrating slot: where keys come from and go to ("" = no server). */
  migrationEnds(m: SlotMapping): { from: string; to: string } {
    return { from: this.#master(m.groupId), to: this.#master(m.action.targetId) };
  }
}

function checkGroupId(gid: number): void {
  if (!Number.isSafeInteger(gid) || gid <= 0 || gid > MAX_GROUP_ID) {
    throw bad(`invalid group id = ${gid}, out of range`);
  }
}

function checkSlotId(sid: number): void {
  if (!Number.isSafeInteger(sid) || sid < 0 || sid >= MAX_SLOT_NUM) {
    throw bad(`invalid slot id = ${sid}, out of range`);
  }
}

function checkAddr(addr: string, what: string): void {
  try {
    const { host, port } = parseAddr(addr);
    if (!host || !(port > 0)) throw new AddressError(`"${addr}" has no host or port`);
  } catch (e) {
    throw bad(`invalid ${what} address "${addr}": ${errorMessage(e)}`);
  }
}
