import assert from "node:assert/strict";
import { RedisClient, RedisReplyError } from "../../redis/redis_client.ts";
import { RespError } from "../../redis/resp_value.ts";
import { slotOfString } from "../../redis/slot_hash.ts";
import { COMMANDS, NOT_ALLOWED } from "../../proxy/command_table.ts";
import { startCluster } from "../_support/cluster.ts";
import { waitFor } from "../_support/servers.ts";

/** Sends raw bytes on a new connection and reads until the server closes it (or `expect` bytes). */
async function rawExchange(addr: string, request: Uint8Array, expectClose = true): Promise<string> {
  const [host, port] = addr.split(":");
  const conn = await Deno.connect({ hostname: host, port: Number(port) });
  await conn.write(request);
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(4096);
  const deadline = setTimeout(() => conn.close(), 10_000);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
      if (!expectClose) break;
    }
  } catch {
    // closed by the deadline
  } finally {
    clearTimeout(deadline);
  }
  try {
    conn.close();
  } catch {
    // closed already
  }
  return new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
}

const enc = new TextEncoder();

/** Keys guaranteed to live in different slots served by different groups. */
function keysOnBothGroups(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) {
    const k = `key:${i}`;
    if ((out.length % 2 === 0) === (slotOfString(k) < 512)) out.push(k);
  }
  return out;
}

Deno.test("a proxy without a slot table answers 'router is not online' and closes", async () => {
  const cluster = await startCluster({ offline: true });
  try {
    const reply = await rawExchange(cluster.addr, enc.encode("PING\r\n"));
    assert.equal(reply, "-ERR router is not online\r\n");
  } finally {
    await cluster.stop();
  }
});

