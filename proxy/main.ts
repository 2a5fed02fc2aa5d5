/**
 * codis-proxy: flags → config → {@linkcode startProxy}.
 *
 * ```
 * codis-proxy [--ncpu=N [--max-ncpu=MAX]] [--config=CONF] [--log=FILE] [--log-level=LEVEL]
 *             [--host-admin=ADDR] [--host-proxy=ADDR]
 *             [--dashboard=ADDR | --zookeeper=ADDR | --etcd=ADDR | --filesystem=ROOT | --fillslots=FILE]
 *             [--ulimit=NLIMIT] [--pidfile=FILE]
 *             [--product_name=NAME] [--product_auth=AUTH] [--session_auth=AUTH]
 * codis-proxy --default-config
 * codis-proxy --version
 * ```
 *
 * @module
 */

import { slotsFromJson } from "../coord/models.ts";
import { coordinatorFromFlags } from "../coord/open.ts";
import { onlineViaDashboard, onlineViaStore } from "./online.ts";
import { log, requireLogLevel } from "../utils/log.ts";
import { DEFAULT_PROXY_CONFIG, defaultProxyToml, parseProxyConfig, validateProxyConfig } from "./config.ts";
import { startProxy } from "./proxy.ts";
import {
  COORDINATOR_FLAGS,
  handleCommonFlags,
  noPositionals,
  parseFlags,
  runProgram,
  SERVER_FLAGS,
  UsageError,
  writePidFile,
} from "../utils/program.ts";
import { errorMessage } from "../utils/errors.ts";

const USAGE = `Usage:
    codis-proxy [--ncpu=N [--max-ncpu=MAX]] [--config=CONF] [--log=FILE] [--log-level=LEVEL]
                [--host-admin=ADDR] [--host-proxy=ADDR]
                [--dashboard=ADDR | --zookeeper=ADDR [--zookeeper-auth=USR:PWD]
                 | --etcd=ADDR [--etcd-auth=USR:PWD] | --filesystem=ROOT | --fillslots=FILE]
                [--ulimit=NLIMIT] [--pidfile=FILE]
                [--product_name=NAME] [--product_auth=AUTH] [--session_auth=AUTH]
    codis-proxy --default-config
    codis-proxy --version

Options:
    --ncpu=N, --max-ncpu=MAX    Go runtime threads in Codis; accepted and ignored here.
    -c CONF, --config=CONF      run with the specific configuration (default: built-in defaults).
    -l FILE, --log=FILE         set path/name of daily rotated log file.
    --log-level=LEVEL           set the log-level, should be INFO,WARN,DEBUG or ERROR, default is INFO.
    --host-admin=ADDR           advertised admin address (default: from admin_addr).
    --host-proxy=ADDR           advertised proxy address (default: from proxy_addr).
    --dashboard=ADDR            come online through this dashboard.
    --zookeeper, --etcd, --filesystem   find the dashboard in this store, then come online through it.
    --fillslots=FILE            static mode: fill the slots from a JSON file and go online.
    --ulimit=NLIMIT             refuse to start if 'ulimit -n' is below NLIMIT.
    --pidfile=FILE              write the process id to FILE.
    --product_name, --product_auth, --session_auth   override proxy.toml.
`;

async function main(args: string[]): Promise<number> {
  const { values: flags, positionals } = parseFlags(args, {
    ...SERVER_FLAGS,
    ...COORDINATOR_FLAGS,
    "max-ncpu": { type: "string" },
    "host-admin": { type: "string" },
    "host-proxy": { type: "string" },
    "dashboard": { type: "string" },
    "fillslots": { type: "string" },
    "ulimit": { type: "string" },
    "product_name": { type: "string" },
    "product_auth": { type: "string" },
    "session_auth": { type: "string" },
  });
  noPositionals(positionals);
  if (handleCommonFlags(flags, USAGE, defaultProxyToml)) return 0;
  let coordinator;
  try {
    coordinator = coordinatorFromFlags(flags);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const onlineModes = [flags.dashboard !== undefined, coordinator !== null, flags.fillslots !== undefined];
  if (onlineModes.filter(Boolean).length > 1) {
    throw new UsageError("give one of --dashboard, --zookeeper/--etcd/--filesystem and --fillslots");
  }
  if (flags.dashboard !== undefined && !flags.dashboard) throw new UsageError("--dashboard needs an address");
  if (flags.ulimit) await checkUlimit(flags.ulimit);

  /** proxy.toml (or the defaults), with the flags that override it. */
  const loadConfig = async () => {
    const config = flags.config
      ? parseProxyConfig(await Deno.readTextFile(flags.config), flags.config)
      : { ...DEFAULT_PROXY_CONFIG };
    if (flags.product_name !== undefined) config.productName = flags.product_name;
    if (flags.product_auth !== undefined) config.productAuth = flags.product_auth;
    if (flags.session_auth !== undefined) config.sessionAuth = flags.session_auth;
    return validateProxyConfig(config);
  };
  const config = await loadConfig();
  if (config.logLevel && !flags["log-level"]) log.setLevel(requireLogLevel(config.logLevel));

  let fillSlots;
  if (flags.fillslots) {
    const text = await Deno.readTextFile(flags.fillslots);
    try {
      fillSlots = slotsFromJson(JSON.parse(text));
    } catch (e) {
      throw new UsageError(`Cannot use --fillslots file "${flags.fillslots}": ${errorMessage(e)}`, { cause: e });
    }
  }

  const proxy = await startProxy({
    config,
    hostProxy: flags["host-proxy"],
    hostAdmin: flags["host-admin"],
    fillSlots,
    loadConfig: flags.config ? loadConfig : undefined,
  });
  const removePid = flags.pidfile ? writePidFile(flags.pidfile) : () => {};
  const stop = () => void proxy.close();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  // SIGHUP: read proxy.toml again and apply what can change while running.
  const reload = () => void proxy.reloadConfig().catch((e) => log.error(`reload on SIGHUP: ${errorMessage(e)}`));
  if (flags.config) Deno.addSignalListener("SIGHUP", reload);
  let exitCode = 0;
  if (flags.dashboard || coordinator) {
    const online = flags.dashboard ? onlineViaDashboard(proxy, flags.dashboard) : onlineViaStore(proxy, coordinator!);
    online.catch((e) => {
      if (proxy.closed) return;
      log.error(`cannot come online: ${errorMessage(e)}`);
      console.error(`codis-proxy: cannot come online: ${errorMessage(e)}`);
      exitCode = 1;
      proxy.close();
    });
  } else if (!proxy.online) {
    log.info("proxy is waiting to be brought online (admin API: PUT /api/proxy/start/:xauth)");
  }
  await proxy.done;
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  if (flags.config) Deno.removeSignalListener("SIGHUP", reload);
  removePid();
  log.info("proxy is exiting");
  return exitCode;
}

async function checkUlimit(text: string): Promise<void> {
  if (!/^\d+$/.test(text)) throw new UsageError(`invalid --ulimit "${text}": not an integer`);
  const out = await new Deno.Command("sh", { args: ["-c", "ulimit -n"], stdout: "piped" }).output();
  const limit = new TextDecoder().decode(out.stdout).trim();
  if (limit !== "unlimited" && Number(limit) < Number(text)) {
    throw new UsageError(`ulimit -n is ${limit}, below --ulimit=${text}`);
  }
}

if (import.meta.main) runProgram("codis-proxy", main);
