import assert from "node:assert/strict";
import { migrateCommand } from "../../redis/migrate.ts";
import { fromUtf8, utf8 } from "../../utils/bytes.ts";

Deno.test("migrateCommand names each key once, with AUTH when there is a password", () => {
  const text = (args: (string | number | Uint8Array)[]) =>
    args.map((a) => a instanceof Uint8Array ? fromUtf8(a) : String(a));
  const plain = migrateCommand("127.0.0.1:6380", 3, 5000, "", ["a", "b", "a"].map(utf8));
  assert.deepEqual(text(plain.args), ["MIGRATE", "127.0.0.1", "6380", "", "3", "5000", "KEYS", "a", "b"]);
  assert.equal(plain.keyCount, 2);
  const auth = migrateCommand("10.0.0.2:7000", 0, 100, "pw", [utf8("k")]);
  assert.deepEqual(text(auth.args), ["MIGRATE", "10.0.0.2", "7000", "", "0", "100", "AUTH", "pw", "KEYS", "k"]);
  assert.equal(auth.keyCount, 1);
});
