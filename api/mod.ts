/**
 * The contract between the programs: the JSON the proxies and the dashboard report, as schemas
 * that validate it and give its types, and typed clients of both admin APIs. The proxy, the
 * dashboard, codis-admin and codis-fe all use this module, and none of them imports another.
 *
 * @module
 */

export * from "./proxy_stats.ts";
export * from "./topom_stats.ts";
export { ProxyAdminClient } from "./proxy_client.ts";
export { DashboardClient, type RebalanceReply } from "./dashboard_client.ts";
export { checkReply } from "./reply.ts";
