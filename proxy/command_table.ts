/**
 * The proxy's one command table: for every command its flags (as Codis's `mapper.go` has them,
 * extended to Redis 7), where its keys are, how it is split across slots, and whether the proxy
 * answers it itself. Routing, blocking, read-only detection, migration and the documentation of
 * unsupported commands all read this table.
 *
 * @module
 */

import { assertNever } from "../utils/errors.ts";
import { asciiUpper as upper, type Frame } from "./frame.ts";

/** Changes data (Codis: Write). */
export const WRITE = 1;
/** Unknown effect, treated as a write (Codis: MayWrite); every unknown command has it. */
export const MAY_WRITE = 2;
/** A read that must go to the master, never to a replica (Codis: MasterOnly). */
export const MASTER_ONLY = 4;
/** Refused by the proxy (Codis: NotAllow). */
export const NOT_ALLOWED = 8;
/** May block its connection: served on a dedicated connection (BLPOP, …). */
export const BLOCKS = 16;

/** Where a command's keys are. Argument 0 is the command name. */
export type KeySpec =
  /** No keys. */
  | { kind: "none" }
  /** Keys at `first`, `first + step`, … up to `last` (negative: counted from the end, -1 = last). */
  | { kind: "range"; first: number; last: number; step: number }
  /** `numkeys` at `numkeysAt`, then that many keys; `before` lists fixed key positions first. */
  | { kind: "numkeys"; numkeysAt: number; before?: number[] }
  /** XREAD/XREADGROUP: after the `STREAMS` keyword, the first half of the remaining arguments. */
  | { kind: "streams" }
  /** A container command whose key is at position `at` (`XINFO STREAM key`, `XGROUP CREATE key`). */
  | { kind: "subcommand"; at: number };

/** How a multi-key command is split across backends and its replies merged. */
export type SplitRule =
  /** MGET: sub-requests `MGET keys…`; reply = the values in the request's key order. */
  | "mget"
  /** MSET: sub-requests `MSET k v …`; reply = `+OK` when every sub-reply is `+OK`. */
  | "mset"
  /** DEL, UNLINK, TOUCH, EXISTS: sub-requests with the same name; reply = sum of the integers. */
  | "sum";

/** Commands the proxy answers itself instead of forwarding. */
export type SpecialCommand =
  | "AUTH"
  | "QUIT"
  | "SELECT"
  | "PING"
  | "ECHO"
  | "INFO"
  | "HELLO"
  | "RESET"
  | "CLIENT"
  | "SLOTSMAPPING"
  | "SLOTSHASHKEY"
  | "SLOWLOG"
  | "DBSIZE"
  | "RANDOMKEY"
  | "FLUSH"
  | "SCRIPT"
  | "WAIT"
  | "TX"
  | "SUBSCRIBE"
  | "PUBSUB"
  | "SCAN"
  | "KEYS";

/** One command of the table. */
export interface CommandInfo {
  /** Upper-case name. */
  readonly name: string;
  /** The name as ASCII bytes, for allocation-free lookup. */
  readonly nameBytes: Uint8Array;
  /** {@linkcode WRITE}, {@linkcode MAY_WRITE}, {@linkcode MASTER_ONLY}, {@linkcode NOT_ALLOWED}. */
  readonly flags: number;
  /** Argument index of the routing key (Codis: 1, or 3 for EVAL, EVALSHA, Z*STORE); 0 = keyless. */
  readonly route: number;
  readonly keys: KeySpec;
  /** Set for the commands split across slots. */
  readonly split?: SplitRule;
  /** Set for the commands the proxy answers itself. */
  readonly special?: SpecialCommand;
  /** Keys also follow these option keywords (SORT … STORE dest, GEORADIUS … STORE dest). */
  readonly keysAfter?: readonly string[];
  /** An option that makes the command block (XREAD BLOCK): such a request runs on a dedicated connection. */
  readonly blockingOption?: string;
  /** Why it is not allowed, for the documentation. */
  readonly why?: string;
  /** Index in {@linkcode COMMANDS}, for per-command statistics. */
  readonly id: number;
  /**
   * The command may name several keys and is not split: they must all live in one group (the
   * session checks it, so that nothing is answered from one group's keys only).
   */
  readonly multiKey: boolean;
}

