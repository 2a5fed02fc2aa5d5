/**
 * Groups and their servers, with Codis's rules and texts (`pkg/topom/topom_group.go`): create and
 * remove groups, add and delete servers, replica-group flags, resync, and the manual failover
 * (promote a replica).
 *
 * @module
 */

import {
  ACTION_FINISHED,
  ACTION_PREPARED,
  ACTION_PREPARING,
  type GroupModel,
  type PromotingState,
} from "../coord/models.ts";
import { RedisClient } from "../redis/redis_client.ts";
import { conflict, errorMessage, invalid, notFound, upstream } from "../utils/errors.ts";
import { log } from "../utils/log.ts";
import { replicaOf } from "./sync_actions.ts";
import { checkAddr, checkGroupId, type Topom } from "./topom.ts";
import { parseInfo } from "../redis/redis_client.ts";

/** What the group mutations need from the rest of the dashboard. */
export interface GroupsHost {
  /** Slots being moved by the mover right now (a promotion waits for none). */
  migrationsRunning(): number;
  /** A server left the product: forget what was noted about it. */
  forgetServer(addr: string): void;
  /** Prepares a server being added (creates the proxies' ACL user); `runId` from its INFO. */
  prepareServer(client: RedisClient, runId: string): Promise<void>;
  /** Before a manual promotion: the sentinels stop monitoring the group, the proxies forget its master. */
  forgetSentinelGroup(gid: number): Promise<void>;
}

/** How long probing a new server may take. */
const PROBE_TIMEOUT_MS = 2000;

/** The group mutations of one dashboard. */
export class Groups {
  #t: Topom;
  #host: GroupsHost;

  constructor(topom: Topom, host: GroupsHost) {
    this.#t = topom;
    this.#host = host;
  }

  create(gid: number): Promise<void> {
    const t = this.#t;
    return t.exclusive(async () => {
      checkGroupId(gid);
      if (t.ctx().snapshot.groups.has(gid)) throw conflict(`group-[${gid}] already exists`);
      await t.storeGroup({ id: gid, servers: [], promoting: { index: 0, state: "" }, outOfSync: false });
    });
  }

  remove(gid: number): Promise<void> {
    const t = this.#t;
    return t.exclusive(async () => {
      const g = t.group(gid);
      if (g.servers.length > 0) throw invalid(`group-[${gid}] isn't empty`);
      await t.deleteGroup(gid);
    });
  }

  /** Adds a server after checking that it is a Redis server answering with product_auth. */
  addServer(gid: number, addr: string, datacenter = ""): Promise<void> {
    const t = this.#t;
    return t.exclusive(async () => {
      checkAddr(addr, "server");
      const g = notPromoting(t.group(gid));
      const place = t.ctx().serverPlace(addr);
      if (place) throw conflict(`server-[${addr}] already exists in group-[${place.group.id}]`);
      await this.#probeServer(addr);
      g.servers.push({ addr, datacenter, action: { index: 0, state: "" }, replicaGroup: false });
      await t.storeGroup(g);
      await t.sentinelOutOfSync();
    });
  }

  delServer(gid: number, addr: string): Promise<void> {
    const t = this.#t;
    return t.exclusive(async () => {
      checkAddr(addr, "server");
      const g = notPromoting(t.group(gid));
      const index = g.servers.findIndex((s) => s.addr === addr);
      if (index < 0) throw notFound(`server-[${addr}] doesn't exist`);
      if (index === 0 && (g.servers.length !== 1 || t.ctx().isGroupInUse(gid))) {
        throw invalid(`group-[${gid}] can't remove master, still in use`);
      }
      const [removed] = g.servers.splice(index, 1);
      if (removed.replicaGroup) g.outOfSync = true;
      await t.storeGroup(g);
      this.#host.forgetServer(addr);
      await t.sentinelOutOfSync();
    });
  }

  /** Lets a server serve reads for the group's slots (or stops it); proxies see it after a resync. */
  setReplicaGroups(gid: number, addr: string, value: boolean): Promise<void> {
    const t = this.#t;
    return t.exclusive(async () => {
      checkAddr(addr, "server");
      const g = notPromoting(t.group(gid));
      const s = g.servers.find((x) => x.addr === addr);
      if (!s) throw notFound(`server-[${addr}] doesn't exist`);
      s.replicaGroup = value;
      if (g.servers.length > 1 && t.ctx().isGroupInUse(gid)) g.outOfSync = true;
      await t.storeGroup(g);
    });
  }

  /** {@linkcode setReplicaGroups} for every server of every group. */
  setReplicaGroupsAll(value: boolean): Promise<void> {
    const t = this.#t;
    return t.exclusive(async () => {
      const groups = t.groups();
      for (const g of groups) notPromoting(g);
      for (const g of groups) {
        if (g.servers.every((s) => s.replicaGroup === value)) continue;
        for (const s of g.servers) s.replicaGroup = value;
        if (g.servers.length > 1 && t.ctx().isGroupInUse(g.id)) g.outOfSync = true;
        await t.storeGroup(g);
      }
    });
  }

  /** Pushes every slot of the group (as owner or target) to every proxy; clears out_of_sync. */
  resync(gid: number): Promise<void> {
    const t = this.#t;
    return t.exclusive(async () => {
      const g = notPromoting(t.group(gid));
      await t.pushSlots(t.ctx().groupSlots(gid));
      g.outOfSync = false;
      await t.storeGroup(g);
    });
  }

