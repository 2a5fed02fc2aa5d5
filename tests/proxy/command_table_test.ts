import assert from "node:assert/strict";
import {
  BLOCKS,
  commandNamed,
  COMMANDS,
  forEachKey,
  isReadOnly,
  lookupCommand,
  MASTER_ONLY,
  NOT_ALLOWED,
  routeIndex,
  WRITE,
} from "../../proxy/command_table.ts";
import { Frame } from "../../proxy/frame.ts";
import { RequestScanner } from "../../redis/resp_scanner.ts";
import { encodeCommand } from "../../redis/resp_writer.ts";

const dec = new TextDecoder();

/** The keys and routing key of a command line, as the proxy sees them. */
function keysOf(...argv: string[]): { keys: string[]; route: string | null } {
  const buf = encodeCommand(argv);
  const s = new RequestScanner();
  s.scan(buf, 0, buf.length);
  const cmd = lookupCommand(buf, s.args[0], s.args[1]);
  const frame = new Frame().set(buf, 0, buf.length, s.args, s.argc);
  const keys: string[] = [];
  forEachKey(cmd, frame, (a, b) => keys.push(dec.decode(buf.subarray(a, b))));
  const r = routeIndex(cmd, frame);
  return { keys, route: r < 0 ? null : dec.decode(buf.subarray(s.args[r * 2], s.args[r * 2 + 1])) };
}

Deno.test("command lookup ignores case and refuses near misses", () => {
  const bytes = new TextEncoder().encode("xxgEtxx");
  assert.equal(lookupCommand(bytes, 2, 5)?.name, "GET");
  assert.equal(commandNamed("getx"), undefined);
  assert.equal(commandNamed("ge"), undefined);
  assert.equal(commandNamed("slotsmgrt-exec-wrapper")?.name, "SLOTSMGRT-EXEC-WRAPPER");
});

Deno.test("Codis's not-allowed commands are all blocked, dashed names included", () => {
  const codisBlocked = [
    "ASKING",
    "BGREWRITEAOF",
    "BGSAVE",
    "BLPOP",
    "BRPOP",
    "BRPOPLPUSH",
    "CLIENT",
    "CLUSTER",
    "CONFIG",
    "DEBUG",
    "DISCARD",
    "EXEC",
    "HOST:",
    "KEYS",
    "LASTSAVE",
    "LATENCY",
    "MIGRATE",
    "MONITOR",
    "MOVE",
    "MULTI",
    "OBJECT",
    "POST",
    "PSUBSCRIBE",
    "PSYNC",
    "PUBLISH",
    "PUNSUBSCRIBE",
    "READONLY",
    "READWRITE",
    "REPLCONF",
    "RESTORE",
    "SAVE",
    "SCAN",
    "SHUTDOWN",
    "SLAVEOF",
    "SLOTSCHECK",
    "SLOTSDEL",
    "SLOTSMGRTONE",
    "SLOTSMGRTSLOT",
    "SLOTSMGRTTAGONE",
    "SLOTSMGRTTAGSLOT",
    "SUBSCRIBE",
    "SYNC",
    "TIME",
    "UNSUBSCRIBE",
    "UNWATCH",
    "WAIT",
    "WATCH",
    "RESTORE-ASKING",
    "SLOTSMGRTONE-ASYNC",
    "SLOTSMGRTSLOT-ASYNC",
    "SLOTSMGRTTAGONE-ASYNC",
    "SLOTSMGRTTAGSLOT-ASYNC",
    "SLOTSMGRT-ASYNC-FENCE",
    "SLOTSMGRT-ASYNC-CANCEL",
    "SLOTSMGRT-ASYNC-STATUS",
    "SLOTSMGRT-EXEC-WRAPPER",
    "SLOTSRESTORE-ASYNC",
    "SLOTSRESTORE-ASYNC-AUTH",
    "SLOTSRESTORE-ASYNC-ACK",
  ];
  // Served on purpose where Codis refuses: within one group (the session answers CROSSSLOT otherwise)…
  for (const name of ["BITOP", "MSETNX", "RENAME", "RENAMENX"]) {
    const c = commandNamed(name)!;
    assert.ok(!(c.flags & NOT_ALLOWED) && c.multiKey, `${name} runs when its keys share a group`);
  }
  // … and answered by the proxy itself (DBSIZE and SCRIPT LOAD|EXISTS|FLUSH from every master).
  assert.equal(commandNamed("SLOWLOG")?.special, "SLOWLOG");
  assert.equal(commandNamed("DBSIZE")?.special, "DBSIZE");
  assert.equal(commandNamed("SCRIPT")?.special, "SCRIPT");
  assert.equal(commandNamed("RANDOMKEY")?.special, "RANDOMKEY");
  // FLUSHDB/FLUSHALL: refused unless proxy.toml's proxy_allow_flush says otherwise.
  assert.equal(commandNamed("FLUSHALL")?.special, "FLUSH");
  // … and served on a dedicated connection where Codis refuses them.
  const dedicated = new Set([
    ..."BLPOP BRPOP BRPOPLPUSH WAIT MULTI EXEC DISCARD WATCH UNWATCH".split(" "),
    ..."SUBSCRIBE PSUBSCRIBE UNSUBSCRIBE PUNSUBSCRIBE PUBLISH SCAN KEYS".split(" "),
  ]);
  for (const name of ["SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE"]) {
    assert.equal(commandNamed(name)?.special, "SUBSCRIBE");
  }
  for (const name of ["MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH"]) assert.equal(commandNamed(name)?.special, "TX");
  for (const name of ["BLPOP", "BRPOP", "BRPOPLPUSH", "BLMOVE", "BLMPOP", "BZPOPMIN", "BZPOPMAX", "BZMPOP"]) {
    const f = commandNamed(name)!.flags;
    assert.ok(f & BLOCKS && !(f & NOT_ALLOWED), `${name} blocks on a dedicated connection`);
  }
  assert.equal(commandNamed("WAIT")?.special, "WAIT");
  for (const name of codisBlocked) {
    if (dedicated.has(name)) continue;
    const c = commandNamed(name);
    // CLIENT is answered by the proxy for a few harmless subcommands and refused otherwise.
    if (name === "CLIENT") assert.equal(c?.special, "CLIENT");
    else assert.ok(c && c.flags & NOT_ALLOWED, `${name} is not allowed`);
  }
  for (const name of ["FUNCTION", "FAILOVER", "SWAPDB", "WAITAOF"]) {
    assert.ok(commandNamed(name)!.flags & NOT_ALLOWED, `${name} (Redis 7) is not allowed`);
  }
});