/** True when a command with these flags may be served by a replica. */
export function isReadOnly(flags: number): boolean {
  return (flags & (WRITE | MAY_WRITE | MASTER_ONLY | NOT_ALLOWED)) === 0;
}

const K1: KeySpec = { kind: "range", first: 1, last: 1, step: 1 };
const K12: KeySpec = { kind: "range", first: 1, last: 2, step: 1 };
const KALL: KeySpec = { kind: "range", first: 1, last: -1, step: 1 };
const KPAIRS: KeySpec = { kind: "range", first: 1, last: -1, step: 2 };
const NONE: KeySpec = { kind: "none" };
/** BLPOP key [key …] timeout */
const KBLOCK: KeySpec = { kind: "range", first: 1, last: -2, step: 1 };

type Entry = Omit<CommandInfo, "name" | "nameBytes" | "id" | "route" | "keys" | "multiKey"> & {
  route?: number;
  keys?: KeySpec;
};

const R = 0; // read-only
const W = WRITE;
const MO = MASTER_ONLY;

const WHY_BLOCKING = "blocks a backend connection shared by many clients";
const WHY_KEYSPACE = "works on a whole keyspace, which is spread over many servers";
const WHY_ADMIN = "administers one server, not the cluster";
const WHY_CROSS = "moves data between keys or servers behind the proxy's back";
const WHY_CLUSTER = "Redis Cluster protocol, not used by this proxy";
const WHY_SLOTS = "Codis server command for migration, reserved to the dashboard";

function blocked(why: string): Entry {
  return { flags: NOT_ALLOWED, keys: NONE, why };
}

