/**
 * Jodis registration (Codis's `pkg/proxy/jodis.go`): once online, the proxy keeps an ephemeral
 * node `/jodis/{product}/proxy-{token}` (Codis 2's `/zk/codis/db_{product}/proxy/{token}` with
 * `jodis_compatible`) in ZooKeeper or etcd, so that Jodis-style clients find the live proxies.
 * Lost nodes are made again (back-off 1 s → 30 s); the node is deleted when the proxy closes.
 *
 * @module
 */

import { type CoordClient, type EphemeralNode, parentPath } from "../coord/client.ts";
import { openClient } from "../coord/open.ts";
import { delay } from "../utils/async.ts";
import { log } from "../utils/log.ts";
import type { ProxyConfig } from "./config.ts";
import type { ProxyModel } from "../coord/models.ts";
import { utf8 } from "../utils/bytes.ts";
import { toCodisJson } from "../utils/json.ts";
import { errorMessage } from "../utils/errors.ts";

/** Where the proxy registers. */
export function jodisPath(config: ProxyConfig, token: string): string {
  return config.jodisCompatible
    ? `/zk/codis/db_${config.productName}/proxy/${token}`
    : `/jodis/${config.productName}/proxy-${token}`;
}

export class Jodis {
  readonly path: string;
  #config: ProxyConfig;
  #model: ProxyModel;
  #client: CoordClient | null = null;
  #node: EphemeralNode | null = null;
  #running: Promise<void> | null = null;
  #stop = new AbortController();
  /** Resolves with null once stopped: raced against the node's loss. */
  #stopped: Promise<null>;

  constructor(config: ProxyConfig, model: ProxyModel) {
    this.#config = config;
    this.#model = model;
    this.path = jodisPath(config, model.token);
    this.#stopped = new Promise((resolve) =>
      this.#stop.signal.addEventListener("abort", () => resolve(null), { once: true })
    );
  }

  /** The node's content, as Codis writes it. */
  get data(): Uint8Array {
    return utf8(toCodisJson({
      addr: this.#model.proxyAddr,
      admin: this.#model.adminAddr,
      start: this.#model.startTime,
      token: this.#model.token,
      state: "online",
    }));
  }

  /** Starts keeping the node (idempotent). */
  start(): void {
    if (this.#running || this.#stop.signal.aborted) return;
    this.#running = this.#keep();
  }

  async #keep(): Promise<void> {
    let backoff = 1000;
    const stop = this.#stop.signal;
    while (!stop.aborted) {
      try {
        this.#client ??= await openClient(this.#config.jodisName, this.#config.jodisAddr, {
          auth: this.#config.jodisAuth,
          sessionTimeoutMs: this.#config.jodisTimeout,
          timeoutMs: 10_000,
        });
        // A node left by a previous run of this proxy (same token) is ours to replace.
        await this.#client.delete(this.path);
        if (stop.aborted) return;
        this.#node = await this.#client.createEphemeral(this.path, this.data);
        log.info(`jodis: registered ${this.path}`);
        if (stop.aborted) return;
        backoff = 1000;
        // Lost with the session or lease, or deleted by someone else (seen by watching the directory).
        let onDeleted!: (e: Error) => void;
        const deleted = new Promise<Error>((r) => onDeleted = r);
        const client = this.#client;
        const watch = await client.watch(parentPath(this.path), () => {
          client.read(this.path).then((d) => {
            if (d === null) onDeleted(new Error(`${this.path} was deleted`));
          }, () => {});
        });
        const lost = await Promise.race([
          this.#node.lost,
          deleted,
          this.#stopped,
        ]);
        await watch.close();
        if (lost === null) return; // stopped
        log.warn(`jodis: ${lost.message}; registering again`);
        // Let go of the old one (an etcd lease would otherwise be kept alive for nothing).
        await this.#node.remove().catch(() => {});
        this.#node = null;
      } catch (e) {
        if (stop.aborted) return;
        log.warn(`jodis: cannot register ${this.path}: ${errorMessage(e)}`);
        await this.#client?.close().catch(() => {});
        this.#client = null;
        await delay(backoff, { signal: stop });
        backoff = Math.min(backoff * 2, 30_000);
      }
    }
  }

  /** Deletes the node and stops. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#running;
    try {
      await this.#node?.remove();
    } catch (e) {
      log.warn(`jodis: cannot remove ${this.path}: ${errorMessage(e)}`);
    }
    await this.#client?.close().catch(() => {});
    this.#client = null;
  }
}
