/**
 * A running dashboard: the store and its lock, the {@linkcode Topom} and the parts that change
 * it, the HTTP API and the background loops (stats, slot actions, sync actions).
 * {@linkcode startDashboard} is the one entry point.
 *
 * @module
 */

import type { Hono } from "hono";
import type { TopomOverviewJson, TopomStatsJson } from "../api/topom_stats.ts";
import { type CoordClient, StoreError } from "../coord/client.ts";
import {
  groupToJson,
  proxyModelToJson,
  sentinelToJson,
  slotMappingToJson,
  type TopomModel,
  topomToJson,
} from "../coord/models.ts";
import { openClient } from "../coord/open.ts";
import { type StoreOpStats, timedClient } from "../coord/timed_client.ts";
import { dashboardMetrics } from "./prometheus.ts";
import { isStaleOnThisHost, LockedError, ProductStore } from "../coord/store.ts";
import { advertisedAddr, formatAddr, parseAddr } from "../utils/addr.ts";
import { serveApi } from "../utils/http.ts";
import { delay, Loop } from "../utils/async.ts";
import { errorMessage } from "../utils/errors.ts";
import { log } from "../utils/log.ts";
import { goTimeString, unameAll } from "../utils/process_info.ts";
import { COMPILE_TEXT, VERSION_TEXT } from "../utils/version.ts";
import { newToken } from "../utils/xauth.ts";
import { type DashboardApiHost, dashboardApp } from "./api.ts";
import { DASHBOARD_CONFIG_FIELDS, DASHBOARD_LIVE_KEYS, type DashboardConfig, dashboardConfigJson } from "./config.ts";
import { planReload } from "../utils/toml_config.ts";
import { ProxyUsers } from "./acl.ts";
import { Groups } from "./groups.ts";
import { Proxies } from "./proxies.ts";
import { Sentinels } from "./sentinels.ts";
import { SlotActionScheduler } from "./scheduler.ts";
import { Slots } from "./slots.ts";
import { StatsCollector } from "./stats.ts";
import { SyncActions } from "./sync_actions.ts";
import { Topom } from "./topom.ts";

/** Options of {@linkcode startDashboard}. */
export interface DashboardOptions {
  config: DashboardConfig;
  /** Advertised admin address (`--host-admin`); default: derived from the bound address. */
  hostAdmin?: string;
  /** Delete a stale lock first (`--remove-lock`). */
  removeLock?: boolean;
  /**
   * Wait for the lock instead of failing when another dashboard holds it (`--standby`), and take
   * over when it is free: the holder shut down, or died and its lease/session lapsed (etcd,
   * ZooKeeper), or died on this host (filesystem: its pid is gone).
   */
  standby?: boolean;
  /** How long one store operation may take. */
  storeTimeoutMs?: number;
}

/** A running dashboard. */
export class Dashboard implements DashboardApiHost {
  readonly topom: Topom;
  readonly proxies: Proxies;
  readonly groups: Groups;
  readonly syncActions: SyncActions;
  readonly slots: Slots;
  readonly scheduler: SlotActionScheduler;
  readonly stats: StatsCollector;
  /** The sentinels and the dashboard's watcher of them. */
  readonly sentinels: Sentinels;
  /** The proxies' ACL user on every server. */
  readonly proxyUsers: ProxyUsers;
  readonly client: CoordClient;
  /** Store operations by name (counted by a timed client). */
  readonly storeStats: Map<string, StoreOpStats>;
  /** True when the dashboard closed because its lock was lost (its lease or session lapsed). */
  lostLock = false;
  #syncLoop: Loop | null = null;
  #server: Deno.HttpServer | null = null;
  #closing: Promise<void> | null = null;
  #done: Promise<void>;
  #resolveDone!: () => void;

