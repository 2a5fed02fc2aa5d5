/**
 * The "hostile clients" rows of `deno task bench`: a proxy (with `session_auth`) over the same
 * Redis servers, and one attacker at a time doing what a careless or hostile client does, while a
 * well-behaved client (`redis-benchmark -c 5 GET`) runs beside it. For each: the proxy's peak RSS
 * over its idle RSS (the peak is reset between rows through /proc/PID/clear_refs), and the
 * victim's p99 during the attack against its p99 alone.
 *
 * Also runnable alone: `deno run -A scripts/bench_hostile.ts` (starts its own Redis servers).
 *
 * @module
 */

import { delay } from "../utils/async.ts";
import { programRunArgs } from "../utils/runtime_flags.ts";
import { RedisClient } from "../redis/redis_client.ts";

const MiB = 1024 * 1024;
const PASSWORD = "bench";
const enc = new TextEncoder();

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function kb(pid: number, field: string): number {
  const m = new RegExp(`${field}:\\s+(\\d+)`).exec(Deno.readTextFileSync(`/proc/${pid}/status`));
  return m ? Number(m[1]) : 0;
}

async function waitUp(port: number, password = ""): Promise<void> {
  for (let i = 0; i < 400; i++) {
    try {
      const c = await RedisClient.connect(`127.0.0.1:${port}`, { connectTimeoutMs: 500, password });
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

/** p99 (ms) of `redis-benchmark -c 5 GET` against the proxy. */
async function victimP99(port: number): Promise<number> {
  const out = await new Deno.Command("redis-benchmark", {
    args: ["-h", "127.0.0.1", "-p", String(port), "-a", PASSWORD, "-c", "5", "-n", "20000", "-t", "get", "--csv"],
    stdout: "piped",
    stderr: "null",
  }).output();
  const last = new TextDecoder().decode(out.stdout).trim().split("\n").pop()!.split(",").map((s) =>
    s.replace(/"/g, "")
  );
  return Number(last[6]);
}

/** Writes without reading; resolves when the write ends or fails. */
function writeOnly(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  return (async () => {
    let off = 0;
    while (off < data.length) off += await conn.write(data.subarray(off));
  })().catch(() => {});
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // closed already
  }
}

interface Attack {
  name: string;
  run(proxy: { port: number; adminPort: number }): Promise<void>;
}

async function outputLimited(adminPort: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/proxy/stats`);
  return ((await res.json()).sessions?.output_limited as number) ?? 0;
}

/** Floods without reading until the proxy cuts the client off (or 30 s pass). */
async function floodUntilCut(p: { port: number; adminPort: number }, data: Uint8Array): Promise<void> {
  const before = await outputLimited(p.adminPort);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: p.port });
  const writing = writeOnly(conn, data);
  for (let i = 0; i < 300 && await outputLimited(p.adminPort) === before; i++) await delay(100);
  closeQuietly(conn);
  await writing;
}

const ATTACKS: Attack[] = [
  {
    name: "pipelined GET of a 100 KB value, replies never read",
    run: (p) => floodUntilCut(p, enc.encode(`AUTH ${PASSWORD}\r\n` + "GET bench:big\r\n".repeat(5000))),
  },
  {
    name: "pipelined PING, replies never read",
    run: (p) => floodUntilCut(p, enc.encode(`AUTH ${PASSWORD}\r\n` + "PING\r\n".repeat(4_000_000))),
  },
  {
    name: "a 300 MB argument before AUTH",
    async run(p) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: p.port });
      const writing = writeOnly(conn, enc.encode("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$300000000\r\n"));
      const rest = writeOnly(conn, new Uint8Array(300 * MiB));
      const buf = new Uint8Array(1024);
      while ((await conn.read(buf).catch(() => null)) !== null) { /* until closed */ }
      closeQuietly(conn);
      await Promise.all([writing, rest]);
    },
  },
  {
    name: "500,000 distinct unknown command names (before and after AUTH)",
    async run(p) {
      for (const prefix of ["", `AUTH ${PASSWORD}\r\n`]) {
        const names = Array.from({ length: 250_000 }, (_, i) => `NAME${prefix.length}x${i}\r\n`).join("");
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: p.port });
        const writing = writeOnly(conn, enc.encode(prefix + names + "QUIT\r\n"));
        const buf = new Uint8Array(64 * 1024);
        while ((await conn.read(buf).catch(() => null)) !== null) { /* read every reply */ }
        closeQuietly(conn);
        await writing;
      }
    },
  },
  {
    name: "a 200 MB PUT to the admin API with a wrong xauth",
    async run(p) {
      await fetch(`http://127.0.0.1:${p.adminPort}/api/proxy/fillslots/0123456789abcdef0123456789abcdef`, {
        method: "PUT",
        body: new Uint8Array(200 * MiB),
      }).then((r) => r.body?.cancel()).catch(() => {});
    },
  },
];

