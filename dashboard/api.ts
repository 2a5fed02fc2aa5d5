/**
 * The dashboard's REST API with Codis's routes (Codis's `pkg/topom/topom_api.go`). Routes that
 * change anything check the dashboard's xauth first (a middleware); errors answer 4xx/5xx with
 * `{"Cause": "<Codis's text>"}` and change nothing.
 *
 * @module
 */

import { Hono } from "hono";
import { compress } from "hono/compress";
import type { TopomOverviewJson, TopomStatsJson } from "../api/topom_stats.ts";
import { SlotMappingListSchema, slotToJson, topomToJson } from "../coord/models.ts";
import { RedisClient } from "../redis/redis_client.ts";
import { SentinelAdmin } from "../redis/sentinel.ts";
import { CodisError, errorMessage, notFound, upstream } from "../utils/errors.ts";
import {
  type AdminGuard,
  installErrorHandlers,
  intParam,
  json,
  jsonBody,
  ok,
  requireAdmin,
  requireXAuth,
} from "../utils/http.ts";
import { log, requireLogLevel } from "../utils/log.ts";
import { PROMETHEUS_CONTENT_TYPE } from "../utils/prometheus.ts";
import type { Groups } from "./groups.ts";
import type { Proxies } from "./proxies.ts";
import type { Sentinels } from "./sentinels.ts";
import type { SlotActionScheduler } from "./scheduler.ts";
import type { Slots } from "./slots.ts";
import { readServerStats } from "./stats.ts";
import type { SyncActions } from "./sync_actions.ts";
import type { Topom } from "./topom.ts";
import { addUiRoutes, wantsHtml } from "./ui_routes.ts";

/** What the API drives: the dashboard's parts. */
export interface DashboardApiHost {
  readonly topom: Topom;
  readonly proxies: Proxies;
  readonly groups: Groups;
  readonly syncActions: SyncActions;
  readonly slots: Slots;
  readonly scheduler: SlotActionScheduler;
  readonly sentinels: Sentinels;
  overviewJson(): TopomOverviewJson;
  statsJson(): TopomStatsJson;
  /** `/metrics` in Prometheus's text format. */
  metricsText(): string;
  /** Shuts the dashboard down (after the reply has been sent). */
  close(): Promise<void>;
}

/** How long `group/info` may wait for a server. */
const INFO_TIMEOUT_MS = 2000;

