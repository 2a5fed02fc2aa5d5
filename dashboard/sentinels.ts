/**
 * Server HA through Redis Sentinel, with Codis's rules and texts (`pkg/topom/topom_sentinel.go`):
 * adding and removing sentinels, having them monitor every group's master (resync), and the
 * dashboard's own {@linkcode SentinelWatcher}, which moves a group's new master to the front of
 * the stored group after a failover (the proxies switch on their own watchers).
 *
 * @module
 */

import type { SentinelModel } from "../coord/models.ts";
import {
  type MonitorSettings,
  replaceWatcher,
  runIdOf,
  SentinelAdmin,
  type SentinelMaster,
  type SentinelWatcher,
} from "../redis/sentinel.ts";
import { conflict, errorMessage, notFound, upstream } from "../utils/errors.ts";
import { log } from "../utils/log.ts";
import { checkAddr, type Topom } from "./topom.ts";

/** How long the INFO asking a server's run_id may take. */
const RUN_ID_TIMEOUT_MS = 500;

/** What the sentinel part needs from the rest of the dashboard. */
export interface SentinelsHost {
  /** A failover changed the servers' roles: what was noted about their replication is stale. */
  serverRolesChanged(addrs: string[]): void;
}

/** The sentinel mutations and the watcher of one dashboard. */
export class Sentinels {
  #t: Topom;
  #host: SentinelsHost;
  #watcher: SentinelWatcher | null = null;
  #closed = false;
  /** Failovers the watcher applied to the stored groups. */
  switches = 0;

  constructor(topom: Topom, host: SentinelsHost) {
    this.#t = topom;
    this.#host = host;
  }

  #admin(addr: string): SentinelAdmin {
    return new SentinelAdmin(addr, this.#t.config.sentinelClientTimeout);
  }

  /** What `SENTINEL MONITOR`/`SET` get, from `dashboard.toml`. */
  get settings(): MonitorSettings {
    const c = this.#t.config;
    return {
      quorum: c.sentinelQuorum,
      parallelSyncs: c.sentinelParallelSyncs,
      downAfterMs: c.sentinelDownAfter,
      failoverTimeoutMs: c.sentinelFailoverTimeout,
      authPass: c.productAuth,
      notificationScript: c.sentinelNotificationScript,
      clientReconfigScript: c.sentinelClientReconfigScript,
    };
  }

  /** Adds a sentinel; it must answer `SENTINEL FLUSHCONFIG`. Monitoring starts with a resync. */
  add(addr: string): Promise<void> {
    const t = this.#t;
    return t.exclusive(async () => {
      checkAddr(addr, "sentinel");
      const s = t.sentinel();
      if (s.servers.includes(addr)) throw conflict(`sentinel-[${addr}] already exists`);
      try {
        await this.#admin(addr).flushConfig();
      } catch (e) {
        throw upstream(`sentinel-[${addr}] flush config failed: ${errorMessage(e)}`, { cause: e });
      }
      await t.storeSentinel({ servers: [...s.servers, addr], outOfSync: true });
    });
  }

  /**
   * Removes a sentinel after it stopped monitoring this product's groups; with `force`, removes
   * it even when it cannot be reached.
   */
  del(addr: string, force: boolean): Promise<void> {
    const t = this.#t;
    return t.exclusive(async () => {
      checkAddr(addr, "sentinel");
      const s = t.sentinel();
      if (!s.servers.includes(addr)) throw notFound(`sentinel-[${addr}] not found`);
      try {
        await this.#admin(addr).removeProduct(t.config.productName);
      } catch (e) {
        if (!force) {
          throw upstream(
            `remove sentinel ${addr} failed: ${errorMessage(e)} (remove it with force to forget it anyway)`,
            {
              cause: e,
            },
          );
        }
        log.warn(`remove sentinel ${addr} failed, removed by force: ${errorMessage(e)}`);
      }
      const next: SentinelModel = { servers: s.servers.filter((x) => x !== addr), outOfSync: true };
      await t.storeSentinel(next);
      await this.#rewatch(next.servers);
    });
  }

  /**
   * Has every sentinel monitor exactly this product's group masters (`<product>-<gid>`), then gives
   * every proxy the sentinels. Every sentinel must answer first: one that cannot changes nothing.
   */
  resyncAll(): Promise<void> {
    const t = this.#t;
    return t.exclusive(async () => {
      const s = t.sentinel();
      const product = t.config.productName;
      // Nothing half-applied: every sentinel must be reachable before any is changed.
      const down: string[] = [];
      await Promise.all(s.servers.map(async (addr) => {
        try {
          await this.#admin(addr).info();
        } catch (e) {
          down.push(`sentinel-[${addr}]: ${errorMessage(e)}`);
        }
      }));
      if (down.length > 0) throw upstream(`resync sentinels failed, nothing changed: ${down.sort().join("; ")}`);
      if (!s.outOfSync) await t.storeSentinel({ ...s, outOfSync: true });
      const masters = t.ctx().groupMasters();
      const failures: string[] = [];
      await Promise.all(s.servers.map(async (addr) => {
        try {
          const admin = this.#admin(addr);
          await admin.removeProduct(product);
          await admin.monitor(product, masters, this.settings);
        } catch (e) {
          failures.push(`sentinel-[${addr}]: ${errorMessage(e)}`);
        }
      }));
      if (failures.length > 0) throw upstream(`resync sentinels failed: ${failures.sort().join("; ")}`);
      await this.#rewatch(s.servers);
      await this.pushToProxies(s);
      await t.storeSentinel({ ...s, outOfSync: false });
    });
  }

