/**
 * Redis Sentinel for a product's groups (Codis's `pkg/utils/redis/sentinel.go`): the commands the
 * dashboard configures sentinels with, and the {@linkcode SentinelWatcher} that the dashboard and
 * every proxy run to learn each group's master after a failover.
 *
 * A group `g` of product `p` is monitored under the name `p-g`; names of any other form belong
 * to someone else and are never touched.
 *
 * The watcher's rule, as Codis's: a refresh asks `SENTINEL masters` of every sentinel, needs
 * answers from a majority of them, and keeps for each group the master reported with the highest
 * `config-epoch` (a failover always raises it). A minority of sentinels never switches anything.
 *
 * @module
 */

import { errorMessage } from "../utils/errors.ts";
import { log } from "../utils/log.ts";
import { formatAddr, parseAddr } from "../utils/addr.ts";
import { parseInfo, RedisClient, type RedisClientOptions } from "./redis_client.ts";
import type { RespValue } from "./resp_value.ts";

/** The name sentinels monitor group `gid` of `product` under. */
export function sentinelMasterName(product: string, gid: number): string {
  return `${product}-${gid}`;
}

/** The group of a monitored name, when the name is `<product>-<integer>`; else null. */
export function groupOfMasterName(product: string, name: string): number | null {
  if (!name.startsWith(`${product}-`)) return null;
  const rest = name.slice(product.length + 1);
  if (!/^[0-9]{1,9}$/.test(rest)) return null;
  return Number(rest);
}

/** One master as a sentinel reports it (`SENTINEL masters`, `SENTINEL master <name>`). */
export interface SentinelMaster {
  /** The monitored name. */
  name: string;
  /** `ip:port`. */
  addr: string;
  /** The config-epoch: raised by every failover. */
  epoch: number;
  /** The sentinel's flags (`master`, `s_down`, `o_down`, `failover_in_progress`…). */
  flags: string;
  /** Every field, as strings (Codis shows them in the dashboard's stats). */
  fields: Record<string, string>;
}

/** A reply of flat `key value …` pairs as an object. */
export function pairsToRecord(v: RespValue): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(v)) return out;
  for (let i = 0; i + 1 < v.length; i += 2) out[String(v[i])] = String(v[i + 1]);
  return out;
}

function toMaster(fields: Record<string, string>): SentinelMaster {
  return {
    name: fields.name ?? "",
    addr: formatAddr(fields.ip ?? "", Number(fields.port ?? 0)),
    epoch: Number(fields["config-epoch"] ?? 0) || 0,
    flags: fields.flags ?? "",
    fields,
  };
}

/** Settings of `SENTINEL MONITOR` / `SENTINEL SET` (from `dashboard.toml`). */
export interface MonitorSettings {
  quorum: number;
  parallelSyncs: number;
  downAfterMs: number;
  failoverTimeoutMs: number;
  /** `auth-pass`: the servers' password ("" = none). */
  authPass: string;
  notificationScript: string;
  clientReconfigScript: string;
}

/** The commands the dashboard sends one sentinel; each opens its own short connection. */
export class SentinelAdmin {
  readonly addr: string;
  #timeoutMs: number;

  constructor(addr: string, timeoutMs: number) {
    this.addr = addr;
    this.#timeoutMs = timeoutMs;
  }

