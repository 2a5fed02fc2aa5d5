/**
 * Codis's models and their JSON, field for field (Codis's `pkg/models/*.go`).
 *
 * TypeScript code uses camelCase properties; Codis's wire names (`backend_addr`, `group_id`)
 * appear only in the `…FromJson` / `…ToJson` functions here.
 *
 * @module
 */

import { MAX_SLOT_NUM } from "../redis/slot_hash.ts";

/** A JSON value that does not have the expected shape. */
export class ModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelError";
  }
}

/** Forwarding method of a migrating slot: Codis's `forward_method` (0 = sync, 1 = semi-async). */
export const FORWARD_SYNC = 0;
export const FORWARD_SEMI_ASYNC = 1;

/**
 * A slot as a proxy sees it (Codis's `models.Slot`): where requests go, and where keys come from
 * while the slot migrates.
 */
export interface SlotSpec {
  id: number;
  /** Requests for the slot wait while it is locked (during a migration's preparation). */
  locked: boolean;
  /** Master that serves the slot ("" = offline). */
  backendAddr: string;
  backendAddrGroupId: number;
  /** Master the slot's keys are moving from ("" = not migrating). */
  migrateFrom: string;
  migrateFromGroupId: number;
  forwardMethod: number;
  /** Replicas that may serve reads, in priority order. */
  replicaGroups: string[][];
}

/** An offline slot. */
export function offlineSlot(id: number): SlotSpec {
  return {
    id,
    locked: false,
    backendAddr: "",
    backendAddrGroupId: 0,
    migrateFrom: "",
    migrateFromGroupId: 0,
    forwardMethod: FORWARD_SYNC,
    replicaGroups: [],
  };
}

function field<T extends string | number | boolean>(
  obj: Record<string, unknown>,
  key: string,
  fallback: T,
  what: string,
): T {
  const v = obj[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== typeof fallback) throw new ModelError(`Bad ${what}: "${key}" must be a ${typeof fallback}`);
  return v as T;
}

/** Parses one Slot object of Codis's JSON. */
export function slotFromJson(json: unknown): SlotSpec {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ModelError("Bad slot: expected a JSON object");
  }
  const o = json as Record<string, unknown>;
  const id = o.id;
  if (typeof id !== "number" || !Number.isInteger(id)) throw new ModelError(`Bad slot: "id" must be an integer`);
  if (id < 0 || id >= MAX_SLOT_NUM) {
    throw new ModelError(`Bad slot: invalid slot id = ${id}, out of range [0,${MAX_SLOT_NUM})`);
  }
  const what = `slot-${String(id).padStart(4, "0")}`;
  const replicas = o.replica_groups ?? [];
  if (!Array.isArray(replicas) || !replicas.every((g) => Array.isArray(g) && g.every((a) => typeof a === "string"))) {
    throw new ModelError(`Bad ${what}: "replica_groups" must be a list of lists of addresses`);
  }
  const method = field(o, "forward_method", FORWARD_SYNC, what);
  if (method !== FORWARD_SYNC && method !== FORWARD_SEMI_ASYNC) {
    throw new ModelError(`Bad ${what}: use of invalid forwarder method = ${method}`);
  }
  return {
    id,
    locked: field(o, "locked", false, what),
    backendAddr: field(o, "backend_addr", "", what),
    backendAddrGroupId: field(o, "backend_addr_group_id", 0, what),
    migrateFrom: field(o, "migrate_from", "", what),
    migrateFromGroupId: field(o, "migrate_from_group_id", 0, what),
    forwardMethod: method,
    replicaGroups: replicas as string[][],
  };
}

/** Codis's JSON of a Slot (empty fields omitted). */
export function slotToJson(s: SlotSpec): Record<string, unknown> {
  const o: Record<string, unknown> = { id: s.id };
  if (s.locked) o.locked = true;
  if (s.backendAddr) o.backend_addr = s.backendAddr;
  if (s.backendAddrGroupId) o.backend_addr_group_id = s.backendAddrGroupId;
  if (s.migrateFrom) o.migrate_from = s.migrateFrom;
  if (s.migrateFromGroupId) o.migrate_from_group_id = s.migrateFromGroupId;
  if (s.forwardMethod) o.forward_method = s.forwardMethod;
  if (s.replicaGroups.length > 0) o.replica_groups = s.replicaGroups;
  return o;
}

/** Parses a JSON array of Slot objects (the body of fillslots, or a `--fillslots` file). */
export function slotsFromJson(json: unknown): SlotSpec[] {
  if (!Array.isArray(json)) throw new ModelError("Bad slots: expected a JSON array of slots");
  return json.map(slotFromJson);
}

