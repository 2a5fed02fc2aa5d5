/**
 * Pure queries over one snapshot of the product's state (Codis's `pkg/topom/context.go`): how
 * each proxy should see a slot, who is a group's master, which group is in use, which actions
 * come next. Nothing here writes, waits or talks to a server, so every rule can be unit-tested
 * per state without servers.
 *
 * A {@linkcode Context} reads the snapshot it was given and never changes it; a mutation that
 * needs to see a state before storing it builds a new context with {@linkcode Context.withGroup}.
 *
 * @module
 */

import {
  ACTION_FINISHED,
  ACTION_MIGRATING,
  ACTION_PENDING,
  ACTION_PREPARED,
  ACTION_PREPARING,
  FORWARD_SEMI_ASYNC,
  FORWARD_SYNC,
  type GroupModel,
  type GroupServer,
  offlineSlot,
  type SentinelModel,
  type SlotMapping,
  type SlotSpec,
  SYNC_PENDING,
} from "../coord/models.ts";
import type { StoredProxy } from "../coord/store.ts";
import { parseAddr } from "../utils/addr.ts";
import { assertNever } from "../utils/errors.ts";

/** The product's state as the dashboard holds it. */
export interface Snapshot {
  /** All 1024 slots, by id. */
  readonly slots: readonly SlotMapping[];
  readonly groups: ReadonlyMap<number, GroupModel>;
  /** Proxies by token. */
  readonly proxies: ReadonlyMap<string, StoredProxy>;
  readonly sentinel: SentinelModel;
  /** Big keys moving in pieces, and those being copied now (base64), by slot. */
  readonly held?: ReadonlyMap<number, { readonly held: readonly string[]; readonly moving: readonly string[] }>;
}

/** The settings the queries depend on (from `dashboard.toml`). */
export interface ContextSettings {
  /** `sync` or `semi-async`: each slot's forward method. */
  readonly migrationMethod: string;
  /** Most slots in one batch of the slot-action scheduler. */
  readonly migrationParallelSlots: number;
}

/** Where a server sits: its group and its index there (0 = master). */
export interface ServerPlace {
  readonly group: GroupModel;
  readonly index: number;
}

/** Queries over one snapshot. */
export class Context {
  readonly snapshot: Snapshot;
  readonly settings: ContextSettings;

  constructor(snapshot: Snapshot, settings: ContextSettings) {
    this.snapshot = snapshot;
    this.settings = settings;
  }

  /** The same queries over a snapshot where group `g` replaces the stored one. */
  withGroup(g: GroupModel): Context {
    const groups = new Map(this.snapshot.groups);
    groups.set(g.id, g);
    return new Context({ ...this.snapshot, groups }, this.settings);
  }

  // --- groups and servers ------------------------------------------------------------------------

  /** The master of group `gid` ("" when the group is missing or empty). */
  master(gid: number): string {
    return this.snapshot.groups.get(gid)?.servers[0]?.addr ?? "";
  }

  /** Every group's master (`gid → addr`), groups without servers left out (Codis's `getGroupMasters`). */
  groupMasters(): Map<number, string> {
    const out = new Map<number, string>();
    for (const g of this.snapshot.groups.values()) if (g.servers.length > 0) out.set(g.id, g.servers[0].addr);
    return out;
  }

  /** True while group `gid` is being promoted. */
  isPromoting(gid: number): boolean {
    return !!this.snapshot.groups.get(gid)?.promoting.state;
  }

  /**
   * True while a promotion of `gid` holds its slots locked on every proxy: from the moment every
   * proxy has locked them (prepared) until the new master is in place (Codis's `isGroupLocked`).
   */
  isGroupLocked(gid: number): boolean {
    return this.snapshot.groups.get(gid)?.promoting.state === ACTION_PREPARED;
  }

  /** The group holding the server at `addr` and its index there, or null. */
  serverPlace(addr: string): ServerPlace | null {
    for (const group of this.snapshot.groups.values()) {
      const index = group.servers.findIndex((s) => s.addr === addr);
      if (index >= 0) return { group, index };
    }
    return null;
  }

  /** True when some slot belongs to group `gid` or is moving to it. */
  isGroupInUse(gid: number): boolean {
    return this.snapshot.slots.some((m) => m.groupId === gid || m.action.targetId === gid);
  }

  /** The slots that belong to group `gid` or are moving to it. */
  groupSlots(gid: number): SlotMapping[] {
    return this.snapshot.slots.filter((m) => m.groupId === gid || m.action.targetId === gid);
  }

  /** Every server address of every group. */
  serverAddrs(): string[] {
    return [...this.snapshot.groups.values()].flatMap((g) => g.servers.map((s) => s.addr));
  }

  /**
   * Replicas that may serve reads of group `gid`, by priority for `proxy`: same host, then same
   * datacenter, then the others (Codis's `toReplicaGroups`). None while the group is promoting.
   */
  replicaGroups(gid: number, proxy?: StoredProxy): string[][] {
    const g = this.snapshot.groups.get(gid);
    if (!g || g.promoting.state || g.servers.length <= 1) return [];
    const dc = proxy?.model.datacenter ?? "";
    const proxyHost = proxy ? hostOf(proxy.model.adminAddr) : "";
    const tiers: string[][] = [[], [], []];
    for (const s of g.servers) {
      if (!s.replicaGroup) continue;
      let tier = 2;
      if (proxyHost && dc === s.datacenter) tier = hostOf(s.addr) === proxyHost ? 0 : 1;
      tiers[tier].push(s.addr);
    }
    return tiers.filter((t) => t.length > 0);
  }

