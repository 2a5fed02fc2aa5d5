/**
 * codis-deno: a Codis-class distributed Redis cluster on Deno, as a library. The programs
 * (`deno task proxy|dashboard|admin`) are built from these same parts.
 *
 * - start a proxy or a dashboard in-process: {@linkcode startProxy}, {@linkcode startDashboard};
 * - talk to their admin APIs: {@linkcode ProxyAdminClient}, {@linkcode DashboardClient};
 * - the coordinator store: {@linkcode openClient} (filesystem, etcd, ZooKeeper), {@linkcode ProductStore};
 * - RESP and slots: {@linkcode RequestScanner}, {@linkcode ReplyScanner}, {@linkcode RedisClient},
 *   {@linkcode slotOf}.
 *
 * @example
 * ```ts
 * import { DEFAULT_PROXY_CONFIG, startProxy } from "./mod.ts";
 * const slots = Array.from({ length: 1024 }, (_, id) => ({
 *   id, locked: false, backendAddr: "127.0.0.1:6379", backendAddrGroupId: 1,
 *   migrateFrom: "", migrateFromGroupId: 0, forwardMethod: 1, replicaGroups: [],
 * }));
 * const proxy = await startProxy({
 *   config: { ...DEFAULT_PROXY_CONFIG, proxyAddr: "127.0.0.1:19000", adminAddr: "127.0.0.1:11080" },
 *   fillSlots: slots,
 * });
 * ```
 *
 * @module
 */

export {
  DEFAULT_PROXY_CONFIG,
  parseProxyConfig,
  type Proxy,
  type ProxyConfig,
  type ProxyOptions,
  startProxy,
} from "./proxy/mod.ts";
export {
  type Dashboard,
  type DashboardConfig,
  type DashboardOptions,
  DEFAULT_DASHBOARD_CONFIG,
  parseDashboardConfig,
  startDashboard,
} from "./dashboard/mod.ts";
export { DashboardClient, ProxyAdminClient } from "./api/mod.ts";
export {
  type CoordClient,
  openClient,
  ProductStore,
  type SlotMapping,
  type SlotSpec,
  StoreError,
} from "./coord/mod.ts";
export {
  NEED_MORE,
  PROTOCOL_ERROR,
  RedisClient,
  ReplyScanner,
  RequestScanner,
  slotOf,
  slotOfString,
} from "./redis/mod.ts";
export { VERSION, VERSION_TEXT } from "./utils/version.ts";