/** Codis's proxy model (`/api/proxy/model`, `/codis3/{product}/proxy/proxy-{token}`). */
export interface ProxyModel {
  token: string;
  startTime: string;
  adminAddr: string;
  protoType: string;
  proxyAddr: string;
  jodisPath: string;
  productName: string;
  pid: number;
  pwd: string;
  sys: string;
  hostname: string;
  datacenter: string;
}

/** Codis's JSON of a proxy model; `id` is the dashboard's number for it (omitted when 0). */
export function proxyModelToJson(m: ProxyModel, id?: number): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (id) o.id = id;
  o.token = m.token;
  o.start_time = m.startTime;
  o.admin_addr = m.adminAddr;
  o.proto_type = m.protoType;
  o.proxy_addr = m.proxyAddr;
  if (m.jodisPath) o.jodis_path = m.jodisPath;
  o.product_name = m.productName;
  o.pid = m.pid;
  o.pwd = m.pwd;
  o.sys = m.sys;
  o.hostname = m.hostname;
  o.datacenter = m.datacenter;
  return o;
}

/** Parses Codis's JSON of a proxy model; returns the model and the dashboard's id for it (0 if none). */
export function proxyModelFromJson(json: unknown): { model: ProxyModel; id: number } {
  const o = object(json, "proxy");
  const what = `proxy ${typeof o.token === "string" ? o.token : ""}`.trim();
  const model: ProxyModel = {
    token: field(o, "token", "", what),
    startTime: field(o, "start_time", "", what),
    adminAddr: field(o, "admin_addr", "", what),
    protoType: field(o, "proto_type", "", what),
    proxyAddr: field(o, "proxy_addr", "", what),
    jodisPath: field(o, "jodis_path", "", what),
    productName: field(o, "product_name", "", what),
    pid: field(o, "pid", 0, what),
    pwd: field(o, "pwd", "", what),
    sys: field(o, "sys", "", what),
    hostname: field(o, "hostname", "", what),
    datacenter: field(o, "datacenter", "", what),
  };
  if (!model.token) throw new ModelError(`Bad proxy: "token" is missing`);
  return { model, id: integer(o, "id", what) };
}

/** The dashboard's record in the store (`/codis3/{product}/topom`): its lock and its address. */
export interface TopomModel {
  token: string;
  startTime: string;
  adminAddr: string;
  productName: string;
  pid: number;
  pwd: string;
  sys: string;
}

export function topomToJson(t: TopomModel): Record<string, unknown> {
  return {
    token: t.token,
    start_time: t.startTime,
    admin_addr: t.adminAddr,
    product_name: t.productName,
    pid: t.pid,
    pwd: t.pwd,
    sys: t.sys,
  };
}

export function topomFromJson(json: unknown): TopomModel {
  const o = object(json, "topom");
  return {
    token: field(o, "token", "", "topom"),
    startTime: field(o, "start_time", "", "topom"),
    adminAddr: field(o, "admin_addr", "", "topom"),
    productName: field(o, "product_name", "", "topom"),
    pid: field(o, "pid", 0, "topom"),
    pwd: field(o, "pwd", "", "topom"),
    sys: field(o, "sys", "", "topom"),
  };
}

/** Slot action states, in the order a migration goes through them. */
export const ACTION_PENDING = "pending";
export const ACTION_PREPARING = "preparing";
export const ACTION_PREPARED = "prepared";
export const ACTION_MIGRATING = "migrating";
export const ACTION_FINISHED = "finished";
export const ACTION_STATES = [ACTION_PENDING, ACTION_PREPARING, ACTION_PREPARED, ACTION_MIGRATING, ACTION_FINISHED];

/** Where a slot belongs (`/codis3/{product}/slots/slot-NNNN`); an absent node is an offline slot. */
export interface SlotMapping {
  id: number;
  /** 0 = offline. */
  groupId: number;
  action: { index: number; state: string; targetId: number };
}

export function offlineSlotMapping(id: number): SlotMapping {
  return { id, groupId: 0, action: { index: 0, state: "", targetId: 0 } };
}

/** True for an offline slot with no action: what an absent node means. */
export function isDefaultSlotMapping(m: SlotMapping): boolean {
  return m.groupId === 0 && m.action.index === 0 && m.action.state === "" && m.action.targetId === 0;
}

