/**
 * codis-admin: the command-line tool for proxies, the dashboard and the store.
 *
 * @module
 */

import { coordinatorFromFlags, openClient } from "../coord/open.ts";
import { errorMessage } from "../utils/errors.ts";
import { log } from "../utils/log.ts";
import { COORDINATOR_FLAGS, parseFlags, runProgram, UsageError } from "../utils/program.ts";
import { COMPILE_TEXT, VERSION_TEXT } from "../utils/version.ts";
import { configDump, configRestore, dashboardList, type Output, removeLock } from "./offline.ts";
import { dashboardCommand } from "./dashboard_cmd.ts";
import { proxyCommand } from "./proxy_cmd.ts";

const COORDINATOR =
  "(--zookeeper=ADDR [--zookeeper-auth=USR:PWD] | --etcd=ADDR [--etcd-auth=USR:PWD] | --filesystem=ROOT)";

const USAGE = `Usage:
    codis-admin [-v] --proxy=ADDR [--auth=AUTH] [config|model|stats|slots]
    codis-admin [-v] --proxy=ADDR [--auth=AUTH] --start
    codis-admin [-v] --proxy=ADDR [--auth=AUTH] --shutdown
    codis-admin [-v] --proxy=ADDR [--auth=AUTH] --log-level=LEVEL
    codis-admin [-v] --proxy=ADDR [--auth=AUTH] --fillslots=FILE [--locked]
    codis-admin [-v] --proxy=ADDR [--auth=AUTH] --reset-stats
    codis-admin [-v] --proxy=ADDR [--auth=AUTH] --forcegc
    codis-admin [-v] --proxy=ADDR [--auth=AUTH] --reload
    codis-admin [-v] --dashboard=ADDR [--auth=AUTH] [config|model|stats|slots|group|proxy]
    codis-admin [-v] --dashboard=ADDR --shutdown
    codis-admin [-v] --dashboard=ADDR --reload
    codis-admin [-v] --dashboard=ADDR --log-level=LEVEL
    codis-admin [-v] --dashboard=ADDR --slots-assign --beg=ID --end=ID (--gid=ID | --offline) [--confirm]
    codis-admin [-v] --dashboard=ADDR --slots-status
    codis-admin [-v] --dashboard=ADDR --slot-action --create --sid=ID --gid=ID
    codis-admin [-v] --dashboard=ADDR --slot-action --remove --sid=ID
    codis-admin [-v] --dashboard=ADDR --slot-action --create-some --gid-from=ID --gid-to=ID --num-slots=N
    codis-admin [-v] --dashboard=ADDR --slot-action --create-range --beg=ID --end=ID --gid=ID
    codis-admin [-v] --dashboard=ADDR --slot-action --interval=VALUE
    codis-admin [-v] --dashboard=ADDR --slot-action --disabled=VALUE
    codis-admin [-v] --dashboard=ADDR --slot-action --status
    codis-admin [-v] --dashboard=ADDR --rebalance [--confirm]
    codis-admin [-v] --dashboard=ADDR --list-proxy
    codis-admin [-v] --dashboard=ADDR --create-proxy --addr=ADDR
    codis-admin [-v] --dashboard=ADDR --online-proxy --addr=ADDR
    codis-admin [-v] --dashboard=ADDR --remove-proxy (--addr=ADDR | --token=TOKEN | --pid=ID) [--force]
    codis-admin [-v] --dashboard=ADDR --reinit-proxy (--addr=ADDR | --token=TOKEN | --pid=ID | --all) [--force]
    codis-admin [-v] --dashboard=ADDR --proxy-status
    codis-admin [-v] --dashboard=ADDR --list-group
    codis-admin [-v] --dashboard=ADDR --create-group --gid=ID
    codis-admin [-v] --dashboard=ADDR --remove-group --gid=ID
    codis-admin [-v] --dashboard=ADDR --resync-group (--gid=ID | --all)
    codis-admin [-v] --dashboard=ADDR --group-add --gid=ID --addr=ADDR [--datacenter=DATACENTER]
    codis-admin [-v] --dashboard=ADDR --group-del --gid=ID --addr=ADDR
    codis-admin [-v] --dashboard=ADDR --group-status
    codis-admin [-v] --dashboard=ADDR --replica-groups --gid=ID --addr=ADDR (--enable | --disable)
    codis-admin [-v] --dashboard=ADDR --promote-server --gid=ID --addr=ADDR
    codis-admin [-v] --dashboard=ADDR --sync-action --create --addr=ADDR
    codis-admin [-v] --dashboard=ADDR --sync-action --remove --addr=ADDR
    codis-admin [-v] --dashboard=ADDR --sentinel-add --addr=ADDR
    codis-admin [-v] --dashboard=ADDR --sentinel-del --addr=ADDR [--force]
    codis-admin [-v] --dashboard=ADDR --sentinel-resync
    codis-admin [-v] --remove-lock --product=NAME ${COORDINATOR}
    codis-admin [-v] --config-dump --product=NAME ${COORDINATOR}
    codis-admin [-v] --config-restore=FILE --product=NAME ${COORDINATOR} [--confirm]
    codis-admin [-v] --dashboard-list ${COORDINATOR}
    codis-admin --version

Options:
    -v, --verbose               debug logging.
    -a AUTH, --auth=AUTH        the admin secret (admin_auth) of the dashboard or proxy; for a proxy without one,
                                its product_auth (Codis's xauth). Also from \$CODIS_AUTH or --auth-file.
    --auth-file=FILE            read the admin secret from FILE (first line).
    -x ADDR, --addr=ADDR        a proxy's admin address, a server's or a sentinel's address.
    -t TOKEN, --token=TOKEN     a proxy's token.
    -g ID, --gid=ID             a group id.
    --product=NAME              the product (cluster) name.
    --zookeeper=ADDR            ZooKeeper servers, host:port[,host:port...]
    --etcd=ADDR                 etcd endpoints, host:port[,host:port...]
    --filesystem=ROOT           root directory of the filesystem store.
    --zookeeper-auth, --etcd-auth=USR:PWD   credentials for the store.
    --confirm                   do it (without it, --slots-assign, --rebalance and --config-restore only show what they would do).

Offline operations talk to the store directly. Run --remove-lock only when the dashboard is dead.
`;

