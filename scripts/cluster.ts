/**
 * Starts a local cluster for trying the proxy: two redis-server groups and one codis-proxy with a
 * static slot table (0-511 → group 1, 512-1023 → group 2). Ctrl-C stops everything it started.
 *
 * Usage: scripts/cluster [--dir=DIR] [--proxy-port=19000] [--admin-port=11080] [--redis-port=16379]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { RedisClient } from "../redis/redis_client.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    "dir": { type: "string" },
    "proxy-port": { type: "string", default: "19000" },
    "admin-port": { type: "string", default: "11080" },
    "redis-port": { type: "string", default: "16379" },
  },
});

const top = new URL("..", import.meta.url).pathname;
const dir = flags.dir ?? await Deno.makeTempDir({ prefix: "codis-local-" });
await Deno.mkdir(dir, { recursive: true });
const proxyPort = Number(flags["proxy-port"]);
const adminPort = Number(flags["admin-port"]);
const redisPorts = [Number(flags["redis-port"]), Number(flags["redis-port"]) + 1];

function portFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}
for (const p of [proxyPort, adminPort, ...redisPorts]) {
  if (!portFree(p)) {
    console.error(`cluster: port ${p} is in use; pick others with --proxy-port, --admin-port, --redis-port`);
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

function start(name: string, cmd: string, args: string[], logFile: string): Deno.ChildProcess {
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
    if (!stopping) {
      console.error(`cluster: ${name} exited (code ${s.code}); see ${logFile}`);
      void stopAll(1);
    }
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
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${addr} did not answer`);
}

Deno.addSignalListener("SIGINT", () => void stopAll(0));
Deno.addSignalListener("SIGTERM", () => void stopAll(0));

const addrs = redisPorts.map((p) => `127.0.0.1:${p}`);
for (const [i, port] of redisPorts.entries()) {
  const d = `${dir}/redis-${port}`;
  await Deno.mkdir(d, { recursive: true });
  start(`redis-server (group ${i + 1})`, "redis-server", [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    d,
    "--save",
    "",
    "--appendonly",
    "no",
  ], `${d}/redis.log`);
}
await Promise.all(addrs.map(waitRedis));

const slots = Array.from({ length: 1024 }, (_, id) => ({
  id,
  backend_addr: id < 512 ? addrs[0] : addrs[1],
  backend_addr_group_id: id < 512 ? 1 : 2,
}));
await Deno.writeTextFile(`${dir}/slots.json`, JSON.stringify(slots, null, 4));
await Deno.writeTextFile(
  `${dir}/proxy.toml`,
  `product_name = "codis-demo"\nproxy_addr = "127.0.0.1:${proxyPort}"\nadmin_addr = "127.0.0.1:${adminPort}"\n`,
);
start("codis-proxy", Deno.execPath(), [
  "run",
  "--allow-all",
  `${top}proxy/main.ts`,
  `--config=${dir}/proxy.toml`,
  `--fillslots=${dir}/slots.json`,
  `--pidfile=${dir}/proxy.pid`,
], `${dir}/proxy.log`);
await waitRedis(`127.0.0.1:${proxyPort}`);

console.log(`
Local Codis cluster is up (data and logs in ${dir}):
  group 1: redis-server ${addrs[0]}   slots 0-511
  group 2: redis-server ${addrs[1]}   slots 512-1023
  proxy:   127.0.0.1:${proxyPort}   (admin API http://127.0.0.1:${adminPort}/proxy)

Connect with:
  redis-cli -p ${proxyPort}
  redis-benchmark -p ${proxyPort} -t set,get -q

Press Ctrl-C to stop everything.`);
await new Promise(() => {});