Deno.test("the proxy serves single-key commands and the special commands", async (t) => {
  const cluster = await startCluster();
  const c = await cluster.client();
  try {
    await t.step("PING and ECHO", async () => {
      assert.equal(await c.call("PING"), "PONG");
      assert.equal(await c.call("PING", "hello"), "hello");
      assert.equal(await c.call("ECHO", "a b"), "a b");
    });
    await t.step("PING and INFO with a backend address run on that server", async () => {
      assert.equal(await c.call("PING", cluster.servers[1].addr), "PONG");
      const info = await c.call("INFO", cluster.servers[0].addr, "server") as string;
      assert.match(info, new RegExp(`tcp_port:${cluster.servers[0].port}`));
      const err = await c.send(["PING", "127.0.0.1:1"]);
      assert.equal((err as RespError).message, "ERR backend server '127.0.0.1:1' not found");
    });
    await t.step("keys land on the group that owns their slot", async () => {
      const [k1, k2] = keysOnBothGroups(2);
      await c.call("SET", k1, "v1");
      await c.call("SET", k2, "v2");
      const g1 = await cluster.servers[0].client();
      const g2 = await cluster.servers[1].client();
      assert.equal(await g1.call("GET", k1), "v1");
      assert.equal(await g2.call("GET", k2), "v2");
      assert.equal(await g1.call("EXISTS", k2), 0);
      await g1.close();
      await g2.close();
    });
    await t.step("SELECT isolates databases and checks the range", async () => {
      await c.call("SET", "dbkey", "in-0");
      await c.call("SELECT", 3);
      assert.equal(await c.call("GET", "dbkey"), null);
      await c.call("SET", "dbkey", "in-3");
      await c.call("SELECT", 0);
      assert.equal(await c.call("GET", "dbkey"), "in-0");
      const other = await cluster.client({ db: 3 });
      assert.equal(await other.call("GET", "dbkey"), "in-3");
      await other.close();
      assert.equal((await c.send(["SELECT", 16]) as RespError).message, "ERR invalid DB index, only accept DB [0,16)");
      assert.equal((await c.send(["SELECT", "x"]) as RespError).message, "ERR invalid DB index");
      assert.equal(
        (await c.send(["SELECT"]) as RespError).message,
        "ERR wrong number of arguments for 'SELECT' command",
      );
    });
    await t.step("every not-allowed command is refused with Codis's error, the connection stays", async () => {
      const blocked = COMMANDS.filter((cmd) => cmd.flags & NOT_ALLOWED);
      assert.ok(blocked.length > 40);
      const replies = await c.pipeline(blocked.map((cmd) => [cmd.name.toLowerCase(), "x"]));
      for (let i = 0; i < blocked.length; i++) {
        assert.equal(
          (replies[i] as RespError).message,
          `ERR handle request, command '${blocked[i].name}' is not allowed`,
        );
      }
      assert.equal(await c.call("PING"), "PONG");
    });
    await t.step("blocking variants are served on a dedicated connection, non-blocking ones as usual", async () => {
      await c.call("XADD", "{s}stream", "1-1", "f", "v");
      assert.equal(await c.call("XREAD", "BLOCK", "50", "STREAMS", "{s}stream", "$"), null);
      assert.deepEqual(await c.call("XREAD", "COUNT", "1", "STREAMS", "{s}stream", "0"), [["{s}stream", [["1-1", [
        "f",
        "v",
      ]]]]]);
    });
    await t.step("unknown commands are forwarded to a backend", async () => {
      const r = await c.send(["NOSUCHCOMMAND", "k"]);
      assert.match((r as RespError).message, /^ERR unknown command 'NOSUCHCOMMAND'/);
    });
    await t.step("SLOTSHASHKEY and SLOTSMAPPING are answered by the proxy", async () => {
      assert.deepEqual(await c.call("SLOTSHASHKEY", "foo", "{user1000}.x"), [289, 870]);
      const m = await c.call("SLOTSMAPPING", 600) as string[];
      assert.deepEqual(m, ["600", cluster.servers[1].addr, "", []]);
      const all = await c.call("SLOTSMAPPING") as unknown[];
      assert.equal(all.length, 1024);
    });
    await t.step("CLIENT SETNAME/GETNAME/ID are local; other CLIENT commands refused", async () => {
      assert.equal(await c.call("CLIENT", "SETNAME", "tester"), "OK");
      assert.equal(await c.call("CLIENT", "GETNAME"), "tester");
      assert.equal(typeof await c.call("CLIENT", "ID"), "number");
      assert.equal(
        (await c.send(["CLIENT", "KILL", "x"]) as RespError).message,
        "ERR handle request, command 'CLIENT KILL' is not allowed",
      );
    });
    await t.step("HELLO 2 and HELLO 3 are answered, other versions refused", async () => {
      const hello = await c.call("HELLO", "2") as unknown[];
      assert.equal(hello[5], 2);
      const hello3 = await c.call("HELLO", "3") as unknown[]; // a map, as key, value, key, value…
      assert.equal(hello3[5], 3);
      assert.equal((await c.call("HELLO", "2") as unknown[])[5], 2);
      assert.match((await c.send(["HELLO", "4"]) as RespError).message, /^NOPROTO/);
    });
    await t.step("inline commands work", async () => {
      const reply = await rawExchange(cluster.addr, enc.encode('SET inline "a b"\r\nGET inline\r\nQUIT\r\n'));
      assert.equal(reply, "+OK\r\n$3\r\na b\r\n+OK\r\n");
    });
  } finally {
    await c.close();
    await cluster.stop();
  }
});