/** Options of every form; each form checks the ones it needs. */
const OPTIONS = {
  "verbose": { type: "boolean", short: "v" },
  "version": { type: "boolean" },
  "help": { type: "boolean", short: "h" },
  "proxy": { type: "string" },
  "dashboard": { type: "string" },
  "auth": { type: "string", short: "a" },
  "auth-file": { type: "string" },
  "addr": { type: "string", short: "x" },
  "token": { type: "string", short: "t" },
  "gid": { type: "string", short: "g" },
  "pid": { type: "string" },
  "product": { type: "string" },
  ...COORDINATOR_FLAGS,
  "remove-lock": { type: "boolean" },
  "config-dump": { type: "boolean" },
  "config-restore": { type: "string" },
  "dashboard-list": { type: "boolean" },
  "confirm": { type: "boolean" },
  "start": { type: "boolean" },
  "shutdown": { type: "boolean" },
  "reload": { type: "boolean" },
  "log-level": { type: "string" },
  "fillslots": { type: "string" },
  "locked": { type: "boolean" },
  "reset-stats": { type: "boolean" },
  "forcegc": { type: "boolean" },
  "slots-assign": { type: "boolean" },
  "slots-status": { type: "boolean" },
  "beg": { type: "string" },
  "end": { type: "string" },
  "offline": { type: "boolean" },
  "slot-action": { type: "boolean" },
  "create": { type: "boolean" },
  "remove": { type: "boolean" },
  "create-some": { type: "boolean" },
  "create-range": { type: "boolean" },
  "status": { type: "boolean" },
  "sid": { type: "string" },
  "gid-from": { type: "string" },
  "gid-to": { type: "string" },
  "num-slots": { type: "string" },
  "interval": { type: "string" },
  "disabled": { type: "string" },
  "rebalance": { type: "boolean" },
  "list-proxy": { type: "boolean" },
  "create-proxy": { type: "boolean" },
  "online-proxy": { type: "boolean" },
  "remove-proxy": { type: "boolean" },
  "reinit-proxy": { type: "boolean" },
  "proxy-status": { type: "boolean" },
  "force": { type: "boolean" },
  "all": { type: "boolean" },
  "list-group": { type: "boolean" },
  "create-group": { type: "boolean" },
  "remove-group": { type: "boolean" },
  "resync-group": { type: "boolean" },
  "group-add": { type: "boolean" },
  "group-del": { type: "boolean" },
  "group-status": { type: "boolean" },
  "datacenter": { type: "string" },
  "replica-groups": { type: "boolean" },
  "enable": { type: "boolean" },
  "disable": { type: "boolean" },
  "promote-server": { type: "boolean" },
  "sync-action": { type: "boolean" },
  "sentinel-add": { type: "boolean" },
  "sentinel-del": { type: "boolean" },
  "sentinel-resync": { type: "boolean" },
} as const;

