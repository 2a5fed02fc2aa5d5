/**
 * The proxy: owns the Redis listener and its sessions, the router, the admin HTTP API, the
 * counters and the once-a-second ticker. {@linkcode startProxy} is the one entry point.
 *
 * @module
 */

import {
  type ProxyOverviewJson,
  type ProxyStatsJson,
  STATS_CMD,
  STATS_RUNTIME,
  STATS_SLOTS,
} from "../api/proxy_stats.ts";
import { type ProxyModel, proxyModelToJson, type SlotSpec, slotToJson } from "../coord/models.ts";
import { advertisedAddr, formatAddr, parseAddr } from "../utils/addr.ts";
import { CodisError, errorMessage, invalid } from "../utils/errors.ts";
import { canTrimMalloc, mallocTrim } from "../utils/malloc_trim.ts";
import { readCaCerts } from "../utils/net.ts";
import { deadline, delay } from "../utils/async.ts";
import { log, requireLogLevel } from "../utils/log.ts";
import { goTimeString, hostName, unameAll } from "../utils/process_info.ts";
import { COMPILE_TEXT, VERSION_TEXT } from "../utils/version.ts";
import { newToken, proxyAclPassword, proxyXAuth } from "../utils/xauth.ts";
import { type ProxyAdminHost, serveProxyAdmin } from "./admin_api.ts";
import { type ProxyConfig, proxyConfigJson } from "./config.ts";
import { ProxyHa } from "./ha.ts";
import { Jodis, jodisPath } from "./jodis.ts";
import { MetricsReporters, type MetricsSource } from "./metrics.ts";
import { proxyMetrics } from "./prometheus.ts";
import { planProxyReload, type ReloadResult } from "./reload.ts";
import { Router } from "./router.ts";
import { SlowLog } from "./slowlog.ts";
import { Session, type SessionHost } from "./session.ts";
import { ProxyStats } from "./stats.ts";

/** Options of {@linkcode startProxy}. */
export interface ProxyOptions {
  config: ProxyConfig;
  /** Advertised Redis address (`--host-proxy`); default: derived from the bound address. */
  hostProxy?: string;
  /** Advertised admin address (`--host-admin`); default: derived from the bound address. */
  hostAdmin?: string;
  /** A static slot table (`--fillslots`): filled, then the proxy goes online by itself. */
  fillSlots?: SlotSpec[];
  /** Reads the configuration again (the file and the flags over it), for a reload; absent: nothing to reload. */
  loadConfig?: () => Promise<ProxyConfig>;
}

/** How long one query of a sentinel may take (Codis's proxy: 5 s). */
const SENTINEL_TIMEOUT_MS = 5000;

/** Sessions that must have closed (since the peak) before their memory is handed back to the system. */
const TRIM_AFTER_CLOSED = 1000;
/** How long after the drop is seen the allocator is trimmed as V8's heap shrinks (ms). */
const TRIM_WINDOW_MS = 60_000;
/** Fewer requests a second than this: the proxy is quiet (a collection there stalls no one). */
const QUIET_REQUESTS = 100;

/** How long to wait before accepting again after accept failed (out of file descriptors, say). */
const ACCEPT_RETRY_MS = 50;

/** A running proxy. */
export class Proxy implements SessionHost, ProxyAdminHost, MetricsSource {
  readonly config: ProxyConfig;
  readonly router: Router;
  readonly stats = new ProxyStats();
  readonly slowlog: SlowLog;
  readonly model: ProxyModel;
  /** The key of this proxy's admin API. */
  readonly xauth: string;
  /** Registration for Jodis clients, when `jodis_addr` is set. */
  readonly jodis: Jodis | null;
  /** The metrics reporters `metrics_report_*` ask for (replaced by a reload that changes them). */
  metrics: MetricsReporters;
  /** Reads the configuration again, for {@linkcode reloadConfig}. */
  loadConfig: (() => Promise<ProxyConfig>) | null = null;
  /** The sentinels and the masters they report. */
  readonly ha: ProxyHa;
  #listener: Deno.Listener;
  #admin: Deno.HttpServer | null = null;
  #sessions = new Set<Session>();
  /** After many sessions closed: the peak before, when the drop was seen, and what was done since (see #giveMemoryBack). */
  #trims = { peak: 0, dropSeenAt: 0, heap: 0, low: 0, collected: false };
  #ticker: ReturnType<typeof setInterval>;
  #closed = false;
  #done: Promise<void>;
  #resolveDone!: () => void;
  #accepting: Promise<void>;

