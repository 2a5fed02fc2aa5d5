/**
 * codis-admin's proxy forms (`--proxy=ADDR …`) against a real proxy process, as an ops script
 * runs them: each part of the overview, fillslots (and locked), start, log level, reset stats,
 * forcegc, shutdown; and the mistakes, with their exit codes.
 */

import assert from "node:assert/strict";
import { RedisClient } from "../../redis/redis_client.ts";
import { admin, adminOk, ProxyProcess } from "../_support/programs.ts";
import { RedisServer, waitFor } from "../_support/servers.ts";

Deno.test("codis-admin --proxy=ADDR: overview parts, fillslots, start, log level, reset stats, forcegc, shutdown", async () => {
  const server = await RedisServer.start();
  const dir = await Deno.makeTempDir({ prefix: "codis-admin-proxy-" });
  let proxy: ProxyProcess | null = null;
  try {
    proxy = await ProxyProcess.start(dir, { product: "admin-forms", online: [] });
    const p = `--proxy=${proxy.adminAddr}`;
    await waitFor(() => proxy!.overview(), { what: "the proxy's admin API" });

    // Reading: the whole overview, or one part of it.
    const overview = JSON.parse(await adminOk(p));
    assert.deepEqual(Object.keys(overview).sort(), ["compile", "config", "model", "slots", "stats", "version"]);
    const [model, config, stats, slots] = await Promise.all(
      ["model", "config", "stats", "slots"].map(async (part) => JSON.parse(await adminOk(p, part))),
    );
    assert.equal(model.admin_addr, proxy.adminAddr);
    assert.equal(model.product_name, "admin-forms");
    assert.equal(config.proxy_addr, proxy.addr);
    assert.equal(stats.online, false);
    assert.equal(slots.length, 1024);
    assert.equal(slots[0].backend_addr ?? "", "");

    // Fill every slot with the server, then lock slot 0 only.
    const file = `${dir}/slots.json`;
    await Deno.writeTextFile(
      file,
      JSON.stringify(Array.from({ length: 1024 }, (_, id) => ({ id, backend_addr: server.addr }))),
    );
    assert.equal((await adminOk(p, `--fillslots=${file}`)).trim(), "done");
    await Deno.writeTextFile(`${dir}/one.json`, JSON.stringify([{ id: 0, backend_addr: server.addr }]));
    await adminOk(p, `--fillslots=${dir}/one.json`, "--locked");
    const filled = JSON.parse(await adminOk(p, "slots"));
    assert.equal(filled[5].backend_addr, server.addr);
    assert.equal(filled[0].locked, true);
    assert.equal(filled[1].locked ?? false, false);
    await adminOk(p, `--fillslots=${file}`); // unlocked again

    // Start: clients are served.
    await adminOk(p, "--start");
    assert.equal(JSON.parse(await adminOk(p, "stats")).online, true);
    const c = await RedisClient.connect(proxy.addr);
    try {
      assert.equal(await c.call("SET", "admin-forms", "1"), "OK");
      assert.equal(await c.call("GET", "admin-forms"), "1");
    } finally {
      await c.close();
    }
    assert.ok(JSON.parse(await adminOk(p, "stats")).ops.total >= 2);

    // Log level, stats reset, forcegc.
    assert.equal((await adminOk(p, "--log-level=debug")).trim(), "done");
    await adminOk(p, "--reset-stats");
    assert.equal(JSON.parse(await adminOk(p, "stats")).ops.total, 0);
    assert.equal((await adminOk(p, "--forcegc")).trim(), "done");

    // Mistakes: usage errors exit 2, refusals exit 1, with a message; nothing changes.
    for (
      const [args, code, mention] of [
        [[p, "bogus"], 2, 'unknown part "bogus"'],
        [[p, "model", "stats"], 2, "not several"],
        [[p, "--start", "--shutdown"], 2, "not several"],
        [[p, "--locked"], 2, "--locked goes with --fillslots"],
        [["--proxy="], 2, "--proxy needs an address"],
        [[p, "--log-level=loud"], 1, "loud"],
        [[p, `--fillslots=${dir}/missing.json`], 1, "cannot read"],
        [["--proxy=127.0.0.1:1", "--start"], 1, "127.0.0.1:1"],
      ] as [string[], number, string][]
    ) {
      const r = await admin(...args);
      assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
      assert.ok(r.stderr.includes(mention), `${args.join(" ")}: ${r.stderr}`);
    }
    assert.equal(JSON.parse(await adminOk(p, "stats")).online, true);

    // Shutdown: the process exits cleanly.
    await adminOk(p, "--shutdown");
    assert.equal((await proxy.exited).code, 0, await proxy.log());
    proxy = null;
  } finally {
    await proxy?.kill("SIGKILL");
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