  /** Gives every proxy the sentinels (`PUT /api/proxy/sentinels`); fails naming each proxy that failed. */
  async pushToProxies(s: SentinelModel = this.#t.sentinel()): Promise<void> {
    const t = this.#t;
    const failures: string[] = [];
    await Promise.all(
      t.proxies().map(async (p) => {
        try {
          await t.proxyClient(p).setSentinels(s);
        } catch (e) {
          failures.push(`proxy-[${p.model.token}] sentinel failed: ${errorMessage(e)}`);
        }
      }),
    );
    if (failures.length > 0) throw upstream(failures.sort().join("; "));
  }

  /**
   * Before a manual promotion of group `gid`: the sentinels stop monitoring it (else they would
   * fail it back), and the proxies forget what the sentinels said of it.
   */
  async forgetGroup(gid: number): Promise<void> {
    const t = this.#t;
    const s = t.sentinel();
    if (s.servers.length === 0) return;
    if (!s.outOfSync) await t.storeSentinel({ ...s, outOfSync: true });
    await Promise.all(s.servers.map(async (addr) => {
      try {
        await this.#admin(addr).removeProduct(t.config.productName, new Set([gid]));
      } catch (e) {
        log.warn(`group-[${gid}] remove sentinels failed: ${addr}: ${errorMessage(e)}`);
      }
    }));
    await this.#rewatch(s.servers);
    await this.pushToProxies(t.sentinel());
  }

  /** Starts watching the stored sentinels (at start). */
  start(): Promise<void> {
    return this.#rewatch(this.#t.sentinel().servers);
  }

  /** Each group's master as the sentinels last agreed, with epochs. */
  get masters(): ReadonlyMap<number, SentinelMaster> {
    return this.#watcher?.masters ?? new Map();
  }

  /** Codis's `sentinels.masters` of the stats: `{ "<gid>": "addr" }`. */
  mastersJson(): Record<string, string> {
    return Object.fromEntries([...this.masters].sort((a, b) => a[0] - b[0]).map(([g, m]) => [String(g), m.addr]));
  }

  async #rewatch(servers: readonly string[]): Promise<void> {
    const old = this.#watcher;
    this.#watcher = null;
    this.#watcher = await replaceWatcher(
      old,
      this.#closed ? null : {
        product: this.#t.config.productName,
        servers,
        timeoutMs: this.#t.config.sentinelClientTimeout,
        onMasters: (masters) => this.#switchMasters(masters),
      },
    );
  }

  /**
   * A failover happened (or the dashboard started): in each stored group, the server the
   * sentinels call master goes to index 0 (swapped with the old master) and the group is marked
   * out of sync, as Codis does. Groups being promoted by hand are left alone.
   */
  #switchMasters(masters: ReadonlyMap<number, string>): Promise<void> {
    const t = this.#t;
    return t.exclusive(async () => {
      for (const [gid, addr] of masters) {
        const g = t.ctx().snapshot.groups.get(gid);
        if (!g || g.servers.length === 0) continue;
        if (g.promoting.state) {
          log.warn(`group-[${gid}] is promoting: the sentinels' master ${addr} is not applied`);
          continue;
        }
        let index = g.servers.findIndex((s) => s.addr === addr);
        if (index < 0) {
          const options = {
            password: t.config.productAuth,
            connectTimeoutMs: RUN_ID_TIMEOUT_MS,
            timeoutMs: RUN_ID_TIMEOUT_MS,
          };
          const want = await runIdOf(addr, options);
          if (want) {
            const ids = await Promise.all(g.servers.map((s) => runIdOf(s.addr, options)));
            index = ids.indexOf(want);
          }
        }
        if (index < 0) {
          log.warn(`group-[${gid}] doesn't have server ${addr} that the sentinels call its master`);
          continue;
        }
        if (index === 0) continue;
        const servers = [...g.servers];
        [servers[0], servers[index]] = [servers[index], servers[0]];
        log.warn(`group-[${gid}] switched master to server[${index}] = ${servers[0].addr} (sentinels)`);
        await t.storeGroup({ ...g, servers, outOfSync: true });
        this.#host.serverRolesChanged([servers[0].addr, servers[index].addr]);
        this.switches++;
      }
    }).catch((e) => log.warn(`sentinels: switching group masters failed: ${errorMessage(e)}`));
  }

  /** Stops the watcher. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const w = this.#watcher;
    this.#watcher = null;
    await replaceWatcher(w, null);
  }
}
