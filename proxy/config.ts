/**
 * `proxy.toml`: Codis's keys and defaults, parsed into {@linkcode ProxyConfig}.
 *
 * @module
 */

import { parseLogLevel } from "../utils/log.ts";
import {
  ConfigError,
  type ConfigError as _ConfigError,
  type ConfigField,
  configToJson,
  parseConfig,
  renderToml,
} from "../utils/toml_config.ts";
import { isValidProductName } from "../utils/xauth.ts";
import { DEFAULT_RESP_LIMITS } from "../redis/resp_scanner.ts";

/** The proxy's configuration. Durations are in milliseconds, sizes in bytes. */
export interface ProxyConfig {
  productName: string;
  productAuth: string;
  sessionAuth: string;
  /** The secret that admin API changes need (xauth derived from it, or a Bearer header); "" = loopback only. */
  adminAuth: string;
  adminAddr: string;
  protoType: string;
  proxyAddr: string;
  jodisName: string;
  jodisAddr: string;
  jodisAuth: string;
  jodisTimeout: number;
  jodisCompatible: boolean;
  proxyDatacenter: string;
  proxyMaxClients: number;
  backendPingPeriod: number;
  backendRecvBufsize: number;
  backendRecvTimeout: number;
  backendSendBufsize: number;
  backendSendTimeout: number;
  backendMaxPipeline: number;
  /** Most dedicated connections (transactions, blocking commands, subscriptions) per server and database. */
  backendMaxDedicated: number;
  backendPrimaryOnly: boolean;
  backendPrimaryParallel: number;
  backendReplicaParallel: number;
  backendKeepalivePeriod: number;
  backendNumberDatabases: number;
  sessionRecvBufsize: number;
  sessionRecvTimeout: number;
  sessionSendBufsize: number;
  sessionSendTimeout: number;
  sessionMaxPipeline: number;
  sessionKeepalivePeriod: number;
  sessionBreakOnFailure: boolean;
  /** PEM certificate and key files: when both are set, clients connect over TLS. */
  proxyTlsCert: string;
  proxyTlsKey: string;
  /** Reach the servers over TLS. */
  backendTls: boolean;
  /** PEM file of the authority that signed the servers' certificates ("" = the system's). */
  backendTlsCa: string;
  /** The Redis ACL user to log in to servers as ("" = the default user with product_auth, as Codis). */
  backendAclUser: string;
  /** Its password ("" = derived from product_name and product_auth, as the dashboard creates it). */
  backendAclPassword: string;
  /** Unread reply bytes past which the proxy stops reading a client's requests (0 = off). */
  sessionOutputSoftLimit: number;
  /** How long (ms) a client may stay past the soft limit before it is disconnected (0 = forever). */
  sessionOutputSoftSeconds: number;
  /** Unread reply bytes past which a client is disconnected at once (0 = off). */
  sessionOutputHardLimit: number;
  /** Longest bulk string accepted from clients and backends. */
  maxBulkLength: number;
  /** Most elements accepted in one request or reply array. */
  maxArrayLength: number;
  /** How long a request may wait on a slot locked for migration before failing. */
  slotLockTimeout: number;
  metricsReportServer: string;
  metricsReportPeriod: number;
  metricsReportInfluxdbServer: string;
  metricsReportInfluxdbPeriod: number;
  metricsReportInfluxdbUsername: string;
  metricsReportInfluxdbPassword: string;
  metricsReportInfluxdbDatabase: string;
  metricsReportStatsdServer: string;
  metricsReportStatsdPeriod: number;
  metricsReportStatsdPrefix: string;
  /** Requests slower than this (µs, arrival to reply) go to the slow log; negative = off. */
  slowlogLogSlowerThan: number;
  /** Most entries kept in the slow log. */
  slowlogMaxLen: number;
  /** The log level ("" = as --log-level says, INFO by default); a reload applies it. */
  logLevel: string;
  /** Let clients run FLUSHDB and FLUSHALL (on every master). */
  proxyAllowFlush: boolean;
}

