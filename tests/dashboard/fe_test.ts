/**
 * codis-fe's server: `/list` and `?forward=<product>` with the products found in the filesystem
 * store (live dashboards only) and in a dashboard list file; an unknown product is refused with
 * 403; the program's flags.
 */

import assert from "node:assert/strict";
import { FsClient } from "../../coord/fs_client.ts";
import { dashboardListSource, feApp, startFe, storeSource } from "../../dashboard/fe_server.ts";
import { DashboardProcess } from "../_support/programs.ts";
import { freePort, waitFor } from "../_support/servers.ts";

async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

Deno.test("codis-fe lists the products with a live dashboard and forwards to them; unknown products get 403", async () => {
  const root = await Deno.makeTempDir({ prefix: "codis-test-fe-" });
  const store = `${root}/store`;
  const dashboards = await Promise.all(
    ["beta", "alpha"].map((product) =>
      DashboardProcess.start(root, { coordinator: "filesystem", coordinatorAddr: store, product })
    ),
  );
  const client = await FsClient.open(store);
  const fe = await startFe({ listen: "127.0.0.1:0", source: storeSource(client), assetsDir: null });
  const listFile = `${root}/dashboards.json`;
  await Deno.writeTextFile(
    listFile,
    JSON.stringify([{ name: "zeta", dashboard: dashboards[0].addr }, { name: "alpha", dashboard: dashboards[1].addr }]),
  );
  const feList = await startFe({ listen: "127.0.0.1:0", source: dashboardListSource(listFile), assetsDir: null });
  try {
    assert.deepEqual((await getJson(`http://${fe.addr}/list`)).body, ["alpha", "beta"]);
    const topom = await getJson(`http://${fe.addr}/topom?forward=alpha`);
    assert.equal(topom.status, 200);
    assert.equal((topom.body as { config?: { product_name?: string } }).config?.product_name, "alpha");
    const unknown = await getJson(`http://${fe.addr}/topom?forward=nope`);
    assert.equal(unknown.status, 403);
    assert.match(String((unknown.body as { Cause?: string }).Cause), /product "nope" not found/);
    // A change through the forward needs the dashboard's own authentication, as direct.
    const res = await fetch(`http://${fe.addr}/api/topom/group/create/x/1?forward=alpha`, { method: "PUT" });
    assert.ok(res.status >= 400, `unauthenticated change refused (${res.status})`);
    await res.body?.cancel();

    // The dashboard list file, sorted; forwarding by it.
    assert.deepEqual((await getJson(`http://${feList.addr}/list`)).body, ["alpha", "zeta"]);
    const viaList = await getJson(`http://${feList.addr}/topom?forward=zeta`);
    assert.equal((viaList.body as { config?: { product_name?: string } }).config?.product_name, "beta");
    assert.equal((await getJson(`http://${feList.addr}/topom?forward=beta`)).status, 403);

    // A dashboard that stops: its product leaves the list.
    await dashboards[0].kill("SIGTERM");
    await waitFor(async () => JSON.stringify((await getJson(`http://${fe.addr}/list`)).body) === '["alpha"]', {
      what: "beta gone from the list",
    });
  } finally {
    await fe.close();
    await feList.close();
    await client.close();
    await Promise.all(dashboards.map((d) => d.kill("SIGTERM")));
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
});

Deno.test("codis-fe as a program: --filesystem and --listen; usage errors exit non-zero", async () => {
  const root = await Deno.makeTempDir({ prefix: "codis-test-fe-" });
  const store = `${root}/store`;
  const dashboard = await DashboardProcess.start(root, {
    coordinator: "filesystem",
    coordinatorAddr: store,
    product: "p1",
  });
  const port = freePort();
  const main = new URL("../../dashboard/fe.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", main, `--filesystem=${store}`, `--listen=127.0.0.1:${port}`],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const list = await waitFor(async () => {
      try {
        return (await getJson(`http://127.0.0.1:${port}/list`)).body as string[];
      } catch {
        return null;
      }
    }, { what: "codis-fe answering" });
    assert.deepEqual(list, ["p1"]);
    for (const args of [[`--listen=127.0.0.1:${freePort()}`], [`--filesystem=${store}`], ["--bogus"]]) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", main, ...args],
        stdout: "piped",
        stderr: "piped",
      })
        .output();
      assert.notEqual(out.code, 0, `codis-fe ${args.join(" ")} fails`);
      assert.match(new TextDecoder().decode(out.stderr), /--dashboard-list|--listen|bogus/);
    }
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await dashboard.kill("SIGTERM");
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
});

