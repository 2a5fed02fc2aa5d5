/**
 * A product of real processes for migration tests: two Redis masters (groups 1 and 2), a
 * dashboard on the filesystem store, two proxies that came online through it, and every slot on
 * group 1. The dashboard can be replaced after a kill ({@linkcode MigrationCluster.restartDashboard}).
 *
 * @module
 */

import { adminOk, DashboardProcess, ProxyProcess } from "./programs.ts";
import { RedisServer } from "./servers.ts";

/** `dashboard.toml` keys beyond the store and the product. */
export type DashboardSettings = Record<string, string | number | boolean>;

export interface MigrationCluster {
  readonly dir: string;
  readonly product: string;
  readonly masters: RedisServer[];
  dashboard: DashboardProcess;
  proxies: ProxyProcess[];
  /** `--dashboard=ADDR` for codis-admin. */
  d: string;
  /** Starts a new dashboard (with `--remove-lock`, same settings) after the old one was killed. */
  restartDashboard(): Promise<void>;
  /** Kills everything and removes the directory. */
  stop(): Promise<void>;
}

export async function startMigrationCluster(
  product: string,
  settings: DashboardSettings = {},
): Promise<MigrationCluster> {
  const dir = await Deno.makeTempDir({ prefix: `codis-${product}-` });
  const masters = [await RedisServer.start(), await RedisServer.start()];
  const dashboardOptions = { coordinator: "filesystem", coordinatorAddr: `${dir}/store`, product, config: settings };
  const dashboard = await DashboardProcess.start(dir, dashboardOptions);
  const d = `--dashboard=${dashboard.addr}`;
  const proxies = [
    await ProxyProcess.start(dir, { product, online: [d] }),
    await ProxyProcess.start(dir, { product, online: [d] }),
  ];
  await Promise.all(proxies.map((p) => p.waitOnline()));
  await adminOk(d, "--create-group", "--gid=1");
  await adminOk(d, "--create-group", "--gid=2");
  await adminOk(d, "--group-add", "--gid=1", `--addr=${masters[0].addr}`);
  await adminOk(d, "--group-add", "--gid=2", `--addr=${masters[1].addr}`);
  await adminOk(d, "--slots-assign", "--beg=0", "--end=1023", "--gid=1", "--confirm");
  await adminOk(d, "--resync-group", "--all");
  const cluster: MigrationCluster = {
    dir,
    product,
    masters,
    dashboard,
    proxies,
    d,
    async restartDashboard() {
      cluster.dashboard = await DashboardProcess.start(dir, { ...dashboardOptions, extra: ["--remove-lock"] });
      cluster.d = `--dashboard=${cluster.dashboard.addr}`;
    },
    async stop() {
      await Promise.all(cluster.proxies.map((p) => p.kill("SIGKILL")));
      await cluster.dashboard.kill("SIGKILL");
      await Promise.all(masters.map((m) => m.stop()));
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  return cluster;
}

/** Each slot's `group:state` (state "" when no action), from the dashboard's stats. */
export async function slotStatesList(c: MigrationCluster): Promise<string[]> {
  const stats = await c.dashboard.stats() as { slots: { group_id: number; action: { state?: string } }[] };
  return stats.slots.map((s) => `${s.group_id}:${s.action.state ?? ""}`);
}

/** Slots by `group:state`, from the dashboard. */
export async function slotStates(c: MigrationCluster): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const k of await slotStatesList(c)) out.set(k, (out.get(k) ?? 0) + 1);
  return out;
}