/** Codis 3.2's defaults. */
export const DEFAULT_PROXY_CONFIG: Readonly<ProxyConfig> = {
  productName: "codis-demo",
  productAuth: "",
  sessionAuth: "",
  adminAuth: "",
  adminAddr: "0.0.0.0:11080",
  protoType: "tcp4",
  proxyAddr: "0.0.0.0:19000",
  jodisName: "",
  jodisAddr: "",
  jodisAuth: "",
  jodisTimeout: 20_000,
  jodisCompatible: false,
  proxyDatacenter: "",
  proxyMaxClients: 1000,
  backendPingPeriod: 5_000,
  backendRecvBufsize: 128 * 1024,
  backendRecvTimeout: 30_000,
  backendSendBufsize: 128 * 1024,
  backendSendTimeout: 30_000,
  backendMaxPipeline: 20480,
  backendMaxDedicated: 5000,
  backendPrimaryOnly: false,
  backendPrimaryParallel: 1,
  backendReplicaParallel: 1,
  backendKeepalivePeriod: 75_000,
  backendNumberDatabases: 16,
  sessionRecvBufsize: 128 * 1024,
  sessionRecvTimeout: 30 * 60_000,
  sessionSendBufsize: 64 * 1024,
  sessionSendTimeout: 30_000,
  sessionMaxPipeline: 10000,
  sessionKeepalivePeriod: 75_000,
  sessionBreakOnFailure: false,
  proxyTlsCert: "",
  proxyTlsKey: "",
  backendTls: false,
  backendTlsCa: "",
  backendAclUser: "codis-proxy",
  backendAclPassword: "",
  sessionOutputSoftLimit: 8 * 1024 * 1024,
  sessionOutputSoftSeconds: 10_000,
  sessionOutputHardLimit: 32 * 1024 * 1024,
  maxBulkLength: DEFAULT_RESP_LIMITS.maxBulkLength,
  maxArrayLength: DEFAULT_RESP_LIMITS.maxArrayLength,
  slotLockTimeout: 30_000,
  metricsReportServer: "",
  metricsReportPeriod: 1_000,
  metricsReportInfluxdbServer: "",
  metricsReportInfluxdbPeriod: 1_000,
  metricsReportInfluxdbUsername: "",
  metricsReportInfluxdbPassword: "",
  metricsReportInfluxdbDatabase: "",
  metricsReportStatsdServer: "",
  metricsReportStatsdPeriod: 1_000,
  metricsReportStatsdPrefix: "",
  slowlogLogSlowerThan: 10_000,
  slowlogMaxLen: 128,
  logLevel: "",
  proxyAllowFlush: false,
};

type F = ConfigField<ProxyConfig>;

