/**
 * How a proxy comes online by itself (Codis's `cmd/proxy/main.go`): ask the dashboard to register
 * it (`--dashboard=ADDR`), or first find the dashboard in the store
 * (`--zookeeper/--etcd/--filesystem`).
 *
 * @module
 */

import { DashboardClient } from "../api/dashboard_client.ts";
import { topomFromJson } from "../coord/models.ts";
import { type CoordinatorChoice, openClient } from "../coord/open.ts";
import { ProductStore } from "../coord/store.ts";
import { delay } from "../utils/async.ts";
import { log } from "../utils/log.ts";
import { dashboardXAuth } from "../utils/xauth.ts";

/** What coming online needs from the proxy. */
export interface OnlineTarget {
  readonly closed: boolean;
  readonly config: { readonly productName: string; readonly adminAuth: string };
  readonly model: { readonly adminAddr: string };
}
import { fromUtf8 } from "../utils/bytes.ts";
import { errorMessage } from "../utils/errors.ts";

/** Tries, waits `delayMs`, tries again, up to `attempts` times; stops early if the proxy closes. */
async function retry<T>(
  proxy: OnlineTarget,
  what: string,
  attempts: number,
  delayMs: number,
  fn: () => Promise<T>,
): Promise<T> {
  let last: unknown;
  for (let i = 1; i <= attempts; i++) {
    if (proxy.closed) throw new Error(`${what}: the proxy is closed`);
    try {
      return await fn();
    } catch (e) {
      last = e;
      log.warn(`${what} failed (attempt ${i} of ${attempts}): ${errorMessage(e)}`);
    }
    if (i < attempts) await delay(delayMs);
  }
  throw new Error(`${what} failed ${attempts} times: ${errorMessage(last)}`);
}

/** Asks the dashboard at `addr` to bring this proxy online (10 attempts, 3 s apart, as Codis). */
export async function onlineViaDashboard(proxy: OnlineTarget, addr: string, delayMs = 3000): Promise<void> {
  await retry(proxy, `online proxy via dashboard ${addr}`, 10, delayMs, async () => {
    const dashboard = new DashboardClient(addr, "", 30_000, proxy.config.adminAuth);
    const model = await dashboard.model();
    if (model.productName !== proxy.config.productName) {
      throw new Error(`dashboard ${addr} manages product "${model.productName}", not "${proxy.config.productName}"`);
    }
    dashboard.xauth = dashboardXAuth(model.productName, proxy.config.adminAuth);
    await dashboard.onlineProxy(proxy.model.adminAddr);
  });
  log.info(`rpc online proxy seems OK (dashboard ${addr})`);
}

/** Finds the dashboard's address in the store (30 attempts, 3 s apart, as Codis), then goes online through it. */
export async function onlineViaStore(proxy: OnlineTarget, choice: CoordinatorChoice, delayMs = 3000): Promise<void> {
  const addr = await retry(proxy, `find the dashboard in ${choice.name} ${choice.addr}`, 30, delayMs, async () => {
    const client = await openClient(choice.name, choice.addr, { auth: choice.auth, timeoutMs: 10_000 });
    try {
      const store = new ProductStore(client, proxy.config.productName);
      const data = await client.read(store.lockPath);
      if (!data || data.length === 0) {
        throw new Error(`no dashboard holds product "${proxy.config.productName}" (${store.lockPath} is absent)`);
      }
      return topomFromJson(JSON.parse(fromUtf8(data))).adminAddr;
    } finally {
      await client.close();
    }
  });
  await onlineViaDashboard(proxy, addr, delayMs);
}
