/**
 * What a connection costs the proxy (run as its own process, its memory read from /proc):
 * 10,000 idle connections stay within a bound per connection, most of the memory they took is
 * given back once they close and the proxy is quiet (`Proxy.#giveMemoryBack`: a collection, then
 * glibc's malloc_trim), and what is kept is reused by the next 10,000 rather than added to;
 * 100,000 connect/request/close cycles leak nothing.
 */

import assert from "node:assert/strict";
import { startStaticProxy, type StaticProxy } from "../_support/cluster.ts";
import { ProxyProcess } from "../_support/programs.ts";
import { waitFor } from "../_support/servers.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const PING = new TextEncoder().encode("PING\r\n");
const GET = new TextEncoder().encode("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n");

function start(): Promise<StaticProxy> {
  return startStaticProxy("footprint", { proxy_max_clients: 100_000 });
}

/** Opens `n` connections, each answered once (200 at a time). */
async function openIdle(port: number, n: number): Promise<Deno.TcpConn[]> {
  const conns: Deno.TcpConn[] = [];
  const buf = new Uint8Array(64);
  for (let i = 0; i < n; i += 200) {
    conns.push(
      ...await Promise.all(Array.from({ length: Math.min(200, n - i) }, async () => {
        const c = await Deno.connect({ hostname: "127.0.0.1", port });
        await c.write(PING);
        assert.ok((await c.read(buf)) !== null);
        return c;
      })),
    );
  }
  return conns;
}

async function sessionsAlive(p: ProxyProcess): Promise<number> {
  const o = await p.overview() as { stats?: { sessions?: { alive?: number } } } | null;
  return o?.stats?.sessions?.alive ?? -1;
}

Deno.test("10,000 idle connections: a few KiB each, given back when they close, and reused by the next 10,000", async () => {
  const { proxy, stop } = await start();
  try {
    const n = 10_000;
    // A first small wave warms the code paths up, so that the measure is the connections'.
    for (const c of await openIdle(proxy.port, 500)) c.close();
    await waitFor(async () => await sessionsAlive(proxy) === 0, { what: "the warm-up sessions closed" });
    const idle = (await proxy.memory()).rss;
    const first = await openIdle(proxy.port, n);
    const withThem = (await proxy.memory()).rss;
    const perConn = (withThem - idle) / n;
    console.log(`  ${(perConn / KiB).toFixed(1)} KiB per idle connection (${(idle / MiB).toFixed(1)} MiB idle)`);
    assert.ok(perConn < 16 * KiB, `${(perConn / KiB).toFixed(1)} KiB per idle connection (bound 16 KiB)`);
    for (const c of first) c.close();
    await waitFor(async () => await sessionsAlive(proxy) === 0, { timeoutMs: 60_000, what: "every session closed" });
    // Read from /proc only, once a second: the proxy must be quiet for its heap to shrink.
    const bound = idle + 0.25 * (withThem - idle);
    let after = withThem;
    await waitFor(async () => (after = (await proxy.memory()).rss) < bound, {
      timeoutMs: 60_000,
      intervalMs: 1000,
      what: `RSS under ${(bound / MiB).toFixed(1)} MiB after the connections closed (now ${(after / MiB).toFixed(1)})`,
    });
    console.log(`  after they closed: ${(after / MiB).toFixed(1)} MiB (${(withThem / MiB).toFixed(1)} with them)`);
    const second = await openIdle(proxy.port, n);
    const peak = (await proxy.memory()).rss;
    for (const c of second) c.close();
    await waitFor(async () => await sessionsAlive(proxy) === 0, { timeoutMs: 60_000, what: "every session closed" });
    console.log(
      `  second wave: ${(peak / MiB).toFixed(1)} MiB against ${(withThem / MiB).toFixed(1)} MiB for the first`,
    );
    assert.ok(peak < withThem + 0.25 * (withThem - idle) + 8 * MiB, "the second wave reuses the first one's memory");
  } finally {
    await stop();
  }
});

Deno.test("100,000 connect, GET, close cycles leak nothing", async () => {
  const { proxy, stop } = await start();
  try {
    const buf = new Uint8Array(64);
    const cycles = async (count: number) => {
      let next = 0;
      await Promise.all(Array.from({ length: 20 }, async () => {
        while (next++ < count) {
          const c = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
          await c.write(GET);
          assert.ok((await c.read(buf)) !== null);
          c.close();
        }
      }));
    };
    await cycles(20_000);
    await waitFor(async () => await sessionsAlive(proxy) === 0, { what: "every session closed" });
    const after20k = (await proxy.memory()).rss;
    await cycles(80_000);
    await waitFor(async () => await sessionsAlive(proxy) === 0, { what: "every session closed" });
    const after100k = (await proxy.memory()).rss;
    console.log(
      `  RSS after 20,000 cycles ${(after20k / MiB).toFixed(1)} MiB, after 100,000 ${(after100k / MiB).toFixed(1)} MiB`,
    );
    assert.ok(after100k < after20k + 16 * MiB, "no growth with the number of connections served");
    const o = await proxy.overview() as { stats: { sessions: { total: number } } };
    assert.ok(o.stats.sessions.total >= 100_000);
  } finally {
    await stop();
  }
});