Deno.test("multi-key commands are split across groups and merged as Codis merges them", async (t) => {
  const cluster = await startCluster();
  const c = await cluster.client();
  try {
    const keys = keysOnBothGroups(20);
    await t.step("MSET and MGET across slots, with a missing key", async () => {
      const args: string[] = [];
      keys.forEach((k, i) => args.push(k, `value-${i}`));
      assert.equal(await c.call("MSET", ...args), "OK");
      const values = await c.call("MGET", ...keys, "missing-key", keys[0]) as (string | null)[];
      assert.deepEqual(values, [...keys.map((_, i) => `value-${i}`), null, "value-0"]);
      const g1 = await cluster.servers[0].client();
      const g2 = await cluster.servers[1].client();
      assert.equal(await g1.call("GET", keys[0]), "value-0");
      assert.equal(await g2.call("GET", keys[1]), "value-1");
      await g1.close();
      await g2.close();
    });
    await t.step("EXISTS counts duplicates, like Redis", async () => {
      assert.equal(await c.call("EXISTS", keys[0], keys[1], keys[0], "missing"), 3);
    });
    await t.step("DEL, UNLINK and TOUCH sum their sub-replies", async () => {
      assert.equal(await c.call("TOUCH", keys[2], keys[3], "missing"), 2);
      assert.equal(await c.call("DEL", keys[0], keys[1], "missing"), 2);
      assert.equal(await c.call("UNLINK", ...keys.slice(2)), keys.length - 2);
      assert.deepEqual(await c.call("MGET", ...keys.slice(0, 4)), [null, null, null, null]);
    });
    await t.step("wrong arities get Codis's errors", async () => {
      assert.equal((await c.send(["MGET"]) as RespError).message, "ERR wrong number of arguments for 'MGET' command");
      assert.equal(
        (await c.send(["MSET", "a"]) as RespError).message,
        "ERR wrong number of arguments for 'MSET' command",
      );
      assert.equal(
        (await c.send(["MSET", "a", "b", "c"]) as RespError).message,
        "ERR wrong number of arguments for 'MSET' command",
      );
      assert.equal((await c.send(["DEL"]) as RespError).message, "ERR wrong number of arguments for 'DEL' command");
    });
    await t.step(
      "an error reply from one group becomes the whole reply (Redis's error, not Codis's 'bad … resp')",
      async () => {
        // Group 2 out of memory: MSET's part there fails with OOM, so the whole MSET does
        // (its part on group 1 is applied, as in Codis: split commands are not atomic).
        const g2 = await cluster.servers[1].client();
        await g2.call("CONFIG", "SET", "maxmemory-policy", "noeviction");
        await g2.call("CONFIG", "SET", "maxmemory", "1");
        try {
          const r = await c.send(["MSET", keys[6], "a", keys[7], "b"]);
          assert.ok(r instanceof RespError && r.message.startsWith("OOM "), String(r));
          assert.equal(await c.call("GET", keys[6]), "a", "group 1's part was applied");
        } finally {
          await g2.call("CONFIG", "SET", "maxmemory", "0");
        }
        // Group 2's part of MGET and DEL refused by Redis (its ACL user may not run them any more): the
        // whole reply is that error.
        const { proxyAclPassword } = await import("../../utils/xauth.ts");
        const pw = proxyAclPassword("codis-demo", "");
        for (const server of cluster.servers) {
          const s = await server.client();
          await s.call("ACL", "SETUSER", "codis-proxy", "reset", "on", "~*", "&*", "+@all", `>${pw}`);
          await s.close();
        }
        const restricted = await startCluster({ groups: 0, config: {}, servers: cluster.servers });
        const rc = await restricted.client();
        try {
          await g2.call("ACL", "SETUSER", "codis-proxy", "-mget", "-del");
          for (const cmd of ["MGET", "DEL"]) {
            const r = await rc.send([cmd, keys[6], keys[7]]);
            assert.ok(r instanceof RespError && r.message.startsWith("NOPERM"), `${cmd}: ${r}`);
          }
          // DEL's part on group 1 was applied before group 2 refused its own: not atomic, as in Codis.
          assert.equal(await rc.call("EXISTS", keys[6], keys[7]), 0, "other merged commands still work");
        } finally {
          await rc.close();
          await restricted.stop();
          await g2.call("ACL", "DELUSER", "codis-proxy");
          await g2.close();
        }
      },
    );
  } finally {
    await c.close();
    await cluster.stop();
  }
});

Deno.test("a pipeline of 10,000 mixed commands across slots is answered in order", async () => {
  const cluster = await startCluster();
  const c = await cluster.client();
  try {
    const commands: string[][] = [];
    const expected: unknown[] = [];
    for (let i = 0; i < 2500; i++) {
      const k = `pipe:${i}`;
      commands.push(["SET", k, String(i)], ["INCR", k], ["GET", k]);
      expected.push("OK", i + 1, String(i + 1));
      if (i % 2 === 0) {
        commands.push(["MGET", k, `pipe:${i + 7}`, k]);
        expected.push([String(i + 1), null, String(i + 1)]);
      } else {
        commands.push(["EXISTS", k, `pipe:${i - 1}`, "nope"]);
        expected.push(2);
      }
    }
    assert.equal(commands.length, 10_000);
    const replies = await c.pipeline(commands);
    assert.deepEqual(replies, expected);
  } finally {
    await c.close();
    await cluster.stop();
  }
});