Deno.test("read-only, master-only and write flags follow Codis", () => {
  for (const name of ["GET", "HGETALL", "LRANGE", "ZRANGE", "PFCOUNT", "MGET", "EXISTS", "TTL", "GEOPOS"]) {
    assert.ok(isReadOnly(commandNamed(name)!.flags), `${name} is read-only`);
  }
  for (const name of ["HSCAN", "SSCAN", "ZSCAN"]) {
    const f = commandNamed(name)!.flags;
    assert.ok(f & MASTER_ONLY && !isReadOnly(f), `${name} is master-only`);
  }
  for (const name of ["SET", "DEL", "MSET", "EVAL", "RPOPLPUSH", "SORT", "GEORADIUS", "PFADD"]) {
    assert.ok(commandNamed(name)!.flags & WRITE, `${name} writes`);
  }
  // Unknown commands are treated as writes and routed by their first argument.
  assert.equal(commandNamed("NOSUCH"), undefined);
  assert.deepEqual(keysOf("NOSUCH", "k", "v"), { keys: ["k"], route: "k" });
});

Deno.test("key positions: first argument, Codis's argument 3, and Redis 7's forms", () => {
  assert.deepEqual(keysOf("GET", "a"), { keys: ["a"], route: "a" });
  assert.deepEqual(keysOf("MSET", "a", "1", "b", "2"), { keys: ["a", "b"], route: "a" });
  assert.deepEqual(keysOf("EVAL", "return 1", "2", "k1", "k2", "arg"), { keys: ["k1", "k2"], route: "k1" });
  assert.deepEqual(keysOf("EVALSHA", "abc", "0"), { keys: [], route: null });
  assert.deepEqual(keysOf("ZUNIONSTORE", "dst", "2", "s1", "s2", "WEIGHTS", "1", "2"), {
    keys: ["dst", "s1", "s2"],
    route: "s1",
  });
  assert.deepEqual(keysOf("ZINTER", "2", "a", "b"), { keys: ["a", "b"], route: "a" });
  assert.deepEqual(keysOf("XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0"), { keys: ["s1", "s2"], route: "s1" });
  assert.deepEqual(keysOf("XGROUP", "CREATE", "stream", "g", "$"), { keys: ["stream"], route: "stream" });
  assert.deepEqual(keysOf("SORT", "src", "BY", "w_*", "STORE", "dst"), { keys: ["src", "dst"], route: "src" });
  assert.deepEqual(keysOf("GEORADIUS", "g", "0", "0", "1", "km", "STORE", "out"), { keys: ["g", "out"], route: "g" });
  assert.deepEqual(keysOf("LMOVE", "a", "b", "LEFT", "RIGHT"), { keys: ["a", "b"], route: "a" });
  assert.deepEqual(keysOf("PING"), { keys: [], route: null });
  assert.deepEqual(keysOf("GET"), { keys: [], route: null });
});

Deno.test("every command name is unique and upper case", () => {
  const names = new Set<string>();
  for (const c of COMMANDS) {
    assert.equal(c.name, c.name.toUpperCase());
    assert.ok(!names.has(c.name), c.name);
    names.add(c.name);
    assert.equal(commandNamed(c.name), c);
  }
});
