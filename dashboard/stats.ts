/**
 * The dashboard's stats loop (Codis's `pkg/topom/topom_stats.go`): every second, INFO and
 * `CONFIG GET maxmemory` from every group server and the stats of every proxy (with its per-command
 * counters and latency percentiles), each probe with its own time budget, so a dead or hung server
 * or proxy shows as an error or a timeout and never holds up the others. A registered proxy that answers but is offline (it restarted at the
 * same address) is brought online again.
 *
 * @module
 */

import type { ProxyProbeJson, SentinelProbeJson, ServerProbeJson } from "../api/topom_stats.ts";
import { SentinelAdmin } from "../redis/sentinel.ts";
import type { ProxyAdminClient } from "../api/proxy_client.ts";
import { STATS_CMD } from "../api/proxy_stats.ts";
import type { StoredProxy } from "../coord/store.ts";
import { parseInfo, type RedisClient } from "../redis/redis_client.ts";
import type { ServerConnector } from "./topom.ts";
import { deadline, Loop } from "../utils/async.ts";
import { errorMessage } from "../utils/errors.ts";
import { log } from "../utils/log.ts";

/** What the stats loop reads from the rest of the dashboard. */
export interface StatsHost {
  /** Every group server's address. */
  serverAddrs(): string[];
  /** Every sentinel's address. */
  sentinelAddrs(): string[];
  /** The product (whose names the sentinels' stats show). */
  readonly productName: string;
  proxies(): StoredProxy[];
  proxyClient(p: StoredProxy): ProxyAdminClient;
  /** Opens a client of a server. */
  readonly connectServer: ServerConnector;
  /** What the last sync action of a server found worth telling ("" when nothing). */
  syncNote(addr: string): string;
  /** Brings a registered proxy that restarted back online. */
  reonlineProxy(token: string): Promise<void>;
  /** Checks a server the loop reached (creates the proxies' ACL user where it is missing); returns a note. */
  checkServer(client: RedisClient, stats: Record<string, string>): Promise<string>;
}

/**
 * A server's INFO as a map, with `master_addr` (`host:port`) when it is a replica and its
 * `maxmemory`, as Codis's stats show them.
 */
export async function readServerStats(client: RedisClient): Promise<Record<string, string>> {
  const [info, maxmemory] = await client.pipeline([["INFO"], ["CONFIG", "GET", "maxmemory"]]);
  if (typeof info !== "string") throw new Error(`INFO failed: ${(info as { message?: string })?.message ?? info}`);
  const stats = parseInfo(info);
  if (stats.role === "slave" && stats.master_host) stats.master_addr = `${stats.master_host}:${stats.master_port}`;
  if (Array.isArray(maxmemory) && maxmemory.length === 2) stats.maxmemory = String(maxmemory[1]);
  return stats;
}

/** How long one probe may take. */
export const PROBE_TIMEOUT_MS = 1000;

class Timeout extends Error {}

/** The latest stats of every server and proxy, refreshed every second. */
export class StatsCollector {
  /** The last round's result of each server, by address. */
  servers: Record<string, ServerProbeJson> = {};
  /** The last round's result of each proxy, by token. */
  proxies: Record<string, ProxyProbeJson> = {};
  /** The last round's result of each sentinel (its INFO and what it monitors of the product), by address. */
  sentinels: Record<string, SentinelProbeJson> = {};
  #host: StatsHost;
  #clients = new Map<string, RedisClient>();
  /** Proxies being re-onlined now (at most one attempt each at a time). */
  #reonlining = new Set<string>();
  #loop: Loop | null = null;

  constructor(host: StatsHost) {
    this.#host = host;
  }

  /** Starts refreshing every second. */
  start(): void {
    this.#loop ??= new Loop("stats", async () => await this.refresh(), {
      onError: (name, message) => log.warn(`${name}: ${message}`),
    });
  }

  /** One round: every probe at once; the maps are replaced when all have answered or timed out. */
  async refresh(): Promise<void> {
    const host = this.#host;
    const servers = host.serverAddrs();
    const proxies = host.proxies();
    const sentinels = host.sentinelAddrs();
    const [serverResults, proxyResults, sentinelResults] = await Promise.all([
      Promise.all(servers.map((addr) => this.#probe(() => this.#serverStats(addr), () => this.#dropClient(addr)))),
      Promise.all(proxies.map((p) => this.#probe(() => host.proxyClient(p).stats(STATS_CMD)))),
      Promise.all(sentinels.map((addr) => this.#sentinelStats(addr))),
    ]);
    this.servers = Object.fromEntries(servers.map((addr, i) => [addr, serverResults[i]]));
    this.proxies = Object.fromEntries(proxies.map((p, i) => [p.model.token, proxyResults[i]]));
    this.sentinels = Object.fromEntries(sentinels.map((addr, i) => [addr, sentinelResults[i]]));
    for (const addr of [...this.#clients.keys()]) if (!servers.includes(addr)) this.#dropClient(addr);

    // A registered proxy that answers but is offline restarted at the same address: re-online it.
    proxies.forEach((p, i) => {
      const s = proxyResults[i].stats;
      if (s && !s.online && !s.closed && !this.#reonlining.has(p.model.token)) {
        this.#reonlining.add(p.model.token);
        host.reonlineProxy(p.model.token)
          .catch((e) => log.warn(`re-online proxy-[${p.model.token}] failed: ${errorMessage(e)}`))
          .finally(() => this.#reonlining.delete(p.model.token));
      }
    });
  }

  async #probe<T>(run: () => Promise<T>, onTimeout?: () => void): Promise<{
    stats?: T;
    error?: { Cause: string };
    unixtime: number;
    timeout?: boolean;
  }> {
    const unixtime = Math.floor(Date.now() / 1000);
    try {
      const stats = await deadline(run(), PROBE_TIMEOUT_MS, { error: () => new Timeout() });
      return { stats, unixtime };
    } catch (e) {
      if (e instanceof Timeout) {
        onTimeout?.();
        return { unixtime, timeout: true };
      }
      return { error: { Cause: errorMessage(e) }, unixtime };
    }
  }

  /** A sentinel's INFO and its view of the product's masters (Codis's `sentinel` field), over one connection. */
  async #sentinelStats(addr: string): Promise<SentinelProbeJson> {
    const probe = await this.#probe(() => new SentinelAdmin(addr, PROBE_TIMEOUT_MS).probe(this.#host.productName));
    const { stats, ...rest } = probe;
    return stats ? { ...rest, stats: stats.info, sentinel: stats.monitored } : rest;
  }

  async #serverStats(addr: string): Promise<Record<string, string>> {
    let client = this.#clients.get(addr);
    if (!client || client.closed) {
      client = await this.#host.connectServer(addr, {
        connectTimeoutMs: PROBE_TIMEOUT_MS,
        timeoutMs: PROBE_TIMEOUT_MS * 5,
      });
      this.#clients.set(addr, client);
    }
    try {
      const stats = await readServerStats(client);
      const note = this.#host.syncNote(addr);
      if (note) stats.sync_note = note;
      const aclNote = await this.#host.checkServer(client, stats);
      if (aclNote) stats.acl_note = aclNote;
      return stats;
    } catch (e) {
      this.#dropClient(addr);
      throw e;
    }
  }

  #dropClient(addr: string): void {
    const c = this.#clients.get(addr);
    this.#clients.delete(addr);
    c?.close();
  }

  /** Stops the loop and closes every connection. */
  async close(): Promise<void> {
    await this.#loop?.stop();
    await Promise.all([...this.#clients.values()].map((c) => c.close()));
    this.#clients.clear();
  }
}