  // --- slots ----------------------------------------------------------------------------------

  /** How `proxy` (or a proxy in no datacenter) must see slot mapping `m` (Codis's `toSlot`). */
  slotSpec(m: SlotMapping, proxy?: StoredProxy): SlotSpec {
    const s = offlineSlot(m.id);
    s.forwardMethod = this.settings.migrationMethod === "sync" ? FORWARD_SYNC : FORWARD_SEMI_ASYNC;
    const from = m.groupId;
    const to = m.action.targetId;
    const state = m.action.state;
    switch (state) {
      case "":
      case ACTION_PENDING:
        s.locked = this.isGroupLocked(from);
        s.backendAddr = this.master(from);
        s.backendAddrGroupId = from;
        s.replicaGroups = this.replicaGroups(from, proxy);
        break;
      case ACTION_PREPARING:
        s.locked = this.isGroupLocked(from);
        s.backendAddr = this.master(from);
        s.backendAddrGroupId = from;
        break;
      case ACTION_PREPARED:
        // The barrier: every proxy holds the slot's requests until it forwards from the source.
        s.locked = true;
        s.backendAddr = this.master(to);
        s.backendAddrGroupId = to;
        s.migrateFrom = this.master(from);
        s.migrateFromGroupId = from;
        this.#addHeld(s);
        break;
      case ACTION_MIGRATING:
        s.locked = this.isGroupLocked(from) || this.isGroupLocked(to);
        s.backendAddr = this.master(to);
        s.backendAddrGroupId = to;
        s.migrateFrom = this.master(from);
        s.migrateFromGroupId = from;
        this.#addHeld(s);
        break;
      case ACTION_FINISHED:
        s.locked = this.isGroupLocked(to);
        s.backendAddr = this.master(to);
        s.backendAddrGroupId = to;
        break;
      default:
        assertNever(state);
    }
    if (!s.backendAddr) s.backendAddrGroupId = 0;
    if (!s.migrateFrom) s.migrateFromGroupId = 0;
    return s;
  }

  /** The big keys the proxies hold for this migrating slot, if any. */
  #addHeld(s: SlotSpec): void {
    const h = this.snapshot.held?.get(s.id);
    if (h && h.held.length > 0) s.heldKeys = [...h.held];
    if (h && h.moving.length > 0) s.movingKeys = [...h.moving];
  }

  /** Specs of `mappings` (default: all 1024 slots) as `proxy` must see them. */
  slotSpecs(mappings: readonly SlotMapping[] = this.snapshot.slots, proxy?: StoredProxy): SlotSpec[] {
    return mappings.map((m) => this.slotSpec(m, proxy));
  }

  /** Masters of a migrating slot: where keys come from and go to ("" = no server). */
  migrationEnds(m: SlotMapping): { from: string; to: string } {
    return { from: this.master(m.groupId), to: this.master(m.action.targetId) };
  }

  /** The index the next slot action gets (after every stored one). */
  nextActionIndex(): number {
    let max = 0;
    for (const m of this.snapshot.slots) max = Math.max(max, m.action.index);
    return max + 1;
  }

  /**
   * Slots to work on next: in-progress actions first, by index, then (unless `pendingDisabled`)
   * pending ones by index; at most `migration_parallel_slots`; none whose source or target group
   * is promoting. Unlike Codis, slots that share a source or target group go in one batch: the
   * mover scans each source once for the whole batch.
   */
  actionBatch(pendingDisabled: boolean): SlotMapping[] {
    const withAction = this.snapshot.slots.filter((m) => m.action.state).sort((a, b) =>
      a.action.index - b.action.index
    );
    const batch: SlotMapping[] = [];
    const take = (m: SlotMapping) => {
      if (batch.length >= this.settings.migrationParallelSlots) return;
      if (this.isPromoting(m.groupId) || this.isPromoting(m.action.targetId)) return;
      batch.push(m);
    };
    for (const m of withAction) if (m.action.state !== ACTION_PENDING) take(m);
    if (!pendingDisabled) { for (const m of withAction) if (m.action.state === ACTION_PENDING) take(m); }
    return batch;
  }

  // --- sync actions ---------------------------------------------------------------------------

  /** The index the next sync action gets. */
  nextSyncActionIndex(): number {
    let max = 0;
    for (const g of this.snapshot.groups.values()) for (const s of g.servers) max = Math.max(max, s.action.index);
    return max + 1;
  }

  /** The pending sync action with the smallest index, in a group that is not promoting; null if none. */
  nextSyncAction(): { group: GroupModel; index: number; server: GroupServer } | null {
    let best: { group: GroupModel; index: number; server: GroupServer } | null = null;
    for (const group of this.snapshot.groups.values()) {
      if (group.promoting.state) continue;
      group.servers.forEach((server, index) => {
        if (server.action.state === SYNC_PENDING && (!best || server.action.index < best.server.action.index)) {
          best = { group, index, server };
        }
      });
    }
    return best;
  }

  // --- proxies --------------------------------------------------------------------------------

  /** The id the next registered proxy gets. */
  nextProxyId(): number {
    let max = 0;
    for (const p of this.snapshot.proxies.values()) max = Math.max(max, p.id);
    return max + 1;
  }
}

/** The host of an address, or "" when it cannot be parsed. */
function hostOf(addr: string): string {
  try {
    return parseAddr(addr).host;
  } catch {
    return "";
  }
}