Deno.test("session_auth gates every command behind AUTH", async () => {
  const cluster = await startCluster({ config: { sessionAuth: "s3cret" } });
  const c = await cluster.client();
  try {
    assert.equal((await c.send(["GET", "k"]) as RespError).message, "NOAUTH Authentication required");
    assert.equal((await c.send(["AUTH", "wrong"]) as RespError).message, "ERR invalid password");
    assert.equal((await c.send(["AUTH"]) as RespError).message, "ERR wrong number of arguments for 'AUTH' command");
    assert.equal(await c.call("AUTH", "s3cret"), "OK");
    assert.equal(await c.call("SET", "k", "v"), "OK");
    assert.equal((await c.send(["AUTH", "wrong"]) as RespError).message, "ERR invalid password");
    assert.equal((await c.send(["GET", "k"]) as RespError).message, "NOAUTH Authentication required");
    assert.equal(await c.call("AUTH", "default", "s3cret"), "OK");
    assert.equal(await c.call("GET", "k"), "v");
    const other = await cluster.client({ password: "s3cret" });
    assert.equal(await other.call("GET", "k"), "v");
    await other.close();
  } finally {
    await c.close();
    await cluster.stop();
  }
});

Deno.test("AUTH without session_auth says no password is set", async () => {
  const cluster = await startCluster();
  const c = await cluster.client();
  try {
    assert.equal((await c.send(["AUTH", "x"]) as RespError).message, "ERR Client sent AUTH, but no password is set");
  } finally {
    await c.close();
    await cluster.stop();
  }
});

Deno.test("the proxy authenticates to password-protected backends with product_auth", async () => {
  const cluster = await startCluster({ password: "backend-pw" });
  const c = await cluster.client();
  try {
    await c.call("SELECT", 2);
    const keys = keysOnBothGroups(4);
    for (const k of keys) await c.call("SET", k, k);
    assert.deepEqual(await c.call("MGET", ...keys), keys);
  } finally {
    await c.close();
    await cluster.stop();
  }
});

Deno.test("1,000 concurrent clients are served", async () => {
  const cluster = await startCluster();
  const clients: RedisClient[] = [];
  try {
    for (let i = 0; i < 1000; i += 100) {
      clients.push(...await Promise.all(Array.from({ length: 100 }, () => cluster.client())));
    }
    await waitFor(() => cluster.proxy.sessionCount === 1000, { what: "1000 sessions" });
    const replies = await Promise.all(clients.map(async (c, i) => {
      await c.call("SET", `client:${i}`, String(i));
      return await c.call("GET", `client:${i}`);
    }));
    assert.deepEqual(replies, clients.map((_, i) => String(i)));
    assert.equal(cluster.proxy.stats.sessionsAlive, 1000);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await waitFor(() => cluster.proxy.sessionCount === 0, { what: "sessions to close" });
    await cluster.stop();
  }
});

Deno.test("proxy_max_clients refuses sessions beyond the limit", async () => {
  const cluster = await startCluster({ config: { proxyMaxClients: 2 } });
  const a = await cluster.client();
  const b = await cluster.client();
  try {
    assert.equal(await a.call("PING"), "PONG");
    assert.equal(await b.call("PING"), "PONG");
    const reply = await rawExchange(cluster.addr, enc.encode("PING\r\n"));
    assert.equal(reply, "-ERR max number of clients reached\r\n");
    assert.equal(await a.call("PING"), "PONG");
  } finally {
    await a.close();
    await b.close();
    await cluster.stop();
  }
});

