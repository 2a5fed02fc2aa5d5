/**
 * The dashboard's core ("topom" in Codis, `pkg/topom/topom.go`): the product's state loaded from
 * the store, the mutex every mutation runs under, the writes that keep store and memory equal,
 * and pushing slot tables to the proxies.
 *
 * The mutations themselves live by topic beside it (`groups.ts`, `slots.ts`, `proxies.ts`,
 * `sync_actions.ts`), the pure queries in `context.ts`, the loops in `scheduler.ts` and
 * `stats.ts`. The rules that keep the state safe:
 *
 * - every mutation runs inside {@linkcode Topom.exclusive}, so mutations never interleave;
 * - a mutation writes the store first and the memory second (the `store…` methods do both), so a
 *   failed write changes nothing;
 * - stored objects are never changed in place: a mutation changes a copy and stores it, so a
 *   {@linkcode Context} taken before keeps seeing a consistent state.
 *
 * @module
 */

import type { GroupModel, SentinelModel, SlotMapping, TopomModel } from "../coord/models.ts";
import type { ProductStore, StoredProxy } from "../coord/store.ts";
import { ProxyAdminClient } from "../api/proxy_client.ts";
import { RedisClient, type RedisClientOptions } from "../redis/redis_client.ts";
import { MAX_SLOT_NUM } from "../redis/slot_hash.ts";
import { readCaCerts, type TlsClientOptions } from "../utils/net.ts";
import { AddressError, parseAddr } from "../utils/addr.ts";
import { CodisError, errorMessage, invalid, notFound, upstream } from "../utils/errors.ts";
import { dashboardXAuth, proxyXAuth } from "../utils/xauth.ts";
import { MAX_GROUP_ID } from "../coord/models.ts";
import type { DashboardConfig } from "./config.ts";
import { Context } from "./context.ts";

/** How long one call to a proxy's admin API may take. */
const PROXY_CALL_TIMEOUT_MS = 5000;

/** Opens a client of one of the product's servers (with product_auth, over TLS when configured). */
export type ServerConnector = (
  addr: string,
  options: Pick<RedisClientOptions, "connectTimeoutMs" | "timeoutMs"> & Partial<RedisClientOptions>,
) => Promise<RedisClient>;

/** The product's state, the store behind it, and the proxies it is pushed to. */
export class Topom {
  readonly config: DashboardConfig;
  readonly store: ProductStore;
  readonly model: TopomModel;
  /** The key of this dashboard's API. */
  readonly xauth: string;
  #slots: SlotMapping[] = [];
  #groups = new Map<number, GroupModel>();
  #proxies = new Map<string, StoredProxy>();
  #sentinel: SentinelModel = { servers: [], outOfSync: false };
  #mutex: Promise<unknown> = Promise.resolve();
  #closed = false;
  #tls: TlsClientOptions | null;

  constructor(config: DashboardConfig, store: ProductStore, model: TopomModel) {
    this.config = config;
    this.store = store;
    this.model = model;
    this.xauth = dashboardXAuth(config.productName, config.adminAuth);
    this.#tls = config.backendTls ? { caCerts: readCaCerts(config.backendTlsCa) } : null;
  }

