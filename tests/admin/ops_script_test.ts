/**
 * `scripts/ops/add-group` driving the built `codis-admin` executable against a running dashboard:
 * a second group with a replica joins a one-group cluster and takes half of the slots, keys and all.
 */

import assert from "node:assert/strict";
import { DashboardClient } from "../../api/dashboard_client.ts";
import { dashboardXAuth } from "../../utils/xauth.ts";
import { adminOk, DashboardProcess } from "../_support/programs.ts";
import { RedisServer } from "../_support/servers.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("scripts/ops/add-group adds a group with a replica and rebalances, through dist/codis-admin", async () => {
  const dir = await Deno.makeTempDir({ prefix: "codis-ops-" });
  const servers = await Promise.all([RedisServer.start(), RedisServer.start(), RedisServer.start()]);
  const [m1, m2, r2] = servers;
  let dashboard: DashboardProcess | null = null;
  try {
    const built = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}scripts/bundle.ts`, "--compile", `--out=${dir}/dist`],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.ok(built.success, new TextDecoder().decode(built.stderr));
    dashboard = await DashboardProcess.start(dir, {
      coordinator: "filesystem",
      coordinatorAddr: `${dir}/store`,
      product: "ops",
      config: { migration_async_numkeys: 100 },
    });
    const d = `--dashboard=${dashboard.addr}`;
    await adminOk(d, "--create-group", "--gid=1");
    await adminOk(d, "--group-add", "--gid=1", `--addr=${m1.addr}`);
    await adminOk(d, "--slots-assign", "--beg=0", "--end=1023", "--gid=1", "--confirm");
    const c = await m1.client();
    await c.pipeline(Array.from({ length: 2000 }, (_, i) => ["SET", `key:${i}`, `${i}`]));
    await c.close();

    const denoDir = Deno.execPath().slice(0, Deno.execPath().lastIndexOf("/"));
    const addGroup = () =>
      new Deno.Command(`${ROOT}scripts/ops/add-group`, {
        args: [dashboard!.addr, "2", m2.addr, r2.addr],
        env: { CODIS_ADMIN: `${dir}/dist/codis-admin`, PATH: `${denoDir}:/usr/bin:/bin` },
        stdout: "piped",
        stderr: "piped",
      }).output();
    const out = await addGroup();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    assert.match(stderr, /group 2 is serving its share of the slots/);

    const stats = await new DashboardClient(dashboard.addr, dashboardXAuth("ops", "")).stats();
    const owned = (gid: number) => stats.slots.filter((s) => s.group_id === gid).length;
    assert.deepEqual([owned(1), owned(2)], [512, 512]);
    const g2 = stats.group.models.find((g) => g.id === 2)!;
    assert.deepEqual(g2.servers.map((s) => s.server), [m2.addr, r2.addr]);
    const total = async (s: RedisServer) => {
      const cl = await s.client();
      try {
        return Number(await cl.call("DBSIZE"));
      } finally {
        await cl.close();
      }
    };
    assert.equal(await total(m1) + await total(m2), 2000);
    assert.ok(await total(m2) > 0);

    // A mistake stops the script with codis-admin's message.
    const again = await addGroup();
    assert.notEqual(again.code, 0);
    assert.match(new TextDecoder().decode(again.stderr), /group-\[2\] already exists/);
  } finally {
    await dashboard?.kill("SIGTERM");
    await Promise.all(servers.map((s) => s.stop()));
    await Deno.remove(dir, { recursive: true });
  }
});
