/**
 * Migration benchmark (not a test), measured on this machine in one run:
 *
 * 1. Ours: 1,000,000 small keys in slots 0-511 of group 1 move to group 2 (dashboard mover plus
 *    proxy-side MIGRATE), while redis-benchmark GETs through the proxy: keys/s, and GET p50/p99
 *    before and during the migration. Runs of GETs straight at the source server (no proxy) alternate
 *    with them: what the move costs a client of the server itself on this machine, the floor of
 *    the proxy's figures.
 * 2. Redis Cluster: the same number of keys in half the hash slots of one master of a two-master
 *    cluster, moved with `redis-cli --cluster reshard` (same keys per MIGRATE): keys/s.
 * 3. Big keys: a hash, a set, a sorted set and a list of 1,000,000 elements each, moved once with
 *    one MIGRATE and once in pieces as the dashboard moves them (`dashboard/big_keys.ts`): total
 *    time, and the longest a PING sent every millisecond to the source and to the target waited.
 *    The same key's slot is also moved with `redis-cli --cluster reshard` in a two-master Redis Cluster.
 *
 * Usage: deno task bench:migration [--keys=1000000] [--parallel-slots=512] [--batch=500] [--interval=µs]
 *                                  [--skip-cluster] [--skip-big-key] [--big-elements=1000000]
 *                                  [--only-big-keys] [--latency-bound=MS] [--keep]
 *
 * `--latency-bound=MS` runs ours with `migration_latency_bound` (adaptive pacing; 0 = fixed batches).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { delay } from "../utils/async.ts";
import { programRunArgs } from "../utils/runtime_flags.ts";
import { RedisClient } from "../redis/redis_client.ts";
import { slotOfString } from "../redis/slot_hash.ts";
import { findBigKeys, transferBigKey } from "../dashboard/big_keys.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    "keys": { type: "string", default: "1000000" },
    "parallel-slots": { type: "string", default: "512" },
    "batch": { type: "string", default: "500" },
    "interval": { type: "string", default: "0" },
    "skip-cluster": { type: "boolean", default: false },
    "skip-big-key": { type: "boolean", default: false },
    "big-elements": { type: "string", default: "1000000" },
    "latency-bound": { type: "string", default: "0" },
    "only-big-keys": { type: "boolean", default: false },
    "keep": { type: "boolean", default: false },
  },
});
const KEYS = Number(flags.keys);
const BATCH = Number(flags.batch);
const top = new URL("..", import.meta.url).pathname;
const tmp = await Deno.makeTempDir({ prefix: "codis-bench-migration-" });
const children: Deno.ChildProcess[] = [];

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function spawn(cmd: string, args: string[], log: string): Deno.ChildProcess {
  const child = new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" }).spawn();
  const file = Deno.openSync(log, { create: true, append: true, write: true });
  void child.stdout.pipeTo(file.writable, { preventClose: true }).catch(() => {});
  void child.stderr.pipeTo(Deno.openSync(log, { append: true }).writable).catch(() => {});
  children.push(child);
  return child;
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(100);
  }
}

async function redisServer(extra: string[] = []): Promise<number> {
  const port = freePort();
  const dir = `${tmp}/redis-${port}`;
  await Deno.mkdir(dir);
  spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", ...extra],
    `${dir}/log`,
  );
  await waitFor(async () => {
    const c = await RedisClient.connect(`127.0.0.1:${port}`, { connectTimeoutMs: 500 });
    try {
      return await c.call("PING") === "PONG";
    } finally {
      await c.close();
    }
  }, `redis-server ${port}`);
  return port;
}

async function call(port: number, ...args: (string | number)[]): Promise<unknown> {
  const c = await RedisClient.connect(`127.0.0.1:${port}`);
  try {
    return await c.call(...args);
  } finally {
    await c.close();
  }
}

/** Loads `n` keys `key:%012d` (as redis-benchmark names them) that `accept` takes, pipelined. */
async function load(port: number, n: number, accept: (key: string) => boolean): Promise<number> {
  const c = await RedisClient.connect(`127.0.0.1:${port}`, { timeoutMs: 120_000 });
  let loaded = 0;
  let i = 0;
  try {
    while (loaded < n) {
      const batch: string[][] = [];
      while (batch.length < 5000 && loaded + batch.length < n) {
        const key = `key:${String(i++).padStart(12, "0")}`;
        if (accept(key)) batch.push(["SET", key, "xxx"]);
      }
      await c.pipeline(batch);
      loaded += batch.length;
    }
  } finally {
    await c.close();
  }
  return i;
}