  constructor(topom: Topom, client: CoordClient, storeStats = new Map<string, StoreOpStats>()) {
    this.topom = topom;
    this.client = client;
    this.storeStats = storeStats;
    this.proxies = new Proxies(topom);
    this.syncActions = new SyncActions(topom);
    this.slots = new Slots(topom);
    this.scheduler = new SlotActionScheduler(topom, this.slots);
    this.proxyUsers = new ProxyUsers(topom.config);
    this.sentinels = new Sentinels(topom, {
      serverRolesChanged: (addrs) => addrs.forEach((addr) => this.syncActions.forget(addr)),
    });
    this.groups = new Groups(topom, {
      migrationsRunning: () => this.scheduler.executors,
      forgetServer: (addr) => {
        this.syncActions.forget(addr);
        this.proxyUsers.forget(addr);
      },
      prepareServer: (client, runId) => this.proxyUsers.ensure(client, runId),
      forgetSentinelGroup: (gid) => this.sentinels.forgetGroup(gid),
    });
    this.stats = new StatsCollector({
      serverAddrs: () => topom.ctx().serverAddrs(),
      sentinelAddrs: () => topom.sentinel().servers,
      productName: topom.config.productName,
      proxies: () => topom.proxies(),
      proxyClient: (p) => topom.proxyClient(p),
      connectServer: topom.connectServer,
      syncNote: (addr) => this.syncActions.note(addr),
      reonlineProxy: (token) => this.proxies.reonline(token),
      checkServer: async (client, stats) => {
        try {
          await this.proxyUsers.ensure(client, stats.run_id ?? "");
          return this.proxyUsers.note(client.addr);
        } catch (e) {
          return `cannot create the proxies' ACL user: ${errorMessage(e)}`;
        }
      },
    });
    this.#done = new Promise((r) => this.#resolveDone = r);
  }

  /** Resolves when the dashboard has closed. */
  get done(): Promise<void> {
    return this.#done;
  }

  get adminAddr(): string {
    return this.topom.model.adminAddr;
  }

  /** Starts the background loops. */
  startLoops(): void {
    this.stats.start();
    this.scheduler.start();
    void this.sentinels.start();
    this.#syncLoop ??= new Loop("sync actions", () => this.syncActions.step(), {
      onError: (name, message) => log.warn(`${name}: ${message}`),
    });
  }

  set server(s: Deno.HttpServer) {
    this.#server = s;
  }

  /** Codis's overview: version, config, model, stats. */
  overviewJson(): TopomOverviewJson {
    return {
      version: VERSION_TEXT,
      compile: COMPILE_TEXT,
      config: dashboardConfigJson(this.topom.config),
      model: topomToJson(this.topom.model),
      stats: this.statsJson(),
    };
  }

  /** Codis's stats JSON, with migration progress. */
  statsJson(): TopomStatsJson {
    const t = this.topom;
    return {
      closed: t.closed,
      slots: t.slotsView().map(slotMappingToJson),
      group: { models: t.groups().map(groupToJson), stats: this.stats.servers },
      proxy: { models: t.proxies().map((p) => proxyModelToJson(p.model, p.id)), stats: this.stats.proxies },
      slot_action: this.scheduler.toJson(),
      sentinels: {
        model: sentinelToJson(t.sentinel()),
        stats: this.stats.sentinels,
        masters: this.sentinels.mastersJson(),
      },
    };
  }

  /**
   * Applies a re-read `dashboard.toml` (SIGHUP): the migration and sentinel settings change in
   * place; every other changed key is reported as needing a restart.
   */
  applyConfig(next: DashboardConfig): { applied: string[]; restart: string[] } {
    const plan = planReload(DASHBOARD_CONFIG_FIELDS, this.topom.config, next, DASHBOARD_LIVE_KEYS);
    const c = this.topom.config as unknown as Record<string, unknown>;
    for (const prop of plan.props) c[prop] = next[prop];
    log.info(`reload: applied [${plan.applied.join(", ")}]; needs a restart [${plan.restart.join(", ")}]`);
    return { applied: plan.applied, restart: plan.restart };
  }

  /** `/metrics`: the product's state in Prometheus's text format. */
  metricsText(): string {
    const t = this.topom;
    return dashboardMetrics({
      productName: t.config.productName,
      groups: t.groups(),
      slots: t.slots(),
      proxies: t.proxies(),
      sentinel: t.sentinel(),
      servers: this.stats.servers,
      proxyProbes: this.stats.proxies,
      sentinelProbes: this.stats.sentinels,
      actions: this.scheduler.toJson(),
      failovers: this.sentinels.switches,
      store: this.storeStats,
    });
  }

  /** Stops the loops and the API, releases the lock. Idempotent. */
  close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = (async () => {
        this.topom.close();
        await Promise.all([
          this.scheduler.stop(),
          this.#syncLoop?.stop(),
          this.stats.close(),
          this.sentinels.close(),
        ]);
        try {
          await this.topom.store.release();
          log.info(`released the lock ${this.topom.store.lockPath}`);
        } catch (e) {
          log.error(`cannot release the lock: ${errorMessage(e)}`);
        }
        await this.client.close();
        await this.#server?.shutdown();
        this.#resolveDone();
      })();
    }
    return this.#closing;
  }
}