Deno.test("a malformed frame gets a protocol error and the connection is closed; the proxy carries on", async () => {
  const cluster = await startCluster();
  try {
    const reply = await rawExchange(cluster.addr, enc.encode("SET a 1\r\n*2\r\n+GET\r\n$1\r\na\r\n"));
    assert.equal(reply, "+OK\r\n-ERR Protocol error: expected '$', got '+'\r\n");
    const huge = await rawExchange(cluster.addr, enc.encode("*1\r\n$999999999999\r\n"));
    assert.equal(huge, "-ERR Protocol error: invalid bulk length\r\n");
    const c = await cluster.client();
    assert.equal(await c.call("GET", "a"), "1");
    await c.close();
  } finally {
    await cluster.stop();
  }
});

Deno.test("QUIT answers OK, then what was sent before it, in order, then closes", async () => {
  const cluster = await startCluster();
  try {
    const reply = await rawExchange(cluster.addr, enc.encode("SET q 1\r\nINCR q\r\nQUIT\r\nGET q\r\n"));
    assert.equal(reply, "+OK\r\n:2\r\n+OK\r\n");
  } finally {
    await cluster.stop();
  }
});

Deno.test("session_break_on_failure disconnects the client after a failure", async () => {
  const cluster = await startCluster({ config: { sessionBreakOnFailure: true } });
  try {
    const reply = await rawExchange(cluster.addr, enc.encode("SET x 1\r\nMONITOR\r\nGET x\r\n"));
    assert.equal(reply, "+OK\r\n-ERR handle request, command 'MONITOR' is not allowed\r\n");
  } finally {
    await cluster.stop();
  }
});

Deno.test("a client sees RedisReplyError for error replies (sanity of the test client)", async () => {
  const cluster = await startCluster();
  const c = await cluster.client();
  try {
    await c.call("SET", "s", "x");
    await assert.rejects(() => c.call("INCR", "s"), RedisReplyError);
  } finally {
    await c.close();
    await cluster.stop();
  }
});

Deno.test("with a small session_max_pipeline a long pipeline is throttled, not cut off", async () => {
  const cluster = await startCluster({ config: { sessionMaxPipeline: 16 } });
  const c = await cluster.client();
  try {
    const commands = Array.from({ length: 5000 }, (_, i) => i % 2 ? ["INCR", `mp:${i % 7}`] : ["GET", `mp:${i % 7}`]);
    const replies = await c.pipeline(commands);
    const counters = new Map<string, number>();
    const expected = commands.map(([cmd, key]) => {
      if (cmd === "INCR") {
        counters.set(key, (counters.get(key) ?? 0) + 1);
        return counters.get(key)!;
      }
      const v = counters.get(key);
      return v === undefined ? null : String(v);
    });
    assert.deepEqual(replies, expected);

    // While the servers answer nothing (stopped), the proxy reads no more than 16 of a client's requests.
    for (const s of cluster.servers) Deno.kill(s.pid, "SIGSTOP");
    try {
      const before = cluster.proxy.stats.total;
      const pending = c.pipeline(Array.from({ length: 200 }, (_, i) => ["GET", `mp:${i % 7}`]));
      await waitFor(() => cluster.proxy.stats.total - before >= 16, { what: "16 requests read" });
      await new Promise((r) => setTimeout(r, 200)); // time to read more, if it would
      assert.equal(cluster.proxy.stats.total - before, 16, "reading stopped at session_max_pipeline");
      for (const s of cluster.servers) Deno.kill(s.pid, "SIGCONT");
      assert.equal((await pending).length, 200, "then every request is answered");
      assert.equal(cluster.proxy.stats.total - before, 200);
    } finally {
      for (const s of cluster.servers) Deno.kill(s.pid, "SIGCONT");
    }
  } finally {
    await c.close();
    await cluster.stop();
  }
});

