import assert from "node:assert/strict";
import { CHUNK_SIZE, OutputQueue } from "../../redis/output_queue.ts";

/** Everything queued, read the way a socket writer reads it: one view at a time, some bytes each. */
function drain(q: OutputQueue, step = Infinity): Uint8Array {
  const out: number[] = [];
  while (q.length > 0) {
    const view = q.peek();
    assert.ok(view.length > 0, "a non-empty queue has bytes to write");
    const n = Math.min(view.length, step);
    out.push(...view.subarray(0, n));
    q.consume(n);
  }
  assert.equal(q.peek().length, 0);
  return new Uint8Array(out);
}

Deno.test("OutputQueue gives back bytes in order across chunk boundaries, whatever the write sizes", () => {
  const data = new Uint8Array(3 * CHUNK_SIZE + 123).map((_, i) => i * 7);
  for (const step of [1, 1000, CHUNK_SIZE, Infinity]) {
    const q = new OutputQueue();
    // Appended in pieces of every size, small (byte copy) and large (set).
    let pos = 0;
    for (const n of [1, 5, 63, 64, 65, CHUNK_SIZE - 3, CHUNK_SIZE * 2]) {
      q.append(data, pos, Math.min(data.length, pos + n));
      pos = Math.min(data.length, pos + n);
    }
    q.append(data, pos);
    assert.equal(q.length, data.length);
    assert.deepEqual(drain(q, step), data, `step ${step}`);
  }
});

Deno.test("OutputQueue can be appended to while its first bytes are being written, and cleared", () => {
  const q = new OutputQueue();
  q.append(new Uint8Array([1, 2, 3]));
  const view = q.peek();
  q.append(new Uint8Array([4, 5]));
  assert.deepEqual([...view], [1, 2, 3], "a view taken before an append is unchanged");
  q.consume(2);
  assert.deepEqual([...drain(q)], [3, 4, 5]);
  q.append(new Uint8Array(CHUNK_SIZE * 2));
  q.clear();
  assert.equal(q.length, 0);
  assert.equal(q.peek().length, 0);
});