const TABLE: Record<string, Entry> = {
  // --- handled by the proxy itself ---
  AUTH: { flags: R, keys: NONE, special: "AUTH" },
  QUIT: { flags: R, keys: NONE, special: "QUIT" },
  SELECT: { flags: R, keys: NONE, special: "SELECT" },
  PING: { flags: R, keys: NONE, special: "PING" },
  ECHO: { flags: R, keys: NONE, special: "ECHO" },
  INFO: { flags: R, keys: NONE, special: "INFO" },
  HELLO: { flags: R, keys: NONE, special: "HELLO" },
  RESET: { flags: R, keys: NONE, special: "RESET" },
  CLIENT: { flags: R, keys: NONE, special: "CLIENT" },
  SLOTSMAPPING: { flags: R, keys: NONE, special: "SLOTSMAPPING" },
  SLOTSHASHKEY: { flags: R, keys: NONE, special: "SLOTSHASHKEY" },

  // --- split across slots ---
  MGET: { flags: R, keys: KALL, split: "mget" },
  MSET: { flags: W, keys: KPAIRS, split: "mset" },
  DEL: { flags: W, keys: KALL, split: "sum" },
  UNLINK: { flags: W, keys: KALL, split: "sum" },
  TOUCH: { flags: W, keys: KALL, split: "sum" },
  EXISTS: { flags: R, keys: KALL, split: "sum" },

  // --- strings ---
  APPEND: { flags: W },
  DECR: { flags: W },
  DECRBY: { flags: W },
  GET: { flags: R },
  GETDEL: { flags: W },
  GETEX: { flags: W },
  GETRANGE: { flags: R },
  GETSET: { flags: W },
  INCR: { flags: W },
  INCRBY: { flags: W },
  INCRBYFLOAT: { flags: W },
  LCS: { flags: R, keys: K12 },
  PSETEX: { flags: W },
  SET: { flags: W },
  SETEX: { flags: W },
  SETNX: { flags: W },
  SETRANGE: { flags: W },
  STRLEN: { flags: R },
  SUBSTR: { flags: R },

  // --- generic keys ---
  COPY: { flags: W, keys: K12 },
  DUMP: { flags: R },
  EXPIRE: { flags: W },
  EXPIREAT: { flags: W },
  EXPIRETIME: { flags: R },
  PERSIST: { flags: W },
  PEXPIRE: { flags: W },
  PEXPIREAT: { flags: W },
  PEXPIRETIME: { flags: R },
  PTTL: { flags: R },
  SORT: { flags: W, keysAfter: ["STORE"] },
  SORT_RO: { flags: R },
  TTL: { flags: R },
  TYPE: { flags: R },
  SLOTSRESTORE: { flags: W, keys: { kind: "range", first: 1, last: -1, step: 3 } },

  // --- hashes ---
  HDEL: { flags: W },
  HEXISTS: { flags: R },
  HGET: { flags: R },
  HGETALL: { flags: R },
  HINCRBY: { flags: W },
  HINCRBYFLOAT: { flags: W },
  HKEYS: { flags: R },
  HLEN: { flags: R },
  HMGET: { flags: R },
  HMSET: { flags: W },
  HRANDFIELD: { flags: R },
  HSCAN: { flags: MO },
  HSET: { flags: W },
  HSETNX: { flags: W },
  HSTRLEN: { flags: R },
  HVALS: { flags: R },

  // --- lists ---
  LINDEX: { flags: R },
  LINSERT: { flags: W },
  LLEN: { flags: R },
  LMOVE: { flags: W, keys: K12 },
  LMPOP: { flags: W, route: 2, keys: { kind: "numkeys", numkeysAt: 1 } },
  LPOP: { flags: W },
  LPOS: { flags: R },
  LPUSH: { flags: W },
  LPUSHX: { flags: W },
  LRANGE: { flags: R },
  LREM: { flags: W },
  LSET: { flags: W },
  LTRIM: { flags: W },
  RPOP: { flags: W },
  RPOPLPUSH: { flags: W, keys: K12 },
  RPUSH: { flags: W },
  RPUSHX: { flags: W },

  // --- sets ---
  SADD: { flags: W },
  SCARD: { flags: R },
  SDIFF: { flags: R, keys: KALL },
  SDIFFSTORE: { flags: W, keys: KALL },
  SINTER: { flags: R, keys: KALL },
  SINTERCARD: { flags: R, route: 2, keys: { kind: "numkeys", numkeysAt: 1 } },
  SINTERSTORE: { flags: W, keys: KALL },
  SISMEMBER: { flags: R },
  SMEMBERS: { flags: R },
  SMISMEMBER: { flags: R },
  SMOVE: { flags: W, keys: K12 },
  SPOP: { flags: W },
  SRANDMEMBER: { flags: R },
  SREM: { flags: W },
  SSCAN: { flags: MO },
  SUNION: { flags: R, keys: KALL },
  SUNIONSTORE: { flags: W, keys: KALL },

  // --- sorted sets ---
  ZADD: { flags: W },
  ZCARD: { flags: R },
  ZCOUNT: { flags: R },
  ZDIFF: { flags: R, route: 2, keys: { kind: "numkeys", numkeysAt: 1 } },
  ZDIFFSTORE: { flags: W, route: 3, keys: { kind: "numkeys", numkeysAt: 2, before: [1] } },
  ZINCRBY: { flags: W },
  ZINTER: { flags: R, route: 2, keys: { kind: "numkeys", numkeysAt: 1 } },
  ZINTERCARD: { flags: R, route: 2, keys: { kind: "numkeys", numkeysAt: 1 } },
  ZINTERSTORE: { flags: W, route: 3, keys: { kind: "numkeys", numkeysAt: 2, before: [1] } },
  ZLEXCOUNT: { flags: R },
  ZMPOP: { flags: W, route: 2, keys: { kind: "numkeys", numkeysAt: 1 } },
  ZMSCORE: { flags: R },
  ZPOPMAX: { flags: W },
  ZPOPMIN: { flags: W },
  ZRANDMEMBER: { flags: R },
  ZRANGE: { flags: R },
  ZRANGEBYLEX: { flags: R },
  ZRANGEBYSCORE: { flags: R },
  ZRANGESTORE: { flags: W, keys: K12 },
  ZRANK: { flags: R },
  ZREM: { flags: W },
  ZREMRANGEBYLEX: { flags: W },
  ZREMRANGEBYRANK: { flags: W },
  ZREMRANGEBYSCORE: { flags: W },
  ZREVRANGE: { flags: R },
  ZREVRANGEBYLEX: { flags: R },
  ZREVRANGEBYSCORE: { flags: R },
  ZREVRANK: { flags: R },
  ZSCAN: { flags: MO },
  ZSCORE: { flags: R },
  ZUNION: { flags: R, route: 2, keys: { kind: "numkeys", numkeysAt: 1 } },
  ZUNIONSTORE: { flags: W, route: 3, keys: { kind: "numkeys", numkeysAt: 2, before: [1] } },

  // --- streams ---
  XACK: { flags: W },
  XADD: { flags: W },
  XAUTOCLAIM: { flags: W },
  XCLAIM: { flags: W },
  XDEL: { flags: W },
  XGROUP: { flags: W, route: 2, keys: { kind: "subcommand", at: 2 } },
  XINFO: { flags: R, route: 2, keys: { kind: "subcommand", at: 2 } },
  XLEN: { flags: R },
  XPENDING: { flags: R },
  XRANGE: { flags: R },
  XREAD: { flags: R, route: -1, keys: { kind: "streams" }, blockingOption: "BLOCK" },
  XREADGROUP: { flags: W, route: -1, keys: { kind: "streams" }, blockingOption: "BLOCK" },
  XREVRANGE: { flags: R },
  XSETID: { flags: W },
  XTRIM: { flags: W },

  // --- HyperLogLog ---
  PFADD: { flags: W },
  PFCOUNT: { flags: R, keys: KALL },
  PFDEBUG: { flags: W, route: 2, keys: { kind: "range", first: 2, last: 2, step: 1 } },
  PFMERGE: { flags: W, keys: KALL },
  PFSELFTEST: { flags: R, route: 0, keys: NONE },

  // --- bitmaps ---
  BITCOUNT: { flags: R },
  BITFIELD: { flags: W },
  BITFIELD_RO: { flags: R },
  BITPOS: { flags: R },
  GETBIT: { flags: R },
  SETBIT: { flags: W },

  // --- geo ---
  GEOADD: { flags: W },
  GEODIST: { flags: R },
  GEOHASH: { flags: R },
  GEOPOS: { flags: R },
  GEORADIUS: { flags: W, keysAfter: ["STORE", "STOREDIST"] },
  GEORADIUSBYMEMBER: { flags: W, keysAfter: ["STORE", "STOREDIST"] },
  GEORADIUS_RO: { flags: R },
  GEORADIUSBYMEMBER_RO: { flags: R },
  GEOSEARCH: { flags: R },
  GEOSEARCHSTORE: { flags: W, keys: K12 },

  // --- scripting: every key must share one slot (use hash tags) ---
  EVAL: { flags: W, route: 3, keys: { kind: "numkeys", numkeysAt: 2 } },
  EVALSHA: { flags: W, route: 3, keys: { kind: "numkeys", numkeysAt: 2 } },
  EVAL_RO: { flags: R, route: 3, keys: { kind: "numkeys", numkeysAt: 2 } },
  EVALSHA_RO: { flags: R, route: 3, keys: { kind: "numkeys", numkeysAt: 2 } },
  FCALL: { flags: W, route: 3, keys: { kind: "numkeys", numkeysAt: 2 } },
  FCALL_RO: { flags: R, route: 3, keys: { kind: "numkeys", numkeysAt: 2 } },

  // --- keyless commands forwarded to any backend ---
  COMMAND: { flags: R, route: 0, keys: NONE },
  LOLWUT: { flags: R, route: 0, keys: NONE },
  ROLE: { flags: R, route: 0, keys: NONE },
  PUBSUB: { flags: R, keys: NONE, special: "PUBSUB" },

  // --- not allowed ---
  // --- blocking: each on a dedicated connection while it waits ---
  BLMOVE: { flags: W | BLOCKS, keys: K12 },
  BLMPOP: { flags: W | BLOCKS, route: -1, keys: { kind: "numkeys", numkeysAt: 2 } },
  BLPOP: { flags: W | BLOCKS, keys: KBLOCK },
  BRPOP: { flags: W | BLOCKS, keys: KBLOCK },
  BRPOPLPUSH: { flags: W | BLOCKS, keys: K12 },
  BZMPOP: { flags: W | BLOCKS, route: -1, keys: { kind: "numkeys", numkeysAt: 2 } },
  BZPOPMAX: { flags: W | BLOCKS, keys: KBLOCK },
  BZPOPMIN: { flags: W | BLOCKS, keys: KBLOCK },
  WAIT: { flags: R, keys: NONE, special: "WAIT" },
  WAITAOF: blocked(WHY_BLOCKING),
  MONITOR: blocked(WHY_BLOCKING),

  DBSIZE: { flags: R, keys: NONE, special: "DBSIZE" },
  FLUSHALL: { flags: W, keys: NONE, special: "FLUSH" },
  FLUSHDB: { flags: W, keys: NONE, special: "FLUSH" },
  KEYS: { flags: R, keys: NONE, special: "KEYS" },
  RANDOMKEY: { flags: R, keys: NONE, special: "RANDOMKEY" },
  SCAN: { flags: R, keys: NONE, special: "SCAN" },
  SWAPDB: blocked(WHY_KEYSPACE),

  BITOP: { flags: W, route: 2, keys: { kind: "range", first: 2, last: -1, step: 1 } },
  MIGRATE: blocked(WHY_CROSS),
  MOVE: blocked(WHY_CROSS),
  MSETNX: { flags: W, keys: KPAIRS },
  RENAME: { flags: W, keys: K12 },
  RENAMENX: { flags: W, keys: K12 },
  RESTORE: blocked(WHY_CROSS),
  "RESTORE-ASKING": blocked(WHY_CROSS),
  OBJECT: blocked(WHY_ADMIN),

  // --- transactions: on a dedicated connection to the group of their keys ---
  DISCARD: { flags: R, keys: NONE, special: "TX" },
  EXEC: { flags: W, keys: NONE, special: "TX" },
  MULTI: { flags: R, keys: NONE, special: "TX" },
  UNWATCH: { flags: R, keys: NONE, special: "TX" },
  WATCH: { flags: R, keys: KALL, special: "TX" },

  // --- pub/sub: a channel lives on the master of its name's slot (see pubsub.ts) ---
  PSUBSCRIBE: { flags: R, keys: NONE, special: "SUBSCRIBE" },
  PUBLISH: { flags: W },
  PUNSUBSCRIBE: { flags: R, keys: NONE, special: "SUBSCRIBE" },
  SPUBLISH: { flags: W },
  SSUBSCRIBE: { flags: R, keys: NONE, special: "SUBSCRIBE" },
  SUBSCRIBE: { flags: R, keys: NONE, special: "SUBSCRIBE" },
  SUNSUBSCRIBE: { flags: R, keys: NONE, special: "SUBSCRIBE" },
  UNSUBSCRIBE: { flags: R, keys: NONE, special: "SUBSCRIBE" },

  ACL: blocked(WHY_ADMIN),
  BGREWRITEAOF: blocked(WHY_ADMIN),
  BGSAVE: blocked(WHY_ADMIN),
  CONFIG: blocked(WHY_ADMIN),
  DEBUG: blocked(WHY_ADMIN),
  FAILOVER: blocked(WHY_ADMIN),
  FUNCTION: blocked(WHY_ADMIN),
  LASTSAVE: blocked(WHY_ADMIN),
  LATENCY: blocked(WHY_ADMIN),
  MEMORY: blocked(WHY_ADMIN),
  MODULE: blocked(WHY_ADMIN),
  PSYNC: blocked(WHY_ADMIN),
  REPLCONF: blocked(WHY_ADMIN),
  REPLICAOF: blocked(WHY_ADMIN),
  SAVE: blocked(WHY_ADMIN),
  SCRIPT: { flags: W, keys: NONE, special: "SCRIPT" },
  SHUTDOWN: blocked(WHY_ADMIN),
  SLAVEOF: blocked(WHY_ADMIN),
  SLOWLOG: { flags: R, keys: NONE, special: "SLOWLOG" },
  SYNC: blocked(WHY_ADMIN),
  TIME: blocked(WHY_ADMIN),

  ASKING: blocked(WHY_CLUSTER),
  CLUSTER: blocked(WHY_CLUSTER),
  READONLY: blocked(WHY_CLUSTER),
  READWRITE: blocked(WHY_CLUSTER),

  // HTTP requests sent to the Redis port must not reach a backend connection.
  POST: blocked("an HTTP request, not a Redis command"),
  "HOST:": blocked("an HTTP request, not a Redis command"),

  SLOTSCHECK: blocked(WHY_SLOTS),
  SLOTSDEL: blocked(WHY_SLOTS),
  SLOTSMGRTONE: blocked(WHY_SLOTS),
  SLOTSMGRTSLOT: blocked(WHY_SLOTS),
  SLOTSMGRTTAGONE: blocked(WHY_SLOTS),
  SLOTSMGRTTAGSLOT: blocked(WHY_SLOTS),
  "SLOTSMGRTONE-ASYNC": blocked(WHY_SLOTS),
  "SLOTSMGRTSLOT-ASYNC": blocked(WHY_SLOTS),
  "SLOTSMGRTTAGONE-ASYNC": blocked(WHY_SLOTS),
  "SLOTSMGRTTAGSLOT-ASYNC": blocked(WHY_SLOTS),
  "SLOTSMGRT-ASYNC-FENCE": blocked(WHY_SLOTS),
  "SLOTSMGRT-ASYNC-CANCEL": blocked(WHY_SLOTS),
  "SLOTSMGRT-ASYNC-STATUS": blocked(WHY_SLOTS),
  "SLOTSMGRT-EXEC-WRAPPER": blocked(WHY_SLOTS),
  "SLOTSRESTORE-ASYNC": blocked(WHY_SLOTS),
  "SLOTSRESTORE-ASYNC-AUTH": blocked(WHY_SLOTS),
  "SLOTSRESTORE-ASYNC-ACK": blocked(WHY_SLOTS),
};