Deno.test("codis-fe serves the web UI (built in, or from --assets-dir) and passes changes from elsewhere only with a secret", async () => {
  const root = await Deno.makeTempDir({ prefix: "codis-test-fe-" });
  const listFile = `${root}/dashboards.json`;
  // A "dashboard" that records what reaches it.
  const seen: { method: string; path: string; forwardedFor: string | null }[] = [];
  const dashboard = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    seen.push({
      method: req.method,
      path: new URL(req.url).pathname,
      forwardedFor: req.headers.get("x-forwarded-for"),
    });
    return Response.json({ ok: true });
  });
  await Deno.writeTextFile(listFile, JSON.stringify([{ name: "p", dashboard: `127.0.0.1:${dashboard.addr.port}` }]));
  const assets = `${root}/assets`;
  await Deno.mkdir(assets);
  await Deno.writeTextFile(`${assets}/index.html`, "<p>own page</p>");
  const app = feApp(dashboardListSource(listFile), null);
  const own = feApp(dashboardListSource(listFile), assets);
  const from = (hostname: string) => ({ remoteAddr: { transport: "tcp", hostname, port: 50000 } as Deno.NetAddr });
  try {
    const page = await app.fetch(new Request("http://fe/"), from("127.0.0.1"));
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /text\/html/);
    assert.match(await page.text(), /ui\/app\.js/);
    for (const [path, type] of [["/ui/app.js", /javascript/], ["/ui/app.css", /text\/css/]] as const) {
      const res = await app.fetch(new Request(`http://fe${path}`), from("127.0.0.1"));
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get("content-type") ?? "", type);
      assert.ok((await res.text()).length > 1000, `${path} has the bundle`);
    }
    assert.equal((await app.fetch(new Request("http://fe/ui/nope.js"), from("127.0.0.1"))).status, 404);
    assert.equal(await (await own.fetch(new Request("http://fe/"), from("127.0.0.1"))).text(), "<p>own page</p>");
    assert.equal((await own.fetch(new Request("http://fe/../etc/passwd"), from("127.0.0.1"))).status, 404);

    // Reads pass from anywhere; a change from another machine needs the admin secret's header.
    const get = await app.fetch(new Request("http://fe/topom?forward=p"), from("10.1.2.3"));
    assert.equal(get.status, 200);
    await get.body?.cancel();
    const put = (headers: Record<string, string>) =>
      app.fetch(
        new Request("http://fe/api/topom/group/create/x/1?forward=p", { method: "PUT", headers }),
        from("10.1.2.3"),
      );
    const refused = await put({});
    assert.equal(refused.status, 403);
    assert.match((await refused.json()).Cause, /only with the admin secret/);
    assert.ok(!seen.some((s) => s.method === "PUT"), "the refused change never reached the dashboard");
    const passed = await put({ authorization: "Bearer s3cret" });
    assert.equal(passed.status, 200);
    await passed.body?.cancel();
    const local = await app.fetch(
      new Request("http://fe/api/topom/group/create/x/2?forward=p", { method: "PUT" }),
      from("127.0.0.1"),
    );
    assert.equal(local.status, 200);
    await local.body?.cancel();
    assert.deepEqual(seen.filter((s) => s.method === "PUT"), [
      { method: "PUT", path: "/api/topom/group/create/x/1", forwardedFor: "10.1.2.3" },
      { method: "PUT", path: "/api/topom/group/create/x/2", forwardedFor: "127.0.0.1" },
    ]);
  } finally {
    await dashboard.shutdown();
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
});