/** The admin secret: `--auth`, else the first line of `--auth-file`, else `$CODIS_AUTH`, else "". */
async function adminSecret(flag: string | undefined, file: string | undefined): Promise<string> {
  if (flag !== undefined && file !== undefined) throw new UsageError("give --auth or --auth-file, not both");
  if (flag !== undefined) return flag;
  if (file !== undefined) {
    try {
      return (await Deno.readTextFile(file)).split("\n")[0].trim();
    } catch (e) {
      throw new UsageError(`cannot read --auth-file ${file}: ${errorMessage(e)}`, { cause: e });
    }
  }
  return Deno.env.get("CODIS_AUTH") ?? "";
}

/** How long one store operation may take before codis-admin gives up. */
const STORE_TIMEOUT_MS = 10_000;

const console_: Output = {
  out: (text) => console.log(text),
  err: (text) => console.error(text),
};

export async function main(args: string[], io: Output = console_): Promise<number> {
  const { values: flags, positionals } = parseFlags(args, OPTIONS);
  if (flags.help) {
    io.out(USAGE);
    return 0;
  }
  if (flags.version) {
    io.out(`version: ${VERSION_TEXT}\ncompile: ${COMPILE_TEXT}`);
    return 0;
  }
  if (flags.verbose) log.setLevel("DEBUG");
  if (flags.proxy !== undefined && flags.dashboard !== undefined) {
    throw new UsageError("give --proxy or --dashboard, not both");
  }
  const auth = await adminSecret(flags.auth, flags["auth-file"]);
  if (flags.proxy !== undefined) {
    if (!flags.proxy) throw new UsageError("--proxy needs an address");
    await proxyCommand({ ...flags, proxy: flags.proxy, auth }, positionals, io);
    return 0;
  }
  if (flags.dashboard !== undefined) {
    if (!flags.dashboard) throw new UsageError("--dashboard needs an address");
    await dashboardCommand({ ...flags, dashboard: flags.dashboard, auth }, positionals, io);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);

  const offline = (["remove-lock", "config-dump", "config-restore", "dashboard-list"] as const).filter((f) =>
    flags[f] !== undefined && flags[f] !== false
  );
  if (offline.length === 0) throw new UsageError("nothing to do: give --proxy, --dashboard or an offline form");
  if (offline.length > 1) throw new UsageError(`give one of ${offline.map((f) => `--${f}`).join(", ")}, not several`);
  const form = offline[0];

  let coordinator;
  try {
    coordinator = coordinatorFromFlags(flags);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (!coordinator) throw new UsageError(`--${form} needs the store: --zookeeper, --etcd or --filesystem`);
  if (form !== "dashboard-list" && !flags.product) throw new UsageError(`--${form} needs --product=NAME`);
  if (flags.confirm && form !== "config-restore") throw new UsageError("--confirm goes with --config-restore");

  const client = await openClient(coordinator.name, coordinator.addr, {
    auth: coordinator.auth,
    timeoutMs: STORE_TIMEOUT_MS,
  });
  try {
    const product = flags.product ?? "";
    switch (form) {
      case "remove-lock":
        await removeLock(client, product, io);
        break;
      case "config-dump":
        await configDump(client, product, io);
        break;
      case "config-restore":
        await configRestore(client, product, flags["config-restore"] as string, flags.confirm ?? false, io);
        break;
      case "dashboard-list":
        await dashboardList(client, io);
        break;
    }
  } finally {
    await client.close();
  }
  return 0;
}

if (import.meta.main) runProgram("codis-admin", (args) => main(args));
