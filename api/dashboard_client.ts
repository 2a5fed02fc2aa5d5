/**
 * A typed client of the dashboard's REST API (`dashboard/api.ts`), one method per route, for
 * codis-admin, codis-fe and proxies coming online by themselves. Replies are validated with the
 * schemas of `topom_stats.ts` and `coord/models.ts`.
 *
 * @module
 */

import type * as v from "valibot";
import {
  type SlotMapping,
  slotMappingToJson,
  slotsFromJson,
  type SlotSpec,
  topomFromJson,
  type TopomModel,
} from "../coord/models.ts";
import { callApi } from "../utils/http.ts";
import { dashboardXAuth } from "../utils/xauth.ts";
import { checkRawReply, checkReply } from "./reply.ts";
import { type TopomOverview, TopomOverviewJsonSchema, type TopomStats, TopomStatsJsonSchema } from "./topom_stats.ts";

/** A rebalance plan as the dashboard answers it: `{ "<slot>": <group id> }`. */
export type RebalanceReply = Record<string, number>;

/** A client of one dashboard's REST API. */
export class DashboardClient {
  readonly addr: string;
  /** The dashboard's xauth (from the product name); "" until known. */
  xauth: string;
  readonly timeoutMs: number;
  /** The dashboard's admin secret, sent as a Bearer header ("" = none). */
  readonly adminAuth: string;

  constructor(addr: string, xauth = "", timeoutMs = 30_000, adminAuth = "") {
    this.addr = addr;
    this.xauth = xauth;
    this.timeoutMs = timeoutMs;
    this.adminAuth = adminAuth;
  }

  /**
   * A client that learned the product name from the dashboard and checked its xauth, as
   * codis-admin does; `adminAuth` is the dashboard's `admin_auth` when it has one.
   */
  static async connect(addr: string, timeoutMs = 30_000, adminAuth = ""): Promise<DashboardClient> {
    const c = new DashboardClient(addr, "", timeoutMs, adminAuth);
    const model = await c.model();
    c.xauth = dashboardXAuth(model.productName, adminAuth);
    await c.xping();
    return c;
  }

  // --- reads ---------------------------------------------------------------------------------

