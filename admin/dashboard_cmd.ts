/**
 * codis-admin's dashboard forms (`--dashboard=ADDR`, Codis's `cmd/admin/dashboard.go`): overview parts,
 * shutdown/reload/log level, slots, slot actions, rebalance, proxies, groups and servers.
 *
 * @module
 */

import { DashboardClient } from "../api/dashboard_client.ts";
import type { TopomStats } from "../api/topom_stats.ts";
import { MAX_SLOT_NUM } from "../redis/slot_hash.ts";
import { UsageError } from "../utils/program.ts";
import type { Output } from "./offline.ts";
import { toCodisJson } from "../utils/json.ts";
import { slotMappingToJson } from "../coord/models.ts";
import { errorMessage } from "../utils/errors.ts";

export interface DashboardFlags {
  dashboard: string;
  [flag: string]: string | boolean | undefined;
}

/** The forms, each a flag that names it. */
const FORMS = [
  "shutdown",
  "reload",
  "log-level",
  "slots-assign",
  "slots-status",
  "slot-action",
  "rebalance",
  "list-proxy",
  "create-proxy",
  "online-proxy",
  "remove-proxy",
  "reinit-proxy",
  "proxy-status",
  "list-group",
  "create-group",
  "remove-group",
  "resync-group",
  "group-add",
  "group-del",
  "group-status",
  "replica-groups",
  "promote-server",
  "sync-action",
  "sentinel-add",
  "sentinel-del",
  "sentinel-resync",
] as const;

const PARTS = ["config", "model", "stats", "slots", "group", "proxy"];

function int(flags: DashboardFlags, name: string, what = name): number {
  const v = flags[name];
  if (v === undefined || v === false) throw new UsageError(`--${name} is required`);
  if (typeof v !== "string" || !/^-?\d+$/.test(v)) throw new UsageError(`--${name}=${v}: ${what} must be an integer`);
  return Number(v);
}

function str(flags: DashboardFlags, name: string): string {
  const v = flags[name];
  if (typeof v !== "string" || v === "") throw new UsageError(`--${name} is required`);
  return v;
}

const pad = (n: number) => String(n).padStart(4, "0");

