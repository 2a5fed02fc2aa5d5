/**
 * A client of the dashboard's REST API (`dashboard/api.ts`), for codis-admin and for proxies
 * coming online by themselves.
 *
 * @module
 */

import { topomFromJson, type TopomModel } from "../coord/models.ts";
import { callApi } from "../utils/http.ts";
import { newXAuth } from "../utils/xauth.ts";

export class DashboardClient {
  readonly addr: string;
  /** The dashboard's xauth (from the product name); "" until known. */
  xauth: string;
  readonly timeoutMs: number;

  constructor(addr: string, xauth = "", timeoutMs = 30_000) {
    this.addr = addr;
    this.xauth = xauth;
    this.timeoutMs = timeoutMs;
  }

  /** A client that learned the product name from the dashboard and checked its xauth, as codis-admin does. */
  static async connect(addr: string, timeoutMs = 30_000): Promise<DashboardClient> {
    const c = new DashboardClient(addr, "", timeoutMs);
    const model = await c.model();
    c.xauth = newXAuth(model.productName);
    await c.get(`/api/topom/xping/${c.xauth}`);
    return c;
  }

  async model(): Promise<TopomModel> {
    return topomFromJson(await this.get("/api/topom/model"));
  }

  get(path: string): Promise<unknown> {
    return callApi(this.addr, path, { method: "GET", timeoutMs: this.timeoutMs });
  }

  /** PUT `/api/topom/<path...>` with the xauth after the first segment, as every mutation route has it. */
  put(route: string, params: (string | number)[] = [], body?: unknown): Promise<unknown> {
    const tail = params.map((p) => `/${encodeURIComponent(String(p))}`).join("");
    return callApi(this.addr, `/api/topom/${route}/${this.xauth}${tail}`, {
      method: "PUT",
      body,
      timeoutMs: this.timeoutMs,
    });
  }
}
