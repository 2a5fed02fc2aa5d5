/**
 * One conformance suite for the three stores, run against real servers: the filesystem store,
 * etcd and ZooKeeper (started here on free ports with temporary data directories).
 */

import assert from "node:assert/strict";
import { type BackendName, type ClientOptions, type CoordClient, StoreError } from "../../coord/client.ts";
import { openClient } from "../../coord/open.ts";
import { ProductStore } from "../../coord/store.ts";
import type { GroupModel } from "../../coord/models.ts";
import { main as admin } from "../../admin/main.ts";
import { EtcdServer, ZooKeeperServer } from "../_support/coord_servers.ts";
import { freePort, type ServerProcess, waitFor } from "../_support/servers.ts";
import { fromUtf8, utf8 } from "../../utils/bytes.ts";

const CHILD = new URL("../_support/coord_child.ts", import.meta.url).pathname;
/** Ephemeral nodes in these tests outlive their owner by this much. */
const SESSION_MS = 2000;

interface Backend {
  name: BackendName;
  addr: string;
  /** The server, for the tests that stop it; absent for the filesystem. */
  server?: ServerProcess;
  open(options?: ClientOptions): Promise<CoordClient>;
}

async function assertStoreError(p: Promise<unknown>, code: string, ...mentions: string[]): Promise<StoreError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof StoreError, `expected a StoreError, got ${e}`);
    assert.equal(e.code, code, e.message);
    for (const m of mentions) assert.ok(e.message.includes(m), `"${e.message}" should mention "${m}"`);
    return e;
  }
  assert.fail(`expected a StoreError with code ${code}`);
}

/** Every node under `path` with its data, as text. */
async function tree(client: CoordClient, path: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (p: string) => {
    const children = await client.list(p);
    if (children.length === 0) {
      const data = await client.read(p);
      if (data !== null) out[p] = fromUtf8(data);
    }
    for (const c of children) await walk(c);
  };
  await walk(path);
  return out;
}

function runChild(b: Backend, args: string[], env: Record<string, string> = {}): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", CHILD, args[0], b.name, b.addr, ...args.slice(1)],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** A child's stdout, line by line. */
class Lines {
  #reader: ReadableStreamDefaultReader<string>;
  #text = "";
  constructor(child: Deno.ChildProcess) {
    this.#reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** Reads until a line equals `line`. */
  async waitFor(line: string): Promise<void> {
    while (!this.#text.split("\n").includes(line)) {
      const { value, done } = await this.#reader.read();
      if (done) throw new Error(`child exited before printing "${line}": ${this.#text}`);
      this.#text += value;
    }
  }

  /** Stops reading. */
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }

  /** Every line, once the child has closed its output. */
  async all(): Promise<string[]> {
    for (;;) {
      const { value, done } = await this.#reader.read();
      if (done) return this.#text.split("\n").filter((l) => l !== "");
      this.#text += value;
    }
  }
}

// --- the cases -------------------------------------------------------------------------------------

