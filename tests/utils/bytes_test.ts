import assert from "node:assert/strict";
import { fromUtf8, uniqueKeys, utf8 } from "../../utils/bytes.ts";

Deno.test("uniqueKeys keeps the first of each key, in order, for a few keys and for many", () => {
  const names = (keys: Uint8Array[]) => keys.map(fromUtf8);
  const none = ["a", "b", "c"].map(utf8);
  assert.equal(uniqueKeys(none), none, "no repeat: the same array");
  assert.deepEqual(names(uniqueKeys(["l", "l"].map(utf8))), ["l"]);
  assert.deepEqual(names(uniqueKeys(["a", "b", "a", "c", "b"].map(utf8))), ["a", "b", "c"]);
  assert.deepEqual(names(uniqueKeys(["ab", "a", "abc"].map(utf8))), ["ab", "a", "abc"], "prefixes are other keys");
  const many = Array.from({ length: 1000 }, (_, i) => utf8(`k${i % 700}`));
  assert.deepEqual(names(uniqueKeys(many)), Array.from({ length: 700 }, (_, i) => `k${i}`));
  const binary = [new Uint8Array([0, 255]), new Uint8Array([0, 255]), new Uint8Array([255, 0])];
  assert.equal(uniqueKeys(binary).length, 2);
  assert.equal(uniqueKeys([...binary, ...many]).length, 702);
  // Many keys are told apart by a 32-bit FNV-1a hash of their bytes; these pairs share one
  // (costarring/liquid, declinate/macallums) and are still different keys.
  const colliding = ["costarring", "liquid", "declinate", "macallums", "costarring", "liquid", "macallums"].map(utf8);
  const out = uniqueKeys([...colliding, ...many]);
  assert.deepEqual(names(out).slice(0, 5), ["costarring", "liquid", "declinate", "macallums", "k0"]);
  assert.equal(out.length, 704);
});
