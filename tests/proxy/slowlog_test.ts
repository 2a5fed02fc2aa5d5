/**
 * The proxy's slow log and latency percentiles: `SLOWLOG GET|LEN|RESET|HELP` in Redis's reply
 * shape (newest first, arguments cut as Redis cuts them, client address and name), the threshold,
 * the length cap, off when negative, `SLOWLOG addr …` on a backend, through redis and ioredis.
 */

import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { STATS_CMD } from "../../api/proxy_stats.ts";
import { RedisReplyError } from "../../redis/redis_client.ts";
import { startCluster } from "../_support/cluster.ts";

type Entry = [number, number, number, string[], string, string];

Deno.test("SLOWLOG: every request at threshold 0, newest first, arguments cut, capped, reset", async () => {
  const cluster = await startCluster({ config: { slowlogLogSlowerThan: 0, slowlogMaxLen: 5 } });
  const c = await cluster.client();
  try {
    await c.call("CLIENT", "SETNAME", "slow-one");
    await c.call("SET", "k", "v");
    await c.call("GET", "k");
    const entries = await c.call("SLOWLOG", "GET", 2) as Entry[];
    assert.equal(entries.length, 2);
    const [get, set] = entries;
    assert.deepEqual(get[3], ["GET", "k"]);
    assert.deepEqual(set[3], ["SET", "k", "v"]);
    assert.ok(get[0] > set[0], "ids grow");
    assert.ok(Math.abs(get[1] - Date.now() / 1000) < 60, "unix time");
    assert.ok(get[2] >= 0);
    assert.match(get[4], /^127\.0\.0\.1:\d+$/);
    assert.equal(get[5], "slow-one");

    // Capped at slowlog_max_len; SLOWLOG GET -1 is all of it, the default 10.
    for (let i = 0; i < 10; i++) await c.call("INCR", "n");
    assert.equal(await c.call("SLOWLOG", "LEN"), 5);
    assert.equal((await c.call("SLOWLOG", "GET", -1) as Entry[]).length, 5);

    // Arguments: at most 32 (the last says how many more), each at most 128 bytes.
    const many = Array.from({ length: 40 }, (_, i) => `m${i}`);
    await c.call("DEL", ...many);
    const big = "x".repeat(200);
    await c.call("SET", "big", big);
    const [bigSet, del] = await c.call("SLOWLOG", "GET", 3) as Entry[];
    assert.deepEqual(bigSet[3], ["SET", "big", `${"x".repeat(128)}... (72 more bytes)`]);
    assert.equal(del[3].length, 32);
    assert.equal(del[3][31], "... (10 more arguments)");
    assert.deepEqual(del[3].slice(0, 3), ["DEL", "m0", "m1"]);

    await c.call("SLOWLOG", "RESET");
    assert.equal(await c.call("SLOWLOG", "LEN"), 1, "the RESET itself, as Redis logs it");

    // Errors in Redis's words.
    await assert.rejects(c.call("SLOWLOG", "GET", -2), /count should be greater than or equal to -1/);
    await assert.rejects(c.call("SLOWLOG", "GET", "x"), /count should be greater than or equal to -1/);
    await assert.rejects(c.call("SLOWLOG", "LEN", 1), /wrong number of arguments for 'slowlog\|len' command/);
    await assert.rejects(c.call("SLOWLOG", "NOPE"), /unknown subcommand 'NOPE'\. Try SLOWLOG HELP\./);
    await assert.rejects(c.call("SLOWLOG"), (e) => e instanceof RedisReplyError && /wrong number/.test(e.message));
    assert.ok((await c.call("SLOWLOG", "HELP") as string[]).length > 5);

    // SLOWLOG addr …: that backend's own slow log.
    const addr = cluster.servers[0].addr;
    assert.equal(typeof await c.call("SLOWLOG", addr, "LEN"), "number");
    await assert.rejects(c.call("SLOWLOG", "127.0.0.1:1", "LEN"), /backend server '127\.0\.0\.1:1' not found/);

    // Percentiles from the latency histograms, in the stats.
    const stats = cluster.proxy.statsJson(STATS_CMD);
    const incr = stats.ops.cmd!.find((o) => o.opstr === "INCR")!;
    assert.equal(incr.calls, 10);
    assert.ok(incr.p50! > 0 && incr.p50! <= incr.p99! && incr.p99! <= incr.p999! && incr.p999! <= incr.max!);
  } finally {
    await c.close();
    await cluster.stop();
  }
});