/** The API of one dashboard. */
export function dashboardApp(d: DashboardApiHost): Hono {
  const t = d.topom;
  const app = new Hono();
  installErrorHandlers(app, (e) => log.error(`dashboard API failed: ${e.stack ?? e.message}`));
  // The web UI polls /topom (about 200 KB of JSON, 1024 slots): gzip makes it ~15 KB for the
  // clients that ask for it (browsers, Go's and Deno's HTTP clients); curl without --compressed does not.
  app.use("*", compress());
  const guard: AdminGuard = {
    expected: () => t.xauth,
    hint: "please check product name",
    adminAuth: t.config.adminAuth,
    check: () => {
      if (t.closed) throw new CodisError("unavailable", "topom is not online");
    },
  };
  const auth = requireXAuth(guard);

  app.use("/api/*", async (c, next) => {
    if (c.req.method !== "GET") {
      const from = c.req.header("x-real-ip") ?? c.req.header("x-forwarded-for") ?? "";
      log.info(`api: ${c.req.method} ${new URL(c.req.url).pathname}${from ? ` from ${from}` : ""}`);
    }
    await next();
  });

  // The web UI for this product (browsers), Codis's redirect for everyone else.
  addUiRoutes(app, { assetsDir: null, root: wantsHtml });
  app.get("/", (c) => c.redirect("/topom"));
  // As codis-fe's: the UI asks which products it may show.
  app.get("/list", (c) => json(c, [t.config.productName]));
  app.get("/topom", (c) => json(c, d.overviewJson()));
  app.get("/topom/model", (c) => json(c, topomToJson(t.model)));
  app.get("/topom/stats", (c) => json(c, d.statsJson()));
  // Prometheus scrapes without credentials, as it reads /topom/stats.
  app.get("/metrics", (c) => c.body(d.metricsText(), 200, { "Content-Type": PROMETHEUS_CONTENT_TYPE }));
  app.get("/topom/slots", (c) => json(c, t.ctx().slotSpecs().map(slotToJson)));
  app.get("/api/topom/model", (c) => json(c, topomToJson(t.model)));
  app.get("/api/topom/xping/:xauth", auth, (c) => ok(c));
  app.get("/api/topom/stats/:xauth", auth, (c) => json(c, d.statsJson()));
  app.get("/api/topom/slots/:xauth", auth, (c) => json(c, t.ctx().slotSpecs().map(slotToJson)));
  app.put("/api/topom/reload/:xauth", auth, async (c) => {
    await t.exclusive(() => t.load());
    return ok(c);
  });
  app.put("/api/topom/shutdown/:xauth", auth, (c) => {
    // Answer first: closing stops this very server.
    setTimeout(() => void d.close(), 10);
    return ok(c);
  });
  app.put("/api/topom/loglevel/:xauth/:value", auth, (c) => {
    const level = requireLogLevel(c.req.param("value"));
    log.setLevel(level);
    return ok(c);
  });

  // --- proxies
  app.put("/api/topom/proxy/create/:xauth/:addr", auth, async (c) => {
    await d.proxies.create(c.req.param("addr"));
    return ok(c);
  });
  app.put("/api/topom/proxy/online/:xauth/:addr", auth, async (c) => {
    await d.proxies.online(c.req.param("addr"));
    return ok(c);
  });
  app.put("/api/topom/proxy/reinit/:xauth/:token", auth, async (c) => {
    await d.proxies.reinit(c.req.param("token"));
    return ok(c);
  });
  app.put("/api/topom/proxy/remove/:xauth/:token/:force", auth, async (c) => {
    await d.proxies.remove(c.req.param("token"), intParam(c, "force", "force") !== 0);
    return ok(c);
  });

  // --- groups and servers
  app.put("/api/topom/group/create/:xauth/:gid", auth, async (c) => {
    await d.groups.create(intParam(c, "gid", "group id"));
    return ok(c);
  });
  app.put("/api/topom/group/remove/:xauth/:gid", auth, async (c) => {
    await d.groups.remove(intParam(c, "gid", "group id"));
    return ok(c);
  });
  app.put("/api/topom/group/resync/:xauth/:gid", auth, async (c) => {
    await d.groups.resync(intParam(c, "gid", "group id"));
    return ok(c);
  });
  app.put("/api/topom/group/resync-all/:xauth", auth, async (c) => {
    await d.groups.resyncAll();
    return ok(c);
  });
  app.put("/api/topom/group/add/:xauth/:gid/:addr/:datacenter?", auth, async (c) => {
    await d.groups.addServer(intParam(c, "gid", "group id"), c.req.param("addr"), c.req.param("datacenter") ?? "");
    return ok(c);
  });
  app.put("/api/topom/group/del/:xauth/:gid/:addr", auth, async (c) => {
    await d.groups.delServer(intParam(c, "gid", "group id"), c.req.param("addr"));
    return ok(c);
  });
  app.put("/api/topom/group/promote/:xauth/:gid/:addr", auth, async (c) => {
    await d.groups.promote(intParam(c, "gid", "group id"), c.req.param("addr"));
    return ok(c);
  });
  app.put("/api/topom/group/replica-groups/:xauth/:gid/:addr/:value", auth, async (c) => {
    await d.groups.setReplicaGroups(
      intParam(c, "gid", "group id"),
      c.req.param("addr"),
      intParam(c, "value", "value") !== 0,
    );
    return ok(c);
  });
  app.put("/api/topom/group/replica-groups-all/:xauth/:value", auth, async (c) => {
    await d.groups.setReplicaGroupsAll(intParam(c, "value", "value") !== 0);
    return ok(c);
  });
  app.put("/api/topom/group/action/create/:xauth/:addr", auth, async (c) => {
    await d.syncActions.create(c.req.param("addr"));
    return ok(c);
  });
  app.put("/api/topom/group/action/remove/:xauth/:addr", auth, async (c) => {
    await d.syncActions.remove(c.req.param("addr"));
    return ok(c);
  });
  app.get("/api/topom/group/info/:addr", requireAdmin(guard), async (c) => {
    const addr = c.req.param("addr");
    // product_auth goes only to the product's own servers.
    if (!t.ctx().serverPlace(addr)) throw notFound(`server-[${addr}] doesn't exist`);
    let client: RedisClient | null = null;
    try {
      client = await t.connectServer(addr, { connectTimeoutMs: INFO_TIMEOUT_MS, timeoutMs: INFO_TIMEOUT_MS });
      return json(c, await readServerStats(client));
    } catch (e) {
      throw upstream(`server-[${addr}] info failed: ${errorMessage(e)}`, { cause: e });
    } finally {
      await client?.close();
    }
  });

  // --- slots
  app.put("/api/topom/slots/action/create/:xauth/:sid/:gid", auth, async (c) => {
    await d.slots.createAction(intParam(c, "sid", "slot id"), intParam(c, "gid", "group id"));
    d.scheduler.wake();
    return ok(c);
  });
  app.put("/api/topom/slots/action/create-some/:xauth/:src/:dst/:num", auth, async (c) => {
    await d.slots.createSome(
      intParam(c, "src", "group id"),
      intParam(c, "dst", "group id"),
      intParam(c, "num", "number of slots"),
    );
    d.scheduler.wake();
    return ok(c);
  });
  app.put("/api/topom/slots/action/create-range/:xauth/:beg/:end/:gid", auth, async (c) => {
    await d.slots.createRange(
      intParam(c, "beg", "slot id"),
      intParam(c, "end", "slot id"),
      intParam(c, "gid", "group id"),
    );
    d.scheduler.wake();
    return ok(c);
  });
  app.put("/api/topom/slots/action/remove/:xauth/:sid", auth, async (c) => {
    await d.slots.removeAction(intParam(c, "sid", "slot id"));
    return ok(c);
  });
  app.put("/api/topom/slots/action/interval/:xauth/:value", auth, (c) => {
    d.scheduler.setInterval(intParam(c, "value", "interval"));
    return ok(c);
  });
  app.put("/api/topom/slots/action/disabled/:xauth/:value", auth, (c) => {
    d.scheduler.setDisabled(intParam(c, "value", "value") !== 0);
    return ok(c);
  });
  app.put("/api/topom/slots/assign/:xauth", auth, jsonBody(SlotMappingListSchema), async (c) => {
    await d.slots.assign(c.req.valid("json"), false);
    return ok(c);
  });
  app.put("/api/topom/slots/assign/:xauth/offline", auth, jsonBody(SlotMappingListSchema), async (c) => {
    await d.slots.assign(c.req.valid("json"), true);
    return ok(c);
  });
  app.put("/api/topom/slots/rebalance/:xauth/:confirm", auth, async (c) => {
    const plan = await d.slots.rebalance(intParam(c, "confirm", "confirm") !== 0);
    d.scheduler.wake();
    const out: Record<string, number> = {};
    for (const [sid, gid] of [...plan.entries()].sort((a, b) => a[0] - b[0])) out[String(sid)] = gid;
    return json(c, out);
  });

  // --- sentinels
  app.put("/api/topom/sentinels/add/:xauth/:addr", auth, async (c) => {
    await d.sentinels.add(c.req.param("addr"));
    return ok(c);
  });
  app.put("/api/topom/sentinels/del/:xauth/:addr/:force", auth, async (c) => {
    await d.sentinels.del(c.req.param("addr"), intParam(c, "force", "force") !== 0);
    return ok(c);
  });
  app.put("/api/topom/sentinels/resync-all/:xauth", auth, async (c) => {
    await d.sentinels.resyncAll();
    return ok(c);
  });
  app.get("/api/topom/sentinels/info/:addr", requireAdmin(guard), async (c) => {
    const admin = sentinelOf(c.req.param("addr"));
    try {
      return json(c, await admin.info());
    } catch (e) {
      throw upstream(`sentinel-[${admin.addr}] info failed: ${errorMessage(e)}`, { cause: e });
    }
  });
  app.get("/api/topom/sentinels/info/:addr/monitored", requireAdmin(guard), async (c) => {
    const admin = sentinelOf(c.req.param("addr"));
    try {
      return json(c, await admin.monitored(t.config.productName));
    } catch (e) {
      throw upstream(`sentinel-[${admin.addr}] info failed: ${errorMessage(e)}`, { cause: e });
    }
  });
  /** Only the product's own sentinels are asked (the route would otherwise reach any address). */
  const sentinelOf = (addr: string) => {
    if (!t.sentinel().servers.includes(addr)) throw notFound(`sentinel-[${addr}] not found`);
    return new SentinelAdmin(addr, INFO_TIMEOUT_MS);
  };
  return app;
}