/** Runs every attack against a new proxy over `redisPorts` and prints the rows. */
export async function hostileRows(redisPorts: number[], tmp: string): Promise<void> {
  const port = freePort();
  const adminPort = freePort();
  const slots = Array.from({ length: 1024 }, (_, id) => ({
    id,
    backend_addr: `127.0.0.1:${redisPorts[id < 512 ? 0 : redisPorts.length - 1]}`,
  }));
  await Deno.writeTextFile(`${tmp}/hostile-slots.json`, JSON.stringify(slots));
  await Deno.writeTextFile(
    `${tmp}/hostile.toml`,
    [
      `proxy_addr = "127.0.0.1:${port}"`,
      `admin_addr = "127.0.0.1:${adminPort}"`,
      `session_auth = "${PASSWORD}"`,
      `session_output_soft_seconds = "2s"`,
      "",
    ].join("\n"),
  );
  const proxy = new Deno.Command(Deno.execPath(), {
    args: [
      ...programRunArgs(new URL("../proxy/main.ts", import.meta.url).pathname),
      `--config=${tmp}/hostile.toml`,
      `--fillslots=${tmp}/hostile-slots.json`,
      "--log-level=ERROR",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  try {
    await waitUp(port, PASSWORD);
    const c = await RedisClient.connect(`127.0.0.1:${port}`, { password: PASSWORD });
    await c.call("SET", "bench:big", "x".repeat(100 * 1024));
    await c.close();
    await victimP99(port); // warm up
    console.log("\nhostile clients (one at a time; a well-behaved redis-benchmark -c 5 GET beside each):");
    console.log("| attack | proxy RSS idle | peak during | growth | victim p99 alone | during | ratio |");
    console.log("|---|---:|---:|---:|---:|---:|---:|");
    for (const attack of ATTACKS) {
      await delay(500);
      const alone = await victimP99(port);
      const idle = kb(proxy.pid, "VmRSS");
      await Deno.writeTextFile(`/proc/${proxy.pid}/clear_refs`, "5"); // resets VmHWM to the current RSS
      const [during] = await Promise.all([victimP99(port), attack.run({ port, adminPort })]);
      const peak = kb(proxy.pid, "VmHWM");
      const mib = (k: number) => `${(k / 1024).toFixed(0)} MiB`;
      console.log(
        `| ${attack.name} | ${mib(idle)} | ${mib(peak)} | +${mib(peak - idle)} | ${alone.toFixed(3)} ms | ${
          during.toFixed(3)
        } ms | ${(during / alone).toFixed(2)}× |`,
      );
    }
  } finally {
    try {
      proxy.kill("SIGTERM");
    } catch {
      // exited
    }
    await proxy.status;
  }
}

if (import.meta.main) {
  const tmp = await Deno.makeTempDir({ prefix: "codis-bench-hostile-" });
  const ports = [freePort(), freePort()];
  const servers = ports.map((p) =>
    new Deno.Command("redis-server", {
      args: ["--port", String(p), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tmp],
      stdout: "null",
      stderr: "null",
    }).spawn()
  );
  try {
    await Promise.all(ports.map((p) => waitUp(p)));
    await hostileRows(ports, tmp);
  } finally {
    for (const s of servers) s.kill("SIGTERM");
    await Promise.all(servers.map((s) => s.status));
    await Deno.remove(tmp, { recursive: true });
  }
}