/** GET latency percentiles of a run (ms). */
interface Latency {
  p50: number;
  p99: number;
}

/** One redis-benchmark GET run: its p50 and p99 (ms). */
async function getLatency(port: number, range: number, cluster = false): Promise<Latency> {
  const out = await new Deno.Command("redis-benchmark", {
    args: [
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "-c",
      "10",
      "-n",
      "20000",
      "-r",
      String(range),
      "-t",
      "get",
      "--csv",
      ...(cluster ? ["--cluster"] : []),
    ],
    stdout: "piped",
    stderr: "null",
  }).output();
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  const last = lines[lines.length - 1].split(",").map((s) => s.replace(/"/g, ""));
  // "test","rps","avg","min","p50","p95","p99","max"
  return { p50: Number(last[4]), p99: Number(last[6]) };
}

/** Medians of the runs' p50 and p99. */
function medians(runs: Latency[]): Latency {
  return { p50: median(runs.map((r) => r.p50)), p99: median(runs.map((r) => r.p99)) };
}

interface MoveResult {
  keysPerSecond: number;
  seconds: number;
  before: Latency;
  during: Latency;
  /** GETs straight at the source server, alternating with those through the proxy (ours only). */
  direct?: { before: Latency; during: Latency };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function admin(dashboard: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...programRunArgs(`${top}admin/main.ts`), `--dashboard=${dashboard}`, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (out.code !== 0) throw new Error(`codis-admin ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

// --- 1. ours ------------------------------------------------------------------------------------

async function ours(): Promise<MoveResult> {
  const g1 = await redisServer();
  const g2 = await redisServer();
  const dashPort = freePort();
  const proxyPort = freePort();
  const proxyAdmin = freePort();
  await Deno.writeTextFile(
    `${tmp}/dashboard.toml`,
    [
      'coordinator_name = "filesystem"',
      `coordinator_addr = "${tmp}/store"`,
      'product_name = "bench"',
      `admin_addr = "127.0.0.1:${dashPort}"`,
      `migration_parallel_slots = ${flags["parallel-slots"]}`,
      `migration_async_numkeys = ${BATCH}`,
      `migration_latency_bound = "${flags["latency-bound"]}ms"`,
      "",
    ].join("\n"),
  );
  await Deno.writeTextFile(
    `${tmp}/proxy.toml`,
    ['product_name = "bench"', `proxy_addr = "127.0.0.1:${proxyPort}"`, `admin_addr = "127.0.0.1:${proxyAdmin}"`, ""]
      .join("\n"),
  );
  const dashboard = `127.0.0.1:${dashPort}`;
  spawn(
    Deno.execPath(),
    [...programRunArgs(`${top}dashboard/main.ts`), `--config=${tmp}/dashboard.toml`],
    `${tmp}/dashboard.log`,
  );
  await waitFor(async () => (await fetch(`http://${dashboard}/api/topom/model`)).ok, "dashboard");
  spawn(
    Deno.execPath(),
    [...programRunArgs(`${top}proxy/main.ts`), `--config=${tmp}/proxy.toml`, `--dashboard=${dashboard}`],
    `${tmp}/proxy.log`,
  );
  await waitFor(async () => JSON.parse(await admin(dashboard, "--list-proxy")).length === 1, "proxy online");
  await admin(dashboard, "--create-group", "--gid=1");
  await admin(dashboard, "--create-group", "--gid=2");
  await admin(dashboard, "--group-add", "--gid=1", `--addr=127.0.0.1:${g1}`);
  await admin(dashboard, "--group-add", "--gid=2", `--addr=127.0.0.1:${g2}`);
  await admin(dashboard, "--slots-assign", "--beg=0", "--end=1023", "--gid=1", "--confirm");
  await admin(dashboard, "--resync-group", "--all");

  console.log(`ours: loading ${KEYS} keys in slots 0-511 of group 1 …`);
  const range = await load(g1, KEYS, (k) => slotOfString(k) < 512);
  // The rest of the GETs' keyspace lives in slots 512-1023, which stay on group 1 (misses there are fine).
  const before: Latency[] = [];
  const directBefore: Latency[] = [];
  // Two rounds first, not counted: right after the load, the first runs' p99 through the proxy was
  // often 2-3 times the later ones', which made "before" swing from run to run.
  for (let i = 0; i < 2; i++) {
    await getLatency(proxyPort, range);
    await getLatency(g1, range);
  }
  for (let i = 0; i < 5; i++) {
    before.push(await getLatency(proxyPort, range));
    directBefore.push(await getLatency(g1, range));
  }

  console.log("ours: migrating slots 0-511 to group 2 …");
  const during: Latency[] = [];
  const directDuring: Latency[] = [];
  let migrating = true;
  const started = performance.now();
  await admin(dashboard, "--slot-action", `--interval=${flags.interval}`);
  await admin(dashboard, "--slot-action", "--create-range", "--beg=0", "--end=511", "--gid=2");
  const load_ = (async () => {
    while (migrating) {
      during.push(await getLatency(proxyPort, range));
      if (migrating) directDuring.push(await getLatency(g1, range));
    }
  })();
  await waitFor(
    async () => {
      const stats = await (await fetch(`http://${dashboard}/topom/stats`)).json();
      return stats.slots.every((s: { id: number; group_id: number; action: { state?: string } }) =>
        !s.action.state && s.group_id === (s.id < 512 ? 2 : 1)
      );
    },
    "migration to finish",
    1_800_000,
  );
  const seconds = (performance.now() - started) / 1000;
  migrating = false;
  console.log(`p99 before ${before.map((r) => r.p99).join(" ")}; during ${during.map((r) => r.p99).join(" ")}`);
  console.log(
    `direct p99 before ${directBefore.map((r) => r.p99).join(" ")}; during ${directDuring.map((r) => r.p99).join(" ")}`,
  );
  await load_;
  const left = await call(g1, "DBSIZE") as number;
  const moved = await call(g2, "DBSIZE") as number;
  if (moved !== KEYS || left !== 0) {
    throw new Error(`after the migration: ${left} keys on group 1, ${moved} on group 2`);
  }
  return {
    keysPerSecond: KEYS / seconds,
    seconds,
    before: medians(before),
    during: medians(during),
    direct: { before: medians(directBefore), during: medians(directDuring) },
  };
}

// --- 2. Redis Cluster -------------------------------------------------------------------------------

function crc16(s: string): number {
  let crc = 0;
  for (const b of new TextEncoder().encode(s)) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** `redis-cli --cluster reshard` of `slots` hash slots from master `a` to master `b`. */
async function reshard(
  a: number,
  b: number,
  slots: number,
  extra: string[],
): Promise<{ code: number; stderr: string }> {
  const idA = String(await call(a, "CLUSTER", "MYID"));
  const idB = String(await call(b, "CLUSTER", "MYID"));
  const out = await new Deno.Command("redis-cli", {
    args: [
      "--cluster",
      "reshard",
      `127.0.0.1:${a}`,
      "--cluster-from",
      idA,
      "--cluster-to",
      idB,
      "--cluster-slots",
      String(slots),
      "--cluster-yes",
      ...extra,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

/** A two-master Redis Cluster on new servers: `a` owns hash slots 0-8191, `b` 8192-16383. */
async function twoMasterCluster(): Promise<{ a: number; b: number }> {
  const a = await redisServer(["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]);
  const b = await redisServer(["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]);
  await call(a, "CLUSTER", "ADDSLOTSRANGE", 0, 8191);
  await call(b, "CLUSTER", "ADDSLOTSRANGE", 8192, 16383);
  await call(a, "CLUSTER", "MEET", "127.0.0.1", b);
  await waitFor(async () => {
    const ia = String(await call(a, "CLUSTER", "INFO"));
    const ib = String(await call(b, "CLUSTER", "INFO"));
    return ia.includes("cluster_state:ok") && ib.includes("cluster_state:ok") && ia.includes("cluster_known_nodes:2");
  }, "the cluster to form");
  return { a, b };
}

async function redisCluster(): Promise<MoveResult> {
  const { a, b } = await twoMasterCluster();
  console.log(`redis cluster: loading ${KEYS} keys in hash slots 0-8191 of one master …`);
  const range = await load(a, KEYS, (k) => crc16(k) % 16384 < 8192);
  const before: Latency[] = [];
  for (let i = 0; i < 5; i++) before.push(await getLatency(a, range, true));
  console.log("redis cluster: redis-cli --cluster reshard of 8192 slots …");
  const started = performance.now();
  let resharding = true;
  const during: Latency[] = [];
  const gets = (async () => {
    while (resharding) during.push(await getLatency(a, range, true));
  })();
  const out = await reshard(a, b, 8192, ["--cluster-pipeline", String(BATCH)]);
  const seconds = (performance.now() - started) / 1000;
  resharding = false;
  await gets;
  console.log(
    `redis cluster p99 before ${before.map((r) => r.p99).join(" ")}; during ${during.map((r) => r.p99).join(" ")}`,
  );
  if (out.code !== 0) throw new Error(`redis-cli --cluster reshard failed: ${out.stderr}`);
  const moved = await call(b, "DBSIZE") as number;
  if (moved !== KEYS) throw new Error(`reshard moved ${moved} keys, not ${KEYS}`);
  return { keysPerSecond: KEYS / seconds, seconds, before: medians(before), during: medians(during) };
}

// --- 3. big keys ------------------------------------------------------------------------------------

interface BigKeyRow {
  type: string;
  /** One MIGRATE of the whole key. */
  migrate: { ms: number; sourceMaxMs: number; targetMaxMs: number };
  /** The dashboard's transfer in pieces (`dashboard/big_keys.ts`, default chunk limits). */
  pieces: { ms: number; sourceMaxMs: number; targetMaxMs: number; chunks: number };
  /** `redis-cli --cluster reshard` of the key's slot in a two-master Redis Cluster. */
  reshard: { ms: number; sourceMaxMs: number; targetMaxMs: number };
}

/** A hash tag whose Redis Cluster slot is 0 (the first slot `--cluster reshard` takes from its owner). */
function slotZeroTag(): string {
  for (let i = 0;; i++) if (crc16(String(i)) % 16384 === 0) return String(i);
}

/** Moves the slot of `fill`'s key (slot 0) from one master of a new two-master Redis Cluster to the other. */
async function reshardBigKey(fill: (port: number, key: string) => Promise<void>): Promise<BigKeyRow["reshard"]> {
  const { a, b } = await twoMasterCluster();
  const key = `{${slotZeroTag()}}big`;
  await fill(a, key);
  let code = 0;
  const r = await worstPings([a, b], async () => {
    code = (await reshard(a, b, 1, ["--cluster-timeout", "120000"])).code;
  });
  if (code !== 0 || await call(b, "EXISTS", key) !== 1) throw new Error(`redis-cli --cluster reshard of ${key} failed`);
  return { ms: r.ms, sourceMaxMs: r.worst[0], targetMaxMs: r.worst[1] };
}

/** PINGs both servers every millisecond while `run` runs: the longest answer is how long each was blocked. */
async function worstPings(ports: number[], run: () => Promise<void>): Promise<{ ms: number; worst: number[] }> {
  const worst = ports.map(() => 0);
  let running = true;
  const pingers = ports.map(async (port, i) => {
    const p = await RedisClient.connect(`127.0.0.1:${port}`, { timeoutMs: 120_000 });
    try {
      while (running) {
        const t = performance.now();
        await p.call("PING");
        worst[i] = Math.max(worst[i], performance.now() - t);
        await delay(1);
      }
    } finally {
      await p.close();
    }
  });
  await delay(200);
  const started = performance.now();
  await run();
  const ms = performance.now() - started;
  await delay(200);
  running = false;
  await Promise.all(pingers);
  return { ms, worst };
}

/**
 * Each chunkable type with `n` elements: one MIGRATE from server A to server B, then the transfer
 * in pieces back from B to A, each with both servers PINGed every millisecond.
 */
async function bigKeys(n = 1_000_000): Promise<BigKeyRow[]> {
  const a = await redisServer();
  const b = await redisServer();
  const rows: BigKeyRow[] = [];
  const fillClient = await RedisClient.connect(`127.0.0.1:${a}`, { timeoutMs: 120_000 });
  const rawA = await RedisClient.connect(`127.0.0.1:${a}`, { raw: true, timeoutMs: 120_000 });
  const rawB = await RedisClient.connect(`127.0.0.1:${b}`, { raw: true, timeoutMs: 120_000 });
  const limits = { maxBulks: 200, maxBytes: 32 * 1024 * 1024 };
  try {
    for (const type of ["hash", "set", "zset", "list"] as const) {
      const key = `big:${type}`;
      const fill = async (c: RedisClient, name: string) => {
        for (let i = 0; i < n; i += 10_000) {
          const items: (string | number)[] = [];
          for (let j = i; j < Math.min(n, i + 10_000); j++) {
            if (type === "hash") items.push(`field:${j}`, `value:${j}`);
            else if (type === "zset") items.push(j, `member:${j}`);
            else items.push(`element:${j}`);
          }
          await c.call({ hash: "HSET", set: "SADD", zset: "ZADD", list: "RPUSH" }[type], name, ...items);
        }
      };
      await fill(fillClient, key);
      let reply: unknown;
      const m = await worstPings([a, b], async () => {
        reply = await call(a, "MIGRATE", "127.0.0.1", b, key, 0, 120_000);
      });
      if (reply !== "OK") throw new Error(`MIGRATE answered ${reply}`);
      const [found] = await findBigKeys(rawB, 0, [new TextEncoder().encode(key)], limits);
      if (!found) throw new Error(`${key} not found big`);
      let chunks = 0;
      const p = await worstPings([a, b], async () => {
        chunks = (await transferBigKey(rawB, rawA, found, limits, () => Promise.resolve())).chunks;
      });
      const reshard = await reshardBigKey(async (port, name) => {
        const c = await RedisClient.connect(`127.0.0.1:${port}`, { timeoutMs: 120_000 });
        try {
          await fill(c, name);
        } finally {
          await c.close();
        }
      });
      rows.push({
        type,
        migrate: { ms: m.ms, sourceMaxMs: m.worst[0], targetMaxMs: m.worst[1] },
        pieces: { ms: p.ms, sourceMaxMs: p.worst[1], targetMaxMs: p.worst[0], chunks },
        reshard,
      });
      console.log(
        `big ${type} (${n}): MIGRATE ${m.ms.toFixed(0)} ms (blocked source ${m.worst[0].toFixed(0)}, target ${
          m.worst[1].toFixed(0)
        } ms); in pieces ${p.ms.toFixed(0)} ms, ${chunks} chunks (blocked source ${p.worst[1].toFixed(0)}, target ${
          p.worst[0].toFixed(0)
        } ms); redis-cli --cluster reshard of its slot ${reshard.ms.toFixed(0)} ms (blocked source ${
          reshard.sourceMaxMs.toFixed(0)
        }, target ${reshard.targetMaxMs.toFixed(0)} ms)`,
      );
      await call(a, "UNLINK", key);
    }
  } finally {
    await Promise.all([fillClient.close(), rawA.close(), rawB.close()]);
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------------

function printBigKeys(big: BigKeyRow[]): void {
  if (big.length === 0) return;
  const n = Number(flags["big-elements"]).toLocaleString("en-US");
  console.log(
    `\n| big key (${n} elements), total / longest wait on source / on target (ms) | MIGRATE | ` +
      "redis-cli --cluster reshard of its slot | in pieces (ours) | chunks |\n| --- | ---: | ---: | ---: | ---: |",
  );
  for (const r of big) {
    const f = (x: { ms: number; sourceMaxMs: number; targetMaxMs: number }) =>
      `${x.ms.toFixed(0)} / ${x.sourceMaxMs.toFixed(0)} / ${x.targetMaxMs.toFixed(0)}`;
    console.log(`| ${r.type} | ${f(r.migrate)} | ${f(r.reshard)} | ${f(r.pieces)} | ${r.pieces.chunks} |`);
  }
}

/** Rows 1 to 3. */
async function full(): Promise<void> {
  const o = await ours();
  console.log(
    `ours: ${KEYS} keys in ${o.seconds.toFixed(1)} s = ${Math.round(o.keysPerSecond)} keys/s; ` +
      `GET p50/p99 through the proxy: ${o.before.p50.toFixed(3)}/${o.before.p99.toFixed(3)} ms before, ${
        o.during.p50.toFixed(3)
      }/${o.during.p99.toFixed(3)} ms during (median of runs)`,
  );
  let cluster: Awaited<ReturnType<typeof redisCluster>> | null = null;
  if (!flags["skip-cluster"]) {
    cluster = await redisCluster();
    console.log(
      `redis cluster reshard: ${KEYS} keys in ${cluster.seconds.toFixed(1)} s = ${
        Math.round(cluster.keysPerSecond)
      } keys/s`,
    );
  }
  const big = flags["skip-big-key"] ? [] : await bigKeys(Number(flags["big-elements"]));
  // Medians of an even number of runs are means of two: printed to the microsecond.
  const pair = (l: Latency) => `${l.p50.toFixed(3)}, ${l.p99.toFixed(3)}`;
  console.log("\n| measure | value |\n| --- | ---: |");
  console.log(`| ours: keys/s (${KEYS} keys, slots 0-511) | ${Math.round(o.keysPerSecond)} |`);
  if (cluster) {
    console.log(`| redis-cli --cluster reshard: keys/s | ${Math.round(cluster.keysPerSecond)} |`);
    console.log(`| ours / reshard | ${(o.keysPerSecond / cluster.keysPerSecond).toFixed(2)}× |`);
    console.log(
      `| redis cluster GET p50, p99 before / during reshard (ms) | ${pair(cluster.before)} / ${pair(cluster.during)} |`,
    );
    console.log(`| redis cluster p99 during / before | ${(cluster.during.p99 / cluster.before.p99).toFixed(2)}× |`);
  }
  console.log(`| GET p50, p99 before (ms) | ${pair(o.before)} |`);
  console.log(`| GET p50, p99 during (ms) | ${pair(o.during)} |`);
  console.log(`| p99 during / before | ${(o.during.p99 / o.before.p99).toFixed(2)}× |`);
  if (o.direct) {
    const d = o.direct;
    console.log(
      `| GET straight at the source, p50, p99 before / during (ms) | ${pair(d.before)} / ${pair(d.during)} |`,
    );
    console.log(`| straight at the source: p99 during / before | ${(d.during.p99 / d.before.p99).toFixed(2)}× |`);
  }
  printBigKeys(big);
}

try {
  if (flags["only-big-keys"]) printBigKeys(await bigKeys(Number(flags["big-elements"])));
  else await full();
} finally {
  for (const c of children.reverse()) {
    try {
      c.kill("SIGTERM");
    } catch {
      // gone
    }
  }
  await Promise.all(children.map((c) => c.status));
  if (flags.keep) console.log(`logs kept in ${tmp}`);
  else await Deno.remove(tmp, { recursive: true }).catch(() => {});
}