  async #with<T>(fn: (c: RedisClient) => Promise<T>): Promise<T> {
    const c = await RedisClient.connect(this.addr, { connectTimeoutMs: this.#timeoutMs, timeoutMs: this.#timeoutMs });
    try {
      return await fn(c);
    } finally {
      await c.close();
    }
  }

  /** `SENTINEL FLUSHCONFIG`: fails unless the server is a sentinel that can write its config. */
  flushConfig(): Promise<void> {
    return this.#with(async (c) => {
      await c.call("SENTINEL", "FLUSHCONFIG");
    });
  }

  /** `INFO` as a map. */
  info(): Promise<Record<string, string>> {
    return this.#with(async (c) => parseInfo(String(await c.call("INFO"))));
  }

  /** Every master the sentinel monitors. */
  masters(): Promise<SentinelMaster[]> {
    return this.#with((c) => readMasters(c));
  }

  /** The product's masters with their replicas: `{ "<product>-<gid>": {master, slaves} }`, as Codis shows it. */
  monitored(product: string): Promise<Monitored> {
    return this.#with((c) => readMonitored(c, product));
  }

  /** INFO and {@linkcode monitored} over one connection (the dashboard's stats loop, every second). */
  probe(product: string): Promise<{ info: Record<string, string>; monitored: Monitored }> {
    return this.#with(async (c) => ({
      info: parseInfo(String(await c.call("INFO"))),
      monitored: await readMonitored(c, product),
    }));
  }

  /** Stops monitoring every group of `product` (`SENTINEL REMOVE`); other names are left alone. */
  removeProduct(product: string, only?: ReadonlySet<number>): Promise<string[]> {
    return this.#with(async (c) => {
      const removed: string[] = [];
      for (const m of await readMasters(c)) {
        const gid = groupOfMasterName(product, m.name);
        if (gid === null || (only && !only.has(gid))) continue;
        await c.call("SENTINEL", "REMOVE", m.name);
        removed.push(m.name);
      }
      return removed;
    });
  }

  /** Monitors each group's master (`SENTINEL MONITOR` then `SENTINEL SET` with the settings). */
  monitor(product: string, masters: ReadonlyMap<number, string>, s: MonitorSettings): Promise<void> {
    return this.#with(async (c) => {
      for (const [gid, addr] of [...masters].sort((a, b) => a[0] - b[0])) {
        const name = sentinelMasterName(product, gid);
        const { host, port } = parseAddr(await resolveAddr(addr));
        await c.call("SENTINEL", "MONITOR", name, host, port, s.quorum);
        const set: (string | number)[] = [
          "SENTINEL",
          "SET",
          name,
          "parallel-syncs",
          s.parallelSyncs,
          "down-after-milliseconds",
          s.downAfterMs,
          "failover-timeout",
          s.failoverTimeoutMs,
        ];
        if (s.authPass) set.push("auth-pass", s.authPass);
        if (s.notificationScript) set.push("notification-script", s.notificationScript);
        if (s.clientReconfigScript) set.push("client-reconfig-script", s.clientReconfigScript);
        await c.call(...set);
      }
    });
  }
}

/** A sentinel's view of the product's masters: `{ "<product>-<gid>": {master, slaves} }`. */
export type Monitored = Record<string, { master: Record<string, string>; slaves: Record<string, string>[] }>;

async function readMonitored(c: RedisClient, product: string): Promise<Monitored> {
  const out: Monitored = {};
  for (const m of await readMasters(c)) {
    if (groupOfMasterName(product, m.name) === null) continue;
    const slaves = await c.call("SENTINEL", "SLAVES", m.name);
    out[m.name] = { master: m.fields, slaves: Array.isArray(slaves) ? slaves.map(pairsToRecord) : [] };
  }
  return out;
}

async function readMasters(c: RedisClient): Promise<SentinelMaster[]> {
  const reply = await c.call("SENTINEL", "MASTERS");
  return Array.isArray(reply) ? reply.map((m) => toMaster(pairsToRecord(m))) : [];
}

/** `host:port` with the host resolved to an IP address (sentinels are given addresses, as in Codis). */
export async function resolveAddr(addr: string): Promise<string> {
  const { host, port } = parseAddr(addr);
  if (!host || /^[0-9.]+$/.test(host) || host.includes(":")) return addr;
  if (host === "localhost") return formatAddr("127.0.0.1", port);
  const ips = await Deno.resolveDns(host, "A").catch(() => [] as string[]);
  return ips.length > 0 ? formatAddr(ips[0], port) : addr;
}

/**
 * The run_id of the server at `addr`, or "" when it does not answer within the options' timeout:
 * how two addresses are told to be one server (Codis's `InfoCache.GetRunId`).
 */
export async function runIdOf(addr: string, options: Partial<RedisClientOptions>): Promise<string> {
  let c: RedisClient | null = null;
  try {
    c = await RedisClient.connect(addr, options);
    return parseInfo(String(await c.call("INFO", "server"))).run_id ?? "";
  } catch {
    return "";
  } finally {
    await c?.close();
  }
}

