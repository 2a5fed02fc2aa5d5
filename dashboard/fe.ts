/**
 * codis-fe: flags → the products' source → {@linkcode startFe}.
 *
 * @module
 */

import { coordinatorFromFlags, openClient } from "../coord/open.ts";
import { errorMessage } from "../utils/errors.ts";
import { log } from "../utils/log.ts";
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
import { dashboardListSource, type ProductSource, startFe, storeSource } from "./fe_server.ts";

const USAGE = `Usage:
    codis-fe [--ncpu=N] [--log=FILE] [--log-level=LEVEL] [--assets-dir=PATH] [--pidfile=FILE]
             (--dashboard-list=FILE|--zookeeper=ADDR [--zookeeper-auth=USR:PWD]|--etcd=ADDR [--etcd-auth=USR:PWD]|--filesystem=ROOT)
             --listen=ADDR
    codis-fe --version

Options:
    --ncpu=N                        Go runtime threads in Codis; accepted and ignored here.
    -l FILE, --log=FILE             set path/name of daily rotated log file.
    --log-level=LEVEL               set the log-level, should be INFO,WARN,DEBUG or ERROR, default is INFO.
    -d LIST, --dashboard-list=LIST  the products and their dashboards: [{"name": "…", "dashboard": "host:port"}, …]
                                    (codis-admin --dashboard-list writes one); read again at most every 5 s.
    --zookeeper, --etcd, --filesystem   find the products in the coordinator store instead.
    --listen=ADDR                   the address to serve on (host:port).
    --assets-dir=PATH               the web UI's files (index.html …) to serve.
    --pidfile=FILE                  write the process id to FILE.
`;

async function main(args: string[]): Promise<number> {
  const { values: flags, positionals } = parseFlags(args, {
    ...SERVER_FLAGS,
    ...COORDINATOR_FLAGS,
    "listen": { type: "string" },
    "dashboard-list": { type: "string", short: "d" },
    "assets-dir": { type: "string" },
  });
  noPositionals(positionals);
  if (handleCommonFlags(flags, USAGE, () => "")) return 0;
  let coordinator: ReturnType<typeof coordinatorFromFlags>;
  try {
    coordinator = coordinatorFromFlags(flags);
  } catch (e) {
    throw new UsageError(errorMessage(e), { cause: e });
  }
  const list = flags["dashboard-list"];
  if ((list === undefined) === (coordinator === null)) {
    throw new UsageError("give either --dashboard-list or one of --zookeeper, --etcd, --filesystem");
  }
  if (!flags.listen) throw new UsageError("--listen=ADDR is required");
  let source: ProductSource;
  let closeStore = () => Promise.resolve();
  if (list !== undefined) {
    source = dashboardListSource(list);
  } else {
    const client = await openClient(coordinator!.name, coordinator!.addr, { auth: coordinator!.auth });
    source = storeSource(client);
    closeStore = () => client.close();
  }
  const assetsDir = flags["assets-dir"] ?? null;
  if (assetsDir !== null) {
    try {
      Deno.statSync(`${assetsDir}/index.html`);
    } catch {
      throw new UsageError(`--assets-dir=${assetsDir} has no index.html`);
    }
  }
  const fe = await startFe({ listen: flags.listen, source, assetsDir });
  log.info(`codis-fe listening on ${fe.addr}`);
  const removePid = flags.pidfile ? writePidFile(flags.pidfile) : () => {};
  await new Promise<void>((resolve) => {
    const stop = () => {
      Deno.removeSignalListener("SIGINT", stop);
      Deno.removeSignalListener("SIGTERM", stop);
      resolve();
    };
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
  });
  await fe.close();
  await closeStore();
  removePid();
  log.info("codis-fe is exiting");
  return 0;
}

if (import.meta.main) runProgram("codis-fe", main);
