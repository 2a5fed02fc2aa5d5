/**
 * A client of a proxy's admin API (`proxy/admin_api.ts`), for the dashboard and codis-admin.
 *
 * @module
 */

import { type ProxyModel, proxyModelFromJson, type SlotSpec, slotToJson } from "../coord/models.ts";
import { callApi } from "../utils/http.ts";
import { newXAuth } from "../utils/xauth.ts";

export class ProxyAdminClient {
  readonly addr: string;
  /** The proxy's xauth (from product name, product auth and the proxy's token); "" until known. */
  xauth: string;
  readonly timeoutMs: number;

  constructor(addr: string, xauth = "", timeoutMs = 5000) {
    this.addr = addr;
    this.xauth = xauth;
    this.timeoutMs = timeoutMs;
  }

  /** A client whose xauth is computed from the proxy's model. */
  static async forProxy(addr: string, productAuth: string, timeoutMs = 5000): Promise<ProxyAdminClient> {
    const c = new ProxyAdminClient(addr, "", timeoutMs);
    const model = await c.model();
    c.xauth = newXAuth(model.productName, productAuth, model.token);
    return c;
  }

  async model(): Promise<ProxyModel> {
    return proxyModelFromJson(await this.#get("/api/proxy/model")).model;
  }

  /** The overview (`/proxy`): version, config, model, stats, slots. */
  overview(): Promise<unknown> {
    return this.#get("/proxy");
  }

  async xping(): Promise<void> {
    await this.#get(`/api/proxy/xping/${this.xauth}`);
  }

  stats(flags = 0): Promise<unknown> {
    return this.#get(flags ? `/api/proxy/stats/${this.xauth}/${flags}` : `/api/proxy/stats/${this.xauth}`);
  }

  slots(): Promise<unknown> {
    return this.#get(`/api/proxy/slots/${this.xauth}`);
  }

  async fillSlots(slots: SlotSpec[]): Promise<void> {
    await this.#put(`/api/proxy/fillslots/${this.xauth}`, slots.map(slotToJson));
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

  #get(path: string): Promise<unknown> {
    return callApi(this.addr, path, { method: "GET", timeoutMs: this.timeoutMs });
  }

  #put(path: string, body?: unknown): Promise<unknown> {
    return callApi(this.addr, path, { method: "PUT", body, timeoutMs: this.timeoutMs });
  }
}