const cases: Record<string, (b: Backend) => Promise<void>> = {
  async "create, read, update, delete and list"(b) {
    const c = await b.open();
    try {
      await c.create("/t/basic/a", utf8("one"));
      assert.equal(fromUtf8((await c.read("/t/basic/a"))!), "one");
      await assertStoreError(c.create("/t/basic/a", utf8("two")), "exists", b.name, "/t/basic/a", "already exists");
      assert.equal(fromUtf8((await c.read("/t/basic/a"))!), "one", "a failed create changes nothing");

      await c.update("/t/basic/a", utf8("three"));
      await c.update("/t/basic/deep/er/b", utf8("parents are created"));
      assert.equal(fromUtf8((await c.read("/t/basic/deep/er/b"))!), "parents are created");
      assert.equal(fromUtf8((await c.read("/t/basic/a"))!), "three");

      // Binary data and an empty node survive as they are.
      const bytes = new Uint8Array(256).map((_, i) => i);
      await c.update("/t/basic/bin", bytes);
      assert.deepEqual(await c.read("/t/basic/bin"), bytes);
      await c.update("/t/basic/empty", new Uint8Array(0));
      assert.deepEqual(await c.read("/t/basic/empty"), new Uint8Array(0));

      assert.deepEqual(await c.list("/t/basic"), ["/t/basic/a", "/t/basic/bin", "/t/basic/deep", "/t/basic/empty"]);
      // Every child with its data in one call: a parent holds none, deeper nodes are not children.
      assert.deepEqual(await c.readChildren("/t/basic"), [
        { path: "/t/basic/a", data: utf8("three") },
        { path: "/t/basic/bin", data: bytes },
        { path: "/t/basic/deep", data: new Uint8Array(0) },
        { path: "/t/basic/empty", data: new Uint8Array(0) },
      ]);
      assert.deepEqual(await c.readChildren("/t/missing"), []);
      assert.deepEqual(await c.list("/t/basic/deep"), ["/t/basic/deep/er"]);
      assert.deepEqual(await c.list("/t/basic/a"), [], "a leaf has no children");
      assert.deepEqual(await c.list("/t/missing"), []);
      await assertStoreError(c.list("/t/missing", true), "not-found", "/t/missing");
      assert.equal(await c.read("/t/missing"), null);
      await assertStoreError(c.read("/t/missing", true), "not-found", "/t/missing");

      await c.delete("/t/basic/a");
      assert.equal(await c.read("/t/basic/a"), null);
      await c.delete("/t/basic/a"); // missing: no error
      await assertStoreError(c.delete("/t/basic/deep"), "not-empty", "/t/basic/deep");
      assert.equal(fromUtf8((await c.read("/t/basic/deep/er/b"))!), "parents are created");
      await c.delete("/t/basic", { recursive: true });
      assert.deepEqual(await c.list("/t/basic"), []);
      assert.equal(await c.read("/t/basic/deep/er/b"), null);

      for (const bad of ["relative", "/a//b", "/a/../b", "/a/./b", "/a\nb"]) {
        await assertStoreError(c.create(bad, utf8("x")), "invalid", b.name);
      }
    } finally {
      await c.close();
    }
  },

  async "many concurrent writes from one client all land"(b) {
    const c = await b.open();
    try {
      await Promise.all(Array.from({ length: 200 }, (_, i) => c.update(`/t/many/n${i}`, utf8(`v${i}`))));
      const names = await c.list("/t/many");
      assert.equal(names.length, 200);
      const values = await Promise.all(names.map(async (n) => fromUtf8((await c.read(n))!)));
      assert.deepEqual(values.sort(), Array.from({ length: 200 }, (_, i) => `v${i}`).sort());
      // updateMany: creates and overwrites in one go.
      await c.updateMany(Array.from({ length: 300 }, (_, i) => ({ path: `/t/many/n${i}`, data: utf8(`w${i}`) })));
      assert.equal((await c.list("/t/many")).length, 300);
      assert.equal(fromUtf8((await c.read("/t/many/n7"))!), "w7");
      assert.equal(fromUtf8((await c.read("/t/many/n299"))!), "w299");
      await c.delete("/t/many", { recursive: true });
    } finally {
      await c.close();
    }
  },

  async "two processes racing for a lock: exactly one wins"(b) {
    const dir = await Deno.makeTempDir({ prefix: "codis-race-" });
    try {
      for (let round = 0; round < 3; round++) {
        const path = `/t/race/lock-${round}`;
        const go = `${dir}/go-${round}`;
        const children = Array.from({ length: 3 }, () => runChild(b, ["race", path], { RACE_GO: go }));
        const lines = children.map((c) => new Lines(c));
        // Let them all start (Deno and the store client load), then release them at once.
        await Promise.all(lines.map((l) => l.waitFor("ready")));
        await Deno.writeTextFile(go, "");
        const results = await Promise.all(lines.map(async (l) => (await l.all()).at(-1)));
        for (const [i, c] of children.entries()) {
          const [status, stderr] = await Promise.all([c.status, new Response(c.stderr).text()]);
          assert.equal(status.code, 0, `racer ${i}: ${stderr}`);
        }
        assert.equal(results.filter((r) => r === "won").length, 1, `round ${round}: ${results}`);
        assert.equal(results.filter((r) => r === "lost").length, 2, `round ${round}: ${results}`);
      }
      const c = await b.open();
      await c.delete("/t/race", { recursive: true });
      await c.close();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },

  async "an ephemeral node disappears when its owner process is killed"(b) {
    if (!b.server) {
      const c = await b.open();
      await assertStoreError(c.createEphemeral("/t/eph/x", utf8("x")), "unsupported", "filesystem", "ephemeral");
      assert.equal(await c.read("/t/eph/x"), null);
      await c.close();
      return;
    }
    const c = await b.open();
    try {
      const child = runChild(b, ["ephemeral", "/t/eph/owner", String(SESSION_MS)]);
      const lines = new Lines(child);
      try {
        await lines.waitFor("ready");
        assert.equal(fromUtf8((await c.read("/t/eph/owner"))!), String(child.pid));
        child.kill("SIGKILL");
        await child.status;
      } finally {
        try {
          child.kill("SIGKILL");
        } catch {
          // exited
        }
        await child.stderr.cancel().catch(() => {});
        await lines.cancel();
      }
      // The session or lease runs out after SESSION_MS (etcd rounds up to whole seconds).
      await waitFor(async () => await c.read("/t/eph/owner") === null, {
        timeoutMs: 30_000,
        what: "the dead owner's ephemeral node to go",
      });
    } finally {
      await c.close();
    }
  },

  async "ephemeral nodes: duplicates refused, remove and close delete them"(b) {
    // A long session, so that a node gone within 10 s was deleted by close(), not by expiry.
    const owner = await b.open({ sessionTimeoutMs: 30_000 });
    const other = await b.open();
    try {
      const node = await owner.createEphemeral("/t/eph2/a", utf8("a"));
      assert.equal(fromUtf8((await other.read("/t/eph2/a"))!), "a");
      await assertStoreError(owner.createEphemeral("/t/eph2/a", utf8("b")), "exists", "/t/eph2/a");
      await assertStoreError(other.createEphemeral("/t/eph2/a", utf8("b")), "exists", "/t/eph2/a");
      await node.remove();
      assert.equal(await other.read("/t/eph2/a"), null);

      await owner.createEphemeral("/t/eph2/b", utf8("b"));
      await owner.close();
      // Closing deletes at once: no waiting for the session (30 s) to time out.
      await waitFor(async () => await other.read("/t/eph2/b") === null, {
        timeoutMs: 10_000,
        what: "the node to go when its owner closes",
      });
    } finally {
      await owner.close();
      await other.close();
    }
  },

  async "a watch sees children created, changed and deleted"(b) {
    const c = await b.open();
    const writer = await b.open();
    let changes = 0;
    const watch = await c.watch("/t/watch", () => changes++);
    try {
      await waitFor(() => changes >= 1, { what: "the first call after setup" });
      const seen = async (what: string, action: () => Promise<void>) => {
        const before = changes;
        await action();
        await waitFor(() => changes > before, { what: `a change for ${what}` });
      };
      await seen("a new child", () => writer.create("/t/watch/a", utf8("1")));
      await seen("a changed child", () => writer.update("/t/watch/a", utf8("2")));
      await seen("another child", () => writer.create("/t/watch/b", utf8("1")));
      await seen("a deleted child", () => writer.delete("/t/watch/a"));
      assert.deepEqual(await c.list("/t/watch"), ["/t/watch/b"]);
    } finally {
      await watch.close();
      await writer.delete("/t/watch", { recursive: true });
      await c.close();
      await writer.close();
    }
  },

  async "models are stored as Codis stores them, and read back"(b) {
    const c = await b.open();
    try {
      const store = new ProductStore(c, "conformance");
      const group: GroupModel = {
        id: 7,
        servers: [
          { addr: "127.0.0.1:6379", datacenter: "", action: { index: 0, state: "" }, replicaGroup: false },
          { addr: "127.0.0.1:6380", datacenter: "dc1", action: { index: 3, state: "synced" }, replicaGroup: true },
        ],
        promoting: { index: 0, state: "" },
        outOfSync: false,
      };
      await store.updateGroup(group);
      const raw = fromUtf8((await c.read("/codis3/conformance/group/group-0007"))!);
      assert.equal(
        raw,
        `{
    "id": 7,
    "servers": [
        {
            "server": "127.0.0.1:6379",
            "datacenter": "",
            "action": {},
            "replica_group": false
        },
        {
            "server": "127.0.0.1:6380",
            "datacenter": "dc1",
            "action": {
                "index": 3,
                "state": "synced"
            },
            "replica_group": true
        }
    ],
    "promoting": {},
    "out_of_sync": false
}`,
      );
      assert.deepEqual(await store.loadGroup(7), group);
      await store.updateSlotMapping({ id: 12, groupId: 7, action: { index: 0, state: "", targetId: 0 } });
      assert.equal(
        fromUtf8((await c.read("/codis3/conformance/slots/slot-0012"))!),
        `{\n    "id": 12,\n    "group_id": 7,\n    "action": {}\n}`,
      );
      const slots = await store.slotMappings();
      assert.equal(slots.length, 1024);
      assert.equal(slots[12].groupId, 7);
      assert.equal(slots[13].groupId, 0);
      // Offline with no action is what an absent node means: the node goes.
      await store.updateSlotMapping({ id: 12, groupId: 0, action: { index: 0, state: "", targetId: 0 } });
      assert.equal(await c.read("/codis3/conformance/slots/slot-0012"), null);
    } finally {
      await c.delete("/codis3/conformance", { recursive: true });
      await c.close();
    }
  },

  async "config dump, then restore into an empty store, gives an identical tree"(b) {
    const c = await b.open();
    const io = { lines: [] as string[], errs: [] as string[] };
    const capture = { out: (t: string) => io.lines.push(t), err: (t: string) => io.errs.push(t) };
    const coord = b.name === "filesystem" ? [`--filesystem=${b.addr}`] : [`--${b.name}=${b.addr}`];
    const dumpFile = await Deno.makeTempFile({ suffix: ".json" });
    try {
      const store = new ProductStore(c, "dumped");
      for (let g = 1; g <= 3; g++) {
        await store.updateGroup({
          id: g,
          servers: [
            { addr: `127.0.0.1:${7000 + g}`, datacenter: "", action: { index: 0, state: "" }, replicaGroup: false },
            {
              addr: `127.0.0.1:${8000 + g}`,
              datacenter: "",
              action: { index: g, state: "synced" },
              replicaGroup: g === 2,
            },
          ],
          promoting: { index: 0, state: "" },
          outOfSync: g === 3,
        });
      }
      for (let s = 0; s < 1024; s += 3) {
        await store.updateSlotMapping({ id: s, groupId: 1 + (s % 3), action: { index: 0, state: "", targetId: 0 } });
      }
      await store.updateProxy({
        id: 1,
        model: {
          token: "0123456789abcdef0123456789abcdef",
          startTime: "2026-11-23 10:00:00.000000000 +0000 UTC",
          adminAddr: "127.0.0.1:11080",
          protoType: "tcp4",
          proxyAddr: "127.0.0.1:19000",
          jodisPath: "",
          productName: "dumped",
          pid: 42,
          pwd: "/tmp",
          sys: "Linux test <x86_64> & more",
          hostname: "test",
          datacenter: "",
        },
      });
      await store.updateSentinel({ servers: ["127.0.0.1:26379"], outOfSync: true });
      const before = await tree(c, "/codis3/dumped");

      assert.equal(await admin(["--config-dump", "--product=dumped", ...coord], capture), 0);
      const dump = io.lines.join("\n");
      await Deno.writeTextFile(dumpFile, dump);
      const parsed = JSON.parse(dump);
      assert.equal(parsed.slots.length, 1024);
      assert.equal(parsed.group.length, 3);
      assert.equal(parsed.proxy[0].token, "0123456789abcdef0123456789abcdef");

      // Into a store that is not empty: refused, nothing changed.
      await assert.rejects(
        admin(["--config-restore", dumpFile, "--product=dumped", "--confirm", ...coord], capture),
        /not empty/,
      );
      assert.deepEqual(await tree(c, "/codis3/dumped"), before);

      await c.delete("/codis3/dumped", { recursive: true });
      assert.deepEqual(await tree(c, "/codis3/dumped"), {});
      // Without --confirm: checked and printed, nothing written.
      io.lines.length = 0;
      assert.equal(await admin(["--config-restore", dumpFile, "--product=dumped", ...coord], capture), 0);
      assert.deepEqual(JSON.parse(io.lines.join("\n")), parsed);
      assert.deepEqual(await tree(c, "/codis3/dumped"), {});

      assert.equal(await admin(["--config-restore", dumpFile, "--product=dumped", "--confirm", ...coord], capture), 0);
      assert.deepEqual(await tree(c, "/codis3/dumped"), before);

      // A dashboard lock: --remove-lock deletes it and nothing else.
      await store.acquire({
        token: "t",
        startTime: "now",
        adminAddr: "127.0.0.1:18080",
        productName: "dumped",
        pid: 1,
        pwd: "/",
        sys: "",
      });
      assert.equal(await admin(["--remove-lock", "--product=dumped", ...coord], capture), 0);
      assert.ok(io.errs.at(-1)!.includes("127.0.0.1:18080"), io.errs.at(-1)!);
      assert.deepEqual(await tree(c, "/codis3/dumped"), before);
    } finally {
      await Deno.remove(dumpFile);
      await c.delete("/codis3/dumped", { recursive: true });
      await c.close();
    }
  },

  async "the server restarted mid-use: the client recovers, its watches too"(b) {
    const server = b.server!;
    const c = await b.open({ timeoutMs: 3000 });
    let changes = 0;
    let watch: { close(): Promise<void> } | null = null;
    try {
      await c.update("/t/restart/a", utf8("before"));
      watch = await c.watch("/t/restart", () => changes++);
      await waitFor(() => changes > 0, { what: "the watch's first call" });
      await server.kill();
      // While it is down: a clear error, not a hang.
      await assertStoreError(c.read("/t/restart/a"), "unavailable", b.name, server.addr);
      await server.restart();
      // The same client recovers once the server is back, with the data it had.
      await waitFor(async () => fromUtf8((await c.read("/t/restart/a"))!) === "before", {
        timeoutMs: 60_000,
        what: "the client to recover",
      });
      await c.update("/t/restart/a", utf8("after"));
      assert.equal(fromUtf8((await c.read("/t/restart/a"))!), "after");
      // The watch set before the restart sees what another client changes after it.
      const other = await b.open({ timeoutMs: 3000 });
      try {
        const seen = changes;
        await other.update("/t/restart/b", utf8("from another client"));
        await waitFor(() => changes > seen, {
          timeoutMs: 60_000,
          what: "the watch to see a change made after the restart",
        });
      } finally {
        await other.close();
      }
      await c.delete("/t/restart", { recursive: true });
    } finally {
      await watch?.close();
      await c.close();
    }
  },

  async "the owner learns when its ephemeral node is lost"(b) {
    const server = b.server!;
    const c = await b.open({ sessionTimeoutMs: SESSION_MS, timeoutMs: 3000 });
    try {
      const node = await c.createEphemeral("/t/lost/a", utf8("a"));
      let lost: Error | null = null;
      node.lost.then((e) => lost = e);
      await server.kill();
      await waitFor(() => lost !== null, { timeoutMs: 60_000, what: "the loss to be reported" });
      assert.ok(lost!.message.includes("/t/lost/a"), lost!.message);
      await server.restart();
      // The owner can make it again once the store is back.
      await waitFor(async () => {
        await c.delete("/t/lost/a");
        await c.createEphemeral("/t/lost/a", utf8("again"));
        return true;
      }, { timeoutMs: 60_000, what: "the node to be made again" });
      assert.equal(fromUtf8((await c.read("/t/lost/a"))!), "again");
    } finally {
      await c.close();
    }
  },

  async "an unreachable server gives a clear error within a bounded time"(b) {
    const started = performance.now();
    if (b.name === "filesystem") {
      // A root that cannot be made: under a regular file.
      const file = await Deno.makeTempFile();
      try {
        await assertStoreError(openClient("filesystem", `${file}/root`, { timeoutMs: 2000 }), "failed", file);
      } finally {
        await Deno.remove(file);
      }
      return;
    }
    const port = freePort();
    await assertStoreError(
      openClient(b.name, `127.0.0.1:${port}`, { timeoutMs: 1000 }),
      "unavailable",
      `127.0.0.1:${port}`,
    );
    // Bounded by the timeout given (1 s; 6 s with slack for a loaded machine), not by the
    // client's default (10 s), and never a hang.
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 6_000, `${elapsed.toFixed(0)} ms`);
  },
};

