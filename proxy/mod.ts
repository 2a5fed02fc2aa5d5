/**
 * codis-proxy: a Redis proxy sharding keys over groups of stock Redis servers by Codis's slots.
 *
 * @example
 * ```ts
 * import { DEFAULT_PROXY_CONFIG, startProxy } from "./mod.ts";
 * const proxy = await startProxy({ config: { ...DEFAULT_PROXY_CONFIG, proxyAddr: "127.0.0.1:19000" } });
 * await proxy.fillSlots(slots); // or PUT /api/proxy/fillslots/:xauth
 * proxy.start();
 * ```
 *
 * @module
 */

export { Proxy, type ProxyOptions, startProxy } from "./proxy.ts";
export {
  DEFAULT_PROXY_CONFIG,
  defaultProxyToml,
  parseProxyConfig,
  PROXY_CONFIG_FIELDS,
  type ProxyConfig,
  validateProxyConfig,
} from "./config.ts";
export { type CommandInfo, commandNamed, COMMANDS, isReadOnly } from "./command_table.ts";
export { proxyAdminApp } from "./admin_api.ts";
