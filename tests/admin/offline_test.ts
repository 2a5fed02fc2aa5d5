/**
 * codis-admin's offline store operations as a user runs them: a real process, its output and
 * its exit status.
 */

import assert from "node:assert/strict";
import { openClient } from "../../coord/open.ts";
import { ProductStore } from "../../coord/store.ts";
import { admin } from "../_support/programs.ts";
import { freePort } from "../_support/servers.ts";

Deno.test("codis-admin offline forms: usage mistakes exit 2 with a hint, store problems exit 1 clearly", async () => {
  const root = await Deno.makeTempDir({ prefix: "codis-admin-" });
  try {
    for (
      const [args, mention] of [
        [[], "nothing to do"],
        [["--config-dump", `--filesystem=${root}`], "--product"],
        [["--config-dump", "--product=demo"], "--zookeeper, --etcd or --filesystem"],
        [["--config-dump", "--product=demo", `--filesystem=${root}`, "--etcd=127.0.0.1:1"], "one coordinator"],
        [["--config-dump", "--remove-lock", "--product=demo", `--filesystem=${root}`], "not several"],
        [["--config-dump", "--product=demo", `--filesystem=${root}`, "--confirm"], "--confirm"],
        [["--no-such-flag"], "no-such-flag"],
      ] as [string[], string][]
    ) {
      const r = await admin(...args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.ok(r.stderr.includes(mention), `${args.join(" ")}: ${r.stderr}`);
      assert.ok(r.stderr.includes("--help"), r.stderr);
    }

    const empty = await admin("--config-dump", "--product=demo", `--filesystem=${root}`);
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /codis-admin: product "demo" has no groups and no proxies in filesystem/);

    const badName = await admin("--config-dump", "--product=no good", `--filesystem=${root}`);
    assert.equal(badName.code, 1);
    assert.match(badName.stderr, /invalid product name/);

    const port = freePort();
    const down = await admin("--config-dump", "--product=demo", `--etcd=127.0.0.1:${port}`);
    assert.equal(down.code, 1);
    assert.match(down.stderr, new RegExp(`etcd 127\\.0\\.0\\.1:${port}: .*is etcd running there`));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("codis-admin --config-restore checks the file as Codis does and writes nothing when it is wrong", async () => {
  const root = await Deno.makeTempDir({ prefix: "codis-admin-" });
  const file = `${root}/config.json`;
  const server = (addr: string) => ({ server: addr, datacenter: "", action: {}, replica_group: false });
  const group = (id: number, ...addrs: string[]) => ({
    id,
    servers: addrs.map(server),
    promoting: {},
    out_of_sync: false,
  });
  try {
    for (
      const [config, mention] of [
        ["{not json", "is not JSON"],
        [{ group: [group(0, "127.0.0.1:7000")] }, "invalid group id = 0"],
        [{ group: [group(10000, "127.0.0.1:7000")] }, "invalid group id = 10000"],
        [{ group: [group(1, "127.0.0.1:7000"), group(1, "127.0.0.1:7001")] }, "group-0001 already exists"],
        [{ group: [group(1, "127.0.0.1:7000"), group(2, "127.0.0.1:7000")] }, "server 127.0.0.1:7000 is in"],
        [{ group: [{ ...group(1, "127.0.0.1:7000"), promoting: { state: "preparing" } }] }, "promoting"],
        [{ slots: [{ id: 1024, group_id: 1, action: {} }] }, "invalid slot id = 1024"],
        [{ slots: [{ id: 3, group_id: 9, action: {} }] }, "group-0009, which does not exist"],
        [{ group: [group(1)], slots: [{ id: 3, group_id: 1, action: {} }] }, "group-0001, which has no servers"],
        [
          { group: [group(1, "127.0.0.1:7000")], slots: [{ id: 3, group_id: 1, action: { state: "pending" } }] },
          "action is not empty",
        ],
        [{ proxy: [{ token: "a" }, { token: "a" }] }, "proxy-a already exists"],
      ] as [unknown, string][]
    ) {
      await Deno.writeTextFile(file, typeof config === "string" ? config : JSON.stringify(config));
      const r = await admin(`--config-restore=${file}`, "--product=demo", `--filesystem=${root}`, "--confirm");
      assert.equal(r.code, 1, `${JSON.stringify(config)}: ${r.stderr}`);
      assert.ok(r.stderr.includes(mention), `${JSON.stringify(config)}: ${r.stderr}`);
    }
    const client = await openClient("filesystem", root);
    try {
      assert.deepEqual(await client.list("/codis3/demo"), [], "nothing was written");

      // A good one: checked and printed without --confirm, written with it.
      const good = { group: [group(1, "127.0.0.1:7000")], slots: [{ id: 3, group_id: 1, action: {} }], proxy: [] };
      await Deno.writeTextFile(file, JSON.stringify(good));
      const dry = await admin(`--config-restore=${file}`, "--product=demo", `--filesystem=${root}`);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stderr, /add --confirm/);
      assert.deepEqual(await client.list("/codis3/demo"), []);
      const wet = await admin(`--config-restore=${file}`, "--product=demo", `--filesystem=${root}`, "--confirm");
      assert.equal(wet.code, 0, wet.stderr);
      const store = new ProductStore(client, "demo");
      assert.equal((await store.loadSlotMapping(3)).groupId, 1);

      // The whole tree on disk, in Codis's layout.
      const onDisk = await Deno.readTextFile(`${root}/data/codis3/demo/group/group-0001`);
      assert.ok(onDisk.startsWith('{\n    "id": 1,'), onDisk);

      const list = await admin("--dashboard-list", `--filesystem=${root}`);
      assert.equal(list.code, 0, list.stderr);
      assert.deepEqual(JSON.parse(list.stdout), [{ name: "demo", dashboard: "" }]);

      const none = await admin("--remove-lock", "--product=demo", `--filesystem=${root}`);
      assert.equal(none.code, 0);
      assert.match(none.stderr, /has no lock/);
    } finally {
      await client.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