/** Cases about a store server or ephemeral nodes, which the filesystem store does not have. */
const NEED_A_SERVER = new Set([
  "ephemeral nodes: duplicates refused, remove and close delete them",
  "the server restarted mid-use: the client recovers, its watches too",
  "the owner learns when its ephemeral node is lost",
]);

function suite(
  name: string,
  setup: () => Promise<{ backend: Backend; teardown: () => Promise<void> }>,
  sanitize: boolean,
) {
  Deno.test({
    name: `${name} store`,
    // The etcd and ZooKeeper client libraries keep timers of their own after close.
    sanitizeOps: sanitize,
    sanitizeResources: sanitize,
    async fn(t) {
      const { backend, teardown } = await setup();
      try {
        for (const [title, run] of Object.entries(cases)) {
          // The filesystem store has no server to restart and no ephemeral nodes: said, not skipped silently.
          const ignore = !backend.server && NEED_A_SERVER.has(title);
          await t.step({ name: title, ignore, fn: () => run(backend) });
        }
      } finally {
        await teardown();
      }
    },
  });
}

suite("filesystem", async () => {
  const root = await Deno.makeTempDir({ prefix: "codis-fs-store-" });
  return {
    backend: { name: "filesystem", addr: root, open: (o) => openClient("filesystem", root, o) },
    teardown: () => Deno.remove(root, { recursive: true }),
  };
}, true);

suite("etcd", async () => {
  const server = await EtcdServer.start();
  return {
    backend: { name: "etcd", addr: server.addr, server, open: (o) => openClient("etcd", server.addr, o) },
    teardown: () => server.stop(),
  };
}, false);

suite("zookeeper", async () => {
  const server = await ZooKeeperServer.start();
  return {
    backend: { name: "zookeeper", addr: server.addr, server, open: (o) => openClient("zookeeper", server.addr, o) },
    teardown: () => server.stop(),
  };
}, false);