/** How often a standby dashboard looks at the lock. */
const STANDBY_POLL_MS = 250;

/** Takes the lock; a standby waits for it (and takes a stale filesystem lock of this host). */
async function takeLock(store: ProductStore, model: TopomModel, standby: boolean): Promise<void> {
  let waiting = "";
  for (;;) {
    try {
      await store.acquire(model);
      if (waiting) log.warn(`standby: took the lock ${store.lockPath} (was held by ${waiting}): taking over`);
      return;
    } catch (e) {
      if (!standby || !(e instanceof LockedError)) throw e;
      const holder = e.holder;
      const who = holder ? `${holder.adminAddr} pid ${holder.pid}` : "another dashboard";
      if (holder && store.client.backend === "filesystem" && isStaleOnThisHost(holder)) {
        if (await store.removeStaleLock(holder)) log.warn(`standby: removed the stale lock of ${who} (process gone)`);
        continue;
      }
      if (waiting !== who) log.info(`standby: the lock ${store.lockPath} is held by ${who}; waiting for it`);
      waiting = who;
      await delay(STANDBY_POLL_MS);
    }
  }
}

/**
 * Opens the store, takes the product's lock (refusing clearly if another dashboard holds it),
 * loads the state, serves the API and starts the loops.
 */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const config = options.config;
  const storeStats = new Map<string, StoreOpStats>();
  const client = timedClient(
    await openClient(config.coordinatorName, config.coordinatorAddr, {
      auth: config.coordinatorAuth,
      timeoutMs: options.storeTimeoutMs ?? 30_000,
      sessionTimeoutMs: config.lockTimeout,
    }),
    storeStats,
  );
  let app: Hono | null = null;
  let server: Deno.HttpServer | null = null;
  try {
    const store = new ProductStore(client, config.productName);
    const wanted = parseAddr(config.adminAddr);
    let port = 0;
    server = serveApi(() => app, {
      hostname: wanted.host || "0.0.0.0",
      port: wanted.port,
      onListen: (a) => port = a.port,
      notReady: "topom is not online",
    });
    port = (server.addr as Deno.NetAddr).port || port;
    const bound = formatAddr(wanted.host || "0.0.0.0", port);
    const model: TopomModel = {
      token: newToken(config.productName, bound),
      startTime: goTimeString(),
      adminAddr: options.hostAdmin ?? advertisedAddr(wanted.host, port),
      productName: config.productName,
      pid: Deno.pid,
      pwd: Deno.cwd(),
      sys: unameAll(),
    };
    if (options.removeLock) {
      await store.release();
      log.warn(`removed the lock ${store.lockPath} (--remove-lock)`);
    }
    await takeLock(store, model, options.standby ?? false);
    const topom = new Topom(config, store, model);
    try {
      await topom.load();
    } catch (e) {
      await store.release().catch((e2) => log.error(`cannot release the lock: ${errorMessage(e2)}`));
      throw e;
    }
    const dashboard = new Dashboard(topom, client, storeStats);
    dashboard.server = server;
    app = dashboardApp(dashboard);
    dashboard.startLoops();
    void store.lockLost?.then((e) => {
      if (dashboard.topom.closed) return;
      log.error(`lost the lock ${store.lockPath} (${errorMessage(e)}): another dashboard may take over, closing`);
      dashboard.lostLock = true;
      void dashboard.close();
    });
    if (!config.adminAuth) {
      log.warn(
        "admin_auth is not set: the REST API accepts changes only from clients on this machine " +
          "(set admin_auth in dashboard.toml and proxy.toml to manage the cluster from elsewhere)",
      );
    }
    log.info(
      `dashboard ${model.adminAddr} of product "${config.productName}" is online (store ${client.backend} ${client.addr})`,
    );
    return dashboard;
  } catch (e) {
    await server?.shutdown();
    await client.close();
    if (e instanceof StoreError) throw new Error(`store: ${e.message}`, { cause: e });
    throw e;
  }
}