/** Every key of `proxy.toml`, in the order of Codis's default file. */
export const PROXY_CONFIG_FIELDS: readonly F[] = [
  { key: "product_name", prop: "productName", kind: "string", doc: "Set Codis Product Name/Auth." },
  {
    key: "product_auth",
    prop: "productAuth",
    kind: "string",
    doc: "Password of the Redis servers (AUTH on every backend connection).",
    secret: true,
  },
  {
    key: "admin_auth",
    prop: "adminAuth",
    kind: "string",
    doc: "Secret for the admin API: changes need an xauth derived from it, or 'Authorization: Bearer <it>'.\n" +
      "Give every proxy and the dashboard the same one. Empty: changes are accepted from this machine only.",
    secret: true,
  },
  {
    key: "session_auth",
    prop: "sessionAuth",
    kind: "string",
    doc:
      "Set auth for client session\n   1. product_auth is used for auth validation among codis-dashboard,\n      codis-proxy and codis-server.\n   2. session_auth is different from product_auth, it requires clients\n      to issue AUTH <PASSWORD> before processing any other commands.",
    secret: true,
  },
  { key: "admin_addr", prop: "adminAddr", kind: "string", doc: "Set bind address for admin(rpc), tcp only." },
  {
    key: "proto_type",
    prop: "protoType",
    kind: "string",
    doc: 'Set bind address for proxy, proto_type can be "tcp", "tcp4", "tcp6", "unix".',
  },
  {
    key: "proxy_addr",
    prop: "proxyAddr",
    kind: "string",
    doc: "Address (or unix socket path) of the Redis protocol listener.",
  },
  {
    key: "jodis_name",
    prop: "jodisName",
    kind: "string",
    doc:
      'Set jodis address & session timeout\n   1. jodis_name is short for jodis_coordinator_name, only accept "zookeeper" & "etcd".\n   2. jodis_addr is short for jodis_coordinator_addr\n   3. jodis_auth is short for jodis_coordinator_auth, for zookeeper/etcd, "user:password" is accepted.\n   4. proxy will be registered as node:\n        if jodis_compatible = true (not suggested):\n          /zk/codis/db_{PRODUCT_NAME}/proxy-{HASHID} (compatible with Codis2.0)\n        or else\n          /jodis/{PRODUCT_NAME}/proxy-{HASHID}',
  },
  {
    key: "jodis_addr",
    prop: "jodisAddr",
    kind: "string",
    doc: "Coordinator addresses for jodis (comma separated); empty disables jodis.",
  },
  {
    key: "jodis_auth",
    prop: "jodisAuth",
    kind: "string",
    doc: "user:password for the jodis coordinator.",
    secret: true,
  },
  {
    key: "jodis_timeout",
    prop: "jodisTimeout",
    kind: "duration",
    doc: "Session timeout (ZooKeeper) or TTL (etcd) of the jodis node.",
  },
  { key: "jodis_compatible", prop: "jodisCompatible", kind: "bool", doc: "Register under the Codis 2 path." },
  { key: "proxy_datacenter", prop: "proxyDatacenter", kind: "string", doc: "Set datacenter of proxy." },
  { key: "proxy_max_clients", prop: "proxyMaxClients", kind: "int", doc: "Set max number of alive sessions." },
  {
    key: "proxy_max_offheap_size",
    prop: "productName",
    kind: "ignored",
    ignoredDefault: "1024mb",
    doc: "Go-runtime setting of Codis (off-heap buffers); accepted and ignored here.",
  },
  {
    key: "proxy_heap_placeholder",
    prop: "productName",
    kind: "ignored",
    ignoredDefault: "256mb",
    doc: "Go-runtime setting of Codis (GC ballast); accepted and ignored here.",
  },
  {
    key: "backend_ping_period",
    prop: "backendPingPeriod",
    kind: "duration",
    doc: "Proxy will ping backend redis (and clear 'MASTERDOWN' state) in a predefined interval. (0 to disable)",
  },
  {
    key: "backend_recv_bufsize",
    prop: "backendRecvBufsize",
    kind: "size",
    doc: "Set backend recv buffer size & timeout.",
  },
  {
    key: "backend_recv_timeout",
    prop: "backendRecvTimeout",
    kind: "duration",
    doc: "A backend that answers nothing for this long while requests wait is reconnected.",
  },
  { key: "backend_send_bufsize", prop: "backendSendBufsize", kind: "size", doc: "Set backend send buffer & timeout." },
  {
    key: "backend_send_timeout",
    prop: "backendSendTimeout",
    kind: "duration",
    doc: "A write to a backend that takes longer than this resets the connection.",
  },
  { key: "backend_max_pipeline", prop: "backendMaxPipeline", kind: "int", doc: "Set backend pipeline buffer size." },
  {
    key: "backend_max_dedicated",
    prop: "backendMaxDedicated",
    kind: "int",
    doc: "Most connections per backend server and database that sessions hold for themselves: a transaction\n" +
      "(WATCH/MULTI until EXEC), a blocking command (BLPOP, XREAD BLOCK, …) or subscriptions (0 = no limit).",
  },
  {
    key: "backend_primary_only",
    prop: "backendPrimaryOnly",
    kind: "bool",
    doc: "Set backend never read replica groups, default is false",
  },
  {
    key: "backend_primary_parallel",
    prop: "backendPrimaryParallel",
    kind: "int",
    doc: "Set backend parallel connections per server",
  },
  {
    key: "backend_replica_parallel",
    prop: "backendReplicaParallel",
    kind: "int",
    doc: "Parallel connections per replica server.",
  },
  {
    key: "backend_keepalive_period",
    prop: "backendKeepalivePeriod",
    kind: "duration",
    doc: "Set backend tcp keepalive period. (0 to disable)",
  },
  {
    key: "backend_number_databases",
    prop: "backendNumberDatabases",
    kind: "int",
    doc: "Set number of databases of backend.",
  },
  {
    key: "session_recv_bufsize",
    prop: "sessionRecvBufsize",
    kind: "size",
    doc:
      "If there is no request from client for a long time, the connection will be closed. (0 to disable)\nSet session recv buffer size & timeout.",
  },
  {
    key: "session_recv_timeout",
    prop: "sessionRecvTimeout",
    kind: "duration",
    doc: "Idle clients are disconnected after this long. (0 to disable)",
  },
  {
    key: "session_send_bufsize",
    prop: "sessionSendBufsize",
    kind: "size",
    doc: "Set session send buffer size & timeout.",
  },
  {
    key: "session_send_timeout",
    prop: "sessionSendTimeout",
    kind: "duration",
    doc: "A client that does not read its replies for this long is disconnected.",
  },
  {
    key: "session_max_pipeline",
    prop: "sessionMaxPipeline",
    kind: "int",
    doc:
      "Make sure this is higher than the max number of requests for each pipeline request, or your client may be blocked.\nSet session pipeline buffer size.",
  },
  {
    key: "session_keepalive_period",
    prop: "sessionKeepalivePeriod",
    kind: "duration",
    doc: "Set session tcp keepalive period. (0 to disable)",
  },
  {
    key: "session_break_on_failure",
    prop: "sessionBreakOnFailure",
    kind: "bool",
    doc:
      "Set session to be sensitive to failures. Default is false, instead of closing socket, proxy will send an error response to client.",
  },
  {
    key: "proxy_tls_cert",
    prop: "proxyTlsCert",
    kind: "string",
    doc: "PEM certificate (chain) file: with proxy_tls_key, clients connect over TLS (redis-cli --tls).",
  },
  { key: "proxy_tls_key", prop: "proxyTlsKey", kind: "string", doc: "PEM private key file of proxy_tls_cert." },
  {
    key: "backend_tls",
    prop: "backendTls",
    kind: "bool",
    doc: "Reach the Redis servers over TLS (their tls-port).",
  },
  {
    key: "backend_tls_ca",
    prop: "backendTlsCa",
    kind: "string",
    doc: "PEM file of the CA that signed the servers' certificates (empty: the system's CAs).",
  },
  {
    key: "backend_acl_user",
    prop: "backendAclUser",
    kind: "string",
    doc: "Log in to the servers as this Redis ACL user, which cannot run what the proxy refuses (so scripts\n" +
      "cannot either); the dashboard creates it on every server it adds. Where it cannot log in (Redis < 6,\n" +
      'or a server the dashboard never saw), the proxy logs in with product_auth and says so. "" = always\n' +
      "product_auth, as Codis.",
  },
  {
    key: "backend_acl_password",
    prop: "backendAclPassword",
    kind: "string",
    doc: "Its password; empty: derived from product_name and product_auth, as the dashboard sets it.",
    secret: true,
  },
  {
    key: "session_output_soft_limit",
    prop: "sessionOutputSoftLimit",
    kind: "size",
    doc: "Like Redis's client-output-buffer-limit: past this many bytes of replies a client has not read, the\n" +
      "proxy stops reading its requests; if it stays past it for session_output_soft_seconds, it is disconnected.",
  },
  {
    key: "session_output_soft_seconds",
    prop: "sessionOutputSoftSeconds",
    kind: "duration",
    doc: "How long a client may stay past session_output_soft_limit (0 = forever).",
  },
  {
    key: "session_output_hard_limit",
    prop: "sessionOutputHardLimit",
    kind: "size",
    doc: "Past this many bytes of unread replies a client is disconnected at once (a single larger reply is\n" +
      "still delivered when nothing else waits). 0 = no limit.",
  },
  {
    key: "max_bulk_length",
    prop: "maxBulkLength",
    kind: "size",
    doc: "Longest bulk string accepted in a request or reply (not in Codis, which fixes it at 512mb).",
  },
  {
    key: "max_array_length",
    prop: "maxArrayLength",
    kind: "int",
    doc: "Most elements accepted in a request or reply array (not in Codis, which fixes it at 1048576).",
  },
  {
    key: "slot_lock_timeout",
    prop: "slotLockTimeout",
    kind: "duration",
    doc:
      "How long a request waits for a slot locked by a migration before it fails (not in Codis, which waits forever).",
  },
  {
    key: "metrics_report_server",
    prop: "metricsReportServer",
    kind: "string",
    doc:
      "Set metrics server (such as http://localhost:28000), proxy will report json formatted metrics to specified server in a predefined period.",
  },
  {
    key: "metrics_report_period",
    prop: "metricsReportPeriod",
    kind: "duration",
    doc: "Period of the metrics reports.",
  },
  {
    key: "metrics_report_influxdb_server",
    prop: "metricsReportInfluxdbServer",
    kind: "string",
    doc: "Set influxdb server (such as http://localhost:8086), proxy will report metrics to influxdb.",
  },
  {
    key: "metrics_report_influxdb_period",
    prop: "metricsReportInfluxdbPeriod",
    kind: "duration",
    doc: "Period of the influxdb reports.",
  },
  {
    key: "metrics_report_influxdb_username",
    prop: "metricsReportInfluxdbUsername",
    kind: "string",
    doc: "InfluxDB user.",
  },
  {
    key: "metrics_report_influxdb_password",
    prop: "metricsReportInfluxdbPassword",
    kind: "string",
    doc: "InfluxDB password.",
    secret: true,
  },
  {
    key: "metrics_report_influxdb_database",
    prop: "metricsReportInfluxdbDatabase",
    kind: "string",
    doc: "InfluxDB database.",
  },
  {
    key: "metrics_report_statsd_server",
    prop: "metricsReportStatsdServer",
    kind: "string",
    doc: "Set statsd server (such as localhost:8125), proxy will report metrics to statsd.",
  },
  {
    key: "metrics_report_statsd_period",
    prop: "metricsReportStatsdPeriod",
    kind: "duration",
    doc: "Period of the statsd reports.",
  },
  {
    key: "metrics_report_statsd_prefix",
    prop: "metricsReportStatsdPrefix",
    kind: "string",
    doc: "Prefix of the statsd keys.",
  },
  {
    key: "slowlog_log_slower_than",
    prop: "slowlogLogSlowerThan",
    kind: "int",
    doc: "Slow log (SLOWLOG GET|LEN|RESET through the proxy): requests that take at least this many microseconds\n" +
      "from their arrival to their reply, as Redis's setting (0 = every request, negative = off).",
  },
  { key: "slowlog_max_len", prop: "slowlogMaxLen", kind: "int", doc: "Most entries the slow log keeps." },
  {
    key: "proxy_allow_flush",
    prop: "proxyAllowFlush",
    kind: "bool",
    doc: "Let clients run FLUSHDB and FLUSHALL through the proxy (they empty every group). Off by default.",
  },
  {
    key: "log_level",
    prop: "logLevel",
    kind: "string",
    doc: 'DEBUG, INFO, WARN, ERROR or NONE ("" = as --log-level says). Reloaded on SIGHUP, as the keys marked so\n' +
      "in README's reload list are.",
  },
];