const asciiEncoder = new TextEncoder();

/** Every command of the table, indexed by `id`. */
export const COMMANDS: readonly CommandInfo[] = Object.entries(TABLE).map(([name, e], id) => ({
  ...e,
  name,
  nameBytes: asciiEncoder.encode(name),
  id,
  route: e.route ?? (e.keys?.kind === "none" ? 0 : 1),
  keys: e.keys ?? K1,
  multiKey: e.split === undefined && (e.flags & NOT_ALLOWED) === 0 && mayNameSeveralKeys(e.keys ?? K1, e.keysAfter),
}));

function mayNameSeveralKeys(spec: KeySpec, keysAfter: readonly string[] | undefined): boolean {
  if (keysAfter !== undefined) return true;
  switch (spec.kind) {
    case "none":
    case "subcommand":
      return false;
    case "range":
      return spec.last < 0 || spec.last > spec.first;
    case "numkeys":
    case "streams":
      return true;
    default:
      return assertNever(spec);
  }
}

/** Longest command name the proxy accepts (Codis: 64 bytes). */
export const MAX_COMMAND_NAME = 64;

// Lookup without allocating: a hash of the upper-cased name selects a short bucket.
const BUCKETS = 1024;
const buckets: CommandInfo[][] = Array.from({ length: BUCKETS }, () => []);
for (const c of COMMANDS) buckets[nameHash(c.nameBytes, 0, c.nameBytes.length)].push(c);

