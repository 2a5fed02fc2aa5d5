/**
 * `dashboard.toml`: Codis's keys and defaults (Codis's `pkg/topom/config.go`), parsed into
 * {@linkcode DashboardConfig}.
 *
 * @module
 */

import { ConfigError, type ConfigField, configToJson, parseConfig, renderToml } from "../utils/toml_config.ts";
import { isValidProductName } from "../utils/xauth.ts";
import { backendName } from "../coord/open.ts";

/** The dashboard's configuration. Durations are in milliseconds, sizes in bytes. */
export interface DashboardConfig {
  coordinatorName: string;
  coordinatorAddr: string;
  coordinatorAuth: string;
  productName: string;
  productAuth: string;
  /** The secret that admin API changes need (xauth derived from it, or a Bearer header); "" = loopback only. */
  adminAuth: string;
  adminAddr: string;
  /** How long the lock outlives a dashboard that died (etcd lease, ZooKeeper session). */
  lockTimeout: number;
  /** Reach the servers over TLS. */
  backendTls: boolean;
  /** PEM file of the authority that signed the servers' certificates ("" = the system's). */
  backendTlsCa: string;
  /** The Redis ACL user the dashboard creates for the proxies on every server ("" = none, as Codis). */
  proxyAclUser: string;
  migrationMethod: string;
  migrationParallelSlots: number;
  migrationAsyncMaxbulks: number;
  migrationAsyncMaxbytes: number;
  migrationAsyncNumkeys: number;
  migrationTimeout: number;
  /** Adaptive pacing: the longest a MIGRATE of the mover may stall a server, ms (0 = fixed batches, as Codis). */
  migrationLatencyBound: number;
  sentinelClientTimeout: number;
  sentinelQuorum: number;
  sentinelParallelSyncs: number;
  sentinelDownAfter: number;
  sentinelFailoverTimeout: number;
  sentinelNotificationScript: string;
  sentinelClientReconfigScript: string;
}

/** Codis 3.2's defaults. */
export const DEFAULT_DASHBOARD_CONFIG: Readonly<DashboardConfig> = {
  coordinatorName: "filesystem",
  coordinatorAddr: "/tmp/codis",
  coordinatorAuth: "",
  productName: "codis-demo",
  productAuth: "",
  adminAuth: "",
  adminAddr: "0.0.0.0:18080",
  lockTimeout: 10_000,
  backendTls: false,
  backendTlsCa: "",
  proxyAclUser: "codis-proxy",
  migrationMethod: "semi-async",
  migrationParallelSlots: 100,
  migrationAsyncMaxbulks: 200,
  migrationAsyncMaxbytes: 32 * 1024 * 1024,
  migrationAsyncNumkeys: 500,
  migrationTimeout: 30_000,
  migrationLatencyBound: 0,
  sentinelClientTimeout: 10_000,
  sentinelQuorum: 2,
  sentinelParallelSyncs: 1,
  sentinelDownAfter: 30_000,
  sentinelFailoverTimeout: 5 * 60_000,
  sentinelNotificationScript: "",
  sentinelClientReconfigScript: "",
};

type F = ConfigField<DashboardConfig>;