Deno.test("session state: AUTH with a user, HELLO AUTH/SETNAME, CLIENT SETNAME rules, RESET", async () => {
  const cluster = await startCluster({ config: { sessionAuth: "s3cret" } });
  const c = await cluster.client();
  const error = async (command: (string | number)[]) => ((await c.send(command)) as RespError).message;
  try {
    // AUTH user pass: only the default user exists.
    const WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled.";
    assert.equal(await error(["AUTH", "admin", "s3cret"]), WRONGPASS);
    assert.equal(await error(["GET", "k"]), "NOAUTH Authentication required");

    // HELLO: protocol 2 or 3; AUTH and SETNAME in one go; a wrong password or option refused.
    assert.match(await error(["HELLO", "4"]), /^NOPROTO /);
    assert.match(await error(["HELLO", "2"]), /^NOAUTH HELLO must be called with the client already authenticated/);
    assert.equal(await error(["HELLO", "2", "AUTH", "default", "nope"]), WRONGPASS);
    assert.equal(
      await error(["HELLO", "2", "AUTH", "default", "s3cret", "BOGUS"]),
      "ERR Syntax error in HELLO option 'BOGUS'",
    );
    const hello = await c.call("HELLO", "2", "AUTH", "default", "s3cret", "SETNAME", "app-1") as unknown[];
    assert.deepEqual(hello.slice(0, 6), ["server", "redis", "version", "7.0.0", "proto", 2]);
    assert.equal(await c.call("CLIENT", "GETNAME"), "app-1");
    assert.equal(await c.call("SET", "k", "db0"), "OK", "authenticated by HELLO");

    // CLIENT SETNAME: printable ASCII without spaces; "" clears the name.
    const BAD_NAME = "ERR Client names cannot contain spaces, newlines or special characters.";
    for (const bad of ["has space", "new\nline", "tab\t", "naïve"]) {
      assert.equal(await error(["CLIENT", "SETNAME", bad]), BAD_NAME, JSON.stringify(bad));
    }
    assert.equal(await error(["HELLO", "2", "SETNAME", "a b"]), BAD_NAME);
    assert.equal(await c.call("CLIENT", "GETNAME"), "app-1", "a refused name changes nothing");
    assert.equal(await c.call("CLIENT", "SETNAME", "worker:7{a}"), "OK");
    assert.equal(await c.call("CLIENT", "GETNAME"), "worker:7{a}");
    assert.match(String(await c.call("CLIENT", "INFO")), / name=worker:7\{a\} db=0 /);
    assert.equal(await c.call("CLIENT", "SETNAME", ""), "OK");
    assert.equal(await c.call("CLIENT", "GETNAME"), null);

    // RESET: database 0, no name, logged out (session_auth is set).
    await c.call("CLIENT", "SETNAME", "before-reset");
    await c.call("SELECT", 3);
    await c.call("SET", "k", "db3");
    assert.equal(await c.call("RESET"), "RESET");
    assert.equal(await error(["GET", "k"]), "NOAUTH Authentication required");
    assert.equal(await c.call("AUTH", "s3cret"), "OK");
    assert.equal(await c.call("CLIENT", "GETNAME"), null);
    assert.equal(await c.call("GET", "k"), "db0", "back in database 0");
  } finally {
    await c.close();
    await cluster.stop();
  }
});

Deno.test("a command name that is empty or longer than any command gets 'bad command length'", async () => {
  const cluster = await startCluster();
  try {
    const long = "X".repeat(100);
    const reply = await rawExchange(
      cluster.addr,
      enc.encode(`*1\r\n$0\r\n\r\n*2\r\n$${long.length}\r\n${long}\r\n$1\r\na\r\nPING\r\nQUIT\r\n`),
    );
    const BAD = "-ERR handle request, bad command length, too short or too long\r\n";
    assert.equal(reply, `${BAD}${BAD}+PONG\r\n+OK\r\n`, "the session goes on after each");
  } finally {
    await cluster.stop();
  }
});

Deno.test("session_send_timeout drops a client that stops reading its replies", async () => {
  const cluster = await startCluster({
    // The output limits are out of the way: only the send timeout can end the session.
    config: { sessionSendTimeout: 1000, sessionOutputSoftLimit: 0, sessionOutputHardLimit: 0 },
  });
  const c = await cluster.client();
  const value = "v".repeat(1 << 20);
  await c.call("SET", "big", value);
  const [host, port] = cluster.addr.split(":");
  const reader = await Deno.connect({ hostname: host, port: Number(port) });
  try {
    // 64 × 1 MiB of replies, never read: the socket's buffers fill and the proxy's write stalls.
    await reader.write(enc.encode("GET big\r\n".repeat(64)));
    await waitFor(() => cluster.proxy.sessionCount === 1, { what: "the stalled session to be dropped" });
    // The well-behaved client was never affected.
    assert.equal((await c.call("GET", "big") as string).length, value.length);
  } finally {
    reader.close();
    await c.close();
    await cluster.stop();
  }
});

