import assert from "node:assert/strict";
import { crc32, MAX_SLOT_NUM, slotOf, slotOfString } from "../../redis/slot_hash.ts";

const VECTORS = new URL("./data/slot_vectors.tsv", import.meta.url);

/** Decodes a Python bytes literal such as b'\xff\x00binary'. */
function pythonBytes(literal: string): Uint8Array {
  const body = literal.slice(2, -1);
  const out: number[] = [];
  for (let i = 0; i < body.length; i++) {
    if (body[i] === "\\") {
      const e = body[++i];
      if (e === "x") {
        out.push(parseInt(body.slice(i + 1, i + 3), 16));
        i += 2;
      } else {
        out.push(({ n: 10, r: 13, t: 9, "\\": 92, "'": 39 } as Record<string, number>)[e] ?? e.charCodeAt(0));
      }
    } else {
      out.push(body.charCodeAt(i));
    }
  }
  return new Uint8Array(out);
}

Deno.test("slotOf matches every vector of the reference table", async () => {
  const lines = (await Deno.readTextFile(VECTORS)).split("\n").filter((l) => l && !l.startsWith("#"));
  assert.deepEqual(lines.length > 10, true);
  for (const line of lines) {
    const [key, hashInput, crc, slot] = line.split("\t");
    const k = pythonBytes(key);
    const h = pythonBytes(hashInput);
    assert.deepEqual(crc32(h), Number(crc), `crc32 of ${hashInput}`);
    assert.deepEqual(slotOf(k), Number(slot), `slot of ${key}`);
  }
});

Deno.test("slotOf hashes an empty tag as the empty string, unlike Redis Cluster", () => {
  assert.deepEqual(slotOfString("{}abc"), 0);
  assert.deepEqual(slotOfString("x{}y"), 0);
});

Deno.test("slotOf hashes a key's hash tag and the tag alone to the same slot", () => {
  assert.deepEqual(slotOfString("{user1000}.following"), slotOfString("user1000"));
  assert.deepEqual(slotOfString("{user1000}.followers"), 870);
});

Deno.test("slotOf works on a sub-range of a buffer", () => {
  const buf = new TextEncoder().encode("xxfooyy");
  assert.deepEqual(slotOf(buf, 2, 5), 289);
});

Deno.test("slotOf always lands in [0, 1024)", () => {
  for (let i = 0; i < 5000; i++) {
    const s = slotOfString(`key:${i}`);
    assert.deepEqual(s >= 0 && s < MAX_SLOT_NUM, true);
  }
});
