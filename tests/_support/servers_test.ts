import assert from "node:assert/strict";
import { RedisServer, StopWaiting, waitFor } from "./servers.ts";

// The helpers every other test stands on: a test must fail clearly, never talk to a server that
// is not the one it started.

Deno.test("a server whose port another process holds fails at once instead of using the other server", async () => {
  const other = await RedisServer.start();
  try {
    const started = performance.now();
    await assert.rejects(
      () => RedisServer.start({ port: other.port }),
      (e: Error) => {
        assert.ok(e instanceof StopWaiting, String(e));
        assert.match(e.message, /exited \(code \d+\) before it was ready|is served by process \d+, not ours/);
        return true;
      },
    );
    assert.ok(performance.now() - started < 20_000, "no wait for the full deadline");
    // The other server is untouched.
    const c = await other.client();
    assert.equal(await c.call("PING"), "PONG");
    await c.close();
  } finally {
    await other.stop();
  }
});

Deno.test("waitFor stops at once on StopWaiting, and names what it waited for on timeout", async () => {
  let calls = 0;
  await assert.rejects(
    () =>
      waitFor(() => {
        calls++;
        throw new StopWaiting("gone");
      }, { timeoutMs: 60_000 }),
    /gone/,
  );
  assert.equal(calls, 1);
  await assert.rejects(
    () => waitFor(() => false, { timeoutMs: 100, what: "the moon" }),
    /Timed out after 100 ms waiting for the moon/,
  );
  // A check that never settles (a server that accepts and says nothing) ends at the deadline too.
  await assert.rejects(
    () => waitFor(() => new Promise<boolean>(() => {}), { timeoutMs: 100, what: "silence" }),
    /a check for silence did not finish within the deadline/,
  );
});
