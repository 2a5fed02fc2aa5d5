/**
 * The dashboard's stats loop (Codis's `pkg/topom/topom_stats.go`): every second, INFO and
 * `CONFIG GET maxmemory` from every group server and the stats of every proxy, each probe with
 * its own time budget, so a dead or hung server or proxy shows as an error or a timeout and
 * never holds up the others.
 *
 * @module
 */

import { parseInfo, RedisClient } from "../redis/redis_client.ts";
import { deadline } from "../utils/async.ts";
import { log } from "../utils/log.ts";
import type { Topom } from "./topom.ts";
import { errorMessage } from "../utils/errors.ts";

/** One probe's result, in Codis's shape. */
export interface ProbeResult {
  stats?: Record<string, unknown>;
  error?: { Cause: string };
  unixtime: number;
  timeout?: boolean;
}

/** How long one probe may take. */
export const PROBE_TIMEOUT_MS = 1000;

class Timeout extends Error {}

export class StatsCollector {
  readonly topom: Topom;
  servers: Record<string, ProbeResult> = {};
  proxies: Record<string, ProbeResult> = {};
  #clients = new Map<string, RedisClient>();
  /** Proxies being re-onlined now (at most one attempt each at a time). */
  #reonlining = new Set<string>();

  constructor(topom: Topom) {
    this.topom = topom;
  }

  /** One round: every probe at once; the maps are replaced when all have answered or timed out. */
  async refresh(): Promise<void> {
    const servers = this.topom.groups().flatMap((g) => g.servers.map((s) => s.addr));
    const proxies = this.topom.proxies();
    const [serverResults, proxyResults] = await Promise.all([
      Promise.all(servers.map((addr) => this.#probe(() => this.#serverStats(addr), () => this.#dropClient(addr)))),
      Promise.all(
        proxies.map((p) => this.#probe(() => this.topom.proxyClient(p).stats() as Promise<Record<string, unknown>>)),
      ),
    ]);
    this.servers = Object.fromEntries(servers.map((addr, i) => [addr, serverResults[i]]));
    this.proxies = Object.fromEntries(proxies.map((p, i) => [p.model.token, proxyResults[i]]));
    for (const addr of [...this.#clients.keys()]) if (!servers.includes(addr)) this.#dropClient(addr);

    // A registered proxy that answers but is offline restarted at the same address: re-online it.
    proxies.forEach((p, i) => {
      const s = proxyResults[i].stats;
      if (s && s.online === false && s.closed === false && !this.#reonlining.has(p.model.token)) {
        this.#reonlining.add(p.model.token);
        this.topom.reonlineProxy(p.model.token)
          .catch((e) => log.warn(`re-online proxy-[${p.model.token}] failed: ${errorMessage(e)}`))
          .finally(() => this.#reonlining.delete(p.model.token));
      }
    });
  }

  async #probe(run: () => Promise<Record<string, unknown>>, onTimeout?: () => void): Promise<ProbeResult> {
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

  async #serverStats(addr: string): Promise<Record<string, unknown>> {
    let client = this.#clients.get(addr);
    if (!client || client.closed) {
      client = await RedisClient.connect(addr, {
        password: this.topom.config.productAuth,
        connectTimeoutMs: PROBE_TIMEOUT_MS,
        timeoutMs: PROBE_TIMEOUT_MS * 5,
      });
      this.#clients.set(addr, client);
    }
    try {
      const [info, maxmemory] = await client.pipeline([["INFO"], ["CONFIG", "GET", "maxmemory"]]);
      if (typeof info !== "string") throw new Error(`INFO failed: ${(info as { message?: string })?.message ?? info}`);
      const stats: Record<string, unknown> = parseInfo(info);
      if (stats.role === "slave" && stats.master_host) stats.master_addr = `${stats.master_host}:${stats.master_port}`;
      if (Array.isArray(maxmemory) && maxmemory.length === 2) stats.maxmemory = String(maxmemory[1]);
      const note = this.topom.syncNotes.get(addr);
      if (note) stats.sync_note = note;
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

  async close(): Promise<void> {
    await Promise.all([...this.#clients.values()].map((c) => c.close()));
    this.#clients.clear();
  }
}
