/**
 * codis-dashboard: flags → config → {@linkcode startDashboard}.
 *
 * @module
 */

import { coordinatorFromFlags } from "../coord/open.ts";
import { errorMessage } from "../utils/errors.ts";
import { log } from "../utils/log.ts";
import {
  handleCommonFlags,
  noPositionals,
  parseFlags,
  runProgram,
  SERVER_FLAGS,
  UsageError,
  writePidFile,
} from "../utils/program.ts";
import {
  DEFAULT_DASHBOARD_CONFIG,
  defaultDashboardToml,
  parseDashboardConfig,
  validateDashboardConfig,
} from "./config.ts";
import { startDashboard } from "./dashboard.ts";

const USAGE = `Usage:
    codis-dashboard [--ncpu=N] [--config=CONF] [--log=FILE] [--log-level=LEVEL] [--host-admin=ADDR]
                    [--pidfile=FILE] [--zookeeper=ADDR|--etcd=ADDR|--filesystem=ROOT]
                    [--product_name=NAME] [--product_auth=AUTH] [--remove-lock] [--standby]
    codis-dashboard --default-config
    codis-dashboard --version

Options:
    --ncpu=N                    Go runtime threads in Codis; accepted and ignored here.
    -c CONF, --config=CONF      run with the specific configuration (default: built-in defaults).
    -l FILE, --log=FILE         set path/name of daily rotated log file.
    --log-level=LEVEL           set the log-level, should be INFO,WARN,DEBUG or ERROR, default is INFO.
    --host-admin=ADDR           advertised admin address (default: from admin_addr).
    --zookeeper, --etcd, --filesystem   the coordinator (overrides coordinator_name/addr).
    --product_name, --product_auth      override dashboard.toml.
    --remove-lock               delete the product's lock first (only when the old dashboard is dead).
    --standby                   if another dashboard holds the lock, wait and take over when it is free
                                (etcd/ZooKeeper: lock_timeout after the holder died; filesystem: when
                                the holder's process on this host is gone).
    --pidfile=FILE              write the process id to FILE.
`;

async function main(args: string[]): Promise<number> {
  const { values: flags, positionals } = parseFlags(args, {
    ...SERVER_FLAGS,
    "host-admin": { type: "string" },
    "zookeeper": { type: "string" },
    "etcd": { type: "string" },
    "filesystem": { type: "string" },
    "product_name": { type: "string" },
    "product_auth": { type: "string" },
    "remove-lock": { type: "boolean" },
    "standby": { type: "boolean" },
  });
  noPositionals(positionals);
  if (handleCommonFlags(flags, USAGE, defaultDashboardToml)) return 0;

  let coordinator: ReturnType<typeof coordinatorFromFlags>;
  try {
    coordinator = coordinatorFromFlags(flags);
  } catch (e) {
    throw new UsageError(errorMessage(e), { cause: e });
  }
  /** dashboard.toml (or the defaults), with the flags that override it. */
  const loadConfig = async () => {
    const config = flags.config
      ? parseDashboardConfig(await Deno.readTextFile(flags.config), flags.config)
      : { ...DEFAULT_DASHBOARD_CONFIG };
    if (coordinator) {
      config.coordinatorName = coordinator.name;
      config.coordinatorAddr = coordinator.addr;
    }
    if (flags.product_name !== undefined) config.productName = flags.product_name;
    if (flags.product_auth !== undefined) config.productAuth = flags.product_auth;
    return validateDashboardConfig(config);
  };
  const config = await loadConfig();

  const dashboard = await startDashboard({
    config,
    hostAdmin: flags["host-admin"],
    removeLock: flags["remove-lock"] ?? false,
    standby: flags.standby ?? false,
  });
  const removePid = flags.pidfile ? writePidFile(flags.pidfile) : () => {};
  const stop = () => void dashboard.close();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  // SIGHUP: read dashboard.toml again; the migration and sentinel settings change in place.
  const reload = () =>
    void loadConfig().then(
      (next) => dashboard.applyConfig(next),
      (e) => log.error(`reload on SIGHUP refused, nothing changed: ${errorMessage(e)}`),
    );
  if (flags.config) Deno.addSignalListener("SIGHUP", reload);
  await dashboard.done;
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  if (flags.config) Deno.removeSignalListener("SIGHUP", reload);
  removePid();
  if (dashboard.lostLock) {
    log.error("dashboard is exiting: it lost the product's lock");
    return 1;
  }
  log.info("dashboard is exiting");
  return 0;
}

if (import.meta.main) runProgram("codis-dashboard", main);
