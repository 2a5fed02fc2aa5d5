/**
 * Big keys moved in pieces, on stock Redis (Codis 3.2 had its patched server's `SLOTSMGRT-ASYNC`
 * for this): a hash, set, sorted set or list too big for one `MIGRATE` is copied chunk by chunk
 * (`HSCAN`/`SSCAN`/`ZSCAN`/`LRANGE` on the source, `HSET`/`SADD`/`ZADD`/`RPUSH` into a temporary
 * key of the same slot on the target), then put in place on the target in one transaction
 * (`RENAME` and its expiry), then removed from the source with `UNLINK`. Every command touches at
 * most `migration_async_maxbulks` elements and `migration_async_maxbytes` bytes, so neither server
 * stops serving its other clients for long.
 *
 * The slot's fills name its big keys (`held_keys`): proxies serve them from the source and never
 * MIGRATE them. Before one is copied, a fill names it `moving` on every proxy (a barrier: once all
 * have taken it, no write to it is in flight) and writes to it wait, reads still go to the
 * source; so the copy is exact, and every other key of the slot flows as usual.
 * A transfer that stops half way (the dashboard died) leaves only the temporary key, which no
 * client uses: the next attempt deletes it first and starts again.
 *
 * Strings and streams keep `MIGRATE` (a string is one value; a stream's consumer groups and IDs
 * cannot be rebuilt element by element without changing them).
 *
 * @module
 */

import type { RedisClient } from "../redis/redis_client.ts";
import { RespError, type RespValue } from "../redis/resp_value.ts";
import { slotOf } from "../redis/slot_hash.ts";
import { fromUtf8, utf8 } from "../utils/bytes.ts";

/** A key is moved in pieces when it has more than this many chunks' worth of elements. */
export const BIG_KEY_CHUNKS = 16;

/** What bounds one chunk: Codis's `migration_async_maxbulks` and `migration_async_maxbytes`. */
export interface ChunkLimits {
  maxBulks: number;
  maxBytes: number;
}

/** A big key found on a source: its database, name and type. */
export interface BigKey {
  db: number;
  key: Uint8Array;
  type: "hash" | "set" | "zset" | "list";
  /** Elements when it was found. */
  length: number;
}

const PREFIX = utf8("__codis_transfer__");

/**
 * The temporary key a big key is copied into: a name no client uses, in the same slot (the key's
 * hash tag is kept, or the key becomes the tag). Null when no such name exists (a key with `}`
 * and no tag): that key keeps MIGRATE.
 */