  /** Pushes every slot to every proxy; clears every group's out_of_sync. */
  resyncAll(): Promise<void> {
    const t = this.#t;
    return t.exclusive(async () => {
      const groups = t.groups();
      for (const g of groups) notPromoting(g);
      await t.pushSlots(t.ctx().snapshot.slots);
      for (const g of groups) if (g.outOfSync) await t.storeGroup({ ...g, outOfSync: false });
    });
  }

  /**
   * Makes a replica the group's master (Codis's manual failover): preparing (stored) → prepared
   * (the group's slots locked on every proxy, then stored) → finished (servers reordered with the
   * new master first, `REPLICAOF NO ONE` on it) → done (slots pushed unlocked to the new master).
   * A promotion stopped at any step is resumed by calling again with the same server.
   */
  promote(gid: number, addr: string): Promise<void> {
    const t = this.#t;
    return t.exclusive(async () => {
      checkAddr(addr, "server");
      let g = t.group(gid);
      const index = g.servers.findIndex((s) => s.addr === addr);
      if (!g.promoting.state) {
        if (index < 0) throw notFound(`server-[${addr}] doesn't exist`);
        if (index === 0) throw invalid(`group-[${gid}] can't promote master`);
        const running = this.#host.migrationsRunning();
        if (running > 0) throw invalid(`slots-migration is running = ${running}`);
        g = withPromoting(g, index, ACTION_PREPARING);
        await t.storeGroup(g);
      } else if (g.servers[g.promoting.index]?.addr !== addr && g.promoting.state !== ACTION_FINISHED) {
        throw invalid(`group-[${gid}] is promoting`);
      }
      const slots = t.ctx().groupSlots(gid);

      if (g.promoting.state === ACTION_PREPARING) {
        // Lock the group's slots on every proxy; if any proxy cannot, unlock them everywhere.
        const prepared = withPromoting(g, g.promoting.index, ACTION_PREPARED);
        try {
          await t.pushSlots(slots, t.ctx().withGroup(prepared));
        } catch (e) {
          await this.#rollback(gid, e);
        }
        g = prepared;
        await t.storeGroup(g);
      }

      if (g.promoting.state === ACTION_PREPARED) {
        // Sentinels would fail the group back to the master they know: they let it go first.
        await this.#host.forgetSentinelGroup(gid);
        const promoted = g.servers[g.promoting.index];
        const others = g.servers.filter((_, i) => i !== 0 && i !== g.promoting.index);
        g = {
          ...g,
          servers: [promoted, ...others, g.servers[0]].map((s) => ({ ...s, action: { index: 0, state: "" } })),
          promoting: { index: 0, state: ACTION_FINISHED },
        };
        await t.storeGroup(g);
        await t.sentinelOutOfSync();
        try {
          await replicaOf(t.connectServer, { addr: promoted.addr, master: "", productAuth: t.config.productAuth });
        } catch (e) {
          // Codis goes on too: the new master is in place for every proxy either way.
          log.warn(`promote: REPLICAOF NO ONE on ${promoted.addr} failed: ${errorMessage(e)}`);
        }
      }

      if (g.promoting.state === ACTION_FINISHED) {
        const done: GroupModel = { ...g, promoting: { index: 0, state: "" }, outOfSync: false };
        await t.pushSlots(slots, t.ctx().withGroup(done));
        await t.storeGroup(done);
      }
    });
  }

  /** A failed lock push of a promotion: pushes the slots unlocked again; says so if that fails too. */
  async #rollback(gid: number, cause: unknown): Promise<never> {
    const t = this.#t;
    try {
      await t.pushSlots(t.ctx().groupSlots(gid));
    } catch (e) {
      log.error(`promote group-[${gid}]: unlocking its slots failed too: ${errorMessage(e)}`);
      throw upstream(
        `${errorMessage(cause)}; unlocking the slots of group-[${gid}] failed too (${errorMessage(e)}): ` +
          `retry the promotion, or remove the unreachable proxy with force`,
        { cause },
      );
    }
    throw cause;
  }

  /** Checks that a Redis server answers PING and INFO with product_auth (Codis asked for SLOTSINFO). */
  async #probeServer(addr: string): Promise<void> {
    let client: RedisClient | null = null;
    try {
      client = await this.#t.connectServer(addr, { connectTimeoutMs: PROBE_TIMEOUT_MS, timeoutMs: PROBE_TIMEOUT_MS });
      await client.call("PING");
      const info = parseInfo(String(await client.call("INFO", "server")));
      if (!info.redis_version) throw new Error("INFO has no redis_version");
      await this.#host.prepareServer(client, info.run_id ?? "");
    } catch (e) {
      throw upstream(`server-[${addr}] is not a usable Redis server: ${errorMessage(e)}`, { cause: e });
    } finally {
      await client?.close();
    }
  }
}

/** `g` itself, unless it is promoting (`group-[N] is promoting`). */
function notPromoting(g: GroupModel): GroupModel {
  if (g.promoting.state) throw invalid(`group-[${g.id}] is promoting`);
  return g;
}

function withPromoting(g: GroupModel, index: number, state: PromotingState): GroupModel {
  return { ...g, promoting: { index, state } };
}
