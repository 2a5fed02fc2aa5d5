/**
 * Differential test: the common commands of every data type, sent through the proxy (keys spread
 * over two groups) and to a standalone Redis; the replies must be equal byte for byte.
 */
import assert from "node:assert/strict";
import { RedisClient } from "../../redis/redis_client.ts";
import { startCluster } from "../_support/cluster.ts";
import { RedisServer } from "../_support/servers.ts";

// A fixed moment in the future, so that expiry replies do not depend on the clock.
const AT = String(Math.floor(Date.now() / 1000) + 86_400 * 365);
const AT_MS = String(Number(AT) * 1000 + 123);

const CASES: Record<string, string[][]> = {
  strings: [
    ["SET", "s1", "hello"],
    ["GET", "s1"],
    ["APPEND", "s1", " world"],
    ["STRLEN", "s1"],
    ["GETRANGE", "s1", "0", "4"],
    ["SETRANGE", "s1", "6", "WORLD"],
    ["GET", "s1"],
    ["SET", "n1", "10"],
    ["INCR", "n1"],
    ["INCRBY", "n1", "5"],
    ["DECR", "n1"],
    ["DECRBY", "n1", "3"],
    ["INCRBYFLOAT", "n1", "0.5"],
    ["GETSET", "n1", "x"],
    ["SETNX", "n1", "y"],
    ["SET", "s2", "v", "NX"],
    ["SET", "s2", "v2", "XX", "GET"],
    ["GETDEL", "s2"],
    ["GET", "s2"],
    ["MSET", "m1", "a", "m2", "b", "m3", "c"],
    ["MGET", "m1", "m2", "missing", "m3"],
    ["INCR", "s1"],
    ["SUBSTR", "s1", "0", "2"],
    ["LCS", "{l}a", "{l}b"],
    ["SET", "bin", "\x00\x01\xff\r\n"],
    ["GET", "bin"],
    ["GET"],
  ],
  keys: [
    ["SET", "k1", "v"],
    ["EXISTS", "k1", "k2", "k1"],
    ["TYPE", "k1"],
    ["EXPIREAT", "k1", AT],
    ["EXPIRETIME", "k1"],
    ["PEXPIREAT", "k1", AT_MS],
    ["PEXPIRETIME", "k1"],
    ["PERSIST", "k1"],
    ["TTL", "k1"],
    ["PTTL", "k1"],
    ["TTL", "nokey"],
    ["SET", "k3", "v", "EXAT", AT],
    ["EXPIRETIME", "k3"],
    ["GETEX", "k3", "PERSIST"],
    ["TTL", "k3"],
    ["DUMP", "k1"],
    ["COPY", "{c}src", "{c}dst"],
    ["SET", "{c}src", "x"],
    ["COPY", "{c}src", "{c}dst"],
    ["GET", "{c}dst"],
    ["TOUCH", "k1", "k3", "nokey"],
    ["DEL", "k1", "k3", "nokey", "{c}src", "{c}dst"],
    ["UNLINK", "k1"],
    ["EXISTS", "k1"],
  ],
  hashes: [
    ["HSET", "h1", "f1", "v1", "f2", "v2", "f3", "3"],
    ["HGET", "h1", "f1"],
    ["HMGET", "h1", "f1", "nope", "f2"],
    ["HGETALL", "h1"],
    ["HKEYS", "h1"],
    ["HVALS", "h1"],
    ["HLEN", "h1"],
    ["HEXISTS", "h1", "f2"],
    ["HINCRBY", "h1", "f3", "4"],
    ["HINCRBYFLOAT", "h1", "f3", "1.25"],
    ["HSETNX", "h1", "f1", "x"],
    ["HSTRLEN", "h1", "f2"],
    ["HDEL", "h1", "f1", "nope"],
    ["HMSET", "h1", "a", "1"],
    ["HGETALL", "h1"],
    ["HSCAN", "h1", "0"],
    ["HGET", "s-not-hash", "x"],
    ["SET", "s-not-hash", "v"],
    ["HGET", "s-not-hash", "x"],
  ],
  lists: [
    ["RPUSH", "l1", "a", "b", "c"],
    ["LPUSH", "l1", "z"],
    ["LRANGE", "l1", "0", "-1"],
    ["LLEN", "l1"],
    ["LINDEX", "l1", "1"],
    ["LSET", "l1", "0", "y"],
    ["LINSERT", "l1", "BEFORE", "b", "x"],
    ["LPOS", "l1", "b"],
    ["LREM", "l1", "1", "x"],
    ["LTRIM", "l1", "0", "2"],
    ["LPOP", "l1"],
    ["RPOP", "l1"],
    ["RPUSHX", "l1", "q"],
    ["LPUSHX", "nolist", "q"],
    ["RPUSH", "{l}src", "1", "2", "3"],
    ["RPOPLPUSH", "{l}src", "{l}dst"],
    ["LMOVE", "{l}src", "{l}dst", "LEFT", "RIGHT"],
    ["LRANGE", "{l}dst", "0", "-1"],
    ["LMPOP", "2", "{l}src", "{l}dst", "LEFT", "COUNT", "2"],
    ["LPOP", "l1", "5"],
  ],
  sets: [
    ["SADD", "set1", "1", "2", "3", "4"],
    ["SADD", "set1", "2"],
    ["SCARD", "set1"],
    ["SISMEMBER", "set1", "3"],
    ["SMISMEMBER", "set1", "3", "9"],
    ["SMEMBERS", "set1"],
    ["SREM", "set1", "4"],
    ["SADD", "{s}a", "1", "2", "3"],
    ["SADD", "{s}b", "2", "3", "4"],
    ["SINTER", "{s}a", "{s}b"],
    ["SUNION", "{s}a", "{s}b"],
    ["SDIFF", "{s}a", "{s}b"],
    ["SINTERCARD", "2", "{s}a", "{s}b"],
    ["SINTERSTORE", "{s}c", "{s}a", "{s}b"],
    ["SUNIONSTORE", "{s}c", "{s}a", "{s}b"],
    ["SDIFFSTORE", "{s}c", "{s}a", "{s}b"],
    ["SMEMBERS", "{s}c"],
    ["SMOVE", "{s}a", "{s}b", "1"],
    ["SSCAN", "{s}b", "0"],
    ["SPOP", "single"],
    ["SADD", "single", "only"],
    ["SRANDMEMBER", "single"],
    ["SPOP", "single"],
  ],
  "sorted sets": [
    ["ZADD", "z1", "1", "a", "2", "b", "3", "c", "4.5", "d"],
    ["ZCARD", "z1"],
    ["ZSCORE", "z1", "d"],
    ["ZMSCORE", "z1", "a", "nope"],
    ["ZRANK", "z1", "c"],
    ["ZREVRANK", "z1", "c"],
    ["ZRANGE", "z1", "0", "-1", "WITHSCORES"],
    ["ZRANGE", "z1", "(1", "4", "BYSCORE", "LIMIT", "0", "2"],
    ["ZREVRANGE", "z1", "0", "1"],
    ["ZRANGEBYSCORE", "z1", "-inf", "+inf"],
    ["ZREVRANGEBYSCORE", "z1", "+inf", "2"],
    ["ZCOUNT", "z1", "2", "4"],
    ["ZINCRBY", "z1", "10", "a"],
    ["ZADD", "zl", "0", "a", "0", "b", "0", "c"],
    ["ZRANGEBYLEX", "zl", "[a", "(c"],
    ["ZREVRANGEBYLEX", "zl", "+", "-"],
    ["ZLEXCOUNT", "zl", "-", "+"],
    ["ZREMRANGEBYLEX", "zl", "[a", "[a"],
    ["ZREM", "z1", "b"],
    ["ZREMRANGEBYRANK", "z1", "0", "0"],
    ["ZREMRANGEBYSCORE", "z1", "0", "3"],
    ["ZPOPMIN", "z1"],
    ["ZPOPMAX", "z1"],
    ["ZADD", "{z}a", "1", "x", "2", "y"],
    ["ZADD", "{z}b", "3", "y", "4", "z"],
    ["ZUNIONSTORE", "{z}u", "2", "{z}a", "{z}b", "WEIGHTS", "1", "2"],
    ["ZINTERSTORE", "{z}i", "2", "{z}a", "{z}b"],
    ["ZUNION", "2", "{z}a", "{z}b", "WITHSCORES"],
    ["ZINTER", "2", "{z}a", "{z}b"],
    ["ZDIFF", "2", "{z}a", "{z}b"],
    ["ZDIFFSTORE", "{z}d", "2", "{z}a", "{z}b"],
    ["ZRANGESTORE", "{z}r", "{z}u", "0", "1"],
    ["ZRANGE", "{z}u", "0", "-1", "WITHSCORES"],
    ["ZSCAN", "{z}u", "0"],
  ],
  streams: [
    ["XADD", "x1", "1-1", "f", "a"],
    ["XADD", "x1", "2-1", "f", "b", "g", "c"],
    ["XADD", "x1", "3-1", "f", "d"],
    ["XLEN", "x1"],
    ["XRANGE", "x1", "-", "+"],
    ["XREVRANGE", "x1", "+", "-", "COUNT", "2"],
    ["XREAD", "COUNT", "2", "STREAMS", "x1", "0"],
    ["XGROUP", "CREATE", "x1", "grp", "0"],
    ["XREADGROUP", "GROUP", "grp", "alice", "COUNT", "2", "STREAMS", "x1", ">"],
    ["XPENDING", "x1", "grp"],
    ["XACK", "x1", "grp", "1-1"],
    // The extended form reports idle milliseconds, which differ between two runs: the summary again instead.
    ["XPENDING", "x1", "grp"],
    ["XCLAIM", "x1", "grp", "bob", "0", "2-1", "JUSTID"],
    ["XDEL", "x1", "1-1"],
    ["XTRIM", "x1", "MAXLEN", "1"],
    ["XRANGE", "x1", "-", "+"],
    ["XADD", "x1", "1-0", "f", "old"],
  ],
  hyperloglog: [
    ["PFADD", "{h}1", "a", "b", "c"],
    ["PFADD", "{h}2", "c", "d"],
    ["PFCOUNT", "{h}1"],
    ["PFCOUNT", "{h}1", "{h}2"],
    ["PFMERGE", "{h}3", "{h}1", "{h}2"],
    ["PFCOUNT", "{h}3"],
    ["PFADD", "{h}1", "a"],
  ],
  bitmaps: [
    ["SETBIT", "b1", "7", "1"],
    ["SETBIT", "b1", "100", "1"],
    ["GETBIT", "b1", "7"],
    ["GETBIT", "b1", "8"],
    ["BITCOUNT", "b1"],
    ["BITCOUNT", "b1", "0", "0"],
    ["BITPOS", "b1", "1"],
    ["BITPOS", "b1", "0"],
    ["BITFIELD", "b2", "SET", "u8", "0", "255", "GET", "u4", "0", "INCRBY", "i5", "100", "1"],
    ["BITFIELD_RO", "b2", "GET", "u8", "0"],
    ["GET", "b1"],
  ],
  geo: [
    ["GEOADD", "g1", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"],
    ["GEODIST", "g1", "Palermo", "Catania", "km"],
    ["GEOHASH", "g1", "Palermo", "Catania"],
    ["GEOPOS", "g1", "Palermo", "Nowhere"],
    ["GEORADIUS", "g1", "15", "37", "200", "km", "WITHDIST", "ASC"],
    ["GEORADIUSBYMEMBER", "g1", "Palermo", "300", "km", "ASC"],
    ["GEOSEARCH", "g1", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC", "WITHCOORD"],
    ["GEOSEARCHSTORE", "{g}dst", "{g}src", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"],
  ],
  scripting: [
    ["EVAL", "return {KEYS[1], ARGV[1]}", "1", "{e}k", "arg"],
    ["EVAL", "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[2])", "2", "{e}a", "{e}b", "v"],
    ["EVAL", "return redis.call('INCR', KEYS[1])", "1", "{e}a"],
    ["EVAL", "return 1 +", "0"],
  ],
  errors: [
    ["SET", "str", "x"],
    ["LPUSH", "str", "a"],
    ["INCR", "str"],
    ["HSET", "hash"],
    ["ZADD", "z", "notanumber", "m"],
    ["XADD", "x", "0-0", "f", "v"],
  ],
};

Deno.test("replies through the proxy equal replies from Redis, byte for byte", async (t) => {
  const cluster = await startCluster();
  const direct = await RedisServer.start();
  const viaProxy = await cluster.client();
  const viaRedis = await RedisClient.connect(direct.addr);
  try {
    for (const [name, commands] of Object.entries(CASES)) {
      await t.step(name, async () => {
        for (const cmd of commands) {
          const [a, b] = await Promise.all([viaProxy.sendFrame(cmd), viaRedis.sendFrame(cmd)]);
          const show = (f: Uint8Array) => JSON.stringify(new TextDecoder().decode(f));
          assert.equal(show(a), show(b), `${cmd.join(" ")}`);
        }
      });
    }
    await t.step("every case again in RESP3 (HELLO 3 on both sides)", async () => {
      const p3 = await cluster.client();
      const r3 = await RedisClient.connect(direct.addr);
      try {
        const hello = await p3.call("HELLO", "3") as unknown[]; // a map, as key, value, key, value…
        assert.equal(hello[5], 3);
        await r3.call("HELLO", "3");
        for (const commands of Object.values(CASES)) {
          for (const cmd of commands) {
            const [a, b] = await Promise.all([p3.sendFrame(cmd), r3.sendFrame(cmd)]);
            const show = (f: Uint8Array) => JSON.stringify(new TextDecoder().decode(f));
            assert.equal(show(a), show(b), `RESP3: ${cmd.join(" ")}`);
          }
        }
      } finally {
        await p3.close();
        await r3.close();
      }
    });
    await t.step("the same commands pipelined, in db 5", async () => {
      await viaProxy.call("SELECT", 5);
      await viaRedis.call("SELECT", 5);
      const all = Object.values(CASES).flat();
      const [a, b] = await Promise.all([
        Promise.all(all.map((c) => viaProxy.sendFrame(c))),
        Promise.all(all.map((c) => viaRedis.sendFrame(c))),
      ]);
      const dec = new TextDecoder();
      assert.deepEqual(a.map((f) => dec.decode(f)), b.map((f) => dec.decode(f)));
    });
  } finally {
    await viaProxy.close();
    await viaRedis.close();
    await direct.stop();
    await cluster.stop();
  }
});
