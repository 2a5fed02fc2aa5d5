import assert from "node:assert/strict";
import { ReadBuffer } from "../../redis/read_buffer.ts";

/** Pretends a read of `text` into `space`. */
function receive(rb: ReadBuffer, space: Uint8Array, text: string): void {
  for (let i = 0; i < text.length; i++) space[i] = text.charCodeAt(i);
  rb.end += text.length;
}

Deno.test("ReadBuffer: idle in its small buffer, a burst borrows a full one, given back once emptied", () => {
  const rb = new ReadBuffer(1024, 16);
  assert.equal(rb.bytes.length, 16);
  assert.equal(rb.canReadAfterEnd(16), true);
  assert.equal(rb.canReadAfterEnd(17), false);
  receive(rb, rb.space(), "0123456789abcdef"); // the small buffer is full, nothing consumed
  assert.equal(rb.canReadAfterEnd(1), false);
  const space = rb.space();
  assert.equal(rb.bytes.length, 1024, "a full-size buffer for the rest of the frame");
  assert.equal(rb.canReadAfterEnd(1), false, "a borrowed buffer is never kept");
  assert.equal(new TextDecoder().decode(rb.bytes.subarray(rb.start, rb.end)), "0123456789abcdef");
  receive(rb, space, "ghij");
  rb.start = rb.end; // all consumed
  rb.space();
  assert.equal(rb.bytes.length, 16, "emptied: back to the small buffer");
  assert.equal(rb.canReadAfterEnd(16), true);
  assert.equal(rb.start, 0);
  rb.release();
  assert.equal(rb.bytes.length, 0);
});

Deno.test("ReadBuffer: space(keep) reads after consumed bytes instead of over them", () => {
  const rb = new ReadBuffer(1024, 64);
  receive(rb, rb.space(), "*1\r\n$4\r\nPING\r\n");
  const first = rb.bytes;
  rb.start = rb.end; // consumed, but something still points into it
  assert.equal(rb.canReadAfterEnd(50), true);
  assert.equal(rb.canReadAfterEnd(51), false);
  const space = rb.space(true);
  assert.equal(rb.bytes, first);
  assert.equal(rb.start, 14, "the consumed bytes stay where they are");
  assert.equal(space.length, 64 - 14);
  receive(rb, space, "*1\r\n$4\r\nECHO\r\n");
  assert.equal(new TextDecoder().decode(rb.bytes.subarray(0, 14)), "*1\r\n$4\r\nPING\r\n");
  rb.start = rb.end;
  rb.space(); // without keep: from the front again
  assert.equal(rb.start, 0);
  assert.equal(rb.end, 0);
});
