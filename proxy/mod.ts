/**
 * codis-proxy: a Redis proxy sharding keys over groups of stock Redis servers by Codis's slots.
 *
 * @example
 * ```ts
 * import { DEFAULT_PROXY_CONFIG, startProxy } from "./mod.ts";
 * // Every slot on one Redis; or leave fillSlots out and use PUT /api/proxy/fillslots/:xauth, /api/proxy/start/:xauth.
 * const slots = Array.from({ length: 1024 }, (_, id) => ({
 *   id, locked: false, backendAddr: "127.0.0.1:6379", backendAddrGroupId: 1,
 *   migrateFrom: "", migrateFromGroupId: 0, forwardMethod: 1, replicaGroups: [],
 * }));
 * const proxy = await startProxy({
 *   config: { ...DEFAULT_PROXY_CONFIG, proxyAddr: "127.0.0.1:19000", adminAddr: "127.0.0.1:11080" },
 *   fillSlots: slots,
 * });
 * await proxy.close();
 * ```
 *
 * @module
 */

export { Proxy, type ProxyOptions, startProxy } from "./proxy.ts";
export {
  DEFAULT_PROXY_CONFIG,
  defaultProxyToml,
  parseProxyConfig,
  type ProxyConfig,
  validateProxyConfig,
} from "./config.ts";
export { type CommandInfo, commandNamed, COMMANDS, isReadOnly } from "./command_table.ts";
