/**
 * Live reconfiguration of a running proxy (`SIGHUP`, `PUT /api/proxy/reload/:xauth`,
 * `codis-admin --proxy=ADDR --reload`): the new `proxy.toml` is parsed and checked in full first
 * (a bad file changes nothing), then each changed key is applied at once, or to sessions opened
 * from now on, or reported as needing a restart.
 *
 * @module
 */

import { planReload, type ReloadPlan } from "../utils/toml_config.ts";
import { PROXY_CONFIG_FIELDS, type ProxyConfig } from "./config.ts";

/** What a reload did, by `proxy.toml` key. */
export type ReloadResult = Omit<ReloadPlan<ProxyConfig>, "props">;

/** Keys applied at once (the proxy reads them on use, or the reload pushes them where they are used). */
export const LIVE_KEYS: ReadonlySet<string> = new Set([
  "proxy_max_clients",
  "session_recv_timeout",
  "session_send_timeout",
  "session_break_on_failure",
  "session_output_soft_limit",
  "session_output_soft_seconds",
  "session_output_hard_limit",
  "slot_lock_timeout",
  "backend_primary_only",
  "backend_primary_parallel",
  "backend_replica_parallel",
  "backend_recv_timeout",
  "backend_send_timeout",
  "backend_max_pipeline",
  "backend_max_dedicated",
  "backend_ping_period",
  "slowlog_log_slower_than",
  "slowlog_max_len",
  "log_level",
  "proxy_allow_flush",
  "metrics_report_server",
  "metrics_report_period",
  "metrics_report_influxdb_server",
  "metrics_report_influxdb_period",
  "metrics_report_influxdb_username",
  "metrics_report_influxdb_password",
  "metrics_report_influxdb_database",
  "metrics_report_statsd_server",
  "metrics_report_statsd_period",
  "metrics_report_statsd_prefix",
]);

/** Keys a session reads when it starts. */
export const NEW_SESSION_KEYS: ReadonlySet<string> = new Set([
  "session_auth",
  "session_max_pipeline",
  "session_recv_bufsize",
  "session_keepalive_period",
  "max_bulk_length",
  "max_array_length",
]);

/** The plan of reloading `b` over the running `a` (nothing is applied here). */
export function planProxyReload(a: ProxyConfig, b: ProxyConfig): ReloadPlan<ProxyConfig> {
  return planReload(PROXY_CONFIG_FIELDS, a, b, LIVE_KEYS, NEW_SESSION_KEYS);
}