  /** Use {@linkcode startProxy}. */
  constructor(config: ProxyConfig, listener: Deno.Listener, model: ProxyModel) {
    this.config = config;
    this.#listener = listener;
    this.model = model;
    this.xauth = proxyXAuth(config.productName, config.adminAuth, config.productAuth, model.token);
    this.jodis = config.jodisAddr ? new Jodis(config, model) : null;
    this.slowlog = new SlowLog(config.slowlogLogSlowerThan, config.slowlogMaxLen);
    this.metrics = new MetricsReporters(this);
    this.router = new Router({
      backend: {
        auth: config.productAuth,
        aclUser: config.backendAclUser,
        aclPassword: config.backendAclPassword || proxyAclPassword(config.productName, config.productAuth),
        aclRefused: new Set(),
        tls: config.backendTls ? { caCerts: readCaCerts(config.backendTlsCa) } : null,
        recvBufsize: config.backendRecvBufsize,
        sendBufsize: config.backendSendBufsize,
        recvTimeout: config.backendRecvTimeout,
        sendTimeout: config.backendSendTimeout,
        maxPipeline: config.backendMaxPipeline,
        maxDedicated: config.backendMaxDedicated,
        pingPeriod: config.backendPingPeriod > 0 ? Math.max(1000, config.backendPingPeriod) : 0,
        keepalivePeriod: config.backendKeepalivePeriod,
        limits: {
          maxBulkLength: config.maxBulkLength,
          maxArrayLength: config.maxArrayLength,
          maxInlineLength: 64 * 1024,
        },
      },
      primaryParallel: config.backendPrimaryParallel,
      replicaParallel: config.backendReplicaParallel,
      primaryOnly: config.backendPrimaryOnly,
      slotLockTimeout: config.slotLockTimeout,
    });
    this.ha = new ProxyHa({
      productName: config.productName,
      productAuth: config.productAuth,
      sentinelTimeoutMs: SENTINEL_TIMEOUT_MS,
      specs: () => this.router.specs(),
      fill: (specs) => this.router.fill(specs),
    });
    this.#done = new Promise((resolve) => this.#resolveDone = resolve);
    this.stats.usage.sample();
    this.#ticker = setInterval(() => this.#tick(), 1000);
    this.#accepting = this.#acceptLoop();
  }

