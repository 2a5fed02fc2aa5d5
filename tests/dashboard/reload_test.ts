/** SIGHUP makes a dashboard process re-read dashboard.toml: migration and sentinel settings change in place. */

import assert from "node:assert/strict";
import { DashboardProcess } from "../_support/programs.ts";
import { waitFor } from "../_support/servers.ts";

Deno.test("dashboard SIGHUP: migration and sentinel settings apply at once, the rest needs a restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "codis-dash-reload-" });
  let d: DashboardProcess | null = null;
  try {
    d = await DashboardProcess.start(dir, {
      coordinator: "filesystem",
      coordinatorAddr: `${dir}/store`,
      product: "reload",
      config: { migration_async_numkeys: 500, sentinel_down_after: "30s", lock_timeout: "10s" },
    });
    const path = `${dir}/dashboard-${d.port}.toml`;
    const text = await Deno.readTextFile(path);
    const config = async () => (await (await fetch(`http://${d!.addr}/topom`)).json()).config;
    assert.equal((await config()).migration_async_numkeys, 500);

    await Deno.writeTextFile(
      path,
      text.replace("migration_async_numkeys = 500", "migration_async_numkeys = 50")
        .replace('sentinel_down_after = "30s"', 'sentinel_down_after = "5s"')
        .replace('lock_timeout = "10s"', 'lock_timeout = "3s"'),
    );
    d.signal("SIGHUP");
    await waitFor(async () => (await config()).migration_async_numkeys === 50, {
      what: "the new migration_async_numkeys",
    });
    assert.equal((await config()).sentinel_down_after, "5s");
    assert.equal((await config()).lock_timeout, "10s", "lock_timeout needs a restart");
    assert.match(
      await d.log(),
      /reload: applied \[migration_async_numkeys, sentinel_down_after\]; needs a restart \[lock_timeout\]/,
    );

    // A bad file changes nothing.
    await Deno.writeTextFile(path, text.replace("migration_async_numkeys = 500", "migration_async_numkeys = 0"));
    d.signal("SIGHUP");
    await waitFor(
      async () => /reload on SIGHUP refused, nothing changed: .*migration_async_numkeys/.test(await d!.log()),
      {
        what: "the refusal in the log",
      },
    );
    assert.equal((await config()).migration_async_numkeys, 50);
  } finally {
    await d?.kill("SIGTERM");
    await Deno.remove(dir, { recursive: true });
  }
});
