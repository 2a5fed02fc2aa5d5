/**
 * Registering, bringing online and removing proxies, with Codis's rules and texts
 * (`pkg/topom/topom_proxy.go`).
 *
 * @module
 */

import type { StoredProxy } from "../coord/store.ts";
import { ProxyAdminClient } from "../api/proxy_client.ts";
import { conflict, errorMessage, invalid, upstream } from "../utils/errors.ts";
import { log } from "../utils/log.ts";
import { proxyXAuth } from "../utils/xauth.ts";
import { checkAddr, type Topom } from "./topom.ts";

/** How long probing a new proxy may take. */
const PROBE_TIMEOUT_MS = 5000;

/** The proxy mutations of one dashboard. */
export class Proxies {
  #t: Topom;

  constructor(topom: Topom) {
    this.#t = topom;
  }

  /** Registers a new proxy by its admin address and brings it online. */
  create(addr: string): Promise<void> {
    const t = this.#t;
    return t.exclusive(async () => {
      const p = await this.#probe(addr);
      if (t.ctx().snapshot.proxies.has(p.model.token)) throw conflict(`proxy-[${p.model.token}] already exists`);
      p.id = t.ctx().nextProxyId();
      await t.storeProxy(p);
      log.info(`proxy-[${p.model.token}] ${addr} created`);
      await t.reinitProxy(p);
    });
  }

  /** Registers (or updates) a proxy and brings it online: what a proxy started with --dashboard asks for. */
  online(addr: string): Promise<void> {
    const t = this.#t;
    return t.exclusive(async () => {
      const p = await this.#probe(addr);
      p.id = t.ctx().snapshot.proxies.get(p.model.token)?.id ?? t.ctx().nextProxyId();
      await t.storeProxy(p);
      log.info(`proxy-[${p.model.token}] ${addr} online`);
      await t.reinitProxy(p);
    });
  }

  /** Fills every slot on the proxy again and starts it. */
  reinit(token: string): Promise<void> {
    return this.#t.exclusive(() => this.#t.reinitProxy(this.#t.proxy(token)));
  }

  /** Re-onlines a registered proxy that came back empty (restarted at the same address). */
  reonline(token: string): Promise<void> {
    const t = this.#t;
    return t.exclusive(async () => {
      const p = t.ctx().snapshot.proxies.get(token);
      if (!p) return;
      // Brought online meanwhile (by its own online call, say)?
      const now = await t.proxyClient(p).stats().catch(() => null);
      if (!now || now.online) return;
      log.warn(`proxy-[${token}] ${p.model.adminAddr} is up but offline (restarted?): bringing it online`);
      // Its model (start time, pid) changed with the restart.
      const fresh = await this.#probe(p.model.adminAddr).catch(() => null);
      if (fresh && fresh.model.token === token) await t.storeProxy({ ...fresh, id: p.id });
      await t.reinitProxy(t.proxy(token));
    });
  }

  /** Shuts a proxy down and forgets it; with `force`, forgets it even when it cannot be reached. */
  remove(token: string, force: boolean): Promise<void> {
    const t = this.#t;
    return t.exclusive(async () => {
      const p = t.proxy(token);
      try {
        await t.proxyClient(p).shutdown();
      } catch (e) {
        if (!force) {
          throw upstream(
            `proxy-[${token}] shutdown failed: ${errorMessage(e)} (remove it with force to forget it anyway)`,
            { cause: e },
          );
        }
        log.warn(`proxy-[${token}] shutdown failed, removed by force: ${errorMessage(e)}`);
      }
      await t.deleteProxy(token);
    });
  }

  /** Fetches a proxy's model and checks its xauth, as Codis does before registering it. */
  async #probe(addr: string): Promise<StoredProxy> {
    const config = this.#t.config;
    checkAddr(addr, "proxy");
    const client = new ProxyAdminClient(addr, "", PROBE_TIMEOUT_MS, config.adminAuth);
    let model;
    try {
      model = await client.model();
    } catch (e) {
      throw upstream(`proxy@${addr} fetch model failed, ${errorMessage(e)}`, { cause: e });
    }
    if (model.productName !== config.productName) {
      throw invalid(`proxy@${addr} belongs to product "${model.productName}", not "${config.productName}"`);
    }
    if (!/^[0-9A-Za-z_-]{1,64}$/.test(model.token)) {
      throw invalid(`proxy@${addr} has an invalid token "${model.token}"`);
    }
    client.xauth = proxyXAuth(config.productName, config.adminAuth, config.productAuth, model.token);
    try {
      await client.xping();
    } catch (e) {
      throw upstream(`proxy@${addr} check xauth failed, ${errorMessage(e)}`, { cause: e });
    }
    return { id: 0, model };
  }
}
