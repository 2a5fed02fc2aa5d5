/**
 * The admin secret (`admin_auth`) on both admin APIs: with it set, no route that changes anything
 * works with the xauth anyone can compute from public data, and each works with the secret's xauth
 * or its Bearer header; without it, changes are accepted from loopback clients only. Every route
 * is taken from the apps themselves, so a route added later is checked too.
 */

import assert from "node:assert/strict";
import type { Hono } from "hono";
import { dashboardApp } from "../../dashboard/api.ts";
import { type DashboardConfig, DEFAULT_DASHBOARD_CONFIG } from "../../dashboard/config.ts";
import { type Dashboard, startDashboard } from "../../dashboard/dashboard.ts";
import { proxyAdminApp } from "../../proxy/admin_api.ts";
import { DEFAULT_PROXY_CONFIG } from "../../proxy/config.ts";
import { type Proxy, startProxy } from "../../proxy/proxy.ts";
import { callApi } from "../../utils/http.ts";
import { log } from "../../utils/log.ts";
import { dashboardXAuth, newXAuth, proxyXAuth } from "../../utils/xauth.ts";
import { admin } from "../_support/programs.ts";
import { RedisServer } from "../_support/servers.ts";

log.setLevel("NONE");

const SECRET = "s3cret-admin";
const LOOPBACK: Deno.NetAddr = { transport: "tcp", hostname: "127.0.0.1", port: 40000 };
const REMOTE: Deno.NetAddr = { transport: "tcp", hostname: "10.1.2.3", port: 40000 };

async function withDashboard(
  config: Partial<DashboardConfig>,
  fn: (d: Dashboard) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "codis-auth-" });
  const d = await startDashboard({
    config: {
      ...DEFAULT_DASHBOARD_CONFIG,
      coordinatorAddr: root,
      productName: "auth-test",
      adminAddr: "127.0.0.1:0",
      ...config,
    },
  });
  try {
    await fn(d);
  } finally {
    await d.close();
    await Deno.remove(root, { recursive: true });
  }
}

/** Every PUT route of `app`, with `:xauth` as given and harmless values for the other parameters. */
function putRoutes(app: Hono, xauth: string): string[] {
  const paths = new Set<string>();
  for (const r of app.routes) {
    if (r.method !== "PUT" || !r.path.includes(":xauth")) continue;
    // shutdown is left out: it would end the test's own server (it is checked by hand below)
    if (r.path.includes("/shutdown/")) continue;
    paths.add(
      r.path.replace(":xauth", xauth).replace(
        /:(\w+)\??/g,
        (_, name) =>
          ["gid", "sid", "beg", "end", "src", "dst", "num", "force", "confirm", "value"].includes(name)
            ? "0"
            : name === "addr"
            ? "127.0.0.1:1"
            : "x",
      ),
    );
  }
  return [...paths];
}

async function status(app: Hono, path: string, remote: Deno.NetAddr, headers: HeadersInit = {}): Promise<number> {
  const res = await app.fetch(new Request(`http://api${path}`, { method: "PUT", headers, body: "[]" }), {
    remoteAddr: remote,
  });
  await res.body?.cancel();
  return res.status;
}

