/**
 * No silently wrong answers: every command of the table that names several keys and is not split
 * answers CROSSSLOT when its keys are on different groups (Codis would answer from the first key's
 * group alone), and runs — with the same reply as one Redis — when they share a group.
 */

import assert from "node:assert/strict";
import { type CommandInfo, COMMANDS } from "../../proxy/command_table.ts";
import { RespError, type RespValue } from "../../redis/resp_value.ts";
import { slotOfString } from "../../redis/slot_hash.ts";
import { startCluster } from "../_support/cluster.ts";
import { RedisServer } from "../_support/servers.ts";

/** A key whose slot is in [lo, hi] and not `not`. */
function keyIn(lo: number, hi: number, prefix: string, not = -1): string {
  for (let i = 0;; i++) {
    const k = `${prefix}${i}`;
    const s = slotOfString(k);
    if (s >= lo && s <= hi && s !== not) return k;
  }
}

/** A request of `cmd` whose first two keys are `k1` and `k2` (other arguments are fillers). */
function requestWith(cmd: CommandInfo, k1: string, k2: string): string[] {
  const spec = cmd.keys;
  if (cmd.keysAfter) {
    const word = cmd.keysAfter[0];
    return cmd.name === "SORT" ? [cmd.name, k1, word, k2] : [cmd.name, k1, "0", "0", "1", "m", word, k2];
  }
  switch (spec.kind) {
    case "range": {
      const argc = spec.first + spec.step + 1 + (spec.last < -1 ? -(spec.last + 1) : 0);
      const argv = Array.from({ length: argc }, () => "0");
      argv[0] = cmd.name;
      argv[spec.first] = k1;
      argv[spec.first + spec.step] = k2;
      return argv;
    }
    case "numkeys": {
      const argv = [cmd.name];
      for (let i = 1; i < spec.numkeysAt; i++) argv.push(spec.before?.includes(i) ? k1 : "0");
      return [...argv, "2", k1, k2];
    }
    case "streams":
      return [cmd.name, "STREAMS", k1, k2, "0", "0"];
    default:
      throw new Error(`${cmd.name}: no multi-key request for ${spec.kind}`);
  }
}

Deno.test("every multi-key command answers CROSSSLOT when its keys are on different groups", async () => {
  const cluster = await startCluster({ groups: 2 });
  const c = await cluster.client();
  try {
    const k1 = keyIn(0, 511, "g1-");
    const k2 = keyIn(512, 1023, "g2-");
    const multi = COMMANDS.filter((x) => x.multiKey);
    const names = multi.map((x) => x.name);
    for (const expected of ["SUNION", "SINTERSTORE", "RENAME", "LMOVE", "ZUNIONSTORE", "EVAL", "BITOP", "MSETNX"]) {
      assert.ok(names.includes(expected), `${expected} is checked`);
    }
    for (const cmd of multi) {
      const reply = await c.send(requestWith(cmd, k1, k2));
      assert.ok(reply instanceof RespError && /^CROSSSLOT /.test(reply.message), `${cmd.name}: ${String(reply)}`);
    }
    // Nothing reached a server.
    for (const s of cluster.servers) {
      const d = await s.client();
      assert.equal(await d.call("DBSIZE"), 0);
      await d.close();
    }
  } finally {
    await c.close();
    await cluster.stop();
  }
});

Deno.test("multi-key commands on one group (different slots) answer as one Redis does", async () => {
  const cluster = await startCluster({ groups: 2 });
  const plain = await RedisServer.start();
  const viaProxy = await cluster.client();
  const direct = await plain.client();
  try {
    const a = keyIn(0, 511, "a-");
    const b = keyIn(0, 511, "b-", slotOfString(a));
    const d = keyIn(0, 511, "d-", slotOfString(a));
    assert.notEqual(slotOfString(a), slotOfString(b));
    const script = "return {KEYS[1], KEYS[2], redis.call('GET', KEYS[1])}";
    const steps: (string | number)[][] = [
      ["SADD", a, "x", "y"],
      ["SADD", b, "y", "z"],
      ["SUNION", a, b],
      ["SINTERSTORE", d, a, b],
      ["SMEMBERS", d],
      ["SMOVE", a, b, "x"],
      ["SDIFF", b, a],
      ["DEL", a, b, d],
      ["RPUSH", a, "1", "2", "3"],
      ["LMOVE", a, b, "LEFT", "RIGHT"],
      ["RPOPLPUSH", a, b],
      ["LRANGE", b, 0, -1],
      ["RENAME", b, d],
      ["RENAMENX", d, a],
      ["EXISTS", a],
      ["DEL", a, b, d],
      ["ZADD", a, 1, "m", 2, "n"],
      ["ZADD", b, 3, "n", 4, "o"],
      ["ZUNIONSTORE", d, 2, a, b, "WEIGHTS", 1, 2],
      ["ZRANGE", d, 0, -1, "WITHSCORES"],
      ["ZINTER", 2, a, b, "WITHSCORES"],
      ["SET", a, "foobar"],
      ["SET", b, "barfoo"],
      ["BITOP", "AND", d, a, b],
      ["GET", d],
      ["MSETNX", a, "1", b, "2"],
      ["EVAL", script, 2, a, b],
      ["COPY", a, d, "REPLACE"],
      ["LCS", a, b],
      ["PFADD", a + "h", "1"],
      ["DEL", a, b, d],
    ];
    // Set replies come in each server's hash order: compare them sorted.
    const unordered = new Set(["SUNION", "SMEMBERS", "SDIFF"]);
    const norm = (cmd: string, v: RespValue) => unordered.has(cmd) && Array.isArray(v) ? [...v].map(String).sort() : v;
    for (const step of steps) {
      const name = String(step[0]);
      const want: RespValue = await direct.send(step);
      const got: RespValue = await viaProxy.send(step);
      assert.deepEqual(norm(name, got), norm(name, want), step.join(" "));
    }
  } finally {
    await viaProxy.close();
    await direct.close();
    await cluster.stop();
    await plain.stop();
  }
});
