/**
 * Clients that do what they should not: pipeline without reading, send huge requests before
 * AUTH, invent command names. The proxy runs as its own process so that its memory can be read
 * from /proc: under each of them its peak resident memory stays within 64 MiB of its idle one,
 * the offending client is cut off and counted, and every other client is served throughout.
 */

import assert from "node:assert/strict";
import { RedisClient, RedisReplyError } from "../../redis/redis_client.ts";
import { callApi } from "../../utils/http.ts";
import { startStaticProxy, type StaticProxy } from "../_support/cluster.ts";
import { ProxyProcess } from "../_support/programs.ts";
import { waitFor } from "../_support/servers.ts";

const MiB = 1024 * 1024;
const enc = new TextEncoder();

/** Two redis-servers and a proxy process (`--fillslots`) with extra `proxy.toml` keys. */
function setup(config: Record<string, string | number | boolean> = {}): Promise<StaticProxy> {
  return startStaticProxy("hostile", config);
}

/** The proxy's sessions counters. */
async function sessions(p: ProxyProcess): Promise<Record<string, number>> {
  const stats = await callApi(p.adminAddr, "/proxy/stats") as { sessions: Record<string, number> };
  return stats.sessions;
}

/** Writes `data` in the background, never reading; resolves when the write ends (or fails). */
function writeWithoutReading(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  return (async () => {
    let off = 0;
    while (off < data.length) off += await conn.write(data.subarray(off));
  })().catch(() => {});
}

function close(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // closed already
  }
}

Deno.test("a client pipelining GETs of a 100 KB value without reading is cut off at the hard limit; memory stays bounded", async () => {
  const s = await setup();
  try {
    const c = await RedisClient.connect(s.proxy.addr);
    try {
      await c.call("SET", "big", "x".repeat(100 * 1024));
      for (let i = 0; i < 200; i++) await c.call("GET", "big");
      const idle = await s.proxy.memory();

      const hostile = await Deno.connect({ hostname: "127.0.0.1", port: s.proxy.port });
      const writing = writeWithoutReading(hostile, enc.encode("GET big\r\n".repeat(5000)));
      await waitFor(async () => (await sessions(s.proxy)).output_limited >= 1, {
        timeoutMs: 60_000,
        what: "the proxy to close the client that does not read",
      });
      close(hostile);
      await writing;

      const after = await s.proxy.memory();
      assert.ok(
        after.peak - idle.rss < 64 * MiB,
        `peak RSS ${(after.peak / MiB).toFixed(0)} MiB, idle ${(idle.rss / MiB).toFixed(0)} MiB`,
      );
      assert.equal((await c.call("GET", "big") as string).length, 100 * 1024, "other clients are served");
    } finally {
      await c.close();
    }
  } finally {
    await s.stop();
  }
});

Deno.test("a client pipelining PINGs without reading stops being read, then is closed after session_output_soft_seconds", async () => {
  const s = await setup({ session_output_soft_seconds: "1s", session_output_soft_limit: "1mb" });
  try {
    const idle = await s.proxy.memory();
    const hostile = await Deno.connect({ hostname: "127.0.0.1", port: s.proxy.port });
    // 24 MB of PINGs: the proxy stops reading them once 1 MB of PONGs waits, so most stay unsent.
    const writing = writeWithoutReading(hostile, enc.encode("PING\r\n".repeat(4_000_000)));
    await waitFor(async () => (await sessions(s.proxy)).output_limited >= 1, {
      timeoutMs: 60_000,
      what: "the proxy to close the client that stays past the soft limit",
    });
    close(hostile);
    await writing;
    const after = await s.proxy.memory();
    assert.ok(
      after.peak - idle.rss < 64 * MiB,
      `peak RSS ${(after.peak / MiB).toFixed(0)} MiB, idle ${(idle.rss / MiB).toFixed(0)} MiB`,
    );
    const c = await RedisClient.connect(s.proxy.addr);
    assert.equal(await c.call("PING"), "PONG");
    await c.close();
  } finally {
    await s.stop();
  }
});

/** Sends `data`, then reads until the proxy closes the connection; returns what it answered. */
async function answerTo(port: number, data: Uint8Array, more?: Uint8Array): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(data);
  const writing = more ? writeWithoutReading(conn, more) : Promise.resolve();
  const chunks: number[] = [];
  const buf = new Uint8Array(4096);
  const timer = setTimeout(() => close(conn), 30_000);
  try {
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      chunks.push(...buf.subarray(0, n));
    }
  } finally {
    clearTimeout(timer);
    close(conn);
    await writing;
  }
  return new TextDecoder().decode(new Uint8Array(chunks));
}