/**
 * Reads a socket option of this process's end of a TCP connection (`localPort` → `remotePort`):
 * the socket's inode from /proc/net/tcp, its descriptor from /proc/self/fd, then getsockopt(2).
 */
function socketOption(localPort: number, remotePort: number, level: number, name: number): number {
  const hexPort = (p: number) => p.toString(16).toUpperCase().padStart(4, "0");
  const line = Deno.readTextFileSync("/proc/net/tcp").split("\n").find((l) => {
    const f = l.trim().split(/\s+/);
    return f[1]?.endsWith(`:${hexPort(localPort)}`) && f[2]?.endsWith(`:${hexPort(remotePort)}`);
  });
  assert.ok(line, `no socket ${localPort} → ${remotePort}`);
  const inode = line.trim().split(/\s+/)[9];
  let fd = -1;
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    try {
      if (Deno.readLinkSync(`/proc/self/fd/${e.name}`) === `socket:[${inode}]`) fd = Number(e.name);
    } catch {
      // closed meanwhile
    }
  }
  assert.ok(fd >= 0, `no descriptor for socket inode ${inode}`);
  const libc = Deno.dlopen("libc.so.6", {
    getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  });
  try {
    const value = new Int32Array(1);
    const len = new Uint32Array([4]);
    assert.equal(libc.symbols.getsockopt(fd, level, name, value, len), 0);
    return value[0];
  } finally {
    libc.close();
  }
}

Deno.test("TCP_NODELAY is set before a session's second write, SO_KEEPALIVE once it lives a second", async () => {
  const IPPROTO_TCP = 6, TCP_NODELAY = 1, SOL_SOCKET = 1, SO_KEEPALIVE = 9;
  const cluster = await startCluster();
  const [host, port] = cluster.addr.split(":");
  const conn = await Deno.connect({ hostname: host, port: Number(port) });
  try {
    const client = conn.localAddr.port;
    const buf = new Uint8Array(64);
    const exchange = async (request: string, reply: string) => {
      await conn.write(enc.encode(request));
      let got = "";
      while (got.length < reply.length) {
        const n = await conn.read(buf);
        assert.ok(n !== null);
        got += new TextDecoder().decode(buf.subarray(0, n));
      }
      assert.equal(got, reply);
    };
    // A client that sends one request and leaves costs no option calls: its one small reply
    // goes out at once with Nagle's algorithm on.
    await exchange("PING\r\n", "+PONG\r\n");
    assert.equal(socketOption(Number(port), client, IPPROTO_TCP, TCP_NODELAY), 0);
    await exchange("PING\r\n", "+PONG\r\n");
    assert.notEqual(socketOption(Number(port), client, IPPROTO_TCP, TCP_NODELAY), 0);
    await waitFor(() => socketOption(Number(port), client, SOL_SOCKET, SO_KEEPALIVE) !== 0, { what: "SO_KEEPALIVE" });
    // A first reply longer than a segment could have its tail held: no-delay is set before it.
    const value = "v".repeat(4000);
    await exchange(`SET big ${value}\r\n`, "+OK\r\n");
    const other = await Deno.connect({ hostname: host, port: Number(port) });
    try {
      await other.write(enc.encode("GET big\r\n"));
      const expected = `$4000\r\n${value}\r\n`.length;
      let got = 0;
      const big = new Uint8Array(8192);
      while (got < expected) got += (await other.read(big)) ?? expected;
      assert.notEqual(socketOption(Number(port), other.localAddr.port, IPPROTO_TCP, TCP_NODELAY), 0);
    } finally {
      other.close();
    }
  } finally {
    conn.close();
    await cluster.stop();
  }
});