  /** True once the router is online (sessions are served). */
  get online(): boolean {
    return this.router.online;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Resolves when the proxy has shut down. */
  get done(): Promise<void> {
    return this.#done;
  }

  /** Number of open client sessions. */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** The admin HTTP server (set by {@linkcode startProxy}). */
  set adminServer(server: Deno.HttpServer) {
    this.#admin = server;
  }

  /** Goes online: sessions are served from now on. Idempotent. */
  start(): void {
    if (this.#closed) throw new CodisError("unavailable", "use of closed proxy");
    if (!this.router.online) log.info(`proxy ${this.model.proxyAddr} is online`);
    this.router.start();
    this.jodis?.start();
  }

  /**
   * Installs slot states (see {@linkcode Router.fill}), held to the masters the sentinels
   * reported: a slot of a group they moved goes to its new master, marked `switched`.
   */
  async fillSlots(specs: SlotSpec[]): Promise<void> {
    if (this.#closed) throw new CodisError("unavailable", "use of closed proxy");
    await this.router.fill(await this.ha.adjust(specs));
  }

  /** Watches these sentinels from now on (the dashboard's `PUT /api/proxy/sentinels`). */
  async setSentinels(servers: string[]): Promise<void> {
    if (this.#closed) throw new CodisError("unavailable", "use of closed proxy");
    await this.ha.setSentinels(servers);
  }

  /** Subscribes to the sentinels again and refreshes the masters. */
  async rewatchSentinels(): Promise<void> {
    if (this.#closed) throw new CodisError("unavailable", "use of closed proxy");
    await this.ha.rewatch();
  }

  /** The slot table as it is now. */
  slotSpecs(): SlotSpec[] {
    return this.router.specs();
  }

  /** Clears the counters (Codis's stats reset). */
  resetStats(): void {
    this.stats.reset();
  }

  /** Codis's stats JSON; `flags` is the bitmask of `/api/proxy/stats/:xauth/:flags`. */
  statsJson(flags: number): ProxyStatsJson {
    const out: ProxyStatsJson = {
      online: this.router.online,
      closed: this.#closed,
      sentinels: this.ha.toJson(this.router.slots.some((s) => s.spec.switched === true)),
      ...this.stats.toJson(flags),
      backend: { primary_only: this.config.backendPrimaryOnly },
    };
    if (flags & STATS_SLOTS) out.slots = this.router.specs().map(slotToJson);
    return out;
  }

  /**
   * Re-reads the configuration (SIGHUP, `PUT /api/proxy/reload/:xauth`) and applies what can
   * change while running; a file that does not parse or check changes nothing.
   */
  async reloadConfig(): Promise<ReloadResult> {
    if (this.#closed) throw new CodisError("unavailable", "use of closed proxy");
    if (!this.loadConfig) throw invalid("the proxy was started without --config: there is nothing to reload");
    let next: ProxyConfig;
    try {
      next = await this.loadConfig();
    } catch (e) {
      throw invalid(`reload refused, nothing changed: ${errorMessage(e)}`, { cause: e });
    }
    return await this.applyConfig(next);
  }

  /** Applies the keys of `next` that can change while running; says which need a restart. */
  async applyConfig(next: ProxyConfig): Promise<ReloadResult> {
    const plan = planProxyReload(this.config, next);
    // Said before applying (a new log_level may hide INFO lines).
    log.info(
      `reload: applied [${plan.applied.join(", ")}]; for new sessions [${plan.newSessions.join(", ")}]; ` +
        `needs a restart [${plan.restart.join(", ")}]`,
    );
    const c = this.config as unknown as Record<string, unknown>;
    for (const prop of plan.props) c[prop] = next[prop];
    const changed = new Set(plan.applied);
    const cfg = this.config;
    if (changed.has("slowlog_log_slower_than") || changed.has("slowlog_max_len")) {
      this.slowlog.configure(cfg.slowlogLogSlowerThan, cfg.slowlogMaxLen);
    }
    if (changed.has("log_level") && cfg.logLevel) log.setLevel(requireLogLevel(cfg.logLevel));
    const b = this.router.backendOptions;
    b.recvTimeout = cfg.backendRecvTimeout;
    b.sendTimeout = cfg.backendSendTimeout;
    b.maxPipeline = cfg.backendMaxPipeline;
    b.maxDedicated = cfg.backendMaxDedicated;
    b.pingPeriod = cfg.backendPingPeriod > 0 ? Math.max(1000, cfg.backendPingPeriod) : 0;
    this.router.slotLockTimeout = cfg.slotLockTimeout;
    if (changed.has("backend_primary_parallel")) this.router.primary.setParallel(cfg.backendPrimaryParallel);
    if (changed.has("backend_replica_parallel")) this.router.replica.setParallel(cfg.backendReplicaParallel);
    if (changed.has("backend_primary_only")) await this.router.setPrimaryOnly(cfg.backendPrimaryOnly);
    if (plan.applied.some((k) => k.startsWith("metrics_report_"))) {
      await this.metrics.stop();
      this.metrics = new MetricsReporters(this);
    }
    return { applied: plan.applied, newSessions: plan.newSessions, restart: plan.restart };
  }

  /** `/metrics`: the counters in Prometheus's text format. */
  metricsText(): string {
    return proxyMetrics(this);
  }

  /** The proxy's overview (`/proxy`): version, config, model, full stats, slots. */
  overviewJson(): ProxyOverviewJson {
    return {
      version: VERSION_TEXT,
      compile: COMPILE_TEXT,
      config: proxyConfigJson(this.config),
      model: proxyModelToJson(this.model),
      stats: this.statsJson(STATS_CMD | STATS_RUNTIME),
      slots: this.router.specs().map(slotToJson),
    };
  }

  sessionClosed(session: Session): void {
    if (this.#sessions.delete(session)) this.stats.sessionsAlive--;
  }

  async #acceptLoop(): Promise<void> {
    // Plain TCP sessions set no-delay and keepalive when they need them (TLS connections have no such calls).
    const tcp = this.config.protoType !== "unix" && !this.config.proxyTlsCert;
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (e) {
        if (this.#closed || e instanceof Deno.errors.BadResource) return;
        log.warn("accept failed", e);
        await delay(ACCEPT_RETRY_MS);
        continue;
      }
      const session = new Session(conn, this, tcp);
      this.#sessions.add(session);
      this.stats.sessionsTotal++;
      this.stats.sessionsAlive++;
      if (!this.router.online) session.start("ERR router is not online");
      else if (this.config.proxyMaxClients > 0 && this.stats.sessionsAlive > this.config.proxyMaxClients) {
        this.stats.sessionsRejected++;
        session.start("ERR max number of clients reached");
      } else session.start();
    }
  }

  #tick(): void {
    const now = performance.now();
    this.stats.tick();
    this.router.tick(now);
    for (const s of this.#sessions) s.tick(now);
    this.#giveMemoryBack(now);
  }

  /**
   * After many sessions have closed, hands the memory they used back to the system. Most of it is
   * freed only when V8 collects the sessions' objects: once the proxy is quiet (almost no requests
   * in the last second) it collects at once (`gc`, exposed by `utils/runtime_flags.ts`: 40 ms after
   * 5,000 sessions closed, 170 ms after 19,000, so never while clients are being served), else V8's
   * memory reducer does when allocation slows; the allocator is trimmed after each collection that
   * shrank the heap, for a minute after the drop.
   */
  #giveMemoryBack(now: number): void {
    if (!canTrimMalloc()) return; // not here (no glibc, no --allow-ffi)
    const trims = this.#trims;
    const alive = this.stats.sessionsAlive;
    if (trims.dropSeenAt === 0) {
      if (alive > trims.peak) trims.peak = alive;
      else if (trims.peak - alive >= TRIM_AFTER_CLOSED) {
        trims.dropSeenAt = now;
        trims.heap = Infinity;
        trims.low = alive;
        trims.collected = false;
      }
      return;
    }
    trims.low = Math.min(trims.low, alive);
    if (now - trims.dropSeenAt > TRIM_WINDOW_MS || alive - trims.low >= TRIM_AFTER_CLOSED) {
      // The minute is over, or a new wave of clients came: watch for the next drop.
      trims.dropSeenAt = 0;
      trims.peak = alive;
      return;
    }
    const t0 = performance.now();
    const gc = (globalThis as { gc?: (options: unknown) => void }).gc;
    if (!trims.collected && this.stats.qps < QUIET_REQUESTS && gc !== undefined) {
      trims.collected = true;
      gc({ type: "major", execution: "sync", flavor: "last-resort" });
    }
    const heap = Deno.memoryUsage().heapTotal;
    if (heap >= trims.heap) return;
    trims.heap = heap;
    mallocTrim();
    log.debug(`memory of closed sessions handed back to the system in ${(performance.now() - t0).toFixed(1)} ms`);
  }

  /**
   * Shuts down: stops accepting, lets sessions finish what they sent (up to `graceMs`), then
   * closes backends and the admin API. Idempotent.
   */
  async close(graceMs = 5000): Promise<void> {
    if (this.#closed) return this.#done;
    this.#closed = true;
    log.info(`proxy ${this.model.proxyAddr} is closing`);
    // Clients looking for proxies stop seeing this one first.
    await Promise.all([this.jodis?.stop(), this.metrics.stop(), this.ha.close()]);
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    await this.#accepting;
    const sessions = [...this.#sessions];
    for (const s of sessions) s.closeGracefully();
    await deadline(Promise.all(sessions.map((s) => s.finished)), graceMs).catch(() => {});
    for (const s of this.#sessions) s.close();
    clearInterval(this.#ticker);
    this.router.close();
    if (this.#admin) await this.#admin.shutdown();
    if (this.config.protoType === "unix") {
      try {
        Deno.removeSync(this.config.proxyAddr);
      } catch {
        // gone already
      }
    }
    this.#resolveDone();
  }
}

function listen(config: ProxyConfig): Deno.Listener {
  if (config.protoType === "unix") {
    try {
      Deno.removeSync(config.proxyAddr);
    } catch {
      // no stale socket
    }
    return Deno.listen({ transport: "unix", path: config.proxyAddr });
  }
  const { host, port } = parseAddr(config.proxyAddr);
  const hostname = host || (config.protoType === "tcp6" ? "::" : "0.0.0.0");
  if (config.proxyTlsCert) {
    return Deno.listenTls({
      hostname,
      port,
      cert: Deno.readTextFileSync(config.proxyTlsCert),
      key: Deno.readTextFileSync(config.proxyTlsKey),
    });
  }
  return Deno.listen({ hostname, port, transport: "tcp" });
}

function boundAddr(addr: Deno.Addr): string {
  return addr.transport === "tcp" || addr.transport === "udp"
    ? formatAddr(addr.hostname, addr.port)
    : (addr as Deno.UnixAddr).path;
}

/**
 * Binds the Redis and admin listeners, computes the proxy's identity, and starts serving. With
 * `fillSlots` the slot table is installed and the proxy goes online at once; otherwise it waits
 * to be brought online through its admin API.
 */
export async function startProxy(options: ProxyOptions): Promise<Proxy> {
  const config = options.config;
  const listener = listen(config);
  const proxyBound = boundAddr(listener.addr);
  const adminWanted = parseAddr(config.adminAddr);
  let proxy: Proxy | null = null;
  let admin: Deno.HttpServer;
  let adminPort = 0;
  try {
    admin = serveProxyAdmin(() => proxy, {
      hostname: adminWanted.host || "0.0.0.0",
      port: adminWanted.port,
      adminAuth: config.adminAuth,
      onListen: (a) => adminPort = a.port,
    });
  } catch (e) {
    listener.close();
    throw e;
  }
  const adminBound = formatAddr(adminWanted.host || "0.0.0.0", (admin.addr as Deno.NetAddr).port || adminPort);
  const proxyAdvertised = options.hostProxy ??
    (listener.addr.transport === "tcp" ? advertisedAddr(listener.addr.hostname, listener.addr.port) : proxyBound);
  const adminAdvertised = options.hostAdmin ?? advertisedAddr(adminWanted.host, (admin.addr as Deno.NetAddr).port);
  const model: ProxyModel = {
    token: newToken(config.productName, proxyBound, adminBound),
    startTime: goTimeString(),
    adminAddr: adminAdvertised,
    protoType: config.protoType,
    proxyAddr: proxyAdvertised,
    jodisPath: "",
    productName: config.productName,
    pid: Deno.pid,
    pwd: Deno.cwd(),
    sys: unameAll(),
    hostname: hostName(),
    datacenter: config.proxyDatacenter,
  };
  if (config.jodisAddr) model.jodisPath = jodisPath(config, model.token);
  proxy = new Proxy(config, listener, model);
  proxy.adminServer = admin;
  proxy.loadConfig = options.loadConfig ?? null;
  log.info(`proxy ${model.proxyAddr} (admin ${model.adminAddr}) started, token ${model.token}`);
  if (!config.adminAuth) {
    log.warn(
      "admin_auth is not set: the admin API accepts changes only from clients on this machine " +
        "(set the same admin_auth in proxy.toml and dashboard.toml to manage it from elsewhere)",
    );
  }
  if (options.fillSlots) {
    await proxy.fillSlots(options.fillSlots);
    proxy.start();
  }
  return proxy;
}