  /** Opens a client of one of the product's servers: with product_auth, over TLS when configured. */
  connectServer: ServerConnector = (addr, options) =>
    RedisClient.connect(addr, { password: this.config.productAuth, tls: this.#tls, ...options });

  get closed(): boolean {
    return this.#closed;
  }

  /** Refuses every later mutation (those running finish). */
  close(): void {
    this.#closed = true;
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

  /** Runs `fn` alone: mutations never interleave. Refused once closed. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = () => {
      if (this.#closed) throw new CodisError("unavailable", "topom is not online");
      return fn();
    };
    const result = this.#mutex.then(run, run);
    this.#mutex = result.catch(() => {});
    return result;
  }

  /** Queries over the current state (valid until the next write). */
  ctx(): Context {
    return new Context({
      slots: this.#slots,
      groups: this.#groups,
      proxies: this.#proxies,
      sentinel: this.#sentinel,
      held: this.heldKeys,
    }, this.config);
  }

  /**
   * Big keys of migrating slots that the mover moves in pieces, and those it copies now (base64
   * of their bytes), by slot: every proxy serves them from the source, holding writes to the
   * moving ones. Kept in memory only: a restarted dashboard finds them again.
   */
  readonly heldKeys = new Map<number, { held: string[]; moving: string[] }>();

  // --- copies for readers (the API, the stats, the loops) --------------------------------------

  slots(): SlotMapping[] {
    return this.#slots.map((m) => structuredClone(m));
  }

  /**
   * The slots without copying them, for readers that only turn them into something else (the
   * stats JSON): 1024 `structuredClone`s made each `/topom` cost ~8 ms of CPU, ~1 ms without.
   */
  slotsView(): readonly Readonly<SlotMapping>[] {
    return this.#slots;
  }

  slot(id: number): SlotMapping {
    return structuredClone(this.#slots[id]);
  }

  groups(): GroupModel[] {
    return [...this.#groups.values()].sort((a, b) => a.id - b.id).map((g) => structuredClone(g));
  }

  /** A copy of group `gid`; throws `group-[gid] doesn't exist` (or an invalid id). */
  group(gid: number): GroupModel {
    checkGroupId(gid);
    const g = this.#groups.get(gid);
    if (!g) throw notFound(`group-[${gid}] doesn't exist`);
    return structuredClone(g);
  }

  sentinel(): SentinelModel {
    return structuredClone(this.#sentinel);
  }

  proxies(): StoredProxy[] {
    return [...this.#proxies.values()].sort((a, b) => a.id - b.id).map((p) => structuredClone(p));
  }

  /** A copy of the proxy with `token`; throws `proxy-[token] doesn't exist`. */
  proxy(token: string): StoredProxy {
    const p = this.#proxies.get(token);
    if (!p) throw notFound(`proxy-[${token}] doesn't exist`);
    return structuredClone(p);
  }

  // --- writes: the store first, then the memory -------------------------------------------------

  async storeGroup(g: GroupModel): Promise<void> {
    await this.store.updateGroup(g);
    this.#groups.set(g.id, g);
  }

  async deleteGroup(gid: number): Promise<void> {
    await this.store.deleteGroup(gid);
    this.#groups.delete(gid);
  }

  async storeSlots(ms: readonly SlotMapping[]): Promise<void> {
    await this.store.updateSlotMappings(ms);
    for (const m of ms) this.#slots[m.id] = m;
  }

  async storeProxy(p: StoredProxy): Promise<void> {
    await this.store.updateProxy(p);
    this.#proxies.set(p.model.token, p);
  }

  async deleteProxy(token: string): Promise<void> {
    await this.store.deleteProxy(token);
    this.#proxies.delete(token);
  }

  async storeSentinel(s: SentinelModel): Promise<void> {
    await this.store.updateSentinel(s);
    this.#sentinel = s;
  }

  /** Marks the sentinels' configuration out of sync after a change to the groups' servers. */
  async sentinelOutOfSync(): Promise<void> {
    const s = this.#sentinel;
    if (s.servers.length > 0 && !s.outOfSync) await this.storeSentinel({ ...s, outOfSync: true });
  }

  // --- pushing to proxies ---------------------------------------------------------------------------

  /** The admin client of a proxy, with its xauth. */
  proxyClient(p: StoredProxy): ProxyAdminClient {
    const c = this.config;
    return new ProxyAdminClient(
      p.model.adminAddr,
      proxyXAuth(c.productName, c.adminAuth, c.productAuth, p.model.token),
      PROXY_CALL_TIMEOUT_MS,
      c.adminAuth,
    );
  }

  /**
   * Pushes `mappings` to every proxy at once, each as `ctx` says that proxy must see it; fails
   * (after all have answered) if any proxy failed, naming each.
   */
  async pushSlots(mappings: readonly SlotMapping[], ctx: Context = this.ctx()): Promise<void> {
    if (mappings.length === 0 || this.#proxies.size === 0) return;
    const failures: string[] = [];
    await Promise.all([...this.#proxies.values()].map(async (p) => {
      try {
        await this.proxyClient(p).fillSlots(ctx.slotSpecs(mappings, p));
      } catch (e) {
        failures.push(`proxy-[${p.model.token}] fillslots failed: ${errorMessage(e)}`);
      }
    }));
    if (failures.length > 0) throw upstream(failures.sort().join("; "));
  }

  /** Fills all 1024 slots on one proxy, starts it and gives it the sentinels (Codis's reinit). */
  async reinitProxy(p: StoredProxy): Promise<void> {
    const client = this.proxyClient(p);
    try {
      await client.fillSlots(this.ctx().slotSpecs(this.#slots, p));
    } catch (e) {
      throw upstream(`proxy-[${p.model.token}] fillslots failed: ${errorMessage(e)}`, { cause: e });
    }
    try {
      await client.start();
    } catch (e) {
      throw upstream(`proxy-[${p.model.token}] start failed: ${errorMessage(e)}`, { cause: e });
    }
    if (this.#sentinel.servers.length === 0) return;
    try {
      await client.setSentinels(this.#sentinel);
    } catch (e) {
      throw upstream(`proxy-[${p.model.token}] set sentinels failed: ${errorMessage(e)}`, { cause: e });
    }
  }
}

/** Throws `invalid group id = N, out of range` unless 1 ≤ N ≤ 9999. */
export function checkGroupId(gid: number): void {
  if (!Number.isSafeInteger(gid) || gid <= 0 || gid > MAX_GROUP_ID) {
    throw invalid(`invalid group id = ${gid}, out of range`);
  }
}

/** Throws `invalid slot id = N, out of range` unless 0 ≤ N < 1024. */
export function checkSlotId(sid: number): void {
  if (!Number.isSafeInteger(sid) || sid < 0 || sid >= MAX_SLOT_NUM) {
    throw invalid(`invalid slot id = ${sid}, out of range`);
  }
}

/** Throws unless `addr` is a `host:port` with both parts. */
export function checkAddr(addr: string, what: string): void {
  try {
    const { host, port } = parseAddr(addr);
    if (!host || !(port > 0)) throw new AddressError(`"${addr}" has no host or port`);
  } catch (e) {
    throw invalid(`invalid ${what} address "${addr}": ${errorMessage(e)}`, { cause: e });
  }
}
