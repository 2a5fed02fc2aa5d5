/**
 * README command 1: a local cluster set up the way Codis's tutorial does it, every step through
 * our programs: a filesystem store, codis-dashboard, one codis-proxy that comes online by itself,
 * two groups of a master and a replica (the replicas synced), slots 0-511 on group 1 and
 * 512-1023 on group 2, three redis-sentinels watching the groups (a killed master fails over),
 * all through codis-admin, and codis-fe serving the web UI. Ctrl-C stops everything it started.
 *
 * Usage: scripts/cluster [--dir=DIR] [--proxy-port=19000] [--admin-port=11080]
 *                        [--dashboard-port=18080] [--redis-port=16379] [--sentinel-port=26379]
 *                        [--fe-port=9090]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { delay } from "../utils/async.ts";
import { programRunArgs } from "../utils/runtime_flags.ts";
import { RedisClient } from "../redis/redis_client.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    "dir": { type: "string" },
    "proxy-port": { type: "string", default: "19000" },
    "admin-port": { type: "string", default: "11080" },
    "dashboard-port": { type: "string", default: "18080" },
    "redis-port": { type: "string", default: "16379" },
    "sentinel-port": { type: "string", default: "26379" },
    "fe-port": { type: "string", default: "9090" },
  },
});

const top = new URL("..", import.meta.url).pathname;
const dir = flags.dir ?? await Deno.makeTempDir({ prefix: "codis-local-" });
await Deno.mkdir(dir, { recursive: true });
const proxyPort = Number(flags["proxy-port"]);
const adminPort = Number(flags["admin-port"]);
const dashboardPort = Number(flags["dashboard-port"]);
const redisPorts = [0, 1, 2, 3].map((i) => Number(flags["redis-port"]) + i);
const sentinelPorts = [0, 1, 2].map((i) => Number(flags["sentinel-port"]) + i);
const fePort = Number(flags["fe-port"]);

function portFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}
for (const p of [proxyPort, adminPort, dashboardPort, fePort, ...redisPorts, ...sentinelPorts]) {
  if (!portFree(p)) {
    console.error(
      `cluster: port ${p} is in use; pick others with --proxy-port, --admin-port, --dashboard-port, --redis-port, ` +
        `--sentinel-port, --fe-port`,
    );
    Deno.exit(1);
  }
}

const children: { name: string; child: Deno.ChildProcess }[] = [];
let stopping = false;

async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    console.log("\nstopping the local cluster…");
    for (const { child } of children.reverse()) {
      try {
        child.kill("SIGTERM");
      } catch {
        // exited already
      }
    }
    await Promise.all(children.map(({ child }) => child.status));
    console.log(`stopped; data and logs are in ${dir}`);
  }
  Deno.exit(code);
}

/**
 * Starts a child whose output goes to `logFile`. When an essential one (the dashboard, the proxy)
 * exits, everything stops; a Redis server or a sentinel may die (that is what the sentinels are for).
 */
function start(name: string, cmd: string, args: string[], logFile: string, essential = true): Deno.ChildProcess {
  const child = new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const file = Deno.openSync(logFile, { create: true, append: true, write: true });
  void child.stdout.pipeTo(file.writable, { preventClose: true }).catch(() => {});
  void child.stderr.pipeTo(Deno.openSync(logFile, { append: true }).writable).catch(() => {});
  children.push({ name, child });
  child.status.then((s) => {
    if (stopping) return;
    console.error(`cluster: ${name} exited (code ${s.code}); see ${logFile}`);
    if (essential) void stopAll(1);
  });
  return child;
}

async function waitRedis(addr: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      const c = await RedisClient.connect(addr, { connectTimeoutMs: 500 });
      await c.call("PING");
      await c.close();
      return;
    } catch {
      await delay(50);
    }
  }
  throw new Error(`${addr} did not answer`);
}

Deno.addSignalListener("SIGINT", () => void stopAll(0));
Deno.addSignalListener("SIGTERM", () => void stopAll(0));