const HEADER = `
##################################################
#                                                #
#                  Codis-Proxy                   #
#                                                #
##################################################
# Durations: "30s", "1m30s", "500ms" (a bare number is seconds).
# Sizes: "128kb", "1mb" (binary units; a bare number is bytes).
`;

/** Parses `proxy.toml` text on top of the defaults, then validates the result. */
export function parseProxyConfig(text: string, source = "proxy.toml"): ProxyConfig {
  return validateProxyConfig(parseConfig(PROXY_CONFIG_FIELDS, { ...DEFAULT_PROXY_CONFIG }, text, source));
}

/** Checks the rules Codis checks; throws {@linkcode ConfigError} naming the key. */
export function validateProxyConfig(c: ProxyConfig): ProxyConfig {
  const bad = (key: string, why: string) => new ConfigError(`Invalid proxy config: ${key} ${why}`);
  if (!c.protoType) throw bad("proto_type", "is empty");
  if (!["tcp", "tcp4", "tcp6", "unix"].includes(c.protoType)) {
    throw bad("proto_type", `"${c.protoType}" is not one of tcp, tcp4, tcp6, unix`);
  }
  if (!c.proxyAddr) throw bad("proxy_addr", "is empty");
  if (!c.adminAddr) throw bad("admin_addr", "is empty");
  if (!c.productName) throw bad("product_name", "is empty");
  if (!isValidProductName(c.productName)) {
    throw bad("product_name", `"${c.productName}" must match ^\\w[\\w.-]*$`);
  }
  if (c.jodisName && !["zookeeper", "zk", "etcd"].includes(c.jodisName)) {
    throw bad("jodis_name", `"${c.jodisName}" is not zookeeper or etcd`);
  }
  if (c.jodisName && !c.jodisAddr) throw bad("jodis_addr", "is required when jodis_name is set");
  if (c.proxyMaxClients < 0) throw bad("proxy_max_clients", "is negative");
  if (c.backendMaxPipeline < 0) throw bad("backend_max_pipeline", "is negative");
  if (c.backendMaxDedicated < 0) throw bad("backend_max_dedicated", "is negative");
  if (c.backendPrimaryParallel < 0) throw bad("backend_primary_parallel", "is negative");
  if (c.backendReplicaParallel < 0) throw bad("backend_replica_parallel", "is negative");
  if (c.backendNumberDatabases < 1) throw bad("backend_number_databases", "must be at least 1");
  if (c.sessionMaxPipeline < 0) throw bad("session_max_pipeline", "is negative");
  if (c.slowlogMaxLen < 0) throw bad("slowlog_max_len", "is negative");
  if (c.logLevel && !parseLogLevel(c.logLevel)) {
    throw bad("log_level", `"${c.logLevel}" is not DEBUG, INFO, WARN, ERROR or NONE`);
  }
  if (!c.proxyTlsCert !== !c.proxyTlsKey) throw bad("proxy_tls_cert", "and proxy_tls_key go together");
  if (c.proxyTlsCert && c.protoType === "unix") throw bad("proxy_tls_cert", "needs a tcp proto_type");
  if (c.sessionOutputSoftLimit < 0) throw bad("session_output_soft_limit", "is negative");
  if (c.sessionOutputHardLimit < 0) throw bad("session_output_hard_limit", "is negative");
  if (c.sessionOutputHardLimit > 0 && c.sessionOutputSoftLimit > c.sessionOutputHardLimit) {
    throw bad("session_output_soft_limit", "is above session_output_hard_limit");
  }
  if (c.maxArrayLength < 1) throw bad("max_array_length", "must be at least 1");
  if (c.maxBulkLength < 1) throw bad("max_bulk_length", "must be at least 1");
  if (c.backendRecvBufsize < 1024) throw bad("backend_recv_bufsize", "must be at least 1kb");
  if (c.sessionRecvBufsize < 1024) throw bad("session_recv_bufsize", "must be at least 1kb");
  return c;
}

/** The default `proxy.toml`, with comments (`codis-proxy --default-config`). */
export function defaultProxyToml(): string {
  return renderToml(PROXY_CONFIG_FIELDS, DEFAULT_PROXY_CONFIG, HEADER);
}

/** The configuration as the admin API shows it (secrets left out). */
export function proxyConfigJson(c: ProxyConfig): Record<string, string | number | boolean> {
  return configToJson(PROXY_CONFIG_FIELDS, c);
}
