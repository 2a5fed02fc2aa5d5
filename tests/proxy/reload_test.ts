/**
 * Live reconfiguration of a proxy process: SIGHUP (and `codis-admin --proxy --reload`) re-read
 * proxy.toml; each reloadable key changes behaviour without dropping the connections open, keys
 * used only at start are reported as needing a restart, and a bad file changes nothing.
 */

import assert from "node:assert/strict";
import { RedisClient } from "../../redis/redis_client.ts";
import { admin, adminOk, ProxyProcess } from "../_support/programs.ts";
import { parsePrometheus } from "../_support/prometheus.ts";
import { RedisServer, waitFor } from "../_support/servers.ts";
import { evenSlots } from "../_support/cluster.ts";
import { slotToJson } from "../../coord/models.ts";

Deno.test("SIGHUP and --reload apply proxy.toml's live keys without dropping a connection", async () => {
  const dir = await Deno.makeTempDir({ prefix: "codis-reload-" });
  const servers = await Promise.all([RedisServer.start(), RedisServer.start()]);
  let proxy: ProxyProcess | null = null;
  const clients: RedisClient[] = [];
  try {
    await Deno.writeTextFile(
      `${dir}/slots.json`,
      JSON.stringify(evenSlots(servers.map((s) => s.addr)).map(slotToJson)),
    );
    proxy = await ProxyProcess.start(dir, {
      product: "reload",
      online: [`--fillslots=${dir}/slots.json`],
      config: { slowlog_log_slower_than: -1, backend_primary_parallel: 1 },
    });
    await proxy.waitOnline();
    const configPath = `${dir}/proxy-${proxy.port}.toml`;
    const base = await Deno.readTextFile(configPath);
    const c = await RedisClient.connect(proxy.addr);
    clients.push(c);
    await c.call("SET", "a", "1");
    assert.equal(await c.call("SLOWLOG", "LEN"), 0, "slow log off");

    // The live keys, and one that needs a restart.
    await Deno.writeTextFile(
      configPath,
      base
        .replace("slowlog_log_slower_than = -1", "slowlog_log_slower_than = 0")
        .replace("backend_primary_parallel = 1", "backend_primary_parallel = 3")
        .replace(/proxy_addr = "[^"]*"/, 'proxy_addr = "127.0.0.1:1"') +
        'proxy_max_clients = 1\nlog_level = "WARN"\n',
    );
    proxy.signal("SIGHUP");
    await waitFor(async () => /reload: applied/.test(await proxy!.log()), { what: "the reload in the log" });
    const line = (await proxy.log()).split("\n").find((l) => l.includes("reload: applied"))!;
    assert.match(line, /applied \[proxy_max_clients, backend_primary_parallel, slowlog_log_slower_than, log_level\]/);
    assert.match(line, /needs a restart \[proxy_addr\]/);

    // The open connection goes on, and now its requests are logged.
    await c.call("GET", "a");
    assert.ok(Number(await c.call("SLOWLOG", "LEN")) >= 1);
    // proxy_max_clients = 1: a second client is refused (the first is still served).
    const second = await RedisClient.connect(proxy.addr);
    clients.push(second);
    await assert.rejects(second.call("PING"), /max number of clients reached/);
    assert.equal(await c.call("GET", "a"), "1");
    // Three connections per server and database now (the new ones open as requests come).
    for (let i = 0; i < 30; i++) await c.call("GET", `k${i}`);
    const metrics = await parsePrometheus(await (await fetch(`http://${proxy.adminAddr}/metrics`)).text());
    const conns = [...metrics.values()].find((f) => f.name === "codis_proxy_backend_connections")!.samples
      .filter((s) => s.labels.server === servers[0].addr && s.labels.role === "primary")
      .reduce((n, s) => n + s.value, 0);
    assert.ok(conns >= 3, `${conns} connections to ${servers[0].addr}`);

    // A bad file changes nothing, and says why (through codis-admin --reload too).
    await Deno.writeTextFile(configPath, base.replace("slowlog_log_slower_than = -1", "slowlog_max_len = -5"));
    const bad = await admin(`--proxy=${proxy.adminAddr}`, "--reload");
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /reload refused, nothing changed: .*slowlog_max_len is negative/);
    assert.equal(await c.call("GET", "a"), "1");

    // Back to the original file through codis-admin: the changes are listed.
    await Deno.writeTextFile(configPath, base);
    const out = JSON.parse(await adminOk(`--proxy=${proxy.adminAddr}`, "--reload"));
    assert.deepEqual(out.applied, [
      "proxy_max_clients",
      "backend_primary_parallel",
      "slowlog_log_slower_than",
      "log_level",
    ]);
    assert.deepEqual(out.restart, [], "proxy_addr was never applied: the running value is the file's again");
    const third = await RedisClient.connect(proxy.addr);
    clients.push(third);
    assert.equal(await third.call("GET", "a"), "1", "proxy_max_clients back to unlimited");
  } catch (e) {
    if (proxy) console.error(await proxy.log());
    throw e;
  } finally {
    for (const cl of clients) await cl.close();
    await proxy?.kill("SIGTERM");
    await Promise.all(servers.map((s) => s.stop()));
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("reloaded keys change behaviour: recv timeout, slot lock timeout, a metrics reporter", async () => {
  const { startCluster } = await import("../_support/cluster.ts");
  const cluster = await startCluster({ config: { sessionRecvTimeout: 0, slotLockTimeout: 0 } });
  const posts: number[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.body?.cancel();
    posts.push(Date.now());
    return new Response("ok");
  });
  const busy = await cluster.client();
  const idle = await cluster.client();
  let pinging = false;
  let pinger: Promise<void> = Promise.resolve();
  try {
    const proxy = cluster.proxy;
    // The busy client sends something every 200 ms from now on.
    pinging = true;
    pinger = (async () => {
      while (pinging) {
        assert.equal(await busy.call("PING"), "PONG");
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const result = await proxy.applyConfig({
      ...proxy.config,
      sessionRecvTimeout: 1500,
      slotLockTimeout: 800,
      metricsReportServer: `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/report`,
      metricsReportPeriod: 200,
    });
    assert.deepEqual(result.applied, [
      "session_recv_timeout",
      "slot_lock_timeout",
      "metrics_report_server",
      "metrics_report_period",
    ]);
    // The reporter started: reports arrive.
    await waitFor(() => posts.length >= 2, { what: "reports from the restarted reporter" });
    // An idle client is dropped by the new timeout; a busy one is not.
    await new Promise((r) => setTimeout(r, 3000));
    await assert.rejects(idle.call("PING"));
    pinging = false;
    await pinger;
    assert.equal(await busy.call("PING"), "PONG");
    // A request on a locked slot now fails after 800 ms instead of waiting forever.
    const spec = proxy.router.slots[289].spec;
    await proxy.fillSlots([{ ...spec, locked: true }]);
    const started = Date.now();
    await assert.rejects(busy.call("GET", "foo"), /slot-0289 is locked, timed out after 800 ms/);
    assert.ok(Date.now() - started < 10_000);
    await proxy.fillSlots([{ ...spec, locked: false }]);
  } finally {
    pinging = false;
    await pinger.catch(() => {});
    await busy.close();
    await idle.close();
    await cluster.stop();
    await server.shutdown();
  }
});