  /** The dashboard's record (no xauth needed). */
  async model(): Promise<TopomModel> {
    return topomFromJson(await this.#get("/api/topom/model"));
  }

  /** The overview (`/topom`): version, config, model, stats. */
  async overview(): Promise<TopomOverview> {
    return checkReply(TopomOverviewJsonSchema, await this.#get("/topom"), `dashboard ${this.addr} /topom`);
  }

  /** The overview as the dashboard wrote it (checked, not rewritten): what codis-admin prints. */
  async rawOverview(): Promise<unknown> {
    return checkRawReply(TopomOverviewJsonSchema, await this.#get("/topom"), `dashboard ${this.addr} /topom`);
  }

  /** The resolved slots as the dashboard wrote them (checked, not rewritten). */
  async rawSlots(): Promise<unknown> {
    const value = await this.#get(`/api/topom/slots/${this.xauth}`);
    slotsFromJson(value);
    return value;
  }

  async xping(): Promise<void> {
    await this.#get(`/api/topom/xping/${this.xauth}`);
  }

  /** The stats: slots, groups and their servers' INFO, proxies and their stats, slot actions. */
  async stats(): Promise<TopomStats> {
    return this.#check(TopomStatsJsonSchema, "/api/topom/stats", await this.#get(`/api/topom/stats/${this.xauth}`));
  }

  /** The 1024 slots as proxies see them. */
  async slots(): Promise<SlotSpec[]> {
    return slotsFromJson(await this.#get(`/api/topom/slots/${this.xauth}`));
  }

  /** A server's INFO (and maxmemory) as the dashboard reads it. */
  async serverInfo(addr: string): Promise<Record<string, string>> {
    return await this.#get(`/api/topom/group/info/${encodeURIComponent(addr)}`) as Record<string, string>;
  }

  // --- the dashboard itself -------------------------------------------------------------------

  reload(): Promise<void> {
    return this.#put("reload");
  }
  shutdown(): Promise<void> {
    return this.#put("shutdown");
  }
  setLogLevel(level: string): Promise<void> {
    return this.#put("loglevel", [level]);
  }

  // --- proxies --------------------------------------------------------------------------------

  createProxy(adminAddr: string): Promise<void> {
    return this.#put("proxy/create", [adminAddr]);
  }
  onlineProxy(adminAddr: string): Promise<void> {
    return this.#put("proxy/online", [adminAddr]);
  }
  reinitProxy(token: string): Promise<void> {
    return this.#put("proxy/reinit", [token]);
  }
  removeProxy(token: string, force: boolean): Promise<void> {
    return this.#put("proxy/remove", [token, force ? 1 : 0]);
  }

  // --- groups and servers ---------------------------------------------------------------------

  createGroup(gid: number): Promise<void> {
    return this.#put("group/create", [gid]);
  }
  removeGroup(gid: number): Promise<void> {
    return this.#put("group/remove", [gid]);
  }
  resyncGroup(gid: number): Promise<void> {
    return this.#put("group/resync", [gid]);
  }
  resyncGroupAll(): Promise<void> {
    return this.#put("group/resync-all");
  }
  addServer(gid: number, addr: string, datacenter = ""): Promise<void> {
    return this.#put("group/add", datacenter ? [gid, addr, datacenter] : [gid, addr]);
  }
  delServer(gid: number, addr: string): Promise<void> {
    return this.#put("group/del", [gid, addr]);
  }
  promoteServer(gid: number, addr: string): Promise<void> {
    return this.#put("group/promote", [gid, addr]);
  }
  setReplicaGroups(gid: number, addr: string, enabled: boolean): Promise<void> {
    return this.#put("group/replica-groups", [gid, addr, enabled ? 1 : 0]);
  }
  setReplicaGroupsAll(enabled: boolean): Promise<void> {
    return this.#put("group/replica-groups-all", [enabled ? 1 : 0]);
  }
  createSyncAction(addr: string): Promise<void> {
    return this.#put("group/action/create", [addr]);
  }
  removeSyncAction(addr: string): Promise<void> {
    return this.#put("group/action/remove", [addr]);
  }

  // --- slots ----------------------------------------------------------------------------------

  createSlotAction(sid: number, gid: number): Promise<void> {
    return this.#put("slots/action/create", [sid, gid]);
  }
  createSlotActionSome(fromGid: number, toGid: number, count: number): Promise<void> {
    return this.#put("slots/action/create-some", [fromGid, toGid, count]);
  }
  createSlotActionRange(beg: number, end: number, gid: number): Promise<void> {
    return this.#put("slots/action/create-range", [beg, end, gid]);
  }
  removeSlotAction(sid: number): Promise<void> {
    return this.#put("slots/action/remove", [sid]);
  }
  /** Microseconds the mover pauses after each MIGRATE. */
  setActionInterval(us: number): Promise<void> {
    return this.#put("slots/action/interval", [us]);
  }
  setActionDisabled(disabled: boolean): Promise<void> {
    return this.#put("slots/action/disabled", [disabled ? 1 : 0]);
  }
  // --- sentinels ---------------------------------------------------------------------------------

  /** Adds a sentinel (it must answer `SENTINEL FLUSHCONFIG`). */
  addSentinel(addr: string): Promise<void> {
    return this.#put("sentinels/add", [addr]);
  }
  /** Removes a sentinel (with `force`, even when it cannot be reached). */
  delSentinel(addr: string, force: boolean): Promise<void> {
    return this.#put("sentinels/del", [addr, force ? 1 : 0]);
  }
  /** Has every sentinel monitor every group's master again, and tells the proxies. */
  resyncSentinels(): Promise<void> {
    return this.#put("sentinels/resync-all");
  }
  /** A sentinel's INFO. */
  async sentinelInfo(addr: string): Promise<Record<string, string>> {
    return await this.#get(`/api/topom/sentinels/info/${encodeURIComponent(addr)}`) as Record<string, string>;
  }
  /** What a sentinel monitors of this product: `{ "<product>-<gid>": {master, slaves} }`. */
  async sentinelMonitored(addr: string): Promise<Record<string, unknown>> {
    return await this.#get(`/api/topom/sentinels/info/${encodeURIComponent(addr)}/monitored`) as Record<
      string,
      unknown
    >;
  }

  /** Assigns slots without moving data (`offline`: takes them offline). */
  assignSlots(mappings: SlotMapping[], offline = false): Promise<void> {
    return this.#put("slots/assign", offline ? ["offline"] : [], mappings.map(slotMappingToJson));
  }
  /** The rebalance plan; with `confirm`, its actions are queued. */
  async rebalance(confirm: boolean): Promise<RebalanceReply> {
    return await this.#call("slots/rebalance", [confirm ? 1 : 0]) as RebalanceReply;
  }

  // --- internals ------------------------------------------------------------------------------

  #check<T extends v.GenericSchema>(schema: T, route: string, value: unknown): v.InferOutput<T> {
    return checkReply(schema, value, `dashboard ${this.addr} ${route}`);
  }

  #get(path: string): Promise<unknown> {
    return callApi(this.addr, path, { method: "GET", timeoutMs: this.timeoutMs, adminAuth: this.adminAuth });
  }

  /** PUT `/api/topom/<route>/<xauth>/<params…>`, as every mutation route has it. */
  #call(route: string, params: (string | number)[] = [], body?: unknown): Promise<unknown> {
    const tail = params.map((p) => `/${encodeURIComponent(String(p))}`).join("");
    return callApi(this.addr, `/api/topom/${route}/${this.xauth}${tail}`, {
      method: "PUT",
      body,
      timeoutMs: this.timeoutMs,
      adminAuth: this.adminAuth,
    });
  }

  async #put(route: string, params: (string | number)[] = [], body?: unknown): Promise<void> {
    await this.#call(route, params, body);
  }
}