const addrs = redisPorts.map((p) => `127.0.0.1:${p}`);
const [master1, replica1, master2, replica2] = addrs;
for (const port of redisPorts) {
  const d = `${dir}/redis-${port}`;
  await Deno.mkdir(d, { recursive: true });
  // A config file, so that the dashboard's sync actions can CONFIG REWRITE it.
  await Deno.writeTextFile(
    `${d}/redis.conf`,
    [`port ${port}`, "bind 127.0.0.1", `dir ${d}`, 'save ""', "appendonly no", ""].join("\n"),
  );
  start(`redis-server ${port}`, "redis-server", [`${d}/redis.conf`], `${d}/redis.log`, false);
}
await Promise.all(addrs.map(waitRedis));
const sentinels = sentinelPorts.map((p) => `127.0.0.1:${p}`);
for (const port of sentinelPorts) {
  const d = `${dir}/sentinel-${port}`;
  await Deno.mkdir(d, { recursive: true });
  // Sentinels rewrite their config file with what they learn.
  await Deno.writeTextFile(
    `${d}/sentinel.conf`,
    [`port ${port}`, "bind 127.0.0.1", `dir ${d}`, `logfile ${d}/sentinel.log`, ""].join("\n"),
  );
  start(`redis-sentinel ${port}`, "redis-sentinel", [`${d}/sentinel.conf`], `${d}/sentinel.out`, false);
}
await Promise.all(sentinels.map(waitRedis));

// The admin secret of this cluster: the dashboard and the proxy need it for every change.
const adminAuth = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0"))
  .join("");
await Deno.writeTextFile(`${dir}/admin_auth`, `${adminAuth}\n`, { mode: 0o600 });

const dashboardAddr = `127.0.0.1:${dashboardPort}`;
await Deno.writeTextFile(
  `${dir}/dashboard.toml`,
  [
    'coordinator_name = "filesystem"',
    `coordinator_addr = "${dir}/store"`,
    'product_name = "codis-demo"',
    `admin_addr = "${dashboardAddr}"`,
    `admin_auth = "${adminAuth}"`,
    "# A killed master fails over after 5 s here (Codis's default is 30s).",
    'sentinel_down_after = "5s"',
    "",
  ].join("\n"),
);
await Deno.writeTextFile(
  `${dir}/proxy.toml`,
  [
    'product_name = "codis-demo"',
    `proxy_addr = "127.0.0.1:${proxyPort}"`,
    `admin_addr = "127.0.0.1:${adminPort}"`,
    `admin_auth = "${adminAuth}"`,
    "",
  ].join("\n"),
);
const deno = (program: string) => [Deno.execPath(), programRunArgs(`${top}${program}/main.ts`)] as const;

console.log(`$ codis-dashboard --config=${dir}/dashboard.toml`);
start("codis-dashboard", deno("dashboard")[0], [
  ...deno("dashboard")[1],
  `--config=${dir}/dashboard.toml`,
  `--pidfile=${dir}/dashboard.pid`,
], `${dir}/dashboard.log`);
await waitHttp(`http://${dashboardAddr}/api/topom/model`);

console.log(`$ codis-proxy --config=${dir}/proxy.toml --dashboard=${dashboardAddr}`);
start("codis-proxy", deno("proxy")[0], [
  ...deno("proxy")[1],
  `--config=${dir}/proxy.toml`,
  `--dashboard=${dashboardAddr}`,
  `--pidfile=${dir}/proxy.pid`,
], `${dir}/proxy.log`);

