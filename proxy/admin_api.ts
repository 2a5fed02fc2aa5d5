/**
 * The proxy's admin HTTP API, with Codis's routes (Codis's `pkg/proxy/proxy_api.go`) and xauth checks.
 *
 * @module
 */

import { Hono } from "hono";
import { proxyModelToJson, slotsFromJson, slotToJson } from "../coord/models.ts";
import { ApiError, installErrorHandlers, json, readJsonBody } from "../utils/http.ts";
import { log, parseLogLevel } from "../utils/log.ts";
import { COMPILE_TEXT, VERSION_TEXT } from "../utils/version.ts";
import { proxyConfigJson } from "./config.ts";
import type { Proxy } from "./proxy.ts";
import { errorMessage } from "../utils/errors.ts";

function checkXAuth(proxy: Proxy, xauth: string | undefined): void {
  if (!xauth) throw new ApiError(401, "missing xauth, please check product name & auth");
  if (xauth !== proxy.xauth) throw new ApiError(403, "invalid xauth, please check product name & auth");
  if (proxy.closed) throw new ApiError(503, "use of closed proxy");
}

/** The proxy's overview (`/proxy`): version, config, model, full stats, slots. */
export function proxyOverviewJson(p: Proxy): Record<string, unknown> {
  return {
    version: VERSION_TEXT,
    compile: COMPILE_TEXT,
    config: proxyConfigJson(p.config),
    model: proxyModelToJson(p.model),
    stats: p.fullStatsJson(),
    slots: p.router.specs().map(slotToJson),
  };
}

/** Builds the admin API of the proxy returned by `getProxy`. */
export function proxyAdminApp(getProxy: () => Proxy): Hono {
  const app = new Hono();
  installErrorHandlers(app, (e) => log.error("proxy admin API failed", e));

  app.use("/api/*", async (c, next) => {
    if (c.req.method !== "GET") {
      const from = c.req.header("x-real-ip") ?? c.req.header("x-forwarded-for") ?? "";
      log.info(`api: ${c.req.method} ${new URL(c.req.url).pathname}${from ? ` from ${from}` : ""}`);
    }
    await next();
  });

  app.get("/", (c) => c.redirect("/proxy"));
  app.get("/proxy", (c) => json(c, proxyOverviewJson(getProxy())));
  app.get("/proxy/model", (c) => json(c, proxyModelToJson(getProxy().model)));
  app.get("/proxy/stats", (c) => json(c, getProxy().fullStatsJson()));
  app.get("/proxy/slots", (c) => json(c, getProxy().router.specs().map(slotToJson)));

  app.get("/api/proxy/model", (c) => json(c, proxyModelToJson(getProxy().model)));
  app.get("/api/proxy/xping/:xauth", (c) => {
    checkXAuth(getProxy(), c.req.param("xauth"));
    return json(c, "OK");
  });
  app.get("/api/proxy/stats/:xauth", (c) => {
    const p = getProxy();
    checkXAuth(p, c.req.param("xauth"));
    return json(c, p.statsJson(0));
  });
  app.get("/api/proxy/stats/:xauth/:flags", (c) => {
    const p = getProxy();
    checkXAuth(p, c.req.param("xauth"));
    const text = c.req.param("flags");
    if (!/^\d+$/.test(text)) throw new ApiError(400, `invalid stats flags "${text}": not an integer`);
    return json(c, p.statsJson(Number(text)));
  });
  app.get("/api/proxy/slots/:xauth", (c) => {
    const p = getProxy();
    checkXAuth(p, c.req.param("xauth"));
    return json(c, p.router.specs().map(slotToJson));
  });
  app.put("/api/proxy/start/:xauth", (c) => {
    const p = getProxy();
    checkXAuth(p, c.req.param("xauth"));
    p.start();
    return json(c, "OK");
  });
  app.put("/api/proxy/stats/reset/:xauth", (c) => {
    const p = getProxy();
    checkXAuth(p, c.req.param("xauth"));
    p.stats.reset();
    return json(c, "OK");
  });
  app.put("/api/proxy/forcegc/:xauth", (c) => {
    // Go-specific in Codis; Deno collects garbage on its own. Accepted for compatibility.
    checkXAuth(getProxy(), c.req.param("xauth"));
    return json(c, "OK");
  });
  app.put("/api/proxy/shutdown/:xauth", (c) => {
    const p = getProxy();
    checkXAuth(p, c.req.param("xauth"));
    // Answer first; the shutdown closes this very server.
    setTimeout(() => void p.close(), 10);
    return json(c, "OK");
  });
  app.put("/api/proxy/loglevel/:xauth/:value", (c) => {
    checkXAuth(getProxy(), c.req.param("xauth"));
    const level = parseLogLevel(c.req.param("value"));
    if (!level) throw new ApiError(400, "invalid loglevel");
    log.setLevel(level);
    return json(c, "OK");
  });
  app.put("/api/proxy/fillslots/:xauth", async (c) => {
    const p = getProxy();
    checkXAuth(p, c.req.param("xauth"));
    const body = await readJsonBody(c);
    let specs;
    try {
      specs = slotsFromJson(body);
    } catch (e) {
      throw new ApiError(400, errorMessage(e));
    }
    await p.fillSlots(specs);
    return json(c, "OK");
  });
  app.put("/api/proxy/sentinels/:xauth", (c) => {
    checkXAuth(getProxy(), c.req.param("xauth"));
    throw new ApiError(501, "sentinels are not supported by this proxy yet");
  });
  app.put("/api/proxy/sentinels/:xauth/rewatch", (c) => {
    checkXAuth(getProxy(), c.req.param("xauth"));
    throw new ApiError(501, "sentinels are not supported by this proxy yet");
  });
  return app;
}

/** Serves the admin API; `onListen` learns the bound port. */
export function serveProxyAdmin(
  getProxy: () => Proxy,
  options: { hostname: string; port: number; onListen?: (addr: Deno.NetAddr) => void },
): Deno.HttpServer {
  const app = proxyAdminApp(getProxy);
  return Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen: (addr) => options.onListen?.(addr as Deno.NetAddr),
  }, app.fetch);
}
