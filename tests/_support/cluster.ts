/**
 * A proxy started in the test process over real redis-server groups, with a static slot table.
 *
 * @module
 */

import { RedisClient, type RedisClientOptions } from "../../redis/redis_client.ts";
import { MAX_SLOT_NUM, slotOfString } from "../../redis/slot_hash.ts";
import { offlineSlot, type SlotSpec, slotToJson } from "../../coord/models.ts";
import { DEFAULT_PROXY_CONFIG, type ProxyConfig } from "../../proxy/config.ts";
import { type Proxy, startProxy } from "../../proxy/proxy.ts";
import { log } from "../../utils/log.ts";
import { ProxyProcess } from "./programs.ts";
import { RedisServer } from "./servers.ts";

log.setLevel("ERROR");

/** Slot specs giving each server an equal, contiguous share of the slots. */
export function evenSlots(addrs: string[]): SlotSpec[] {
  const per = Math.ceil(MAX_SLOT_NUM / addrs.length);
  return Array.from({ length: MAX_SLOT_NUM }, (_, id) => {
    const g = Math.floor(id / per);
    return { ...offlineSlot(id), backendAddr: addrs[g], backendAddrGroupId: g + 1 };
  });
}

/** The first key `${prefix}N` whose slot is in `[lo, hi]`. */
export function keyInSlots(lo: number, hi: number, prefix: string): string {
  for (let i = 0;; i++) {
    const k = `${prefix}${i}`;
    const s = slotOfString(k);
    if (s >= lo && s <= hi) return k;
  }
}

/** A test cluster: redis-servers and one in-process proxy. */
export interface TestCluster {
  servers: RedisServer[];
  proxy: Proxy;
  /** The proxy's Redis address. */
  addr: string;
  /** The proxy's admin address. */
  adminAddr: string;
  /** A client of the proxy. */
  client(options?: Partial<RedisClientOptions>): Promise<RedisClient>;
  /**
   * Refills `slot` as the dashboard does while it moves the slot from group `from` to group `to`
   * (groups numbered from 1, as `servers`): the barrier (`locked`), `migrating`, then `done`.
   */
  fillMove(slot: number, from: number, to: number, phase: "locked" | "migrating" | "done"): Promise<void>;
  /** Stops the proxy and the servers. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startCluster}. */
export interface ClusterOptions {
  groups: number;
  /** Overrides of the proxy configuration. */
  config: Partial<ProxyConfig>;
  /** requirepass of the servers (the proxy's product_auth is set to it). */
  password: string;
  /** Leave the proxy offline, without slots. */
  offline: boolean;
  /** Serve these servers (left running by `stop`) instead of starting `groups` new ones. */
  servers?: RedisServer[];
}

/** Starts `groups` redis-servers and a proxy serving them. */
export async function startCluster(options: Partial<ClusterOptions> = {}): Promise<TestCluster> {
  const o: ClusterOptions = { groups: 2, config: {}, password: "", offline: false, ...options };
  const own = o.servers === undefined;
  const servers: RedisServer[] = o.servers ? [...o.servers] : [];
  try {
    if (own) { for (let i = 0; i < o.groups; i++) servers.push(await RedisServer.start({ password: o.password })); }
    const config: ProxyConfig = {
      ...DEFAULT_PROXY_CONFIG,
      proxyAddr: "127.0.0.1:0",
      adminAddr: "127.0.0.1:0",
      productAuth: o.password,
      ...o.config,
    };
    const proxy = await startProxy({
      config,
      fillSlots: o.offline ? undefined : evenSlots(servers.map((s) => s.addr)),
    });
    const addr = proxy.model.proxyAddr;
    return {
      servers,
      proxy,
      addr,
      adminAddr: proxy.model.adminAddr,
      client: (opts) => RedisClient.connect(addr, opts),
      fillMove: (slot, from, to, phase) => {
        const target = { backendAddr: servers[to - 1].addr, backendAddrGroupId: to };
        const source = { migrateFrom: servers[from - 1].addr, migrateFromGroupId: from };
        const spec = phase === "done"
          ? { ...offlineSlot(slot), ...target }
          : { ...offlineSlot(slot), ...target, ...source, locked: phase === "locked" };
        return proxy.router.fill([spec]);
      },
      async stop() {
        await proxy.close(1000);
        if (own) await Promise.all(servers.map((s) => s.stop()));
      },
    };
  } catch (e) {
    if (own) await Promise.all(servers.map((s) => s.stop()));
    throw e;
  }
}

/** Two redis-servers and a proxy process in static mode (`--fillslots`), with extra `proxy.toml` keys. */
export interface StaticProxy {
  servers: RedisServer[];
  proxy: ProxyProcess;
  dir: string;
  stop(): Promise<void>;
}

/**
 * Starts two redis-servers and a proxy as its own process over them (so that its memory can be
 * read from /proc), online with `--fillslots`.
 */
export async function startStaticProxy(
  product: string,
  config: Record<string, string | number | boolean> = {},
): Promise<StaticProxy> {
  const dir = await Deno.makeTempDir({ prefix: `codis-test-${product}-` });
  const servers = [await RedisServer.start(), await RedisServer.start()];
  await Deno.writeTextFile(`${dir}/slots.json`, JSON.stringify(evenSlots(servers.map((s) => s.addr)).map(slotToJson)));
  const proxy = await ProxyProcess.start(dir, { product, online: [`--fillslots=${dir}/slots.json`], config });
  const stop = async () => {
    await proxy.kill("SIGTERM");
    await Promise.all(servers.map((s) => s.stop()));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await proxy.waitOnline();
  } catch (e) {
    await stop();
    throw e;
  }
  return { servers, proxy, dir, stop };
}
