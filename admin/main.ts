/**
 * codis-admin: the command-line tool for proxies, the dashboard and the store.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { coordinatorFromFlags, openClient } from "../coord/open.ts";
import { log } from "../utils/log.ts";
import { runProgram, UsageError } from "../utils/program.ts";
import { COMPILE_TEXT, VERSION_TEXT } from "../utils/version.ts";
import { configDump, configRestore, dashboardList, type Output, removeLock } from "./offline.ts";

const COORDINATOR =
  "(--zookeeper=ADDR [--zookeeper-auth=USR:PWD] | --etcd=ADDR [--etcd-auth=USR:PWD] | --filesystem=ROOT)";

const USAGE = `Usage:
    codis-admin [-v] --remove-lock --product=NAME ${COORDINATOR}
    codis-admin [-v] --config-dump --product=NAME ${COORDINATOR}
    codis-admin [-v] --config-restore=FILE --product=NAME ${COORDINATOR} [--confirm]
    codis-admin [-v] --dashboard-list ${COORDINATOR}
    codis-admin --version

Options:
    -v, --verbose               debug logging.
    --product=NAME              the product (cluster) name.
    --zookeeper=ADDR            ZooKeeper servers, host:port[,host:port...]
    --etcd=ADDR                 etcd endpoints, host:port[,host:port...]
    --filesystem=ROOT           root directory of the filesystem store.
    --zookeeper-auth, --etcd-auth=USR:PWD   credentials for the store.
    --confirm                   write the configuration (without it, --config-restore only checks and prints it).

Offline operations talk to the store directly. Run --remove-lock only when the dashboard is dead.
`;

/** Options of every form; each form checks the ones it needs. */
const OPTIONS = {
  "verbose": { type: "boolean", short: "v" },
  "version": { type: "boolean" },
  "help": { type: "boolean", short: "h" },
  "product": { type: "string" },
  "zookeeper": { type: "string" },
  "zookeeper-auth": { type: "string" },
  "etcd": { type: "string" },
  "etcd-auth": { type: "string" },
  "filesystem": { type: "string" },
  "remove-lock": { type: "boolean" },
  "config-dump": { type: "boolean" },
  "config-restore": { type: "string" },
  "dashboard-list": { type: "boolean" },
  "confirm": { type: "boolean" },
} as const;

/** How long one store operation may take before codis-admin gives up. */
const STORE_TIMEOUT_MS = 10_000;

const console_: Output = {
  out: (text) => console.log(text),
  err: (text) => console.error(text),
};

export async function main(args: string[], io: Output = console_): Promise<number> {
  const { values: flags, positionals } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: true });
  if (flags.help) {
    io.out(USAGE);
    return 0;
  }
  if (flags.version) {
    io.out(`version: ${VERSION_TEXT}\ncompile: ${COMPILE_TEXT}`);
    return 0;
  }
  if (flags.verbose) log.setLevel("DEBUG");
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);

  const offline = (["remove-lock", "config-dump", "config-restore", "dashboard-list"] as const).filter((f) =>
    flags[f] !== undefined && flags[f] !== false
  );
  if (offline.length === 0) throw new UsageError("nothing to do: give one of the forms below");
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