/** Every key of `dashboard.toml`, in the order of Codis's default file. */
export const DASHBOARD_CONFIG_FIELDS: readonly F[] = [
  {
    key: "coordinator_name",
    prop: "coordinatorName",
    kind: "string",
    doc: 'Set Coordinator, only accept "zookeeper", "etcd" & "filesystem".',
  },
  {
    key: "coordinator_addr",
    prop: "coordinatorAddr",
    kind: "string",
    doc: "ZooKeeper/etcd addresses (comma separated), or the root directory of the filesystem store.",
  },
  {
    key: "coordinator_auth",
    prop: "coordinatorAuth",
    kind: "string",
    doc: 'for zookeeper/etcd, coorinator_auth accept "user:password"',
  },
  { key: "product_name", prop: "productName", kind: "string", doc: "Set Codis Product Name/Auth." },
  {
    key: "admin_auth",
    prop: "adminAuth",
    kind: "string",
    doc: "Secret for the admin API: changes need an xauth derived from it, or 'Authorization: Bearer <it>'.\n" +
      "Give every proxy and the dashboard the same one. Empty: changes are accepted from this machine only.",
    secret: true,
  },
  { key: "product_auth", prop: "productAuth", kind: "string", doc: "Password of the Redis servers.", secret: true },
  { key: "admin_addr", prop: "adminAddr", kind: "string", doc: "Set bind address for admin(rpc), tcp only." },
  {
    key: "lock_timeout",
    prop: "lockTimeout",
    kind: "duration",
    doc: "etcd/ZooKeeper: the product's lock is a lease/session node that outlives a dashboard that died by\n" +
      "this long; a dashboard started with --standby takes over then. (The filesystem lock stays until removed.)",
  },
  {
    key: "backend_tls",
    prop: "backendTls",
    kind: "bool",
    doc: "Reach the Redis servers over TLS (their tls-port); MIGRATE between them then needs tls-cluster yes.",
  },
  {
    key: "backend_tls_ca",
    prop: "backendTlsCa",
    kind: "string",
    doc: "PEM file of the CA that signed the servers' certificates (empty: the system's CAs).",
  },
  {
    key: "proxy_acl_user",
    prop: "proxyAclUser",
    kind: "string",
    doc: "Create this Redis ACL user on every server for the proxies to log in as (their backend_acl_user):\n" +
      'it cannot run what the proxy refuses, so scripts cannot either. "" = none (Codis\'s behaviour).',
  },
  {
    key: "migration_method",
    prop: "migrationMethod",
    kind: "string",
    doc:
      'Set arguments for data migration (only accept "sync" & "semi-async"). "semi-async" moves big keys in pieces\n' +
      '(found by one more pass over each source); "sync" moves every key with MIGRATE (faster bulk moves, but a big\n' +
      "key stalls both servers while it moves).",
  },
  {
    key: "migration_parallel_slots",
    prop: "migrationParallelSlots",
    kind: "int",
    doc: "Most slots migrated at the same time.",
  },
  {
    key: "migration_async_maxbulks",
    prop: "migrationAsyncMaxbulks",
    kind: "int",
    doc: "Elements per chunk of a big key moved in pieces (a key over 16 chunks is big).",
  },
  {
    key: "migration_async_maxbytes",
    prop: "migrationAsyncMaxbytes",
    kind: "size",
    doc: "Bytes per chunk of a big key moved in pieces (a key using more memory is big).",
  },
  {
    key: "migration_async_numkeys",
    prop: "migrationAsyncNumkeys",
    kind: "int",
    doc: "Keys moved by one MIGRATE of the background mover.",
  },
  {
    key: "migration_timeout",
    prop: "migrationTimeout",
    kind: "duration",
    doc: "Timeout of each MIGRATE (and of the mover's connections).",
  },
  {
    key: "migration_latency_bound",
    prop: "migrationLatencyBound",
    kind: "duration",
    doc:
      'Adaptive pacing: the longest one MIGRATE of the mover may stall a server (e.g. "2ms"); the mover sizes its\n' +
      "batches to stay under it and pauses as long as each MIGRATE took. 0 = fixed batches of migration_async_numkeys.",
  },
  {
    key: "sentinel_client_timeout",
    prop: "sentinelClientTimeout",
    kind: "duration",
    doc: "Set configs for redis sentinel.",
  },
  { key: "sentinel_quorum", prop: "sentinelQuorum", kind: "int", doc: "SENTINEL MONITOR quorum." },
  { key: "sentinel_parallel_syncs", prop: "sentinelParallelSyncs", kind: "int", doc: "Sentinel parallel-syncs." },
  { key: "sentinel_down_after", prop: "sentinelDownAfter", kind: "duration", doc: "Sentinel down-after-milliseconds." },
  {
    key: "sentinel_failover_timeout",
    prop: "sentinelFailoverTimeout",
    kind: "duration",
    doc: "Sentinel failover-timeout.",
  },
  {
    key: "sentinel_notification_script",
    prop: "sentinelNotificationScript",
    kind: "string",
    doc: "Sentinel notification-script (set only when not empty).",
  },
  {
    key: "sentinel_client_reconfig_script",
    prop: "sentinelClientReconfigScript",
    kind: "string",
    doc: "Sentinel client-reconfig-script (set only when not empty).",
  },
];