export function slotMappingToJson(m: SlotMapping): Record<string, unknown> {
  const action: Record<string, unknown> = {};
  if (m.action.index) action.index = m.action.index;
  if (m.action.state) action.state = m.action.state;
  if (m.action.targetId) action.target_id = m.action.targetId;
  return { id: m.id, group_id: m.groupId, action };
}

export function slotMappingFromJson(json: unknown): SlotMapping {
  const o = object(json, "slot mapping");
  const id = integer(o, "id", "slot mapping");
  if (id < 0 || id >= MAX_SLOT_NUM) {
    throw new ModelError(`Bad slot mapping: invalid slot id = ${id}, out of range [0,${MAX_SLOT_NUM})`);
  }
  const what = `slot-${String(id).padStart(4, "0")}`;
  const a = o.action === undefined || o.action === null ? {} : object(o.action, `${what} action`);
  const state = field(a, "state", "", what);
  if (state && !ACTION_STATES.includes(state)) throw new ModelError(`Bad ${what}: unknown action state "${state}"`);
  return {
    id,
    groupId: integer(o, "group_id", what),
    action: { index: integer(a, "index", what), state, targetId: integer(a, "target_id", what) },
  };
}

/** One server of a group; the group's first server is its master. */
export interface GroupServer {
  addr: string;
  datacenter: string;
  /** The sync (REPLICAOF) action: pending, syncing, synced, synced_failed. */
  action: { index: number; state: string };
  /** Whether the server may serve reads for other groups' slots (Codis's replica groups). */
  replicaGroup: boolean;
}

/** A group of servers (`/codis3/{product}/group/group-NNNN`). */
export interface GroupModel {
  id: number;
  servers: GroupServer[];
  promoting: { index: number; state: string };
  outOfSync: boolean;
}

export const MAX_GROUP_ID = 9999;

export function groupToJson(g: GroupModel): Record<string, unknown> {
  return {
    id: g.id,
    servers: g.servers.map((s) => ({
      server: s.addr,
      datacenter: s.datacenter,
      action: indexState(s.action),
      replica_group: s.replicaGroup,
    })),
    promoting: indexState(g.promoting),
    out_of_sync: g.outOfSync,
  };
}

export function groupFromJson(json: unknown): GroupModel {
  const o = object(json, "group");
  const id = integer(o, "id", "group");
  const what = `group-${String(id).padStart(4, "0")}`;
  const servers = o.servers ?? [];
  if (!Array.isArray(servers)) throw new ModelError(`Bad ${what}: "servers" must be a list`);
  return {
    id,
    servers: servers.map((sj) => {
      const so = object(sj, `${what} server`);
      const addr = field(so, "server", "", what);
      const action = so.action === undefined || so.action === null ? {} : object(so.action, `${what} ${addr} action`);
      return {
        addr,
        datacenter: field(so, "datacenter", "", what),
        action: { index: integer(action, "index", what), state: field(action, "state", "", what) },
        replicaGroup: field(so, "replica_group", false, what),
      };
    }),
    promoting: readIndexState(o.promoting, `${what} promoting`),
    outOfSync: field(o, "out_of_sync", false, what),
  };
}

/** The sentinels (`/codis3/{product}/sentinel`). */
export interface SentinelModel {
  servers: string[];
  outOfSync: boolean;
}

export function sentinelToJson(s: SentinelModel): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (s.servers.length > 0) o.servers = s.servers;
  o.out_of_sync = s.outOfSync;
  return o;
}

export function sentinelFromJson(json: unknown): SentinelModel {
  const o = object(json, "sentinel");
  const servers = o.servers ?? [];
  if (!Array.isArray(servers) || !servers.every((a) => typeof a === "string")) {
    throw new ModelError(`Bad sentinel: "servers" must be a list of addresses`);
  }
  return { servers: servers as string[], outOfSync: field(o, "out_of_sync", false, "sentinel") };
}

function indexState(a: { index: number; state: string }): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (a.index) o.index = a.index;
  if (a.state) o.state = a.state;
  return o;
}

function readIndexState(json: unknown, what: string): { index: number; state: string } {
  const o = json === undefined || json === null ? {} : object(json, what);
  return { index: integer(o, "index", what), state: field(o, "state", "", what) };
}

function object(json: unknown, what: string): Record<string, unknown> {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ModelError(`Bad ${what}: expected a JSON object`);
  }
  return json as Record<string, unknown>;
}

function integer(o: Record<string, unknown>, key: string, what: string): number {
  const v = field(o, key, 0, what);
  if (!Number.isSafeInteger(v)) throw new ModelError(`Bad ${what}: "${key}" must be an integer`);
  return v;
}
