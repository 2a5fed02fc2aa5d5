// deno-lint-ignore-file no-explicit-any -- the tests inspect JSON documents
import assert from "node:assert/strict";
import { callApi, RpcError } from "../../utils/http.ts";
import { newXAuth } from "../../utils/xauth.ts";
import { startCluster } from "../_support/cluster.ts";
import { RedisClient } from "../../redis/redis_client.ts";
import { freePort, RedisServer, waitFor } from "../_support/servers.ts";

/** The RpcError a call fails with. */
async function failure(call: Promise<unknown>): Promise<RpcError> {
  try {
    await call;
  } catch (e) {
    if (e instanceof RpcError) return e;
    throw e;
  }
  throw new Error("the call succeeded");
}

Deno.test("the admin API serves Codis's read routes without xauth", async () => {
  const cluster = await startCluster({ config: { productName: "demo", productAuth: "" } });
  try {
    const overview = await callApi(cluster.adminAddr, "/proxy") as Record<string, any>;
    assert.deepEqual(Object.keys(overview), ["version", "compile", "config", "model", "stats", "slots"]);
    assert.equal(overview.config.product_name, "demo");
    assert.equal(overview.model.proxy_addr, cluster.addr);
    assert.equal(overview.model.token.length, 32);
    assert.equal(overview.slots.length, 1024);
    assert.deepEqual(overview.slots[0], {
      id: 0,
      backend_addr: cluster.servers[0].addr,
      backend_addr_group_id: 1,
    });
    const model = await callApi(cluster.adminAddr, "/api/proxy/model") as Record<string, unknown>;
    assert.deepEqual(Object.keys(model), [
      "token",
      "start_time",
      "admin_addr",
      "proto_type",
      "proxy_addr",
      "product_name",
      "pid",
      "pwd",
      "sys",
      "hostname",
      "datacenter",
    ]);
    assert.equal(model.pid, Deno.pid);
    const stats = await callApi(cluster.adminAddr, "/proxy/stats") as Record<string, any>;
    assert.equal(stats.online, true);
    assert.equal(stats.closed, false);
    assert.ok(Array.isArray(stats.ops.cmd));
    assert.ok("runtime" in stats);
    // The body is pretty-printed with 4 spaces, as Codis writes it.
    const res = await fetch(`http://${cluster.adminAddr}/proxy/model`);
    assert.match(await res.text(), /^\{\n {4}"token": /);
    assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
  } finally {
    await cluster.stop();
  }
});

Deno.test("the admin API checks xauth on every /api route", async () => {
  const cluster = await startCluster();
  try {
    const xauth = cluster.proxy.xauth;
    assert.equal(xauth, newXAuth("codis-demo", "", cluster.proxy.model.token));
    assert.equal(await callApi(cluster.adminAddr, `/api/proxy/xping/${xauth}`), "OK");
    for (
      const [method, path] of [
        ["GET", "/api/proxy/xping/wrong"],
        ["GET", "/api/proxy/stats/wrong"],
        ["GET", "/api/proxy/slots/wrong"],
        ["PUT", "/api/proxy/start/wrong"],
        ["PUT", "/api/proxy/shutdown/wrong"],
        ["PUT", "/api/proxy/fillslots/wrong"],
        ["PUT", "/api/proxy/stats/reset/wrong"],
      ] as const
    ) {
      const e = await failure(callApi(cluster.adminAddr, path, { method, body: method === "PUT" ? [] : undefined }));
      assert.equal(e.status, 403);
      assert.equal(e.message, "invalid xauth, please check product name & auth");
    }
    const missing = await failure(callApi(cluster.adminAddr, "/api/proxy/stats/"));
    assert.equal(missing.status, 404);
    assert.equal(cluster.proxy.closed, false);
  } finally {
    await cluster.stop();
  }
});

Deno.test("stats count commands, fails and Redis errors; flags select the parts; reset clears", async () => {
  const cluster = await startCluster();
  const c = await cluster.client();
  const xauth = cluster.proxy.xauth;
  try {
    await c.call("SET", "a", "x");
    await c.call("GET", "a");
    await c.send(["INCR", "a"]); // a Redis error
    await c.send(["MONITOR"]); // a proxy failure
    const cheap = await callApi(cluster.adminAddr, `/api/proxy/stats/${xauth}`) as Record<string, any>;
    assert.equal("cmd" in cheap.ops, false);
    assert.equal(cheap.ops.total, 4);
    assert.equal(cheap.ops.fails, 1);
    assert.equal(cheap.ops.redis.errors, 1);
    assert.equal(cheap.sessions.alive, 1);
    assert.ok(typeof cheap.rusage.mem === "number" && cheap.rusage.mem > 0);
    const full = await callApi(cluster.adminAddr, `/api/proxy/stats/${xauth}/1`) as Record<string, any>;
    const byName = Object.fromEntries(full.ops.cmd.map((e: Record<string, unknown>) => [e.opstr, e]));
    assert.deepEqual(Object.keys(byName).sort(), ["GET", "INCR", "MONITOR", "SET"]);
    assert.equal(byName.INCR.redis_errtype, 1);
    assert.equal(byName.MONITOR.fails, 1);
    assert.equal(byName.GET.calls, 1);
    // Codis's fields in Codis's order, then our latency percentiles (µs).
    assert.deepEqual(Object.keys(byName.GET), [
      "opstr",
      "calls",
      "usecs",
      "usecs_percall",
      "fails",
      "redis_errtype",
      "p50",
      "p99",
      "p999",
      "max",
    ]);
    assert.ok(byName.GET.p50 <= byName.GET.p99 && byName.GET.p99 <= byName.GET.max);
    const bad = await failure(callApi(cluster.adminAddr, `/api/proxy/stats/${xauth}/x`));
    assert.equal(bad.status, 400);
    assert.equal(await callApi(cluster.adminAddr, `/api/proxy/stats/reset/${xauth}`, { method: "PUT" }), "OK");
    const after = await callApi(cluster.adminAddr, `/api/proxy/stats/${xauth}/1`) as Record<string, any>;
    assert.equal(after.ops.total, 0);
    assert.deepEqual(after.ops.cmd, []);
    assert.equal(after.sessions.total, 1);
  } finally {
    await c.close();
    await cluster.stop();
  }
});

Deno.test("fillslots and start over HTTP bring an offline proxy online; bad bodies change nothing", async () => {
  const cluster = await startCluster({ offline: true });
  const server = cluster.servers[0];
  const xauth = cluster.proxy.xauth;
  try {
    for (
      const body of [{ id: 1 }, [{ id: 1024 }], [{ id: "x" }], [{ id: 1, replica_groups: "a" }], [{
        id: 1,
        forward_method: 7,
      }]]
    ) {
      const e = await failure(callApi(cluster.adminAddr, `/api/proxy/fillslots/${xauth}`, { method: "PUT", body }));
      assert.equal(e.status, 400, JSON.stringify(body));
    }
    const raw = await fetch(`http://${cluster.adminAddr}/api/proxy/fillslots/${xauth}`, {
      method: "PUT",
      body: "not json",
    });
    assert.equal(raw.status, 400);
    assert.match((await raw.json()).Cause, /^bad request body/);
    assert.deepEqual((await callApi(cluster.adminAddr, `/api/proxy/slots/${xauth}`) as unknown[])[1], { id: 1 });

    const slots = Array.from(
      { length: 1024 },
      (_, id) => ({ id, backend_addr: server.addr, backend_addr_group_id: 1 }),
    );
    assert.equal(
      await callApi(cluster.adminAddr, `/api/proxy/fillslots/${xauth}`, { method: "PUT", body: slots }),
      "OK",
    );
    assert.equal(cluster.proxy.online, false);
    assert.equal(await callApi(cluster.adminAddr, `/api/proxy/start/${xauth}`, { method: "PUT" }), "OK");
    assert.equal(cluster.proxy.online, true);
    const c = await cluster.client();
    assert.equal(await c.call("SET", "k", "v"), "OK");
    await c.close();
    const direct = await server.client();
    assert.equal(await direct.call("GET", "k"), "v");
    await direct.close();
  } finally {
    await cluster.stop();
  }
});

Deno.test("shutdown over HTTP closes the proxy", async () => {
  const cluster = await startCluster();
  try {
    assert.equal(
      await callApi(cluster.adminAddr, `/api/proxy/shutdown/${cluster.proxy.xauth}`, { method: "PUT" }),
      "OK",
    );
    await cluster.proxy.done;
    assert.equal(cluster.proxy.closed, true);
    await assert.rejects(() => cluster.client().then((c) => c.call("PING")));
  } finally {
    await cluster.stop();
  }
});

// ---- the codis-proxy program ----

const MAIN = new URL("../../proxy/main.ts", import.meta.url).pathname;

async function runProxy(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("codis-proxy --version and --default-config print and exit 0; bad flags exit non-zero", async () => {
  const v = await runProxy(["--version"]);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^version: .*\ncompile: /);
  const d = await runProxy(["--default-config"]);
  assert.equal(d.code, 0);
  assert.match(d.stdout, /^proxy_addr = "0.0.0.0:19000"$/m);
  const bad = await runProxy(["--no-such-flag"]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /codis-proxy: .*no-such-flag/);
  const missing = await runProxy(["--config=/nonexistent/proxy.toml"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /codis-proxy: .*nonexistent/);
});

Deno.test("codis-proxy --fillslots serves at once; SIGTERM shuts it down cleanly and removes the pid file", async () => {
  const server = await RedisServer.start();
  const dir = await Deno.makeTempDir();
  let child: Deno.ChildProcess | null = null;
  try {
    const slots = Array.from({ length: 1024 }, (_, id) => ({ id, backend_addr: server.addr }));
    await Deno.writeTextFile(`${dir}/slots.json`, JSON.stringify(slots));
    const port = freePort();
    await Deno.writeTextFile(`${dir}/proxy.toml`, `proxy_addr = "127.0.0.1:${port}"\nadmin_addr = "127.0.0.1:0"\n`);
    child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, `-c`, `${dir}/proxy.toml`, `--fillslots=${dir}/slots.json`, `--pidfile=${dir}/pid`],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const proxy = child;
    const c = await waitFor(async () => {
      // Our proxy wrote its pid file once it listens; a process that exits fails the test at once.
      const pid = await Deno.readTextFile(`${dir}/pid`).catch(() => "");
      if (pid === "") return null;
      assert.equal(Number(pid), proxy.pid);
      return await RedisClient.connect(`127.0.0.1:${port}`);
    }, { what: "the proxy to listen" });
    assert.equal(await c.call("SET", "x", "1"), "OK");
    proxy.kill("SIGTERM");
    const status = await proxy.status;
    child = null;
    const stderr = new TextDecoder().decode(await new Response(proxy.stderr).arrayBuffer());
    await c.close();
    assert.equal(status.code, 0, stderr);
    await assert.rejects(() => Deno.stat(`${dir}/pid`));
  } finally {
    if (child) {
      child.kill("SIGKILL");
      await child.status;
      await child.stderr.cancel();
    }
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