/**
 * Each group's master from the sentinels' answers: for every `<product>-<gid>` name, the master
 * reported with the highest config-epoch (the first of equals). Other products' names are ignored.
 */
export function pickMasters(product: string, answers: readonly SentinelMaster[][]): Map<number, SentinelMaster> {
  const best = new Map<number, SentinelMaster>();
  for (const list of answers) {
    for (const m of list) {
      const gid = groupOfMasterName(product, m.name);
      if (gid === null) continue;
      const b = best.get(gid);
      if (!b || m.epoch > b.epoch) best.set(gid, m);
    }
  }
  return best;
}

// --- the watcher --------------------------------------------------------------------------------

/** Options of a {@linkcode SentinelWatcher}. */
export interface SentinelWatcherOptions {
  product: string;
  /** The sentinels' addresses. */
  servers: readonly string[];
  /** How long one query of a sentinel may take. */
  timeoutMs: number;
  /**
   * Each group's master after a refresh that a majority answered (`gid → ip:port`). Called again
   * after every successful refresh, changed or not.
   */
  onMasters(masters: ReadonlyMap<number, string>): void | Promise<void>;
  /** Where the watcher says what it sees (default: the program's log). */
  log?(level: "info" | "warn", message: string): void;
}

/**
 * Stops `old` (after its last answer has been handed on, so nothing from it arrives later) and
 * starts a watcher with `options`, unless there are no sentinels to watch (then null).
 */
export async function replaceWatcher(
  old: SentinelWatcher | null,
  options: SentinelWatcherOptions | null,
): Promise<SentinelWatcher | null> {
  await old?.stop();
  if (options === null || options.servers.length === 0) return null;
  const watcher = new SentinelWatcher(options);
  watcher.start();
  return watcher;
}

/** How a subscription is retried after it ended. */
const RESUBSCRIBE_MS = [200, 500, 1000, 2000, 5000];
/** How often a subscribed connection is checked with PING. */
const SUBSCRIPTION_PING_MS = 5000;
/** Refreshes after a trigger: at once, then these later (sentinels that learn the new epoch late). */
const CONFIRM_REFRESH_MS = [1000, 5000];
/** How many times a refresh that no majority answered is tried again, a second apart. */
const REFRESH_ATTEMPTS = 10;

/**
 * Follows a product's masters through its sentinels: subscribes to `+switch-master` on each;
 * refreshes on every event for the product's names and whenever a majority of sentinels is
 * subscribed (at start, and after subscriptions come back).
 */
export class SentinelWatcher {
  readonly servers: readonly string[];
  #o: SentinelWatcherOptions;
  #log: (level: "info" | "warn", message: string) => void;
  #stopped = false;
  #subscribed = new Set<string>();
  #clients = new Set<RedisClient>();
  #loops: Promise<void>[] = [];
  #refreshing: Promise<void> | null = null;
  #again = false;
  #timers = new Map<ReturnType<typeof setTimeout>, () => void>();
  #masters = new Map<number, SentinelMaster>();
  /** Refreshes a majority answered. */
  refreshes = 0;
  /** Refreshes that fewer than a majority answered (nothing was switched). */
  failedRefreshes = 0;

  constructor(options: SentinelWatcherOptions) {
    this.#o = options;
    this.#log = options.log ?? ((level, message) => log[level](message));
    this.servers = [...options.servers];
  }

  /** How many answers (or subscriptions) make a majority. */
  get majority(): number {
    return Math.floor(this.servers.length / 2) + 1;
  }

  /** The masters of the last refresh a majority answered, with their epochs. */
  get masters(): ReadonlyMap<number, SentinelMaster> {
    return this.#masters;
  }

  /** Sentinels subscribed right now. */
  get subscribed(): number {
    return this.#subscribed.size;
  }

  start(): void {
    if (this.servers.length === 0) return;
    this.#loops = this.servers.map((addr) => this.#subscribeLoop(addr));
  }

