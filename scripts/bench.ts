/**
 * Proxy benchmark: redis-benchmark against direct Redis, this proxy and twemproxy (Debian's
 * nutcracker) over the same two Redis servers, interleaved over several rounds on this machine.
 * Prints median req/s, the ratio to direct Redis, GET latency at one client, and the proxy's CPU
 * microseconds per request and RSS.
 *
 * Usage: deno task bench [--rounds=5] [--quick] [--baseline=DIR] [--only=TEXT]
 *
 * `--only=TEXT` runs only the rows whose name contains TEXT (e.g. `--only=P16`). The Pub/Sub and SCAN
 * rows (`scripts/bench_keyspace.ts`, `--only=PUBLISH` or `--only=SCAN` for them alone) and the
 * "hostile clients" rows (`scripts/bench_hostile.ts`) come last; `--skip-hostile` leaves those out.
 *
 * `--baseline=DIR` also runs the proxy of another checkout (say, `git worktree add /tmp/base main`)
 * as a fourth target, interleaved with the others, and prints this proxy's rate against it: how
 * a change is shown to be no slower on a noisy machine.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { delay } from "../utils/async.ts";
import { programRunArgs } from "../utils/runtime_flags.ts";
import { hostileRows } from "./bench_hostile.ts";
import { keyspaceRows } from "./bench_keyspace.ts";
import { connectionRows } from "./bench_connections.ts";
import { RedisClient } from "../redis/redis_client.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "5" },
    quick: { type: "boolean", default: false },
    baseline: { type: "string" },
    only: { type: "string" },
    "proxy-v8-flags": { type: "string" },
    "skip-hostile": { type: "boolean", default: false },
  },
});
const ROUNDS = Number(flags.rounds);
const SCALE = flags.quick ? 0.25 : 1;

/** Earlier measurements of Codis 3.2's proxy and twemproxy on this machine, as ratios to direct Redis (Codis is not built here). */
const REFERENCE: Record<string, { codis: number; twemproxy: number }> = {
  "SET -c50 -P1": { codis: 0.55, twemproxy: 0.75 },
  "GET -c50 -P1": { codis: 0.55, twemproxy: 0.75 },
  "SET -c50 -P16": { codis: 0.49, twemproxy: 0.43 },
  "GET -c50 -P16": { codis: 0.39, twemproxy: 0.26 },
  "MSET(10) -c50 -P1": { codis: 0.39, twemproxy: 0.58 },
};

interface Row {
  name: string;
  test: string;
  clients: number;
  pipeline: number;
  requests: number;
}

const ALL_ROWS: Row[] = [
  { name: "SET -c50 -P1", test: "set", clients: 50, pipeline: 1, requests: 200_000 },
  { name: "GET -c50 -P1", test: "get", clients: 50, pipeline: 1, requests: 200_000 },
  { name: "SET -c50 -P16", test: "set", clients: 50, pipeline: 16, requests: 1_500_000 },
  { name: "GET -c50 -P16", test: "get", clients: 50, pipeline: 16, requests: 1_500_000 },
  { name: "MSET(10) -c50 -P1", test: "mset", clients: 50, pipeline: 1, requests: 100_000 },
  { name: "GET -c1 -P1", test: "get", clients: 1, pipeline: 1, requests: 30_000 },
];

const ROWS = ALL_ROWS.filter((r) => !flags.only || r.name.includes(flags.only));

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

const children: Deno.ChildProcess[] = [];
const tmp = await Deno.makeTempDir({ prefix: "codis-bench-" });

function spawn(cmd: string, args: string[]): Deno.ChildProcess {
  const child = new Deno.Command(cmd, { args, stdin: "null", stdout: "null", stderr: "inherit" }).spawn();
  children.push(child);
  return child;
}

async function waitUp(port: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    try {
      const c = await RedisClient.connect(`127.0.0.1:${port}`, { connectTimeoutMs: 500 });
      const r = await c.send(["PING"]);
      await c.close();
      if (r === "PONG") return;
    } catch {
      // not yet
    }
    await delay(50);
  }
  throw new Error(`nothing answers on port ${port}`);
}

function cpuTicks(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
  return m ? Number(m[1]) : 0;
}

interface Result {
  rps: number;
  p50: number;
  p99: number;
}