Deno.test("with admin_auth, no dashboard change works with the public xauth; each works with the secret", async () => {
  await withDashboard({ adminAuth: SECRET }, async (d) => {
    const app = dashboardApp(d);
    const publicXAuth = newXAuth("auth-test");
    const secretXAuth = dashboardXAuth("auth-test", SECRET);
    assert.notEqual(publicXAuth, secretXAuth);
    const routes = putRoutes(app, publicXAuth);
    assert.ok(routes.length >= 25, `${routes.length} routes`);
    for (const path of routes) {
      assert.equal(await status(app, path, REMOTE), 403, `${path} with the public xauth`);
      const withSecret = await status(app, path.replace(publicXAuth, secretXAuth), REMOTE);
      assert.ok(![401, 403].includes(withSecret), `${path} with the secret's xauth: ${withSecret}`);
      const withBearer = await status(app, path, REMOTE, { authorization: `Bearer ${SECRET}` });
      assert.ok(![401, 403].includes(withBearer), `${path} with the Bearer header: ${withBearer}`);
      const wrongBearer = await status(app, path, REMOTE, { authorization: "Bearer nope" });
      assert.equal(wrongBearer, 403, `${path} with a wrong Bearer header`);
    }
    // group/info has no xauth: it needs the header, and names only the product's servers.
    const info = (headers: HeadersInit) =>
      app.fetch(new Request("http://api/api/topom/group/info/127.0.0.1:6379", { headers }), { remoteAddr: REMOTE });
    assert.equal((await info({})).status, 401);
    const known = await info({ authorization: `Bearer ${SECRET}` });
    assert.equal(known.status, 404, "not one of the product's servers: product_auth is never sent there");
    assert.match((await known.json()).Cause, /server-\[127\.0\.0\.1:6379\] doesn't exist/);
  });
});

Deno.test("without admin_auth, the dashboard accepts changes from loopback only, and says so", async () => {
  await withDashboard({}, async (d) => {
    const app = dashboardApp(d);
    const xauth = newXAuth("auth-test");
    for (const path of putRoutes(app, xauth)) {
      const remote = await app.fetch(new Request(`http://api${path}`, { method: "PUT", body: "[]" }), {
        remoteAddr: REMOTE,
      });
      assert.equal(remote.status, 403, path);
      assert.match((await remote.json()).Cause, /admin_auth is not set/);
      assert.ok(![401, 403].includes(await status(app, path, LOOPBACK)), `${path} from loopback`);
    }
    // Reads stay open, as in Codis.
    const read = await app.fetch(new Request(`http://api/api/topom/stats/${xauth}`), { remoteAddr: REMOTE });
    await read.body?.cancel();
    assert.equal(read.status, 200);
  });
});

Deno.test("with admin_auth, the proxy's changes need the secret; codis-admin and the dashboard use theirs", async () => {
  const server = await RedisServer.start();
  const root = await Deno.makeTempDir({ prefix: "codis-auth-" });
  let proxy: Proxy | null = null;
  try {
    proxy = await startProxy({
      config: {
        ...DEFAULT_PROXY_CONFIG,
        productName: "auth-test",
        proxyAddr: "127.0.0.1:0",
        adminAddr: "127.0.0.1:0",
        adminAuth: SECRET,
      },
    });
    const p = proxy;
    const app = proxyAdminApp(() => p, SECRET);
    const publicXAuth = newXAuth("auth-test", "", p.model.token);
    const secretXAuth = proxyXAuth("auth-test", SECRET, "", p.model.token);
    for (const path of putRoutes(app, publicXAuth)) {
      assert.equal(await status(app, path, LOOPBACK), 403, `${path} with the public xauth`);
      const ok = await status(app, path.replace(publicXAuth, secretXAuth), REMOTE);
      assert.ok(![401, 403].includes(ok), `${path} with the secret's xauth: ${ok}`);
    }

    // codis-admin: the secret from --auth, or $CODIS_AUTH.
    const refused = await admin(`--proxy=${p.model.adminAddr}`, "--reset-stats");
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /refused the xauth/);
    const r = await admin(`--proxy=${p.model.adminAddr}`, `--auth=${SECRET}`, "--reset-stats");
    assert.equal(r.code, 0, r.stderr);

    // A dashboard with the same secret registers it and pushes slots to it.
    await withDashboard({ adminAuth: SECRET }, async (d) => {
      const base = { adminAuth: SECRET, timeoutMs: 10_000 };
      const x = dashboardXAuth("auth-test", SECRET);
      await callApi(d.adminAddr, `/api/topom/group/create/${x}/1`, { ...base, method: "PUT" });
      await callApi(d.adminAddr, `/api/topom/group/add/${x}/1/${encodeURIComponent(server.addr)}`, {
        ...base,
        method: "PUT",
      });
      await callApi(d.adminAddr, `/api/topom/proxy/create/${x}/${encodeURIComponent(p.model.adminAddr)}`, {
        ...base,
        method: "PUT",
      });
      assert.equal(p.online, true);
      const env = { CODIS_AUTH: SECRET };
      const status = await admin({ env }, `--dashboard=${d.adminAddr}`, "--group-status");
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /group-1 \[0\]/);
    });
  } finally {
    await proxy?.close(1000);
    await server.stop();
    await Deno.remove(root, { recursive: true });
  }
});