export async function dashboardCommand(flags: DashboardFlags, positionals: string[], io: Output): Promise<void> {
  const forms = FORMS.filter((f) => flags[f] !== undefined && flags[f] !== false);
  if (forms.length > 1) throw new UsageError(`give one of ${forms.map((f) => `--${f}`).join(", ")}, not several`);
  const form = forms[0];
  if (form && positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);

  const auth = typeof flags.auth === "string" ? flags.auth : "";
  const client = await DashboardClient.connect(flags.dashboard, 30_000, auth).catch((e: unknown) => {
    throw new Error(`dashboard ${flags.dashboard}: ${errorMessage(e)}`, { cause: e });
  });

  switch (form) {
    case undefined: {
      if (positionals.length > 1) throw new UsageError(`give one part of ${PARTS.join("|")}, not several`);
      const part = positionals[0];
      if (part !== undefined && !PARTS.includes(part)) {
        throw new UsageError(`unknown part "${part}": use ${PARTS.join(", ")}`);
      }
      const overview = await client.rawOverview() as Record<string, unknown>;
      const s = overview.stats as Record<string, unknown>;
      const value = part === undefined
        ? overview
        : part === "config" || part === "model" || part === "stats"
        ? overview[part]
        : part === "slots"
        ? s.slots
        : (s[part] as Record<string, unknown>).models;
      io.out(toCodisJson(value));
      return;
    }
    case "shutdown":
      await client.shutdown();
      break;
    case "reload":
      await client.reload();
      break;
    case "log-level":
      await client.setLogLevel(str(flags, "log-level"));
      break;

    case "slots-assign": {
      const beg = int(flags, "beg", "slot id");
      const end = int(flags, "end", "slot id");
      if (!(beg >= 0 && end < MAX_SLOT_NUM && beg <= end)) throw new UsageError(`invalid slot range [${beg},${end}]`);
      const offline = flags.offline === true;
      if (offline && flags.gid !== undefined) throw new UsageError("give --gid or --offline, not both");
      const gid = offline ? 0 : int(flags, "gid", "group id");
      const mappings = Array.from({ length: end - beg + 1 }, (_, i) => ({
        id: beg + i,
        groupId: gid,
        action: { index: 0, state: "" as const, targetId: 0 },
      }));
      if (!flags.confirm) {
        io.out(toCodisJson(mappings.map(slotMappingToJson)));
        io.err("add --confirm to assign these slots");
        return;
      }
      await client.assignSlots(mappings, offline);
      break;
    }
    case "slots-status":
      io.out(toCodisJson(await client.rawSlots()));
      return;
    case "slot-action": {
      const subs = ["create", "remove", "create-some", "create-range", "interval", "disabled", "status"].filter((f) =>
        flags[f] !== undefined && flags[f] !== false
      );
      if (subs.length !== 1) {
        throw new UsageError(
          "--slot-action needs one of --create, --remove, --create-some, --create-range, --interval, --disabled, --status",
        );
      }
      switch (subs[0]) {
        case "create":
          await client.createSlotAction(int(flags, "sid", "slot id"), int(flags, "gid", "group id"));
          break;
        case "remove":
          await client.removeSlotAction(int(flags, "sid", "slot id"));
          break;
        case "create-some":
          await client.createSlotActionSome(
            int(flags, "gid-from", "group id"),
            int(flags, "gid-to", "group id"),
            int(flags, "num-slots", "number of slots"),
          );
          break;
        case "create-range":
          await client.createSlotActionRange(
            int(flags, "beg", "slot id"),
            int(flags, "end", "slot id"),
            int(flags, "gid", "group id"),
          );
          break;
        case "interval":
          await client.setActionInterval(int(flags, "interval", "interval"));
          break;
        case "disabled":
          await client.setActionDisabled(int(flags, "disabled", "value") !== 0);
          break;
        case "status":
          printActionStatus(await client.stats(), io);
          return;
      }
      break;
    }
    case "rebalance": {
      const plan = await client.rebalance(flags.confirm === true);
      const entries = Object.entries(plan).map(([sid, gid]) => [Number(sid), gid]).sort((a, b) => a[0] - b[0]);
      if (entries.length === 0) {
        io.out("nothing changes");
        return;
      }
      for (let i = 0; i < entries.length;) {
        let j = i;
        while (
          j + 1 < entries.length && entries[j + 1][0] === entries[j][0] + 1 && entries[j + 1][1] === entries[i][1]
        ) j++;
        io.out(`[${pad(entries[i][0])},${pad(entries[j][0])}] => ${entries[i][1]}`);
        i = j + 1;
      }
      if (!flags.confirm) {
        io.err("add --confirm to create these actions");
        return;
      }
      break;
    }

    case "list-proxy":
      io.out(toCodisJson((await client.rawOverview() as RawOverview).stats.proxy.models));
      return;
    case "create-proxy":
      await client.createProxy(str(flags, "addr"));
      break;
    case "online-proxy":
      await client.onlineProxy(str(flags, "addr"));
      break;
    case "remove-proxy":
    case "reinit-proxy": {
      const s = await client.stats();
      const all = form === "reinit-proxy" && flags.all === true;
      const chosen = all ? s.proxy.models : pickProxies(s.proxy.models, flags);
      if (chosen.length === 0) {
        if (flags.force) {
          io.err("no such proxy (ignored: --force)");
          return;
        }
        throw new Error("no such proxy (check --addr, --token or --pid against --list-proxy)");
      }
      for (const p of chosen) {
        if (form === "remove-proxy") await client.removeProxy(p.token, flags.force === true);
        else await client.reinitProxy(p.token);
      }
      break;
    }
    case "proxy-status": {
      const s = await client.stats();
      for (const p of s.proxy.models) {
        const st = s.proxy.stats[p.token];
        const mark = !st ? "?" : st.timeout ? "T" : st.error ? "E" : " ";
        io.out(`[${mark}] proxy-${p.id} [T] ${p.token} [A] ${p.admin_addr} [P] ${p.proxy_addr}`);
      }
      return;
    }

    case "list-group":
      io.out(toCodisJson((await client.rawOverview() as RawOverview).stats.group.models));
      return;
    case "create-group":
      await client.createGroup(int(flags, "gid", "group id"));
      break;
    case "remove-group":
      await client.removeGroup(int(flags, "gid", "group id"));
      break;
    case "resync-group":
      if (flags.all) await client.resyncGroupAll();
      else await client.resyncGroup(int(flags, "gid", "group id"));
      break;
    case "group-add": {
      const dc = typeof flags.datacenter === "string" ? flags.datacenter : "";
      await client.addServer(int(flags, "gid", "group id"), str(flags, "addr"), dc);
      break;
    }
    case "group-del":
      await client.delServer(int(flags, "gid", "group id"), str(flags, "addr"));
      break;
    case "group-status":
      printGroupStatus(await client.stats(), io);
      return;
    case "replica-groups": {
      if (flags.enable === flags.disable) throw new UsageError("--replica-groups needs --enable or --disable");
      await client.setReplicaGroups(int(flags, "gid", "group id"), str(flags, "addr"), flags.enable === true);
      break;
    }
    case "promote-server":
      await client.promoteServer(int(flags, "gid", "group id"), str(flags, "addr"));
      printGroupStatus(await client.stats(), io);
      return;
    case "sync-action": {
      if (flags.create === flags.remove) throw new UsageError("--sync-action needs --create or --remove");
      const addr = str(flags, "addr");
      if (flags.create) await client.createSyncAction(addr);
      else await client.removeSyncAction(addr);
      break;
    }
    case "sentinel-add":
      await client.addSentinel(str(flags, "addr"));
      break;
    case "sentinel-del":
      await client.delSentinel(str(flags, "addr"), flags.force === true);
      break;
    case "sentinel-resync":
      await client.resyncSentinels();
      break;
  }
  io.out("done");
}