function nameHash(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ upper(buf[i]), 0x01000193);
  return (h >>> 0) % BUCKETS;
}

/** Finds the command named `buf[start, end)` (any case); undefined when not in the table. */
export function lookupCommand(buf: Uint8Array, start: number, end: number): CommandInfo | undefined {
  const bucket = buckets[nameHash(buf, start, end)];
  const n = end - start;
  for (let b = 0; b < bucket.length; b++) {
    const c = bucket[b];
    const name = c.nameBytes;
    if (name.length !== n) continue;
    let i = 0;
    while (i < n && upper(buf[start + i]) === name[i]) i++;
    if (i === n) return c;
  }
  return undefined;
}

/** Finds a command by name (any case). */
export function commandNamed(name: string): CommandInfo | undefined {
  const bytes = asciiEncoder.encode(name);
  return lookupCommand(bytes, 0, bytes.length);
}

/**
 * Calls `visit(start, end)` for each key of the request in `frame` (offsets into `frame.buf`),
 * following the command's key specification.
 */
export function forEachKey(
  cmd: CommandInfo | undefined,
  frame: Frame,
  visit: (start: number, end: number) => void,
): void {
  const spec: KeySpec = cmd ? cmd.keys : K1;
  const args = frame.args;
  const argc = frame.argc;
  const key = (i: number) => visit(args[i * 2], args[i * 2 + 1]);
  switch (spec.kind) {
    case "none":
      return;
    case "range": {
      const last = spec.last < 0 ? argc + spec.last : spec.last;
      for (let i = spec.first; i <= last && i < argc; i += spec.step) key(i);
      break;
    }
    case "numkeys": {
      for (const i of spec.before ?? []) if (i < argc) key(i);
      if (spec.numkeysAt >= argc) return;
      const n = frame.argInteger(spec.numkeysAt);
      for (let i = 0; i < n && spec.numkeysAt + 1 + i < argc; i++) key(spec.numkeysAt + 1 + i);
      break;
    }
    case "streams": {
      const at = frame.findKeyword("STREAMS", 1);
      if (at < 0) return;
      const n = Math.floor((argc - at - 1) / 2);
      for (let i = 0; i < n; i++) key(at + 1 + i);
      break;
    }
    case "subcommand":
      if (spec.at < argc) key(spec.at);
      break;
    default:
      assertNever(spec);
  }
  if (cmd?.keysAfter) {
    for (const word of cmd.keysAfter) {
      const at = frame.findKeyword(word, 2);
      if (at >= 0 && at + 1 < argc) key(at + 1);
    }
  }
}

/** Copies of the keys of the request in `frame`. */
export function keysOf(cmd: CommandInfo | undefined, frame: Frame): Uint8Array[] {
  const keys: Uint8Array[] = [];
  const buf = frame.buf;
  forEachKey(cmd, frame, (s, e) => keys.push(buf.slice(s, e)));
  return keys;
}

/**
 * The routing key's argument index for the request in `frame`, or -1 when it has none (keyless
 * commands, and requests missing their key, which any backend can answer with its own error).
 */
export function routeIndex(cmd: CommandInfo | undefined, frame: Frame): number {
  const r = cmd ? cmd.route : 1;
  if (r > 0) return r < frame.argc ? r : -1;
  if (r === 0) return -1;
  // route -1: the first key found by the key specification (XREAD … STREAMS key …)
  let first = -1;
  const args = frame.args;
  forEachKey(cmd, frame, (start) => {
    if (first >= 0) return;
    for (let i = 0; i < frame.argc; i++) if (args[i * 2] === start) first = i;
  });
  return first;
}
