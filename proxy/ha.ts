/**
 * The proxy's side of server HA (Codis's `Proxy.SwitchMasters`, `pkg/proxy/proxy.go`): the
 * sentinels the dashboard gave it, a {@linkcode SentinelWatcher} over them, and the masters they
 * agree on. When a group's master changes, its slots are re-pointed at once and marked
 * `switched`; a later fill (from a dashboard that has not seen the failover yet) is held to the
 * same masters, so no write goes to a master the sentinels have replaced.
 *
 * @module
 */

import { replaceWatcher, runIdOf, type SentinelWatcher } from "../redis/sentinel.ts";
import { errorMessage } from "../utils/errors.ts";
import { log } from "../utils/log.ts";
import type { SlotSpec } from "../coord/models.ts";
import { switchedSpecs } from "./router.ts";

/** What the HA part needs from the proxy. */
export interface HaHost {
  readonly productName: string;
  /** The servers' password (for the INFO that tells whether two addresses are one server). */
  readonly productAuth: string;
  /** How long a sentinel query may take. */
  readonly sentinelTimeoutMs: number;
  /** The slot table as it is now. */
  specs(): SlotSpec[];
  /** Installs changed slot states (the router's fill). */
  fill(specs: SlotSpec[]): Promise<void>;
}

/** How long the INFO asking a server's run_id may take (Codis: 100 ms). */
const RUN_ID_TIMEOUT_MS = 100;

/** The sentinels of one proxy and the masters they report. */
export class ProxyHa {
  #host: HaHost;
  #servers: string[] = [];
  #masters = new Map<number, string>();
  #watcher: SentinelWatcher | null = null;
  #switching: Promise<unknown> = Promise.resolve();
  #closed = false;
  /** Slots re-pointed by failovers since start. */
  switchedSlots = 0;

  constructor(host: HaHost) {
    this.#host = host;
  }

  /** The sentinels' addresses. */
  get servers(): readonly string[] {
    return this.#servers;
  }

  /** The watcher of the current sentinels (null when there are none). */
  get watcher(): SentinelWatcher | null {
    return this.#watcher;
  }

  /** Each group's master as the sentinels last agreed (`gid → addr`). */
  get masters(): ReadonlyMap<number, string> {
    return this.#masters;
  }

  /**
   * Takes a new list of sentinels (`PUT /api/proxy/sentinels`): forgets the masters learned from
   * the old list at once (the dashboard sends it after changing what the sentinels monitor), then
   * watches the new one.
   */
  async setSentinels(servers: readonly string[]): Promise<void> {
    this.#servers = [...servers];
    this.#masters = new Map();
    await this.rewatch();
  }

  /** Subscribes again to every sentinel and refreshes the masters. */
  async rewatch(): Promise<void> {
    const old = this.#watcher;
    this.#watcher = null;
    this.#watcher = await replaceWatcher(
      old,
      this.#closed ? null : {
        product: this.#host.productName,
        servers: this.#servers,
        timeoutMs: this.#host.sentinelTimeoutMs,
        onMasters: async (masters) => {
          await this.#onMasters(masters);
        },
      },
    );
  }

  /** `specs` with every slot whose group the sentinels moved to another master re-pointed (and marked). */
  async adjust(specs: SlotSpec[]): Promise<SlotSpec[]> {
    if (this.#masters.size === 0) return specs;
    const changed = await switchedSpecs(specs, this.#masters, (a, b) => this.#differ(a, b));
    if (changed.length === 0) return specs;
    const byId = new Map(changed.map((s) => [s.id, s]));
    for (const s of changed) {
      log.warn(`fill slot ${String(s.id).padStart(4, "0")}: group's master is ${s.backendAddr} (sentinels), +switched`);
    }
    return specs.map((s) => byId.get(s.id) ?? s);
  }

  #onMasters(masters: ReadonlyMap<number, string>): Promise<unknown> {
    // One at a time, in order. (A replaced watcher answers nothing more: replaceWatcher waits for it.)
    this.#switching = this.#switching.then(async () => {
      if (this.#closed) return;
      this.#masters = new Map(masters);
      try {
        const specs = await switchedSpecs(this.#host.specs(), masters, (a, b) => this.#differ(a, b));
        if (specs.length === 0) return;
        await this.#host.fill(specs);
        this.switchedSlots += specs.length;
        const groups = [...new Set(specs.map((s) => s.backendAddrGroupId))].sort((a, b) => a - b);
        log.warn(
          `sentinels: switched ${specs.length} slots to the new masters of group ${
            groups.map((g) => `${g} (${masters.get(g)})`).join(", ")
          }`,
        );
      } catch (e) {
        log.error(`sentinels: switching masters failed: ${errorMessage(e)}`);
      }
    });
    return this.#switching;
  }

  /** Two addresses are different servers unless both answer with the same run_id (Codis's check). */
  async #differ(current: string, reported: string): Promise<boolean> {
    const options = {
      password: this.#host.productAuth,
      connectTimeoutMs: RUN_ID_TIMEOUT_MS,
      timeoutMs: RUN_ID_TIMEOUT_MS,
    };
    const [a, b] = await Promise.all([runIdOf(current, options), runIdOf(reported, options)]);
    return a === "" || a !== b;
  }

  /** Codis's `sentinels` part of the stats. */
  toJson(switched: boolean): { servers?: string[]; masters?: Record<string, string>; switched?: boolean } {
    const out: { servers?: string[]; masters?: Record<string, string>; switched?: boolean } = {};
    if (this.#servers.length > 0) out.servers = [...this.#servers];
    if (this.#masters.size > 0) {
      out.masters = Object.fromEntries([...this.#masters].sort((a, b) => a[0] - b[0]).map(([g, a]) => [String(g), a]));
    }
    if (switched) out.switched = true;
    return out;
  }

  /** Stops watching. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const w = this.#watcher;
    this.#watcher = null;
    await replaceWatcher(w, null);
    await this.#switching;
  }
}