const HEADER = `
##################################################
#                                                #
#                  Codis-Dashboard               #
#                                                #
##################################################
# Durations: "30s", "1m30s", "500ms" (a bare number is seconds).
# Sizes: "128kb", "1mb" (binary units; a bare number is bytes).
`;

/** Parses `dashboard.toml` text on top of the defaults, then validates the result. */
export function parseDashboardConfig(text: string, source = "dashboard.toml"): DashboardConfig {
  return validateDashboardConfig(parseConfig(DASHBOARD_CONFIG_FIELDS, { ...DEFAULT_DASHBOARD_CONFIG }, text, source));
}

/** Checks the rules Codis checks; throws {@linkcode ConfigError} naming the key. */
export function validateDashboardConfig(c: DashboardConfig): DashboardConfig {
  const bad = (key: string, why: string) => new ConfigError(`Invalid dashboard config: ${key} ${why}`);
  if (!c.coordinatorName) throw bad("coordinator_name", "is empty");
  if (!backendName(c.coordinatorName)) {
    throw bad("coordinator_name", `"${c.coordinatorName}" is not zookeeper, etcd or filesystem`);
  }
  if (!c.coordinatorAddr) throw bad("coordinator_addr", "is empty");
  if (!c.adminAddr) throw bad("admin_addr", "is empty");
  if (!c.productName) throw bad("product_name", "is empty");
  if (!isValidProductName(c.productName)) throw bad("product_name", `"${c.productName}" must match ^\\w[\\w.-]*$`);
  const method = c.migrationMethod.toLowerCase();
  if (method !== "sync" && method !== "semi-async") {
    throw bad("migration_method", `"${c.migrationMethod}" is not sync or semi-async`);
  }
  c.migrationMethod = method;
  const positive: [keyof DashboardConfig, string][] = [
    ["migrationParallelSlots", "migration_parallel_slots"],
    ["migrationAsyncMaxbulks", "migration_async_maxbulks"],
    ["migrationAsyncMaxbytes", "migration_async_maxbytes"],
    ["migrationAsyncNumkeys", "migration_async_numkeys"],
    ["migrationTimeout", "migration_timeout"],
    ["lockTimeout", "lock_timeout"],
    ["sentinelClientTimeout", "sentinel_client_timeout"],
    ["sentinelQuorum", "sentinel_quorum"],
    ["sentinelParallelSyncs", "sentinel_parallel_syncs"],
    ["sentinelDownAfter", "sentinel_down_after"],
    ["sentinelFailoverTimeout", "sentinel_failover_timeout"],
  ];
  for (const [prop, key] of positive) {
    if (!((c[prop] as number) > 0)) throw bad(key, "must be greater than 0");
  }
  return c;
}

/**
 * Keys a running dashboard applies on a reload (SIGHUP): the migration settings take effect at the
 * next batch, the sentinel settings at the next `--sentinel-resync` (the client timeout at once).
 */
export const DASHBOARD_LIVE_KEYS: ReadonlySet<string> = new Set([
  "migration_method",
  "migration_parallel_slots",
  "migration_async_maxbulks",
  "migration_async_maxbytes",
  "migration_async_numkeys",
  "migration_timeout",
  "migration_latency_bound",
  "sentinel_client_timeout",
  "sentinel_quorum",
  "sentinel_parallel_syncs",
  "sentinel_down_after",
  "sentinel_failover_timeout",
  "sentinel_notification_script",
  "sentinel_client_reconfig_script",
]);

/** The default `dashboard.toml`, with comments (`codis-dashboard --default-config`). */
export function defaultDashboardToml(): string {
  return renderToml(DASHBOARD_CONFIG_FIELDS, DEFAULT_DASHBOARD_CONFIG, HEADER);
}

/** The configuration as the API shows it (product_auth left out; coordinator_auth shown, as Codis does). */
export function dashboardConfigJson(c: DashboardConfig): Record<string, string | number | boolean> {
  return configToJson(DASHBOARD_CONFIG_FIELDS, c);
}
