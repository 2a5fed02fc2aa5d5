/**
 * The dashboard's REST API with Codis's routes (Codis's `pkg/topom/topom_api.go`). Mutations check the
 * dashboard's xauth; errors answer 4xx/5xx with `{"Cause": "<Codis's text>"}` and change nothing.
 *
 * @module
 */

import { Hono } from "hono";
import { type SlotMapping, slotMappingFromJson, slotToJson, topomToJson } from "../coord/models.ts";
import { parseInfo, RedisClient } from "../redis/redis_client.ts";
import { ApiError, installErrorHandlers, json, readJsonBody } from "../utils/http.ts";
import { log, parseLogLevel } from "../utils/log.ts";
import type { Dashboard } from "./dashboard.ts";
import { errorMessage } from "../utils/errors.ts";

function intParam(value: string | undefined, what: string): number {
  if (value === undefined || !/^-?\d+$/.test(value)) throw new ApiError(400, `invalid ${what} = ${value ?? ""}`);
  return Number(value);
}

export function dashboardApp(d: Dashboard): Hono {
  const t = d.topom;
  const app = new Hono();
  installErrorHandlers(app, (e) => log.error(`dashboard API failed: ${e.stack ?? e.message}`));

  const checkXAuth = (xauth: string | undefined) => {
    if (!xauth) throw new ApiError(401, "missing xauth, please check product name");
    if (xauth !== t.xauth) throw new ApiError(403, "invalid xauth, please check product name");
    if (t.closed) throw new ApiError(503, "topom is not online");
  };

  app.use("/api/*", async (c, next) => {
    if (c.req.method !== "GET") {
      const from = c.req.header("x-real-ip") ?? c.req.header("x-forwarded-for") ?? "";
      log.info(`api: ${c.req.method} ${new URL(c.req.url).pathname}${from ? ` from ${from}` : ""}`);
    }
    await next();
  });

  app.get("/", (c) => c.redirect("/topom"));
  app.get("/topom", (c) => json(c, d.overviewJson()));
  app.get("/topom/model", (c) => json(c, topomToJson(t.model)));
  app.get("/topom/stats", (c) => json(c, d.statsJson()));
  app.get("/topom/slots", (c) => json(c, t.slotSpecs().map(slotToJson)));
  app.get("/api/topom/model", (c) => json(c, topomToJson(t.model)));
  app.get("/api/topom/xping/:xauth", (c) => {
    checkXAuth(c.req.param("xauth"));
    return json(c, "OK");
  });
  app.get("/api/topom/stats/:xauth", (c) => {
    checkXAuth(c.req.param("xauth"));
    return json(c, d.statsJson());
  });
  app.get("/api/topom/slots/:xauth", (c) => {
    checkXAuth(c.req.param("xauth"));
    return json(c, t.slotSpecs().map(slotToJson));
  });
  app.put("/api/topom/reload/:xauth", async (c) => {
    checkXAuth(c.req.param("xauth"));
    await t.exclusive(() => t.load());
    return json(c, "OK");
  });
  app.put("/api/topom/shutdown/:xauth", (c) => {
    checkXAuth(c.req.param("xauth"));
    // Answer first: closing stops this very server.
    setTimeout(() => void d.close(), 10);
    return json(c, "OK");
  });
  app.put("/api/topom/loglevel/:xauth/:value", (c) => {
    checkXAuth(c.req.param("xauth"));
    const level = parseLogLevel(c.req.param("value"));
    if (!level) throw new ApiError(400, "invalid loglevel");
    log.setLevel(level);
    return json(c, "OK");
  });

  // --- proxies
  app.put("/api/topom/proxy/create/:xauth/:addr", async (c) => {
    checkXAuth(c.req.param("xauth"));
    await t.createProxy(c.req.param("addr"));
    return json(c, "OK");
  });
  app.put("/api/topom/proxy/online/:xauth/:addr", async (c) => {
    checkXAuth(c.req.param("xauth"));
    await t.onlineProxy(c.req.param("addr"));
    return json(c, "OK");
  });
  app.put("/api/topom/proxy/reinit/:xauth/:token", async (c) => {
    checkXAuth(c.req.param("xauth"));
    await t.reinitProxy(c.req.param("token"));
    return json(c, "OK");
  });
  app.put("/api/topom/proxy/remove/:xauth/:token/:force", async (c) => {
    checkXAuth(c.req.param("xauth"));
    await t.removeProxy(c.req.param("token"), intParam(c.req.param("force"), "force") !== 0);
    return json(c, "OK");
  });

  // --- groups and servers
  app.put("/api/topom/group/create/:xauth/:gid", async (c) => {
    checkXAuth(c.req.param("xauth"));
    await t.createGroup(intParam(c.req.param("gid"), "group id"));
    return json(c, "OK");
  });
  app.put("/api/topom/group/remove/:xauth/:gid", async (c) => {
    checkXAuth(c.req.param("xauth"));
    await t.removeGroup(intParam(c.req.param("gid"), "group id"));
    return json(c, "OK");
  });
  app.put("/api/topom/group/resync/:xauth/:gid", async (c) => {
    checkXAuth(c.req.param("xauth"));
    await t.resyncGroup(intParam(c.req.param("gid"), "group id"));
    return json(c, "OK");
  });
  app.put("/api/topom/group/resync-all/:xauth", async (c) => {
    checkXAuth(c.req.param("xauth"));
    await t.resyncGroupAll();
    return json(c, "OK");
  });
  const addServer = async (xauth: string, gid: string, addr: string, dc: string) => {
    checkXAuth(xauth);
    await t.addServer(intParam(gid, "group id"), addr, dc);
  };
  app.put("/api/topom/group/add/:xauth/:gid/:addr", async (c) => {
    await addServer(c.req.param("xauth"), c.req.param("gid"), c.req.param("addr"), "");
    return json(c, "OK");
  });
  app.put("/api/topom/group/add/:xauth/:gid/:addr/:datacenter", async (c) => {
    await addServer(c.req.param("xauth"), c.req.param("gid"), c.req.param("addr"), c.req.param("datacenter"));
    return json(c, "OK");
  });
  app.put("/api/topom/group/del/:xauth/:gid/:addr", async (c) => {
    checkXAuth(c.req.param("xauth"));
    await t.delServer(intParam(c.req.param("gid"), "group id"), c.req.param("addr"));
    return json(c, "OK");
  });
  app.put("/api/topom/group/promote/:xauth/:gid/:addr", async (c) => {
    checkXAuth(c.req.param("xauth"));
    await t.promoteServer(intParam(c.req.param("gid"), "group id"), c.req.param("addr"));
    return json(c, "OK");
  });
  app.put("/api/topom/group/replica-groups/:xauth/:gid/:addr/:value", async (c) => {
    checkXAuth(c.req.param("xauth"));
    await t.setReplicaGroups(
      intParam(c.req.param("gid"), "group id"),
      c.req.param("addr"),
      intParam(c.req.param("value"), "value") !== 0,
    );
    return json(c, "OK");
  });
  app.put("/api/topom/group/replica-groups-all/:xauth/:value", async (c) => {
    checkXAuth(c.req.param("xauth"));
    await t.setReplicaGroupsAll(intParam(c.req.param("value"), "value") !== 0);
    return json(c, "OK");
  });
  app.put("/api/topom/group/action/create/:xauth/:addr", async (c) => {
    checkXAuth(c.req.param("xauth"));
    await t.createSyncAction(c.req.param("addr"));
    return json(c, "OK");
  });
  app.put("/api/topom/group/action/remove/:xauth/:addr", async (c) => {
    checkXAuth(c.req.param("xauth"));
    await t.removeSyncAction(c.req.param("addr"));
    return json(c, "OK");
  });
  app.get("/api/topom/group/info/:addr", async (c) => {
    const addr = c.req.param("addr");
    let client: RedisClient | null = null;
    try {
      client = await RedisClient.connect(addr, {
        password: t.config.productAuth,
        connectTimeoutMs: 2000,
        timeoutMs: 2000,
      });
      const [info, maxmemory] = await client.pipeline([["INFO"], ["CONFIG", "GET", "maxmemory"]]);
      const stats: Record<string, string> = parseInfo(String(info));
      if (stats.role === "slave" && stats.master_host) stats.master_addr = `${stats.master_host}:${stats.master_port}`;
      if (Array.isArray(maxmemory) && maxmemory.length === 2) stats.maxmemory = String(maxmemory[1]);
      return json(c, stats);
    } catch (e) {
      throw new ApiError(502, `server-[${addr}] info failed: ${errorMessage(e)}`);
    } finally {
      await client?.close();
    }
  });

  // --- slots
  app.put("/api/topom/slots/action/create/:xauth/:sid/:gid", async (c) => {
    checkXAuth(c.req.param("xauth"));
    await t.createSlotAction(intParam(c.req.param("sid"), "slot id"), intParam(c.req.param("gid"), "group id"));
    d.wakeActions();
    return json(c, "OK");
  });
  app.put("/api/topom/slots/action/create-some/:xauth/:src/:dst/:num", async (c) => {
    checkXAuth(c.req.param("xauth"));
    await t.createSlotActionSome(
      intParam(c.req.param("src"), "group id"),
      intParam(c.req.param("dst"), "group id"),
      intParam(c.req.param("num"), "number of slots"),
    );
    d.wakeActions();
    return json(c, "OK");
  });
  app.put("/api/topom/slots/action/create-range/:xauth/:beg/:end/:gid", async (c) => {
    checkXAuth(c.req.param("xauth"));
    await t.createSlotActionRange(
      intParam(c.req.param("beg"), "slot id"),
      intParam(c.req.param("end"), "slot id"),
      intParam(c.req.param("gid"), "group id"),
    );
    d.wakeActions();
    return json(c, "OK");
  });
  app.put("/api/topom/slots/action/remove/:xauth/:sid", async (c) => {
    checkXAuth(c.req.param("xauth"));
    await t.removeSlotAction(intParam(c.req.param("sid"), "slot id"));
    return json(c, "OK");
  });
  app.put("/api/topom/slots/action/interval/:xauth/:value", (c) => {
    checkXAuth(c.req.param("xauth"));
    const v = intParam(c.req.param("value"), "interval");
    t.actionInterval = Math.max(0, Math.min(1_000_000, v));
    return json(c, "OK");
  });
  app.put("/api/topom/slots/action/disabled/:xauth/:value", (c) => {
    checkXAuth(c.req.param("xauth"));
    t.actionDisabled = intParam(c.req.param("value"), "value") !== 0;
    d.wakeActions();
    return json(c, "OK");
  });
  const assign = async (xauth: string, body: unknown, offline: boolean) => {
    checkXAuth(xauth);
    if (!Array.isArray(body)) throw new ApiError(400, "bad request body: expected a JSON array of slot mappings");
    let mappings: SlotMapping[];
    try {
      mappings = body.map(slotMappingFromJson);
    } catch (e) {
      throw new ApiError(400, errorMessage(e));
    }
    await t.assignSlots(mappings, offline);
  };
  app.put("/api/topom/slots/assign/:xauth", async (c) => {
    await assign(c.req.param("xauth"), await readJsonBody(c), false);
    return json(c, "OK");
  });
  app.put("/api/topom/slots/assign/:xauth/offline", async (c) => {
    await assign(c.req.param("xauth"), await readJsonBody(c), true);
    return json(c, "OK");
  });
  app.put("/api/topom/slots/rebalance/:xauth/:confirm", async (c) => {
    checkXAuth(c.req.param("xauth"));
    const plan = await t.rebalance(intParam(c.req.param("confirm"), "confirm") !== 0);
    d.wakeActions();
    const out: Record<string, number> = {};
    for (const [sid, gid] of [...plan.entries()].sort((a, b) => a[0] - b[0])) out[String(sid)] = gid;
    return json(c, out);
  });

  // --- sentinels: server HA is not part of this dashboard yet
  const noSentinels = () => {
    throw new ApiError(501, "sentinels are not supported by this dashboard yet");
  };
  app.put("/api/topom/sentinels/*", (c) => {
    const xauth = c.req.path.split("/")[5];
    checkXAuth(xauth);
    return noSentinels();
  });
  app.get("/api/topom/sentinels/*", noSentinels);
  return app;
}
