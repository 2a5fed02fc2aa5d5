/**
 * codis-admin's proxy forms (`--proxy=ADDR`): overview parts, start, shutdown, log level,
 * fillslots, reset stats, forcegc, reload.
 *
 * @module
 */

import { slotsFromJson } from "../coord/models.ts";
import { ProxyAdminClient } from "../api/proxy_client.ts";
import { UsageError } from "../utils/program.ts";
import type { Output } from "./offline.ts";
import { toCodisJson } from "../utils/json.ts";
import { errorMessage } from "../utils/errors.ts";

export interface ProxyFlags {
  proxy: string;
  auth?: string;
  start?: boolean;
  shutdown?: boolean;
  "log-level"?: string;
  fillslots?: string;
  locked?: boolean;
  "reset-stats"?: boolean;
  forcegc?: boolean;
  reload?: boolean;
}

const PARTS = ["config", "model", "stats", "slots"];

export async function proxyCommand(flags: ProxyFlags, positionals: string[], io: Output): Promise<void> {
  const actions = (["start", "shutdown", "log-level", "fillslots", "reset-stats", "forcegc", "reload"] as const).filter(
    (
      f,
    ) => flags[f] !== undefined && flags[f] !== false,
  );
  if (actions.length > 1) throw new UsageError(`give one of ${actions.map((a) => `--${a}`).join(", ")}, not several`);
  if (flags.locked && actions[0] !== "fillslots") throw new UsageError("--locked goes with --fillslots");

  if (actions.length === 0) {
    if (positionals.length > 1) throw new UsageError(`give one part of ${PARTS.join("|")}, not several`);
    const part = positionals[0];
    if (part !== undefined && !PARTS.includes(part)) {
      throw new UsageError(`unknown part "${part}": use ${PARTS.join(", ")}`);
    }
    const overview = await new ProxyAdminClient(flags.proxy, "", 10_000).rawOverview() as Record<string, unknown>;
    io.out(toCodisJson(part ? overview[part] : overview));
    return;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);

  const client = await ProxyAdminClient.forProxy(flags.proxy, flags.auth ?? "", 10_000);
  try {
    await client.xping();
  } catch (e) {
    throw new Error(
      `proxy ${flags.proxy} refused the xauth (is --auth its admin_auth, or its product_auth when it has none?): ${
        errorMessage(e)
      }`,
    );
  }
  switch (actions[0]) {
    case "start":
      await client.start();
      break;
    case "shutdown":
      await client.shutdown();
      break;
    case "log-level":
      await client.setLogLevel(flags["log-level"]!);
      break;
    case "reset-stats":
      await client.resetStats();
      break;
    case "forcegc":
      await client.forceGC();
      break;
    case "reload": {
      const r = await client.reload();
      io.out(toCodisJson({ applied: r.applied, new_sessions: r.newSessions, restart: r.restart }));
      return;
    }
    case "fillslots": {
      let text: string;
      try {
        text = await Deno.readTextFile(flags.fillslots!);
      } catch (e) {
        throw new Error(`cannot read ${flags.fillslots}: ${errorMessage(e)}`, { cause: e });
      }
      let slots;
      try {
        slots = slotsFromJson(JSON.parse(text));
      } catch (e) {
        throw new Error(`${flags.fillslots}: ${errorMessage(e)}`, { cause: e });
      }
      if (flags.locked) { for (const s of slots) s.locked = true; }
      await client.fillSlots(slots);
      break;
    }
  }
  io.out("done");
}
