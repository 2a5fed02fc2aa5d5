/**
 * The Pub/Sub and keyspace rows of `deno task bench`, against direct Redis (twemproxy supports
 * neither):
 *
 * - PUBLISH fan-out: 100 subscribers of one channel, one publisher pipelining PUBLISH in batches
 *   of 100; messages delivered per second (messages × subscribers / time until the last arrived).
 * - SCAN: 1,000,000 keys (500,000 on each server, made with DEBUG POPULATE), one client iterating
 *   with COUNT 1000; keys per second. Direct Redis means both servers scanned one after the other,
 *   the same work the proxy does.
 *
 * @module
 */

import { RedisClient } from "../redis/redis_client.ts";
import { encodeCommand } from "../redis/resp_writer.ts";

const SUBSCRIBERS = 100;
const PAYLOAD = "x".repeat(32);
const CHANNEL = "bench.fanout";

/** One subscriber: counts the bytes of messages after its confirmation. */
class Subscriber {
  received = 0;
  #conn: Deno.TcpConn;
  #done: Promise<void>;
  #confirmed: Promise<void>;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    let confirmed!: () => void;
    this.#confirmed = new Promise((r) => confirmed = r);
    this.#done = this.#read(confirmed);
  }

  static async start(port: number): Promise<Subscriber> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const s = new Subscriber(conn);
    await conn.write(encodeCommand(["SUBSCRIBE", CHANNEL]));
    await s.#confirmed;
    return s;
  }

  async #read(confirmed: () => void): Promise<void> {
    const confirmation = `*3\r\n$9\r\nsubscribe\r\n$${CHANNEL.length}\r\n${CHANNEL}\r\n:1\r\n`.length;
    const buf = new Uint8Array(64 * 1024);
    let total = 0;
    try {
      for (;;) {
        const n = await this.#conn.read(buf);
        if (n === null) return;
        total += n;
        if (total >= confirmation) confirmed();
        this.received = total - confirmation;
      }
    } catch {
      // closed
    }
  }

  async close(): Promise<void> {
    try {
      this.#conn.close();
    } catch {
      // closed
    }
    await this.#done;
  }
}

/** Messages delivered per second through `port` (PUBLISH from one client, `SUBSCRIBERS` readers). */
async function fanout(port: number, messages: number): Promise<number> {
  const subs = await Promise.all(Array.from({ length: SUBSCRIBERS }, () => Subscriber.start(port)));
  const pub = await RedisClient.connect(`127.0.0.1:${port}`);
  try {
    const started = performance.now();
    for (let sent = 0; sent < messages; sent += 100) {
      await pub.pipeline(Array.from({ length: 100 }, () => ["PUBLISH", CHANNEL, PAYLOAD]));
    }
    const want = messages * messageBytes();
    const deadline = performance.now() + 120_000;
    while (subs.some((s) => s.received < want) && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 2));
    }
    return messages * SUBSCRIBERS / ((performance.now() - started) / 1000);
  } finally {
    await pub.close();
    await Promise.all(subs.map((s) => s.close()));
  }
}

/** Bytes of one message frame as Redis sends it in RESP2. */
function messageBytes(): number {
  const bulk = (s: string) => `$${s.length}\r\n${s}\r\n`;
  return `*3\r\n${bulk("message")}${bulk(CHANNEL)}${bulk(PAYLOAD)}`.length;
}

/** Keys per second of a full SCAN through each of `ports` one after the other (COUNT 1000). */
async function scanRate(ports: number[]): Promise<{ rate: number; keys: number }> {
  let keys = 0;
  const started = performance.now();
  for (const port of ports) {
    const c = await RedisClient.connect(`127.0.0.1:${port}`, { timeoutMs: 60_000 });
    try {
      let cursor = "0";
      do {
        const [next, page] = await c.call("SCAN", cursor, "COUNT", 1000) as [string, unknown[]];
        keys += page.length;
        cursor = next;
      } while (cursor !== "0");
    } finally {
      await c.close();
    }
  }
  return { rate: keys / ((performance.now() - started) / 1000), keys };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Runs the rows over the bench's two Redis servers (`redisPorts`) and its proxy, and prints them. */
export async function keyspaceRows(redisPorts: number[], proxyPort: number, rounds: number): Promise<void> {
  const messages = 20_000;
  const fan: Record<string, number[]> = { redis: [], proxy: [] };
  for (let i = 0; i < rounds; i++) {
    fan.redis.push(await fanout(redisPorts[0], messages));
    fan.proxy.push(await fanout(proxyPort, messages));
  }
  // 1,000,000 keys: half on each server, with distinct names.
  for (const [i, port] of redisPorts.entries()) {
    const c = await RedisClient.connect(`127.0.0.1:${port}`, { timeoutMs: 120_000 });
    try {
      await c.call("DEBUG", "POPULATE", 500_000, `scan${i}`);
    } finally {
      await c.close();
    }
  }
  const scan: Record<string, number[]> = { redis: [], proxy: [] };
  let keys = 0;
  for (let i = 0; i < rounds; i++) {
    const direct = await scanRate(redisPorts);
    const viaProxy = await scanRate([proxyPort]);
    scan.redis.push(direct.rate);
    scan.proxy.push(viaProxy.rate);
    keys = viaProxy.keys;
  }
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
  console.log(`\nPub/Sub and keyspace (medians over ${rounds} rounds; twemproxy supports neither):`);
  console.log("| test | redis | proxy | proxy/redis |\n|---|---:|---:|---:|");
  console.log(
    `| PUBLISH fan-out to ${SUBSCRIBERS} subscribers, messages delivered/s | ${fmt(median(fan.redis))} | ${
      fmt(median(fan.proxy))
    } | ${(median(fan.proxy) / median(fan.redis)).toFixed(2)}× |`,
  );
  console.log(
    `| SCAN COUNT 1000 of ${fmt(keys)} keys, keys/s | ${fmt(median(scan.redis))} | ${fmt(median(scan.proxy))} | ${
      (median(scan.proxy) / median(scan.redis)).toFixed(2)
    }× |`,
  );
}
