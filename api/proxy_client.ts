/**
 * A typed client of a proxy's admin API (`proxy/admin_api.ts`), for the dashboard, codis-admin
 * and codis-fe. Replies are validated with the schemas of `proxy_stats.ts`.
 *
 * @module
 */

import type * as v from "valibot";
import {
  type ProxyModel,
  proxyModelFromJson,
  type SentinelModel,
  sentinelToJson,
  slotsFromJson,
  type SlotSpec,
  slotToJson,
} from "../coord/models.ts";
import { callApi } from "../utils/http.ts";
import { newXAuth } from "../utils/xauth.ts";
import { checkRawReply, checkReply } from "./reply.ts";
import { type ProxyOverview, ProxyOverviewJsonSchema, type ProxyStats, ProxyStatsJsonSchema } from "./proxy_stats.ts";

/** A client of one proxy's admin API. */
export class ProxyAdminClient {
  readonly addr: string;
  /** The proxy's xauth (from product name, product auth and the proxy's token); "" until known. */
  xauth: string;
  readonly timeoutMs: number;
  /** The admin secret, sent as a Bearer header ("" = none). */
  readonly adminAuth: string;

  constructor(addr: string, xauth = "", timeoutMs = 5000, adminAuth = "") {
    this.addr = addr;
    this.xauth = xauth;
    this.timeoutMs = timeoutMs;
    this.adminAuth = adminAuth;
  }

  /**
   * A client whose xauth is computed from the proxy's model and `auth`: the proxy's `admin_auth`
   * when it has one, else its `product_auth` (Codis's recipe); `auth` also goes as a Bearer header.
   */
  static async forProxy(addr: string, auth: string, timeoutMs = 5000): Promise<ProxyAdminClient> {
    const c = new ProxyAdminClient(addr, "", timeoutMs, auth);
    const model = await c.model();
    c.xauth = newXAuth(model.productName, auth, model.token);
    return c;
  }

  /** The proxy's model (no xauth needed). */
  async model(): Promise<ProxyModel> {
    return proxyModelFromJson(await this.#get("/api/proxy/model")).model;
  }

  /** The overview (`/proxy`): version, config, model, stats, slots. */
  async overview(): Promise<ProxyOverview> {
    return this.#check(ProxyOverviewJsonSchema, "/proxy", await this.#get("/proxy"));
  }

  /** The overview as the proxy wrote it (checked, not rewritten): what codis-admin prints. */
  async rawOverview(): Promise<unknown> {
    return checkRawReply(ProxyOverviewJsonSchema, await this.#get("/proxy"), `proxy ${this.addr} /proxy`);
  }

  async xping(): Promise<void> {
    await this.#get(`/api/proxy/xping/${this.xauth}`);
  }

  /** The stats; `flags` is a sum of `STATS_CMD`, `STATS_SLOTS`, `STATS_RUNTIME`. */
  async stats(flags = 0): Promise<ProxyStats> {
    const path = flags ? `/api/proxy/stats/${this.xauth}/${flags}` : `/api/proxy/stats/${this.xauth}`;
    return this.#check(ProxyStatsJsonSchema, "/api/proxy/stats", await this.#get(path));
  }

  async slots(): Promise<SlotSpec[]> {
    return slotsFromJson(await this.#get(`/api/proxy/slots/${this.xauth}`));
  }

  async fillSlots(slots: SlotSpec[]): Promise<void> {
    await this.#put(`/api/proxy/fillslots/${this.xauth}`, slots.map(slotToJson));
  }

  /** Gives the proxy the sentinels to watch (Codis's `SetSentinels`). */
  async setSentinels(s: SentinelModel): Promise<void> {
    await this.#put(`/api/proxy/sentinels/${this.xauth}`, sentinelToJson(s));
  }

  /** Makes the proxy subscribe to its sentinels again. */
  async rewatchSentinels(): Promise<void> {
    await this.#put(`/api/proxy/sentinels/${this.xauth}/rewatch`);
  }

  /** Makes the proxy re-read proxy.toml: which keys it applied, applies to new sessions, needs a restart for. */
  async reload(): Promise<{ applied: string[]; newSessions: string[]; restart: string[] }> {
    const r = await this.#put(`/api/proxy/reload/${this.xauth}`) as {
      applied?: string[];
      newSessions?: string[];
      restart?: string[];
    };
    return { applied: r.applied ?? [], newSessions: r.newSessions ?? [], restart: r.restart ?? [] };
  }

  async start(): Promise<void> {
    await this.#put(`/api/proxy/start/${this.xauth}`);
  }

  async shutdown(): Promise<void> {
    await this.#put(`/api/proxy/shutdown/${this.xauth}`);
  }

  async resetStats(): Promise<void> {
    await this.#put(`/api/proxy/stats/reset/${this.xauth}`);
  }

  async forceGC(): Promise<void> {
    await this.#put(`/api/proxy/forcegc/${this.xauth}`);
  }

  async setLogLevel(level: string): Promise<void> {
    await this.#put(`/api/proxy/loglevel/${this.xauth}/${encodeURIComponent(level)}`);
  }

  #check<T extends v.GenericSchema>(schema: T, route: string, value: unknown): v.InferOutput<T> {
    return checkReply(schema, value, `proxy ${this.addr} ${route}`);
  }

  #get(path: string): Promise<unknown> {
    return callApi(this.addr, path, { method: "GET", timeoutMs: this.timeoutMs, adminAuth: this.adminAuth });
  }

  #put(path: string, body?: unknown): Promise<unknown> {
    return callApi(this.addr, path, { method: "PUT", body, timeoutMs: this.timeoutMs, adminAuth: this.adminAuth });
  }
}