Deno.test("before AUTH only small requests are read: a big one is refused with Redis's error and the connection closed", async () => {
  const s = await setup({ session_auth: "secret" });
  try {
    const idle = await s.proxy.memory();
    // A 300 MB argument: refused at its header, so the proxy never holds it.
    const header = enc.encode("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$300000000\r\n");
    assert.equal(
      await answerTo(s.proxy.port, header, new Uint8Array(300 * MiB)),
      "-ERR Protocol error: unauthenticated bulk length\r\n",
    );
    assert.equal(
      await answerTo(s.proxy.port, enc.encode(`*11\r\n${"$1\r\nx\r\n".repeat(11)}`)),
      "-ERR Protocol error: unauthenticated multibulk length\r\n",
    );
    const after = await s.proxy.memory();
    assert.ok(after.peak - idle.rss < 64 * MiB, `peak ${(after.peak / MiB).toFixed(0)} MiB`);

    // Once authenticated, the usual limits apply.
    const c = await RedisClient.connect(s.proxy.addr, { password: "secret" });
    await c.call("SET", "k", "v".repeat(MiB));
    assert.equal((await c.call("GET", "k") as string).length, MiB);
    await c.close();
  } finally {
    await s.stop();
  }
});

Deno.test("unknown command names are counted under a bound, and not at all before AUTH", async () => {
  const s = await setup({ session_auth: "secret" });
  try {
    const lines = (prefix: string, n: number) =>
      Array.from({ length: n }, (_, i) => `${prefix}${i}\r\n`).join("") + "QUIT\r\n";
    const before = await answerTo(s.proxy.port, enc.encode(lines("NOAUTHNAME", 2000)));
    assert.equal(before.split("-NOAUTH Authentication required\r\n").length - 1, 2000);
    const after = await answerTo(s.proxy.port, enc.encode("AUTH secret\r\n" + lines("MADEUP", 2000)));
    assert.equal(after.split("\r\n").filter((l) => l.startsWith("-ERR")).length, 2000);

    const stats = await callApi(s.proxy.adminAddr, "/proxy/stats") as {
      ops: { cmd: { opstr: string; calls: number }[] };
    };
    const names = stats.ops.cmd.map((c) => c.opstr);
    assert.ok(!names.some((n) => n.startsWith("NOAUTHNAME")), "nothing counted by name before AUTH");
    const madeUp = stats.ops.cmd.filter((c) => c.opstr.startsWith("MADEUP"));
    assert.ok(madeUp.length <= 128, `${madeUp.length} unknown names counted one by one`);
    const other = stats.ops.cmd.find((c) => c.opstr === "(OTHER UNKNOWN)");
    assert.equal(madeUp.reduce((n, c) => n + c.calls, 0) + (other?.calls ?? 0), 2000);
  } finally {
    await s.stop();
  }
});

Deno.test("HELLO 2 AUTH logs in as Redis does; wrong passwords are refused and counted", async () => {
  const s = await setup({ session_auth: "secret" });
  try {
    const c = await RedisClient.connect(s.proxy.addr);
    try {
      await assert.rejects(c.call("GET", "k"), /NOAUTH/);
      await assert.rejects(c.call("HELLO", "2", "AUTH", "default", "wrong"), /WRONGPASS/);
      await assert.rejects(c.call("HELLO", "2", "AUTH", "someone", "secret"), /WRONGPASS/);
      await assert.rejects(c.call("AUTH", "wrong"), /ERR invalid password/);
      const hello = await c.call("HELLO", "2", "AUTH", "default", "secret", "SETNAME", "me") as unknown[];
      assert.equal(hello[0], "server");
      assert.equal(await c.call("CLIENT", "GETNAME"), "me");
      assert.equal(await c.call("GET", "k"), null);
      await assert.rejects(
        c.call("HELLO", "4"),
        (e: unknown) => e instanceof RedisReplyError && /NOPROTO/.test(e.message),
      );
    } finally {
      await c.close();
    }
    assert.equal((await sessions(s.proxy)).auth_failures, 3);
  } finally {
    await s.stop();
  }
});

Deno.test("a 200 MB body to the admin API is refused before it is read: 403 with a wrong xauth, 413 with the right one", async () => {
  const s = await setup();
  try {
    const idle = await s.proxy.memory();
    const body = new Uint8Array(200 * MiB).fill(0x20);
    const send = async (xauth: string) => {
      try {
        const res = await fetch(`http://${s.proxy.adminAddr}/api/proxy/fillslots/${xauth}`, { method: "PUT", body });
        const cause = (await res.json()).Cause as string;
        return { status: res.status, cause };
      } catch (e) {
        return { status: 0, cause: String(e) }; // the proxy may close the connection before all is sent
      }
    };
    const wrong = await send("0123456789abcdef0123456789abcdef");
    assert.ok(wrong.status === 403 || wrong.status === 0, `${wrong.status} ${wrong.cause}`);
    const model = await callApi(s.proxy.adminAddr, "/api/proxy/model") as { token: string };
    const { newXAuth } = await import("../../utils/xauth.ts");
    const right = await send(newXAuth("hostile", "", model.token));
    assert.ok(right.status === 413 || right.status === 0, `${right.status} ${right.cause}`);
    if (right.status === 413) assert.match(right.cause, /request body larger than/);
    const after = await s.proxy.memory();
    assert.ok(
      after.peak - idle.rss < 64 * MiB,
      `peak ${(after.peak / MiB).toFixed(0)} MiB, idle ${(idle.rss / MiB).toFixed(0)}`,
    );
    // The API still answers.
    assert.equal((await callApi(s.proxy.adminAddr, "/api/proxy/model") as { token: string }).token, model.token);
  } finally {
    await s.stop();
  }
});