Deno.test("SLOWLOG: only requests over the threshold; off when negative; through ioredis", async () => {
  const cluster = await startCluster({ config: { slowlogLogSlowerThan: 20_000, slowlogMaxLen: 128 } });
  const io = new Redis({ host: "127.0.0.1", port: Number(cluster.addr.split(":")[1]), lazyConnect: true });
  try {
    await io.connect();
    await io.set("fast", "1");
    // A script that keeps the server busy for ~50 ms.
    const busy = "local t = redis.call('TIME'); local s = t[1]*1e6+t[2]; " +
      "repeat local n = redis.call('TIME') until n[1]*1e6+n[2] - s > 50000; return 1";
    await io.eval(busy, 1, "slowkey");
    const entries = await io.slowlog("GET") as Entry[];
    assert.equal(entries.length, 1, JSON.stringify(entries));
    assert.equal(entries[0][3][0], "eval", "the arguments as the client sent them");
    assert.ok(entries[0][2] >= 20_000, `${entries[0][2]} µs`);

    cluster.proxy.slowlog.configure(-1, 128);
    await io.eval(busy, 1, "slowkey");
    assert.equal(await io.slowlog("LEN"), 1, "off: nothing more logged");
  } finally {
    io.disconnect();
    await cluster.stop();
  }
});

Deno.test("SLOWLOG: a long pipeline read in many pieces logs every slow request with its own arguments", async () => {
  const cluster = await startCluster({ config: { slowlogLogSlowerThan: 20_000, slowlogMaxLen: 5000 } });
  const c = await cluster.client();
  try {
    const busy = "local t = redis.call('TIME'); local s = t[1]*1e6+t[2]; " +
      "repeat local n = redis.call('TIME') until n[1]*1e6+n[2] - s > 60000; return 1";
    // One pipeline of ~600 KB: the proxy reads it in 16 KB pieces and reuses its buffer while the
    // script (and the requests queued behind it on the same server) are unanswered.
    const commands: (string | number)[][] = [["EVAL", busy, 1, "{p}script"]];
    for (let i = 0; i < 6000; i++) commands.push(["SET", `{p}k${i}`, `value-${i}-${"x".repeat(60)}`]);
    const replies = await c.pipeline(commands);
    assert.equal(replies[0], 1);
    const entries = await c.call("SLOWLOG", "GET", -1) as Entry[];
    assert.ok(entries.length >= 1000, `${entries.length} slow requests`);
    for (const e of entries) {
      const [name, ...args] = e[3];
      if (name === "EVAL") {
        assert.deepEqual(args, [
          busy.length > 128 ? `${busy.slice(0, 128)}... (${busy.length - 128} more bytes)` : busy,
          "1",
          "{p}script",
        ]);
      } else {
        assert.equal(name, "SET");
        const i = Number(/^\{p\}k(\d+)$/.exec(args[0])?.[1]);
        assert.ok(Number.isInteger(i), args[0]);
        assert.equal(args[1], `value-${i}-${"x".repeat(60)}`, "each entry has its own bytes, not another request's");
      }
    }
  } finally {
    await c.close();
    await cluster.stop();
  }
});

Deno.test("SLOWLOG: requests read while earlier ones wait for replies keep their own arguments", async () => {
  const cluster = await startCluster({ config: { slowlogLogSlowerThan: 0, slowlogMaxLen: 1000 } });
  const [host, port] = cluster.addr.split(":");
  const conn = await Deno.connect({ hostname: host, port: Number(port) });
  const enc = new TextEncoder();
  const resp = (args: string[]) =>
    `*${args.length}\r\n` + args.map((a) => `$${enc.encode(a).length}\r\n${a}\r\n`).join("");
  try {
    // A script holds its server ~30 ms; requests sent one by one meanwhile are read into the
    // buffer after it (while it is unanswered) until the buffer is nearly full, then copied: sizes
    // from 20 to 600 bytes go through both, and through the small idle buffer's growth.
    const busy = "local t = redis.call('TIME'); local s = t[1]*1e6+t[2]; " +
      "repeat local n = redis.call('TIME') until n[1]*1e6+n[2] - s > 30000; return 1";
    const sent: string[][] = [];
    for (let round = 0; round < 4; round++) {
      const script = ["EVAL", busy, "1", "{s}script"];
      await conn.write(enc.encode(resp(script)));
      sent.push(script);
      for (let i = 0; i < 12; i++) {
        const args = ["SET", `{s}k${round}-${i}`, `v${round}-${i}-${"y".repeat((i * 53) % 120)}`];
        await conn.write(enc.encode(resp(args)));
        sent.push(args);
        await new Promise((r) => setTimeout(r, 1)); // one read each, as far as timers allow
      }
    }
    // Every reply (13 per round), then the log.
    let got = "";
    const buf = new Uint8Array(4096);
    while ((got.match(/\r\n/g) ?? []).length < sent.length) {
      const n = await conn.read(buf);
      assert.ok(n !== null, "the proxy closed the connection");
      got += new TextDecoder().decode(buf.subarray(0, n));
    }
    assert.equal(got, ":1\r\n".concat("+OK\r\n".repeat(12)).repeat(4));
    const c = await cluster.client();
    try {
      const entries = (await c.call("SLOWLOG", "GET", -1) as Entry[]).reverse();
      const cut = (a: string) => a.length > 128 ? `${a.slice(0, 128)}... (${a.length - 128} more bytes)` : a;
      assert.deepEqual(entries.map((e) => e[3]), sent.map((args) => args.map(cut)));
    } finally {
      await c.close();
    }
  } finally {
    conn.close();
    await cluster.stop();
  }
});