/** Runs codis-admin against the dashboard, echoing the command like the tutorial. */
async function admin(...args: string[]): Promise<string> {
  console.log(`$ codis-admin --dashboard=${dashboardAddr} ${args.join(" ")}`);
  const out = await new Deno.Command(deno("admin")[0], {
    args: [...deno("admin")[1], `--dashboard=${dashboardAddr}`, ...args],
    env: { CODIS_AUTH: adminAuth },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (out.code !== 0) {
    console.error(`cluster: codis-admin failed: ${new TextDecoder().decode(out.stderr)}`);
    await stopAll(1);
  }
  return text;
}

// The proxy comes online by itself; wait for the dashboard to list it.
for (let i = 0; JSON.parse(await adminQuiet("--list-proxy")).length === 0; i++) {
  if (i > 300) {
    console.error(`cluster: the proxy did not come online; see ${dir}/proxy.log`);
    await stopAll(1);
  }
  await delay(100);
}
await admin("--create-group", "--gid=1");
await admin("--create-group", "--gid=2");
await admin("--group-add", "--gid=1", `--addr=${master1}`);
await admin("--group-add", "--gid=1", `--addr=${replica1}`);
await admin("--group-add", "--gid=2", `--addr=${master2}`);
await admin("--group-add", "--gid=2", `--addr=${replica2}`);
await admin("--sync-action", "--create", `--addr=${replica1}`);
await admin("--sync-action", "--create", `--addr=${replica2}`);
await admin("--slots-assign", "--beg=0", "--end=511", "--gid=1", "--confirm");
await admin("--slots-assign", "--beg=512", "--end=1023", "--gid=2", "--confirm");
await admin("--resync-group", "--all");
for (let i = 0;; i++) {
  const status = await adminQuiet("--group-status");
  if (status.includes(`${replica1} ==> ${master1}:up`) && status.includes(`${replica2} ==> ${master2}:up`)) break;
  if (i > 600) {
    console.error(`cluster: the replicas did not sync:\n${status}`);
    await stopAll(1);
  }
  await delay(100);
}
// Codis's tutorial ends with the sentinels: each added, then told to monitor every group.
for (const addr of sentinels) await admin("--sentinel-add", `--addr=${addr}`);
await admin("--sentinel-resync");
console.log(await admin("--group-status"));
await waitRedis(`127.0.0.1:${proxyPort}`);

// codis-fe: the web UI for every product of the store (this cluster's dashboard serves it too).
const feAddr = `127.0.0.1:${fePort}`;
console.log(`$ codis-fe --filesystem=${dir}/store --listen=${feAddr}`);
start("codis-fe", Deno.execPath(), [
  ...programRunArgs(`${top}dashboard/fe.ts`),
  `--filesystem=${dir}/store`,
  `--listen=${feAddr}`,
  `--pidfile=${dir}/fe.pid`,
], `${dir}/fe.log`);
await waitHttp(`http://${feAddr}/list`);

async function adminQuiet(...args: string[]): Promise<string> {
  const out = await new Deno.Command(deno("admin")[0], {
    args: [...deno("admin")[1], `--dashboard=${dashboardAddr}`, ...args],
    env: { CODIS_AUTH: adminAuth },
    stdout: "piped",
    stderr: "null",
  }).output();
  return out.code === 0 ? new TextDecoder().decode(out.stdout) : "[]";
}

async function waitHttp(url: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      if (res.ok) return;
    } catch {
      // not yet
    }
    await delay(100);
  }
  console.error(`cluster: ${url} did not answer; see the logs in ${dir}`);
  await stopAll(1);
}

console.log(`
Local Codis cluster is up (store, data and logs in ${dir}):
  web UI:    http://${feAddr}/   (codis-fe; the dashboard serves it too at http://${dashboardAddr}/)
             changes in the UI ask for the admin secret: ${adminAuth}
  dashboard: http://${dashboardAddr}/topom   (codis-admin --dashboard=${dashboardAddr} ...)
  group 1:   master ${master1}, replica ${replica1}   slots 0-511
  group 2:   master ${master2}, replica ${replica2}   slots 512-1023
  proxy:     127.0.0.1:${proxyPort}   (admin API http://127.0.0.1:${adminPort}/proxy)
  sentinels: ${sentinels.join(", ")}   (a master that stays down 5 s is replaced by its replica)

Connect with:
  redis-cli -p ${proxyPort}
  redis-benchmark -p ${proxyPort} -t set,get -q
Manage with (changes need the cluster's admin secret, kept in ${dir}/admin_auth):
  export CODIS_AUTH=$(cat ${dir}/admin_auth)
  deno task admin --dashboard=${dashboardAddr} --group-status
  deno task admin --dashboard=${dashboardAddr} --slot-action --create-range --beg=0 --end=99 --gid=2
  curl -H "Authorization: Bearer $CODIS_AUTH" http://${dashboardAddr}/api/topom/group/info/${master1}

Press Ctrl-C to stop everything.`);
await new Promise(() => {});
