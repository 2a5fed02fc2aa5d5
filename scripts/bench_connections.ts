/**
 * The connection rows of `deno task bench`, for direct Redis, this proxy and twemproxy, interleaved:
 *
 * - idle connections: RSS of the target process before and after opening N connections (each
 *   sends one PING and reads its PONG, then stays open), per connection; the time to open them;
 *   and RSS 10 s after they all closed (memory given back?);
 * - a new connection per request: `redis-benchmark -c 20 -k 0 -t get` (connect, GET, close), and
 *   the target's CPU time per connection (less noisy than the rate on a shared machine);
 * - the latency one client sees: `redis-benchmark -c 1 -t get`, p50 and p99, and what each target
 *   adds to direct Redis.
 *
 * @module
 */

import { delay } from "../utils/async.ts";

/** A target: its port and the pid whose memory is measured. */
export interface ConnTarget {
  name: string;
  port: number;
  pid: number;
}

/** Requests (and connections) of the `-k 0` row. */
const K0_REQUESTS = 20_000;

const PING = new TextEncoder().encode("PING\r\n");

/** CPU seconds the process has used (user + system). */
function cpuSeconds(pid: number): number {
  // /proc/<pid>/stat: the fields after the command's closing parenthesis; utime and stime are 14 and 15.
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
}

const CLOCK_TICKS = Number(
  new TextDecoder().decode(new Deno.Command("getconf", { args: ["CLK_TCK"] }).outputSync().stdout).trim(),
) || 100;

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
  return m ? Number(m[1]) : 0;
}

/** Opens `n` connections to `port` (200 at a time), each answered once; returns them and the time taken. */
async function openIdle(port: number, n: number): Promise<{ conns: Deno.TcpConn[]; ms: number }> {
  const conns: Deno.TcpConn[] = [];
  const buf = new Uint8Array(64);
  const started = performance.now();
  for (let i = 0; i < n; i += 200) {
    const batch = await Promise.all(Array.from({ length: Math.min(200, n - i) }, async () => {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      await c.write(PING);
      await c.read(buf);
      return c;
    }));
    conns.push(...batch);
  }
  return { conns, ms: performance.now() - started };
}

async function benchmark(port: number, args: string[]): Promise<{ rps: number; p50: number; p99: number }> {
  const out = await new Deno.Command("redis-benchmark", {
    args: ["-h", "127.0.0.1", "-p", String(port), "-t", "get", "--csv", ...args],
    stdout: "piped",
    stderr: "null",
  }).output();
  const line = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  const cells = line.split(",").map((c) => Number(c.replaceAll('"', "")));
  // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
  return { rps: cells[1], p50: cells[4], p99: cells[6] };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Runs the rows `rounds` times over `targets` (interleaved) and prints them. */
export async function connectionRows(targets: ConnTarget[], rounds: number, idle = 5000): Promise<void> {
  const r: Record<string, Record<string, number[]>> = {};
  const add = (t: string, k: string, v: number) => ((r[t] ??= {})[k] ??= []).push(v);
  for (let round = 0; round < rounds; round++) {
    for (const t of targets) {
      const before = rssKb(t.pid);
      const { conns, ms } = await openIdle(t.port, idle);
      await delay(500);
      const during = rssKb(t.pid);
      for (const c of conns) c.close();
      await delay(10_000);
      const after = rssKb(t.pid);
      add(t.name, "perConnKb", (during - before) / idle);
      add(t.name, "openMs", ms);
      add(t.name, "idleMiB", before / 1024);
      add(t.name, "afterMiB", after / 1024);
      const cpuBefore = cpuSeconds(t.pid);
      const k0 = await benchmark(t.port, ["-c", "20", "-k", "0", "-n", String(K0_REQUESTS)]);
      add(t.name, "k0", k0.rps);
      add(t.name, "k0CpuUs", (cpuSeconds(t.pid) - cpuBefore) * 1e6 / K0_REQUESTS);
      const c1 = await benchmark(t.port, ["-c", "1", "-n", "30000"]);
      add(t.name, "p50", c1.p50);
      add(t.name, "p99", c1.p99);
    }
  }
  const m = (t: string, k: string) => median(r[t][k]);
  const fmt = (n: number, d = 0) => n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
  const direct = targets[0].name;
  console.log(`\nConnections (medians over ${rounds} rounds; ${fmt(idle)} idle connections, one PING each):`);
  console.log(
    "| target | RSS per idle conn, first / later rounds | RSS idle → with them → 10 s after closing (first round) | time to open | GET -c20 -k0 req/s | its CPU µs per connection | GET -c1 p50 / p99 ms | added p50 / p99 ms |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
  for (const t of targets) {
    const addedP50 = m(t.name, "p50") - m(direct, "p50");
    const addedP99 = m(t.name, "p99") - m(direct, "p99");
    // The first round shows what connections cost; later ones whether that memory is reused.
    const per = r[t.name].perConnKb;
    const later = per.length > 1 ? ` / ${fmt(median(per.slice(1)), 1)}` : "";
    console.log(
      `| ${t.name} | ${fmt(per[0], 1)}${later} KiB | ${fmt(r[t.name].idleMiB[0], 1)} → ${
        fmt(r[t.name].idleMiB[0] + per[0] * idle / 1024, 1)
      } → ${fmt(r[t.name].afterMiB[0], 1)} MiB | ${fmt(m(t.name, "openMs") / 1000, 2)} s | ${fmt(m(t.name, "k0"))} | ${
        fmt(m(t.name, "k0CpuUs"))
      } | ${fmt(m(t.name, "p50"), 3)} / ${fmt(m(t.name, "p99"), 3)} | ${
        t.name === direct ? "–" : `${fmt(addedP50, 3)} / ${fmt(addedP99, 3)}`
      } |`,
    );
  }
}
