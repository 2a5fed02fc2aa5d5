/**
 * `deno task compile`: the executables, copied into a directory of their own and run from another
 * one, work with every store — an offline `--config-dump` on the filesystem, etcd and ZooKeeper,
 * and a live `--group-status` against a dashboard that is itself the built executable.
 */

import assert from "node:assert/strict";
import { EtcdServer, ZooKeeperServer } from "../_support/coord_servers.ts";
import { freePort, RedisServer, waitFor } from "../_support/servers.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Runs an executable with deno on the PATH (what its first line needs), from `cwd`. */
async function exec(
  file: string,
  args: string[],
  cwd: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const denoDir = Deno.execPath().slice(0, Deno.execPath().lastIndexOf("/"));
  const out = await new Deno.Command(file, {
    args,
    cwd,
    env: { PATH: `${denoDir}:/usr/bin:/bin` },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

Deno.test("the executables run from any directory, with the filesystem, etcd and ZooKeeper stores", async () => {
  const build = await Deno.makeTempDir({ prefix: "codis-dist-" });
  const bin = await Deno.makeTempDir({ prefix: "codis-bin-" });
  const work = await Deno.makeTempDir({ prefix: "codis-work-" });
  const [etcd, zk] = await Promise.all([EtcdServer.start(), ZooKeeperServer.start()]);
  const redis = await RedisServer.start();
  let dashboard: Deno.ChildProcess | null = null;
  try {
    const built = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}scripts/bundle.ts`, "--compile", `--out=${build}`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(built.success, new TextDecoder().decode(built.stderr));
    // Only the executables travel: nothing else of the build or the source tree.
    for (const name of ["codis-proxy", "codis-dashboard", "codis-admin"]) {
      await Deno.copyFile(`${build}/${name}`, `${bin}/${name}`);
      await Deno.chmod(`${bin}/${name}`, 0o755);
    }
    const admin = `${bin}/codis-admin`;
    const version = await exec(admin, ["--version"], work);
    assert.equal(version.code, 0, version.stderr);

    // A product in each store, written by the dashboard executable's own offline sibling: restore, then dump.
    const config = {
      slots: [{ id: 0, group_id: 1 }],
      group: [{ id: 1, servers: [{ server: redis.addr }], promoting: {}, out_of_sync: false }],
      proxy: [],
    };
    await Deno.writeTextFile(`${work}/restore.json`, JSON.stringify(config));
    for (const store of [`--filesystem=${work}/store`, `--etcd=${etcd.addr}`, `--zookeeper=${zk.addr}`]) {
      const restored = await exec(admin, ["--config-restore=restore.json", "--product=exe", store, "--confirm"], work);
      assert.equal(restored.code, 0, `${store}: ${restored.stderr}`);
      const dumped = await exec(admin, ["--config-dump", "--product=exe", store], work);
      assert.equal(dumped.code, 0, `${store}: ${dumped.stderr}`);
      const dump = JSON.parse(dumped.stdout);
      assert.equal(dump.slots[0].group_id, 1, store);
      assert.equal(dump.group[0].servers[0].server, redis.addr, store);
    }

    // A live dashboard (the executable, on etcd) and codis-admin --group-status against it.
    const port = freePort();
    await Deno.writeTextFile(
      `${work}/dashboard.toml`,
      `coordinator_name = "etcd"\ncoordinator_addr = "${etcd.addr}"\nproduct_name = "exe"\nadmin_addr = "127.0.0.1:${port}"\n`,
    );
    const denoDir = Deno.execPath().slice(0, Deno.execPath().lastIndexOf("/"));
    dashboard = new Deno.Command(`${bin}/codis-dashboard`, {
      args: ["--config=dashboard.toml", "--log=dashboard.log"],
      cwd: work,
      env: { PATH: `${denoDir}:/usr/bin:/bin` },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    await waitFor(async () => {
      const res = await fetch(`http://127.0.0.1:${port}/api/topom/model`).catch(() => null);
      if (!res) return false;
      await res.body?.cancel();
      return res.ok;
    }, { timeoutMs: 60_000, what: "the dashboard executable answering" });
    await waitFor(async () => {
      const status = await exec(admin, [`--dashboard=127.0.0.1:${port}`, "--group-status"], work);
      return status.code === 0 && status.stdout.includes(`[ ] group-1 [0] ${redis.addr} ==> NO:ONE`);
    }, { what: "--group-status of the restored group" });
  } finally {
    if (dashboard) {
      dashboard.kill("SIGTERM");
      await dashboard.status;
    }
    await Promise.all([etcd.stop(), zk.stop(), redis.stop()]);
    for (const d of [build, bin, work]) await Deno.remove(d, { recursive: true });
  }
});