/** The parts of the raw overview that are printed as they came. */
interface RawOverview {
  stats: { proxy: { models: unknown[] }; group: { models: unknown[] } };
}

function pickProxies(models: TopomStats["proxy"]["models"], flags: DashboardFlags) {
  const by = ["addr", "token", "pid"].filter((f) => flags[f] !== undefined);
  if (by.length !== 1) throw new UsageError("choose the proxy with one of --addr, --token, --pid");
  const v = flags[by[0]];
  return models.filter((p) =>
    by[0] === "addr" ? p.admin_addr === v : by[0] === "token" ? p.token === v : String(p.id) === v
  );
}

function printGroupStatus(s: TopomStats, io: Output): void {
  for (const g of s.group.models) {
    g.servers.forEach((srv, i) => {
      const st = s.group.stats[srv.server];
      let mark = " ";
      let link = "";
      if (!st) mark = "?";
      else if (st.timeout) mark = "T";
      else if (st.error) mark = "E";
      else {
        const info = st.stats ?? {};
        const master = info.master_addr ?? "";
        link = master ? `${master}:${info.master_link_status ?? "?"}` : "NO:ONE";
        const expected = i === 0 ? "" : g.servers[0].server;
        if (master !== expected || (master && info.master_link_status !== "up")) mark = "X";
      }
      const note = st?.stats?.sync_note ? `  (${st.stats.sync_note})` : "";
      io.out(`[${mark}] group-${g.id} [${i}] ${srv.server} ==> ${link || "?"}${note}`);
    });
  }
}

function printActionStatus(s: TopomStats, io: Output): void {
  const a = s.slot_action;
  const m = a.migration;
  io.out(
    `actions: ${a.disabled ? "disabled" : "enabled"}, interval ${a.interval} µs, executors ${a.executor}` +
      `, ${m.keys_moved} keys moved, ${m.keys_per_second} keys/s`,
  );
  if (a.progress.status) io.out(`last: ${a.progress.status}`);
  const big = m.big_key;
  if (big) {
    io.out(
      `big key ${JSON.stringify(big.key)} (${big.type}, db ${big.db}, slot ${big.slot}) moving in pieces: ` +
        `${big.copied} of ${big.total} elements, ${big.seconds}s; writes to it wait`,
    );
  }
  const moving = new Map(m.slots.map((x) => [x.slot, x]));
  const actions = s.slots.filter((x) => x.action.state).sort((x, y) => (x.action.index ?? 0) - (y.action.index ?? 0));
  for (const x of actions) {
    const p = moving.get(x.id);
    const progress = p ? `  moved ${p.moved}, ~${p.remaining} left, ${p.seconds}s` : "";
    io.out(
      `slot-${
        pad(x.id)
      } group-${x.group_id} => group-${x.action.target_id} [${x.action.index}] ${x.action.state}${progress}`,
    );
  }
  if (actions.length === 0) io.out("no slot actions");
}