export function transferKeyName(key: Uint8Array): Uint8Array | null {
  const slot = slotOf(key);
  const tagged = concat(PREFIX, key);
  if (slotOf(tagged) === slot) return tagged;
  const wrapped = concat(PREFIX, utf8("{"), key, utf8("}"));
  return slotOf(wrapped) === slot ? wrapped : null;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * One step of a scan for collections, run in the server: the keys of one `SCAN … COUNT n` step
 * whose type is one of the chunkable ones. One pass instead of four `SCAN … TYPE` passes (one per
 * type): measured on 1,000,000 keys, 2.5-3.3 s against 4.7-5.1 s (~3 µs of the server per key
 * looked at, all of a call's keys at once: the caller keeps `count` small). `no-writes`, so that a
 * server out of memory or without enough replicas still runs it.
 */
const COLLECTIONS_STEP = `#!lua flags=no-writes
local r = redis.call('SCAN', ARGV[1], 'COUNT', ARGV[2])
local out = {}
for _, k in ipairs(r[2]) do
  local t = redis.call('TYPE', k)['ok']
  if t == 'hash' or t == 'set' or t == 'zset' or t == 'list' then out[#out + 1] = k end
end
return {r[1], out}`;

const COLLECTION_TYPES = ["hash", "set", "zset", "list"];

/**
 * The hashes, sets, sorted sets and lists of the selected database of `client`'s server (and
 * maybe a few keys more, deleted or replaced meanwhile), in batches, `count` keys looked at per
 * call. With the server's script (Redis 7) one pass; a server that will not run it (Redis 6,
 * scripting denied) gets one `SCAN … TYPE` pass per type.
 */
export async function* collectionKeys(client: RedisClient, count: number): AsyncGenerator<Uint8Array[]> {
  let sha: string | null = null;
  try {
    sha = text(await client.call("SCRIPT", "LOAD", COLLECTIONS_STEP));
  } catch {
    // no scripts here: the passes by type below
  }
  if (sha !== null) {
    let cursor = "0";
    let first = true;
    try {
      do {
        const reply = await client.call("EVALSHA", sha, 0, cursor, count) as RespValue[];
        first = false;
        cursor = text(reply[0]);
        yield reply[1] as Uint8Array[];
      } while (cursor !== "0");
      return;
    } catch (e) {
      if (!first) throw e;
      // loaded but not runnable (an ACL allowing SCRIPT but not EVALSHA, say): by type below
    }
  }
  for (const type of COLLECTION_TYPES) {
    let cursor = "0";
    do {
      const reply = await client.call("SCAN", cursor, "COUNT", count, "TYPE", type) as RespValue[];
      cursor = text(reply[0]);
      yield reply[1] as Uint8Array[];
    } while (cursor !== "0");
  }
}

/** Encodings that only small values have (Redis 7: listpack, intset; Redis 6: ziplist). */
const COMPACT = new Set(["listpack", "intset", "ziplist", "embstr", "int", "raw", "listpack_ex"]);
const LENGTH_COMMAND: Record<string, string> = { hash: "HLEN", set: "SCARD", zset: "ZCARD", list: "LLEN" };

function text(v: RespValue): string {
  return v instanceof Uint8Array ? fromUtf8(v) : String(v);
}

/**
 * The big keys among `keys` (all in database `db` of `client`'s server): those with more than
 * {@linkcode BIG_KEY_CHUNKS} chunks of elements, or more than `maxBytes` of memory. Three
 * pipelined rounds at most: the encoding of every key, then type, length and memory of the few
 * with a non-compact encoding.
 */
export async function findBigKeys(
  client: RedisClient,
  db: number,
  keys: readonly Uint8Array[],
  limits: ChunkLimits,
): Promise<BigKey[]> {
  if (keys.length === 0) return [];
  const encodings = await client.pipeline(keys.map((k) => ["OBJECT", "ENCODING", k]));
  const candidates = keys.filter((_, i) => !(encodings[i] instanceof RespError) && !COMPACT.has(text(encodings[i])));
  if (candidates.length === 0) return [];
  const types = await client.pipeline(candidates.map((k) => ["TYPE", k]));
  const chunkable = candidates.map((key, i) => ({ key, type: text(types[i]) })).filter((c) => c.type in LENGTH_COMMAND);
  if (chunkable.length === 0) return [];
  const sizes = await client.pipeline(
    chunkable.flatMap((c) => [[LENGTH_COMMAND[c.type], c.key], ["MEMORY", "USAGE", c.key]]),
  );
  const big: BigKey[] = [];
  chunkable.forEach((c, i) => {
    const length = Number(sizes[2 * i] instanceof RespError ? 0 : sizes[2 * i]);
    const memory = Number(sizes[2 * i + 1] instanceof RespError ? 0 : sizes[2 * i + 1] ?? 0);
    if (length > BIG_KEY_CHUNKS * limits.maxBulks || memory > limits.maxBytes) {
      // A copy: the key is kept until it has moved, and a raw reply's key is a view of the whole reply.
      if (transferKeyName(c.key) !== null) {
        big.push({ db, key: c.key.slice(), type: c.type as BigKey["type"], length });
      }
    }
  });
  return big;
}

/** What a transfer did: elements copied, chunks, and whether the key was still there at the end. */
export interface TransferResult {
  elements: number;
  chunks: number;
  /** False when the key expired (or was gone) before it could be put in place: nothing moved. */
  moved: boolean;
}

/** Splits `items` (flat: field value … or members) into pieces of at most `limits`, keeping groups of `arity`. */
function pieces(items: Uint8Array[], arity: number, limits: ChunkLimits): Uint8Array[][] {
  const out: Uint8Array[][] = [];
  let cur: Uint8Array[] = [];
  let bytes = 0;
  for (let i = 0; i < items.length; i += arity) {
    let size = 0;
    for (let j = 0; j < arity; j++) size += items[i + j].length;
    if (cur.length > 0 && (cur.length / arity >= limits.maxBulks || bytes + size > limits.maxBytes)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    for (let j = 0; j < arity; j++) cur.push(items[i + j]);
    bytes += size;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** Writes still in flight on the target before the copy waits for them (bounds memory). */
const MAX_WRITES_IN_FLIGHT = 8;

/**
 * Moves one big key from `source` to `target` (both already on database `big.db`). The proxies
 * hold writes to it for the whole transfer. `pause` runs after each chunk with the elements
 * copied so far (progress; the operator's interval; a disabled scheduler waits there).
 */
export async function transferBigKey(
  source: RedisClient,
  target: RedisClient,
  big: BigKey,
  limits: ChunkLimits,
  pause: (copied: number) => Promise<void>,
): Promise<TransferResult> {
  const key = big.key;
  const temp = transferKeyName(key)!;
  // A transfer that stopped half way left this: start again from nothing.
  await target.call("UNLINK", temp);
  const inFlight: Promise<RespValue>[] = [];
  let elements = 0, chunks = 0;
  const write = async (command: string, items: Uint8Array[], arity: number) => {
    for (const piece of pieces(items, arity, limits)) {
      inFlight.push(target.call(command, temp, ...piece));
      elements += piece.length / arity;
      chunks++;
      if (inFlight.length >= MAX_WRITES_IN_FLIGHT) await Promise.all(inFlight.splice(0));
      await pause(elements);
    }
  };
  const count = Math.max(1, limits.maxBulks);
  if (big.type === "list") {
    const length = Number(await source.call("LLEN", key));
    for (let at = 0; at < length; at += count) {
      const items = await source.call("LRANGE", key, at, at + count - 1) as Uint8Array[];
      await write("RPUSH", items, 1);
    }
  } else {
    const scan = { hash: "HSCAN", set: "SSCAN", zset: "ZSCAN" }[big.type];
    let cursor = "0";
    do {
      const reply = await source.call(scan, key, cursor, "COUNT", count) as RespValue[];
      cursor = text(reply[0]);
      const items = reply[1] as Uint8Array[];
      if (big.type === "hash") await write("HSET", items, 2);
      else if (big.type === "set") await write("SADD", items, 1);
      else {
        // ZSCAN answers member score …; ZADD takes score member ….
        const swapped: Uint8Array[] = [];
        for (let i = 0; i < items.length; i += 2) swapped.push(items[i + 1], items[i]);
        await write("ZADD", swapped, 2);
      }
    } while (cursor !== "0");
  }
  await Promise.all(inFlight.splice(0));
  // The key's expiry, read last: writes are held, so only time can have changed it.
  const expireAt = Number(await source.call("PEXPIRETIME", key));
  if (expireAt === -2) {
    // Gone from the source (it expired meanwhile): it must not come back on the target.
    await target.call("UNLINK", temp);
    return { elements, chunks, moved: false };
  }
  const replies = await target.pipeline([
    ["MULTI"],
    ["RENAME", temp, key],
    ...(expireAt > 0 ? [["PEXPIREAT", key, expireAt]] : []),
    ["EXEC"],
  ]);
  const exec = replies[replies.length - 1];
  if (exec instanceof RespError || !Array.isArray(exec) || exec.some((r) => r instanceof RespError)) {
    throw new Error(`putting ${fromUtf8(key)} in place on ${target.addr} failed: ${describe(replies)}`);
  }
  await source.call("UNLINK", key);
  return { elements, chunks, moved: true };
}

function describe(replies: RespValue[]): string {
  return replies.map((r) => r instanceof RespError ? r.message : Array.isArray(r) ? "[…]" : text(r)).join(", ");
}
