/**
 * The web UI in a real headless Chromium (Debian's, driven by playwright-core) on a live cluster:
 * a dashboard with an admin secret, a proxy, Redis servers and a sentinel, seen through codis-fe
 * and through the dashboard's own `/`. Every page shows the cluster's actual proxies, servers and
 * slot owners; a group is created, a server added, a range migrated and a sentinel added from the
 * pages (each change checked with codis-admin), the migration's progress shows and completes; an
 * error of the API is shown with its cause; a destructive action asks first; no console error and
 * no request leaving 127.0.0.1. Screenshots of every page go to the test's folder (printed), or to
 * `$UI_SCREENSHOTS` when set.
 */

import assert from "node:assert/strict";
import { type Browser, chromium, type Page } from "playwright-core";
import { FsClient } from "../../coord/fs_client.ts";
import { startFe, storeSource } from "../../dashboard/fe_server.ts";
import { slotOfString } from "../../redis/slot_hash.ts";
import { RedisClient } from "../../redis/redis_client.ts";
import { admin, DashboardProcess, ProxyProcess } from "../_support/programs.ts";
import { RedisServer, SentinelServer } from "../_support/servers.ts";

const SECRET = "ui-test-secret";
const PRODUCT = "ui-demo";
const CHROMIUM = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";
/** Generous: the machine may be loaded. */
const UI_TIMEOUT_MS = 60_000;

