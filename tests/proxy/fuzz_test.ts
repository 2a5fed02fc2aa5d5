/**
 * RESP fuzzing against a proxy process: valid requests cut at every split point, then mutated and
 * random frames over many connections at once, for a bounded time and from a fixed seed (set
 * `FUZZ_SEED` to replay another). The proxy must not crash, must answer correct requests correctly
 * whatever the split, must keep its memory bounded, and must work normally afterwards.
 */

import assert from "node:assert/strict";
import { slotToJson } from "../../coord/models.ts";
import { RedisClient } from "../../redis/redis_client.ts";
import { encodeCommand } from "../../redis/resp_writer.ts";
import { callApi } from "../../utils/http.ts";
import { evenSlots } from "../_support/cluster.ts";
import { ProxyProcess } from "../_support/programs.ts";
import { RedisServer } from "../_support/servers.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? "20261130");
const FUZZ_MS = 8_000;
const WORKERS = 16;
const MiB = 1024 * 1024;
const enc = new TextEncoder();

/** mulberry32: a small seeded PRNG. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VALID: (string | number)[][] = [
  ["PING"],
  ["SET", "fuzz:a", "value"],
  ["GET", "fuzz:a"],
  ["MSET", "fuzz:b", "1", "fuzz:c", "2", "fuzz:d", "3"],
  ["MGET", "fuzz:b", "fuzz:c", "fuzz:d", "fuzz:missing"],
  ["DEL", "fuzz:x", "fuzz:y"],
  ["HMSET", "fuzz:h", "f", "v"],
  ["ECHO", "a\r\nb"],
  ["SELECT", "0"],
  ["EXISTS", "fuzz:a", "fuzz:b"],
];

/** One mutated or random frame. */
function mutant(r: () => number): Uint8Array {
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  const kind = Math.floor(r() * 8);
  if (kind === 0) return crypto.getRandomValues(new Uint8Array(1 + Math.floor(r() * 512)));
  if (kind === 1) {
    return enc.encode(
      pick(["*", "$", "*-1\r\n", "*99999999999\r\n", "$-7\r\n", "*2\r\n$999999999\r\n", "*1\r\n$4\r\nPI"]),
    );
  }
  if (kind === 2) {
    return enc.encode(pick(['SET "unbalanced', "GET 'x\r\n", "  \r\n", "PING\n", '"\\x4', "GET a b c d e f\r\n"]));
  }
  const base = encodeCommand(pick(VALID));
  const out = new Uint8Array(base);
  const flips = 1 + Math.floor(r() * 4);
  for (let i = 0; i < flips; i++) {
    const at = Math.floor(r() * out.length);
    out[at] = kind === 3 ? Math.floor(r() * 256) : pick([13, 10, 36, 42, 45, 48, 57, 0, 255]);
  }
  if (kind === 7) return out.subarray(0, Math.floor(r() * out.length));
  return out;
}

/** Writes `parts` on a new connection, then reads until the proxy closes it or `waitMs` passes. */
async function exchange(port: number, parts: Uint8Array[], waitMs: number): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const got: number[] = [];
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch {
      // closed already
    }
  }, waitMs);
  try {
    for (const p of parts) await conn.write(p);
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      got.push(...buf.subarray(0, n));
    }
  } catch {
    // reset or closed by the timer: fine for garbage
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed already
    }
  }
  return new Uint8Array(got);
}

Deno.test("RESP fuzzing: every split point of valid requests, then mutated and random frames on 16 connections", async () => {
  const dir = await Deno.makeTempDir({ prefix: "codis-test-fuzz-" });
  const servers = [await RedisServer.start(), await RedisServer.start()];
  await Deno.writeTextFile(`${dir}/slots.json`, JSON.stringify(evenSlots(servers.map((s) => s.addr)).map(slotToJson)));
  const proxy = await ProxyProcess.start(dir, { product: "fuzz", online: [`--fillslots=${dir}/slots.json`] });
  try {
    await proxy.waitOnline();
    const port = proxy.port;
    const idle = await proxy.memory();

    // 1. Valid requests, sent in two pieces at every split point: the same replies every time.
    const pipeline = new Uint8Array(VALID.flatMap((c) => [...encodeCommand(c)]).concat([...enc.encode("QUIT\r\n")]));
    const expected = await exchange(port, [pipeline], 10_000);
    assert.ok(expected.length > 0);
    for (let cut = 1; cut < pipeline.length; cut++) {
      const got = await exchange(port, [pipeline.subarray(0, cut), pipeline.subarray(cut)], 10_000);
      assert.deepEqual(got, expected, `split at byte ${cut}`);
    }

    // 2. Garbage from many clients at once, each write cut at random points.
    const deadline = performance.now() + FUZZ_MS;
    let cases = 0;
    await Promise.all(Array.from({ length: WORKERS }, async (_, w) => {
      const r = rng(SEED + w);
      while (performance.now() < deadline) {
        const frames = Array.from({ length: 1 + Math.floor(r() * 8) }, () => mutant(r));
        const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
        let pos = 0;
        for (const f of frames) {
          all.set(f, pos);
          pos += f.length;
        }
        const parts: Uint8Array[] = [];
        for (let at = 0; at < all.length;) {
          const n = 1 + Math.floor(r() * 64);
          parts.push(all.subarray(at, at + n));
          at += n;
        }
        await exchange(port, parts, 200);
        cases++;
      }
    }));
    assert.ok(cases > 100, `${cases} cases`);

    // 3. Alive, bounded, and working.
    const after = await proxy.memory();
    assert.ok(
      after.peak - idle.rss < 64 * MiB,
      `peak ${(after.peak / MiB).toFixed(0)} MiB, idle ${(idle.rss / MiB).toFixed(0)}`,
    );
    const stats = await callApi(proxy.adminAddr, "/proxy/stats") as { online: boolean };
    assert.equal(stats.online, true);
    const c = await RedisClient.connect(proxy.addr);
    await c.call("SET", "after:fuzz", "ok");
    assert.equal(await c.call("GET", "after:fuzz"), "ok");
    // (the fuzz keys may hold anything now: mutants can be valid commands)
    await c.call("MSET", "after:1", "1", "after:2", "2", "after:3", "3");
    assert.deepEqual(await c.call("MGET", "after:1", "after:2", "after:3"), ["1", "2", "3"]);
    await c.close();
  } finally {
    await proxy.kill("SIGTERM");
    await Promise.all(servers.map((s) => s.stop()));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
