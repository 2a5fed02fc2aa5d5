/**
 * The proxy's admin HTTP API, with Codis's routes (Codis's `pkg/proxy/proxy_api.go`). Routes with
 * an `:xauth` check it first (a middleware); errors answer 4xx/5xx with `{"Cause": "…"}`.
 *
 * @module
 */

import { Hono } from "hono";
import { type ProxyOverviewJson, type ProxyStatsJson, STATS_CMD, STATS_RUNTIME } from "../api/proxy_stats.ts";
import {
  type ProxyModel,
  proxyModelToJson,
  SentinelSchema,
  SlotListSchema,
  type SlotSpec,
  slotToJson,
} from "../coord/models.ts";
import { CodisError, invalid } from "../utils/errors.ts";
import { installErrorHandlers, json, jsonBody, ok, requireXAuth, serveApi } from "../utils/http.ts";
import { log, requireLogLevel } from "../utils/log.ts";
import { PROMETHEUS_CONTENT_TYPE } from "../utils/prometheus.ts";
import type { ReloadResult } from "./reload.ts";

/** What the admin API drives: the proxy, seen through the operations its routes need. */
export interface ProxyAdminHost {
  readonly model: ProxyModel;
  readonly config: { readonly adminAuth: string };
  /** The key of this proxy's admin API. */
  readonly xauth: string;
  readonly closed: boolean;
  overviewJson(): ProxyOverviewJson;
  /** `/metrics` in Prometheus's text format. */
  metricsText(): string;
  /** The stats; `flags` as `/api/proxy/stats/:xauth/:flags` takes them. */
  statsJson(flags: number): ProxyStatsJson;
  slotSpecs(): SlotSpec[];
  fillSlots(specs: SlotSpec[]): Promise<void>;
  /** Watches these sentinels (and forgets the masters learned from the old ones). */
  setSentinels(servers: string[]): Promise<void>;
  /** Subscribes to the sentinels again. */
  rewatchSentinels(): Promise<void>;
  /** Re-reads proxy.toml and applies what can change while running. */
  reloadConfig(): Promise<ReloadResult>;
  start(): void;
  resetStats(): void;
  /** Shuts the proxy down (after the reply has been sent). */
  close(): Promise<void>;
}

/**
 * Builds the admin API of the proxy that `getProxy` returns: null while the proxy is being set up
 * (its listeners are bound before it exists), when every route answers 503.
 */
export function proxyAdminApp(getProxy: () => ProxyAdminHost | null, adminAuth: string): Hono {
  const getHost = () => {
    const host = getProxy();
    if (!host) throw new CodisError("unavailable", "the proxy is starting");
    return host;
  };
  const app = new Hono();
  installErrorHandlers(app, (e) => log.error("proxy admin API failed", e));
  const auth = requireXAuth({
    expected: () => getHost().xauth,
    hint: "please check product name & auth",
    adminAuth,
    check: () => {
      if (getHost().closed) throw new CodisError("unavailable", "use of closed proxy");
    },
  });

  app.use("/api/*", async (c, next) => {
    if (c.req.method !== "GET") {
      const from = c.req.header("x-real-ip") ?? c.req.header("x-forwarded-for") ?? "";
      log.info(`api: ${c.req.method} ${new URL(c.req.url).pathname}${from ? ` from ${from}` : ""}`);
    }
    await next();
  });

  app.get("/", (c) => c.redirect("/proxy"));
  app.get("/proxy", (c) => json(c, getHost().overviewJson()));
  app.get("/proxy/model", (c) => json(c, proxyModelToJson(getHost().model)));
  app.get("/proxy/stats", (c) => json(c, getHost().statsJson(STATS_CMD | STATS_RUNTIME)));
  app.get("/proxy/slots", (c) => json(c, getHost().slotSpecs().map(slotToJson)));
  // Prometheus scrapes without credentials, as it reads /proxy/stats.
  app.get("/metrics", (c) => c.body(getHost().metricsText(), 200, { "Content-Type": PROMETHEUS_CONTENT_TYPE }));

  app.get("/api/proxy/model", (c) => json(c, proxyModelToJson(getHost().model)));
  app.get("/api/proxy/xping/:xauth", auth, (c) => ok(c));
  app.get("/api/proxy/stats/:xauth", auth, (c) => json(c, getHost().statsJson(0)));
  app.get("/api/proxy/stats/:xauth/:flags", auth, (c) => {
    const text = c.req.param("flags");
    if (!/^\d+$/.test(text)) throw invalid(`invalid stats flags "${text}": not an integer`);
    return json(c, getHost().statsJson(Number(text)));
  });
  app.get("/api/proxy/slots/:xauth", auth, (c) => json(c, getHost().slotSpecs().map(slotToJson)));
  app.put("/api/proxy/start/:xauth", auth, (c) => {
    getHost().start();
    return ok(c);
  });
  app.put("/api/proxy/stats/reset/:xauth", auth, (c) => {
    getHost().resetStats();
    return ok(c);
  });
  // Go-specific in Codis; Deno collects garbage on its own. Accepted for compatibility.
  app.put("/api/proxy/forcegc/:xauth", auth, (c) => ok(c));
  app.put("/api/proxy/shutdown/:xauth", auth, (c) => {
    const host = getHost();
    // Answer first; the shutdown closes this very server.
    setTimeout(() => void host.close(), 10);
    return ok(c);
  });
  app.put("/api/proxy/loglevel/:xauth/:value", auth, (c) => {
    const level = requireLogLevel(c.req.param("value"));
    log.setLevel(level);
    return ok(c);
  });
  app.put("/api/proxy/reload/:xauth", auth, async (c) => json(c, await getHost().reloadConfig()));
  app.put("/api/proxy/fillslots/:xauth", auth, jsonBody(SlotListSchema), async (c) => {
    await getHost().fillSlots(c.req.valid("json"));
    return ok(c);
  });
  app.put("/api/proxy/sentinels/:xauth", auth, jsonBody(SentinelSchema), async (c) => {
    await getHost().setSentinels(c.req.valid("json").servers);
    return ok(c);
  });
  app.put("/api/proxy/sentinels/:xauth/rewatch", auth, async (c) => {
    await getHost().rewatchSentinels();
    return ok(c);
  });
  return app;
}

/** Serves the admin API; `onListen` learns the bound port. */
export function serveProxyAdmin(
  getProxy: () => ProxyAdminHost | null,
  options: { hostname: string; port: number; adminAuth: string; onListen?: (addr: Deno.NetAddr) => void },
): Deno.HttpServer {
  return serveApi(proxyAdminApp(getProxy, options.adminAuth), options);
}