  /** Stops every subscription and pending refresh. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const [t, done] of this.#timers) {
      clearTimeout(t);
      done();
    }
    this.#timers.clear();
    await Promise.all([...this.#clients].map((c) => c.close()));
    await Promise.all(this.#loops);
    await this.#refreshing;
  }

  async #subscribeLoop(addr: string): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      let client: RedisClient | null = null;
      let ping: ReturnType<typeof setInterval> | undefined;
      try {
        client = await RedisClient.connect(addr, {
          connectTimeoutMs: this.#o.timeoutMs,
          timeoutMs: this.#o.timeoutMs,
        });
        this.#clients.add(client);
        if (this.#stopped) break;
        await client.subscribe(["+switch-master"], (_channel, message) => this.#onSwitch(addr, message));
        failures = 0;
        this.#subscribed.add(addr);
        if (this.#subscribed.size >= this.majority) this.trigger(`${this.#subscribed.size} sentinels subscribed`);
        const c = client;
        ping = setInterval(() => void c.send(["PING"]).catch(() => {}), SUBSCRIPTION_PING_MS);
        const reason = await client.ended;
        if (!this.#stopped) this.#log("warn", `sentinel ${addr}: subscription ended: ${errorMessage(reason)}`);
      } catch (e) {
        if (!this.#stopped && failures === 0) {
          this.#log("warn", `sentinel ${addr}: cannot subscribe: ${errorMessage(e)}`);
        }
      } finally {
        clearInterval(ping);
        this.#subscribed.delete(addr);
        if (client) {
          this.#clients.delete(client);
          await client.close();
        }
      }
      if (this.#stopped) break;
      await this.#sleep(RESUBSCRIBE_MS[Math.min(failures++, RESUBSCRIBE_MS.length - 1)]);
    }
  }

  #onSwitch(addr: string, message: string): void {
    // "<name> <old ip> <old port> <new ip> <new port>"
    const name = message.split(" ")[0];
    if (groupOfMasterName(this.#o.product, name) === null) return;
    this.#log("warn", `sentinel ${addr}: +switch-master ${message}`);
    this.trigger(`+switch-master from ${addr}`);
  }

  /** Refreshes now, then twice more later to hear from sentinels that learn of a failover late. */
  trigger(why: string): void {
    if (this.#stopped) return;
    void this.#refreshSoon(why);
    for (const ms of CONFIRM_REFRESH_MS) {
      const t = setTimeout(() => {
        this.#timers.delete(t);
        void this.#refreshSoon(`${why}, confirming`);
      }, ms);
      this.#timers.set(t, () => {});
    }
  }

  /** One refresh at a time; a trigger during a refresh runs another right after it. */
  #refreshSoon(why: string): Promise<void> {
    if (this.#refreshing) {
      this.#again = true;
      return this.#refreshing;
    }
    this.#refreshing = (async () => {
      try {
        do {
          this.#again = false;
          for (let attempt = 1; attempt <= REFRESH_ATTEMPTS && !this.#stopped; attempt++) {
            if (await this.#refresh(why)) break;
            await this.#sleep(1000);
          }
        } while (this.#again && !this.#stopped);
      } finally {
        this.#refreshing = null;
      }
    })();
    return this.#refreshing;
  }

  /** Asks every sentinel; true when a majority answered (and the masters were handed on). */
  async #refresh(why: string): Promise<boolean> {
    const answers = await Promise.all(this.servers.map(async (addr) => {
      try {
        return await new SentinelAdmin(addr, Math.min(this.#o.timeoutMs, 5000)).masters();
      } catch {
        return null;
      }
    }));
    if (this.#stopped) return true;
    const answered = answers.filter((a): a is SentinelMaster[] => a !== null);
    if (answered.length < this.majority) {
      this.failedRefreshes++;
      this.#log(
        "warn",
        `sentinels: ${answered.length} of ${this.servers.length} answered (${why}), a majority is ${this.majority}: ` +
          `nothing switched`,
      );
      return false;
    }
    const best = pickMasters(this.#o.product, answered);
    this.#masters = best;
    this.refreshes++;
    await this.#o.onMasters(new Map([...best].map(([gid, m]) => [gid, m.addr])));
    return true;
  }

  #sleep(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#timers.delete(t);
        resolve();
      }, ms);
      this.#timers.set(t, resolve);
    });
  }
}