async function redisBenchmark(port: number, row: Row): Promise<Result> {
  const n = Math.max(1000, Math.round(row.requests * SCALE));
  const out = await new Deno.Command("redis-benchmark", {
    args: [
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "-c",
      String(row.clients),
      "-P",
      String(row.pipeline),
      "-n",
      String(n),
      "-r",
      "100000",
      "-t",
      row.test,
      "--csv",
    ],
    stdout: "piped",
    stderr: "null",
  }).output();
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  const last = lines[lines.length - 1].split(",").map((s) => s.replace(/"/g, ""));
  return { rps: Number(last[1]), p50: Number(last[4]), p99: Number(last[6]) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function main(): Promise<void> {
  const redisPorts = [freePort(), freePort()];
  const redisPids: number[] = [];
  for (const port of redisPorts) {
    redisPids.push(
      spawn("redis-server", [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        tmp,
        "--enable-debug-command",
        "local",
      ]).pid,
    );
  }
  await Promise.all(redisPorts.map(waitUp));
  const addrs = redisPorts.map((p) => `127.0.0.1:${p}`);

  const proxyPort = freePort();
  const slots = Array.from({ length: 1024 }, (_, id) => ({ id, backend_addr: addrs[id < 512 ? 0 : 1] }));
  await Deno.writeTextFile(`${tmp}/slots.json`, JSON.stringify(slots));
  await Deno.writeTextFile(
    `${tmp}/proxy.toml`,
    `proxy_addr = "127.0.0.1:${proxyPort}"\nadmin_addr = "127.0.0.1:${freePort()}"\nproxy_max_clients = 100000\n`,
  );
  const main = new URL("../proxy/main.ts", import.meta.url).pathname;
  const proxy = spawn(Deno.execPath(), [
    ...(flags["proxy-v8-flags"]
      ? ["run", "--allow-all", `--v8-flags=${flags["proxy-v8-flags"]}`, main]
      : programRunArgs(main)),
    `--config=${tmp}/proxy.toml`,
    `--fillslots=${tmp}/slots.json`,
    "--log-level=WARN",
  ]);
  let baselinePort = 0;
  let baselinePid = 0;
  if (flags.baseline) {
    baselinePort = freePort();
    await Deno.writeTextFile(
      `${tmp}/baseline.toml`,
      `proxy_addr = "127.0.0.1:${baselinePort}"\nadmin_addr = "127.0.0.1:${freePort()}"\nproxy_max_clients = 100000\n`,
    );
    // The same runtime flags as this proxy, so that only the code differs.
    const baselineMain = `${flags.baseline}/proxy/main.ts`;
    baselinePid = spawn(Deno.execPath(), [
      ...(flags["proxy-v8-flags"]
        ? ["run", "--allow-all", `--v8-flags=${flags["proxy-v8-flags"]}`, baselineMain]
        : programRunArgs(baselineMain)),
      `--config=${tmp}/baseline.toml`,
      `--fillslots=${tmp}/slots.json`,
      "--log-level=WARN",
    ]).pid;
    await waitUp(baselinePort);
  }

  const twemPort = freePort();
  await Deno.writeTextFile(
    `${tmp}/nutcracker.yml`,
    `alpha:\n  listen: 127.0.0.1:${twemPort}\n  hash: crc32a\n  hash_tag: "{}"\n  distribution: ketama\n  redis: true\n  auto_eject_hosts: false\n  server_connections: 1\n  servers:\n${
      addrs.map((a) => `   - ${a}:1\n`).join("")
    }`,
  );
  const twemPid = spawn("nutcracker", ["-c", `${tmp}/nutcracker.yml`, "-o", `${tmp}/nutcracker.log`]).pid;
  await Promise.all([waitUp(proxyPort), waitUp(twemPort)]);

  const targets = [
    { name: "redis", port: redisPorts[0] },
    { name: "proxy", port: proxyPort },
    { name: "twemproxy", port: twemPort },
    ...(baselinePort ? [{ name: "baseline", port: baselinePort }] : []),
  ];
  const results: Record<string, Record<string, Result[]>> = {};
  const proxyCpu: Record<string, number[]> = {};
  const baselineCpu: Record<string, number[]> = {};
  const pidOf: Record<string, number> = { proxy: proxy.pid, baseline: baselinePid };
  console.log(`${ROUNDS} rounds, targets interleaved; redis-benchmark -r 100000 against each\n`);
  for (let round = 1; round <= ROUNDS; round++) {
    for (const row of ROWS) {
      for (const t of targets) {
        const pid = pidOf[t.name] ?? 0;
        const before = pid ? cpuTicks(pid) : 0;
        const r = await redisBenchmark(t.port, row);
        if (pid) {
          const n = Math.max(1000, Math.round(row.requests * SCALE));
          const cpu = t.name === "proxy" ? proxyCpu : baselineCpu;
          (cpu[row.name] ??= []).push((cpuTicks(pid) - before) * 10_000 / n);
        }
        ((results[row.name] ??= {})[t.name] ??= []).push(r);
      }
    }
    console.log(`round ${round} done`);
  }

  const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
  console.log(
    "\n| test | redis req/s | proxy req/s | twemproxy req/s | proxy/redis | twemproxy/redis | Codis/redis (earlier) | proxy CPU µs/req |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
  for (const row of ROWS.filter((r) => r.clients > 1)) {
    const m = (t: string) => median(results[row.name][t].map((r) => r.rps));
    const ref = REFERENCE[row.name];
    console.log(
      `| ${row.name} | ${fmt(m("redis"))} | ${fmt(m("proxy"))} | ${fmt(m("twemproxy"))} | ${
        (m("proxy") / m("redis")).toFixed(2)
      }× | ${(m("twemproxy") / m("redis")).toFixed(2)}× | ${ref ? `${ref.codis}×` : ""} | ${
        median(proxyCpu[row.name]).toFixed(1)
      } |`,
    );
  }
  if (baselinePort) {
    console.log(`\nthis proxy against the baseline (${flags.baseline}), median req/s:`);
    console.log(
      "| test | proxy req/s | baseline req/s | proxy/baseline | proxy CPU µs/req | baseline CPU µs/req |\n" +
        "|---|---:|---:|---:|---:|---:|",
    );
    for (const row of ROWS) {
      const m = (t: string) => median(results[row.name][t].map((r) => r.rps));
      console.log(
        `| ${row.name} | ${fmt(m("proxy"))} | ${fmt(m("baseline"))} | ${(m("proxy") / m("baseline")).toFixed(2)}× | ${
          median(proxyCpu[row.name]).toFixed(1)
        } | ${median(baselineCpu[row.name]).toFixed(1)} |`,
      );
    }
  }
  const lat = ROWS.find((r) => r.clients === 1);
  if (lat) {
    console.log(`\nGET -c1 -P1 latency (ms, medians over rounds):`);
    console.log("| target | req/s | p50 | p99 |\n|---|---:|---:|---:|");
    for (const t of targets) {
      const rs = results[lat.name][t.name];
      console.log(
        `| ${t.name} | ${fmt(median(rs.map((r) => r.rps)))} | ${median(rs.map((r) => r.p50)).toFixed(3)} | ${
          median(rs.map((r) => r.p99)).toFixed(3)
        } |`,
      );
    }
  }
  console.log(`\nproxy RSS after the run: ${(rssKb(proxy.pid) / 1024).toFixed(1)} MiB`);
  if (!flags.only || /conn/i.test(flags.only)) {
    // The floors Deno sets: a server holding one 64-byte buffer per connection, a forwarder, and
    // the least a proxy does (one shared backend connection, replies handed back in order).
    const floorPort = freePort();
    const forwarderPort = freePort();
    const sharedPort = freePort();
    const floorMain = new URL("./deno_floor.ts", import.meta.url).pathname;
    const floor = spawn(Deno.execPath(), [...programRunArgs(floorMain), `--port=${floorPort}`]);
    const forwarder = spawn(Deno.execPath(), [
      ...programRunArgs(floorMain),
      `--port=${forwarderPort}`,
      `--forward=${redisPorts[0]}`,
    ]);
    const sharedForwarder = spawn(Deno.execPath(), [
      ...programRunArgs(floorMain),
      `--port=${sharedPort}`,
      `--shared=${redisPorts[0]}`,
    ]);
    await Promise.all([waitUp(floorPort), waitUp(forwarderPort), waitUp(sharedPort)]);
    await connectionRows([
      { name: "redis", port: redisPorts[0], pid: redisPids[0] },
      { name: "proxy", port: proxyPort, pid: proxy.pid },
      { name: "twemproxy", port: twemPort, pid: twemPid },
      ...(baselinePort ? [{ name: "baseline", port: baselinePort, pid: baselinePid }] : []),
      { name: "minimal Deno server", port: floorPort, pid: floor.pid },
      { name: "minimal Deno forwarder", port: forwarderPort, pid: forwarder.pid },
      { name: "minimal Deno proxy", port: sharedPort, pid: sharedForwarder.pid },
    ], Math.min(ROUNDS, 3));
  }
  if (!flags.only || /PUBLISH|SCAN/.test(flags.only)) await keyspaceRows(redisPorts, proxyPort, ROUNDS);
  if (!flags["skip-hostile"] && !flags.only) await hostileRows(redisPorts, tmp);
}

try {
  await main();
} finally {
  for (const c of children) {
    try {
      c.kill("SIGTERM");
    } catch {
      // exited
    }
  }
  await Promise.all(children.map((c) => c.status));
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
}
