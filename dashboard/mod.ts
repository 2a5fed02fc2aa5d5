/**
 * codis-dashboard: the cluster's controller. It owns the product's state in the coordinator
 * store, serves Codis's REST API, pushes slot tables to the proxies, runs slot migrations and
 * sync actions, and collects every server's and proxy's stats.
 *
 * @example
 * ```ts
 * import { DEFAULT_DASHBOARD_CONFIG, startDashboard } from "./mod.ts";
 * const dashboard = await startDashboard({
 *   config: { ...DEFAULT_DASHBOARD_CONFIG, coordinatorAddr: "/tmp/codis", adminAddr: "127.0.0.1:18080" },
 * });
 * await dashboard.close();
 * ```
 *
 * @module
 */

export { Dashboard, type DashboardOptions, startDashboard } from "./dashboard.ts";
export {
  type DashboardConfig,
  DEFAULT_DASHBOARD_CONFIG,
  defaultDashboardToml,
  parseDashboardConfig,
  validateDashboardConfig,
} from "./config.ts";