async function adminJson(dashboard: string, ...args: string[]): Promise<unknown> {
  const r = await admin({ env: { CODIS_AUTH: SECRET } }, `--dashboard=${dashboard}`, ...args);
  if (r.code !== 0) throw new Error(`codis-admin ${args.join(" ")} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout.trim().startsWith("[") || r.stdout.trim().startsWith("{") ? JSON.parse(r.stdout) : r.stdout;
}

/** Watches a page: console errors, uncaught exceptions, and requests to anywhere but 127.0.0.1. */
function watch(page: Page) {
  const errors: string[] = [];
  const outside: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(`uncaught: ${e.message}`));
  void page.route("**/*", async (route) => {
    const url = new URL(route.request().url());
    if (url.protocol === "data:" || url.hostname === "127.0.0.1") return await route.continue();
    outside.push(url.href);
    await route.abort();
  });
  return { errors, outside };
}

Deno.test("web UI: codis-fe and the dashboard's own page drive a live cluster in Chromium", async () => {
  try {
    Deno.statSync(CHROMIUM);
  } catch {
    throw new Error(`no Chromium at ${CHROMIUM}: run scripts/setup (it installs Debian's chromium), or set CHROMIUM`);
  }
  const dir = await Deno.makeTempDir({ prefix: "codis-test-ui-" });
  const shots = Deno.env.get("UI_SCREENSHOTS") ?? `${dir}/screenshots`;
  await Deno.mkdir(shots, { recursive: true });
  console.log(`screenshots: ${shots}`);
  const servers: RedisServer[] = [];
  let sentinel: SentinelServer | null = null;
  let dashboard: DashboardProcess | null = null;
  let proxy: ProxyProcess | null = null;
  let browser: Browser | null = null;
  const store = `${dir}/store`;
  const storeClient = await FsClient.open(store);
  const fe = await startFe({ listen: "127.0.0.1:0", source: storeSource(storeClient), assetsDir: null });
  try {
    for (let i = 0; i < 2; i++) servers.push(await RedisServer.start());
    sentinel = await SentinelServer.start();
    const [s1, s2] = servers.map((s) => s.addr);
    dashboard = await DashboardProcess.start(dir, {
      coordinator: "filesystem",
      coordinatorAddr: store,
      product: PRODUCT,
      // Small MIGRATEs and a pause between them: the migration lasts long enough to be watched.
      config: { admin_auth: SECRET, migration_async_numkeys: 10 },
    });
    const d = dashboard.addr;
    proxy = await ProxyProcess.start(dir, {
      product: PRODUCT,
      online: [`--dashboard=${d}`],
      config: { admin_auth: SECRET },
    });
    await proxy.waitOnline();
    await adminJson(d, "--create-group", "--gid=1");
    await adminJson(d, "--group-add", "--gid=1", `--addr=${s1}`);
    await adminJson(d, "--slots-assign", "--beg=0", "--end=1023", "--gid=1", "--confirm");
    await adminJson(d, "--slot-action", "--interval=10000");
    // Keys in slots 0-31, the range the test migrates.
    const client = await RedisClient.connect(proxy.addr);
    try {
      const keys: string[] = [];
      for (let i = 0; keys.length < 2000; i++) if (slotOfString(`k${i}`) < 32) keys.push(`k${i}`);
      for (let i = 0; i < keys.length; i += 200) {
        await client.call("MSET", ...keys.slice(i, i + 200).flatMap((k) => [k, k]));
      }
    } finally {
      await client.close();
    }

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.setDefaultTimeout(UI_TIMEOUT_MS);
    const seen = watch(page);
    const shot = (name: string) => page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
    const base = `http://${fe.addr}/`;
    const open = async (p: string) => {
      await page.goto(`${base}#/${PRODUCT}/${p}`);
      await page.locator('[data-testid="poll-status"]', { hasText: "updated" }).waitFor();
    };

    // The product list and the overview.
    await open("overview");
    assert.deepEqual(await page.locator('[data-testid="products"] a').allTextContents(), [PRODUCT]);
    assert.equal(await page.getByTestId("product-name").textContent(), PRODUCT);
    await page.getByTestId("total-slots").getByText("1,024").waitFor();
    await page.getByText("1 of 1 proxies healthy").waitFor();
    await page.locator('[data-testid="chart-qps"] canvas').waitFor();
    await shot("overview");

    // Proxies: the one proxy, healthy, with its addresses.
    await open("proxies");
    const row = page.locator(`tr[data-proxy="${proxy.addr}"]`);
    await row.getByText("HEALTHY").waitFor();
    await row.getByText(proxy.adminAddr).waitFor();
    await shot("proxies");

    // Groups: group 1 with its server; a change without the secret is refused and the cause shown.
    await open("groups");
    await page.locator(`[data-testid="group-1"] tr[data-server="${s1}"]`).getByText("master").waitFor();
    const create = page.getByTestId("group-create");
    await create.getByPlaceholder("group id").fill("2");
    await create.getByRole("button", { name: "Create" }).click();
    await page.getByRole("alert").getByText(/New group: invalid xauth/).waitFor();
    assert.equal((await adminJson(d, "--list-group") as unknown[]).length, 1, "nothing created without the secret");

    // With the secret: create group 2, add a server, and see a bad address refused with its cause.
    await page.getByTestId("secret-button").click();
    await page.getByLabel("admin secret").fill(SECRET);
    await page.getByRole("button", { name: "Use" }).click();
    await create.getByRole("button", { name: "Create" }).click();
    await page.getByTestId("group-2").waitFor();
    const add = page.getByTestId("group-add");
    await add.getByPlaceholder("group id").fill("2");
    await add.getByPlaceholder("host:port").fill("not-an-address");
    await add.getByRole("button", { name: "Add" }).click();
    await page.getByRole("alert").getByText(/Add server: .*not-an-address/).waitFor();
    await add.getByPlaceholder("host:port").fill(s2);
    await add.getByRole("button", { name: "Add" }).click();
    await page.locator(`[data-testid="group-2"] tr[data-server="${s2}"]`).getByText("NO:ONE").waitFor();
    const groups = await adminJson(d, "--list-group") as { id: number; servers: { server: string }[] }[];
    assert.deepEqual(groups.map((g) => [g.id, g.servers.map((s) => s.server)]), [[1, [s1]], [2, [s2]]]);

    // A destructive action asks first; cancelling changes nothing.
    await page.locator('[data-testid="group-2"]').getByRole("button", { name: "Remove group" }).click();
    await page.getByRole("dialog").getByText("Remove group 2?").waitFor();
    await shot("groups-confirm");
    await page.getByRole("dialog").getByRole("button", { name: "Cancel" }).click();
    assert.equal((await adminJson(d, "--list-group") as unknown[]).length, 2, "cancel keeps the group");
    await shot("groups");

    // Slots: the map shows the owners; migrate 0-31 to group 2 and watch it go.
    await open("slots");
    await page.locator('[data-slot="0"][data-group="1"]').waitFor();
    await page.locator('[data-slot="1023"][data-group="1"]').waitFor();
    const range = page.getByTestId("migrate-range");
    await range.getByPlaceholder("first slot").fill("0");
    await range.getByPlaceholder("last slot").fill("31");
    await range.getByPlaceholder("to group").fill("2");
    await range.getByRole("button", { name: "Migrate range" }).click();
    await page.getByTestId("migration-progress").getByRole("progressbar").first().waitFor();
    await page.locator('[data-slot="5"][data-state]:not([data-state=""])').waitFor();
    await shot("slots-migrating");
    await page.locator('[data-slot="31"][data-group="2"][data-state=""]').waitFor({ timeout: 120_000 });
    await page.getByTestId("migration-progress").waitFor({ state: "detached", timeout: 120_000 });
    const slots = await adminJson(d, "--slots-status") as { id: number; backend_addr_group_id: number }[];
    assert.ok(slots.filter((s) => s.id < 32).every((s) => s.backend_addr_group_id === 2), "slots 0-31 on group 2");
    assert.ok(slots.filter((s) => s.id >= 32).every((s) => s.backend_addr_group_id === 1), "the rest on group 1");
    const moved = await servers[1].client();
    try {
      assert.equal(await moved.call("DBSIZE"), 2000, "every key of slots 0-31 on group 2's server");
    } finally {
      await moved.close();
    }
    await page.getByTestId("slot-ranges").getByText("[0000, 0031]").waitFor();
    await shot("slots");

    // Rebalance shows its plan first; cancelling changes nothing.
    await page.getByTestId("rebalance").click();
    await page.getByTestId("rebalance-plan").getByText("⇒ group 2").first().waitFor();
    await shot("slots-rebalance");
    await page.getByRole("dialog").getByRole("button", { name: "Cancel" }).click();
    const after = await adminJson(d, "--slots-status") as { action: { state?: string } }[];
    assert.ok(after.every((s) => !s.action?.state), "no slot action queued by the preview");

    // Sentinels: none yet (the page says what to do); add one, resync, and see its view of both groups.
    await open("sentinels");
    await page.getByText("No sentinels").waitFor();
    const addSentinel = page.getByTestId("sentinel-add");
    await addSentinel.getByPlaceholder("host:port").fill(sentinel.addr);
    await addSentinel.getByRole("button", { name: "Add" }).click();
    await page.locator(`tr[data-sentinel="${sentinel.addr}"]`).waitFor();
    await page.getByRole("button", { name: /Resync all/ }).click();
    const view = page.locator(`tr[data-sentinel="${sentinel.addr}"]`);
    await view.getByText(`group 1: ${s1}`).waitFor();
    await view.getByText(`group 2: ${s2}`).waitFor();
    await view.getByText("masters=2,down=0").waitFor();
    const stats = await adminJson(d, "stats") as { sentinels: { model: { servers: string[] } } };
    assert.deepEqual(stats.sentinels.model.servers, [sentinel.addr]);
    await shot("sentinels");

    // The dashboard's own page: the same UI for its product alone.
    await page.goto(`http://${d}/#/${PRODUCT}/overview`);
    await page.locator('[data-testid="poll-status"]', { hasText: "updated" }).waitFor();
    assert.deepEqual(await page.locator('[data-testid="products"] a').allTextContents(), [PRODUCT]);
    await page.getByTestId("total-slots").getByText("1,024").waitFor();
    await page.goto(`http://${d}/#/${PRODUCT}/groups`);
    await page.locator(`[data-testid="group-2"] tr[data-server="${s2}"]`).waitFor();
    await shot("dashboard-groups");
    // Clients that do not ask for HTML keep Codis's redirect.
    const res = await fetch(`http://${d}/`, { redirect: "manual" });
    await res.body?.cancel();
    assert.equal(res.status, 302);
    assert.equal(res.headers.get("location"), "/topom");

    assert.deepEqual(seen.outside, [], "no request leaves 127.0.0.1");
    // The two refused changes above show in the console as failed loads (Chromium logs every 4xx); nothing else may.
    const unexpected = seen.errors.filter((e) =>
      !/Failed to load resource: the server responded with a status of 4\d\d/.test(e)
    );
    assert.deepEqual(unexpected, [], "no console errors");
    assert.equal(seen.errors.length, 2, `exactly the two refused changes: ${seen.errors.join(" | ")}`);
  } finally {
    await browser?.close();
    await fe.close();
    await storeClient.close();
    await proxy?.kill("SIGTERM");
    await dashboard?.kill("SIGTERM");
    await sentinel?.stop();
    for (const s of servers) await s.stop();
  }
});

Deno.test("web UI: dashboard/ui_assets.ts is the build of dashboard/ui/ (run `deno task ui` after a change)", async () => {
  const script = new URL("../../scripts/build_ui.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", script, "--check"], stderr: "piped" })
    .output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
});
