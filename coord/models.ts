/**
 * Codis's models and their JSON, field for field (Codis's `pkg/models/*.go`).
 *
 * Each model's JSON is declared once, as a schema of its wire form (Codis's field names, which
 * fields may be absent): the schema validates what arrives from the store or another program and
 * gives the TypeScript type, in camelCase, that the code uses. Codis's wire names (`backend_addr`,
 * `group_id`) appear only here, in the schemas and in the `…ToJson` functions that write them
 * back with Codis's rules for omitting empty fields.
 *
 * @module
 */

import * as v from "valibot";
import { MAX_SLOT_NUM } from "../redis/slot_hash.ts";
import { describeIssue } from "../utils/schema.ts";

/** A JSON value that does not have the expected shape. */
export class ModelError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ModelError";
  }
}

// --- schema building blocks ------------------------------------------------------------------

const Str = v.string("must be a string");
const Bool = v.boolean("must be true or false");
const Int = v.pipe(v.number("must be a number"), v.safeInteger("must be an integer"));
/** A field that may be absent or null in Codis's JSON (Go's zero value). */
function opt<T extends v.GenericSchema>(schema: T, fallback: v.InferOutput<T>) {
  return v.nullish(schema, fallback as never);
}
/** An object field that may be absent or null: parsed as `{}`. */
function optObject<T extends v.ObjectEntries>(entries: T) {
  return v.nullish(v.object(entries, "must be an object"), {} as never);
}

/**
 * Parses `json` with `schema`; a mismatch is a {@linkcode ModelError} naming the field:
 * `Bad slot-0003: "forward_method" must be an integer`.
 */
export function parseModel<T extends v.GenericSchema>(
  schema: T,
  json: unknown,
  what: string | ((json: unknown) => string),
): v.InferOutput<T> {
  const result = v.safeParse(schema, json);
  if (result.success) return result.output;
  const name = typeof what === "string" ? what : what(json);
  throw new ModelError(`Bad ${name}: ${describeIssue(result.issues[0])}`);
}

// --- slots as proxies see them -----------------------------------------------------------------

/** Forwarding method of a migrating slot: Codis's `forward_method` (0 = sync, 1 = semi-async). */
export const FORWARD_SYNC = 0;
export const FORWARD_SEMI_ASYNC = 1;

const slotOutOfRange = (issue: v.BaseIssue<unknown>) => `invalid slot id = ${issue.input}, out of range`;
const SlotId = v.pipe(Int, v.minValue(0, slotOutOfRange), v.maxValue(MAX_SLOT_NUM - 1, slotOutOfRange));

/** Codis's JSON of a Slot (`models.Slot`), as fillslots sends it and `/proxy/slots` shows it. */
export const SlotJsonSchema = v.object({
  id: SlotId,
  locked: opt(Bool, false),
  backend_addr: opt(Str, ""),
  backend_addr_group_id: opt(Int, 0),
  migrate_from: opt(Str, ""),
  migrate_from_group_id: opt(Int, 0),
  forward_method: opt(
    v.picklist([FORWARD_SYNC, FORWARD_SEMI_ASYNC], "use of invalid forwarder method"),
    FORWARD_SYNC,
  ),
  replica_groups: opt(v.array(v.array(Str), "must be a list of lists of addresses"), []),
  switched: opt(Bool, false),
  /** Big keys the dashboard moves in pieces (base64): served by the source, never MIGRATEd (our addition). */
  held_keys: opt(v.array(Str, "must be a list of base64 keys"), []),
  /** Those of them being copied now: writes to them wait (our addition). */
  moving_keys: opt(v.array(Str, "must be a list of base64 keys"), []),
}, "must be a JSON object");

/** The wire form of a Slot, as written by {@linkcode slotToJson}. */
export type SlotJson = v.InferInput<typeof SlotJsonSchema>;

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
  /** Re-pointed by the proxy to the master its sentinels reported (until the dashboard pushes the slot again). */
  switched?: boolean;
  /**
   * Big keys of a migrating slot that the dashboard moves in pieces (base64 of their bytes): a
   * proxy never MIGRATEs them and serves them from the source until a later fill drops them.
   */
  heldKeys?: string[];
  /** Those of {@linkcode heldKeys} being copied now: writes to them wait; reads go to the source while the key is there. */
  movingKeys?: string[];
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

function slotWhat(json: unknown): string {
  const id = (json as { id?: unknown } | null)?.id;
  return typeof id === "number" && Number.isInteger(id) && id >= 0 ? `slot-${String(id).padStart(4, "0")}` : "slot";
}

/** A Slot's JSON, validated and read into a {@linkcode SlotSpec}. */
export const SlotSchema = v.pipe(
  SlotJsonSchema,
  v.transform((o): SlotSpec => ({
    id: o.id,
    locked: o.locked,
    backendAddr: o.backend_addr,
    backendAddrGroupId: o.backend_addr_group_id,
    migrateFrom: o.migrate_from,
    migrateFromGroupId: o.migrate_from_group_id,
    forwardMethod: o.forward_method,
    replicaGroups: o.replica_groups,
    switched: o.switched,
    ...(o.held_keys.length > 0 ? { heldKeys: o.held_keys } : {}),
    ...(o.moving_keys.length > 0 ? { movingKeys: o.moving_keys } : {}),
  })),
);

/** A JSON array of Slots (the body of fillslots, a `--fillslots` file). */
export const SlotListSchema = v.array(SlotSchema, "expected a JSON array of slots");

/** Parses one Slot object of Codis's JSON. */
export function slotFromJson(json: unknown): SlotSpec {
  return parseModel(SlotSchema, json, slotWhat);
}

/** Codis's JSON of a Slot (empty fields omitted). */
export function slotToJson(s: SlotSpec): SlotJson {
  const o: SlotJson = { id: s.id };
  if (s.locked) o.locked = true;
  if (s.backendAddr) o.backend_addr = s.backendAddr;
  if (s.backendAddrGroupId) o.backend_addr_group_id = s.backendAddrGroupId;
  if (s.migrateFrom) o.migrate_from = s.migrateFrom;
  if (s.migrateFromGroupId) o.migrate_from_group_id = s.migrateFromGroupId;
  if (s.forwardMethod) o.forward_method = s.forwardMethod as typeof FORWARD_SEMI_ASYNC;
  if (s.replicaGroups.length > 0) o.replica_groups = s.replicaGroups;
  if (s.switched) o.switched = true;
  if (s.heldKeys && s.heldKeys.length > 0) o.held_keys = s.heldKeys;
  if (s.movingKeys && s.movingKeys.length > 0) o.moving_keys = s.movingKeys;
  return o;
}

/** Parses a JSON array of Slot objects (the body of fillslots, or a `--fillslots` file). */
export function slotsFromJson(json: unknown): SlotSpec[] {
  if (!Array.isArray(json)) throw new ModelError("Bad slots: expected a JSON array of slots");
  return json.map(slotFromJson);
}

// --- proxies -----------------------------------------------------------------------------------

/** Codis's JSON of a proxy model (`/api/proxy/model`, `/codis3/{product}/proxy/proxy-{token}`). */
export const ProxyJsonSchema = v.object({
  id: opt(Int, 0),
  token: v.pipe(Str, v.nonEmpty("is missing")),
  start_time: opt(Str, ""),
  admin_addr: opt(Str, ""),
  proto_type: opt(Str, ""),
  proxy_addr: opt(Str, ""),
  jodis_path: opt(Str, ""),
  product_name: opt(Str, ""),
  pid: opt(Int, 0),
  pwd: opt(Str, ""),
  sys: opt(Str, ""),
  hostname: opt(Str, ""),
  datacenter: opt(Str, ""),
}, "must be a JSON object");

/** The wire form of a proxy model. */
export type ProxyJson = v.InferInput<typeof ProxyJsonSchema>;

/** Codis's proxy model. */
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
export function proxyModelToJson(m: ProxyModel, id?: number): ProxyJson {
  const o: ProxyJson = {} as ProxyJson;
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
  const what = (j: unknown) => {
    const token = (j as { token?: unknown } | null)?.token;
    return typeof token === "string" && token ? `proxy ${token}` : "proxy";
  };
  const o = parseModel(ProxyJsonSchema, json, what);
  return {
    id: o.id,
    model: {
      token: o.token,
      startTime: o.start_time,
      adminAddr: o.admin_addr,
      protoType: o.proto_type,
      proxyAddr: o.proxy_addr,
      jodisPath: o.jodis_path,
      productName: o.product_name,
      pid: o.pid,
      pwd: o.pwd,
      sys: o.sys,
      hostname: o.hostname,
      datacenter: o.datacenter,
    },
  };
}

// --- the dashboard's record ----------------------------------------------------------------------

/** Codis's JSON of the dashboard's record (the lock node, `/api/topom/model`). */
export const TopomJsonSchema = v.object({
  token: opt(Str, ""),
  start_time: opt(Str, ""),
  admin_addr: opt(Str, ""),
  product_name: opt(Str, ""),
  pid: opt(Int, 0),
  pwd: opt(Str, ""),
  sys: opt(Str, ""),
}, "must be a JSON object");

/** The wire form of the dashboard's record. */
export type TopomJson = v.InferInput<typeof TopomJsonSchema>;

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

export function topomToJson(t: TopomModel): TopomJson {
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
  const o = parseModel(TopomJsonSchema, json, "topom");
  return {
    token: o.token,
    startTime: o.start_time,
    adminAddr: o.admin_addr,
    productName: o.product_name,
    pid: o.pid,
    pwd: o.pwd,
    sys: o.sys,
  };
}

// --- slot mappings and their actions ---------------------------------------------------------------

/** Slot action states, in the order a migration goes through them. */
export const SLOT_ACTION_STATES = ["pending", "preparing", "prepared", "migrating", "finished"] as const;
/** A slot action's state. */
export type SlotActionState = typeof SLOT_ACTION_STATES[number];
export const ACTION_PENDING: "pending" = "pending" satisfies SlotActionState;
export const ACTION_PREPARING: "preparing" = "preparing" satisfies SlotActionState;
export const ACTION_PREPARED: "prepared" = "prepared" satisfies SlotActionState;
export const ACTION_MIGRATING: "migrating" = "migrating" satisfies SlotActionState;
export const ACTION_FINISHED: "finished" = "finished" satisfies SlotActionState;

/** The state after `s` (finished is the last one: the slot then belongs to its target). */
export function nextActionState(s: Exclude<SlotActionState, "finished">): SlotActionState {
  return SLOT_ACTION_STATES[SLOT_ACTION_STATES.indexOf(s) + 1];
}

const ActionState = v.picklist(["", ...SLOT_ACTION_STATES], "is not a slot action state");

/** Codis's JSON of a slot mapping (`/codis3/{product}/slots/slot-NNNN`, the dashboard's stats). */
export const SlotMappingJsonSchema = v.object({
  id: SlotId,
  group_id: opt(Int, 0),
  action: optObject({
    index: opt(Int, 0),
    state: opt(ActionState, ""),
    target_id: opt(Int, 0),
  }),
}, "must be a JSON object");

/** The wire form of a slot mapping. */
export type SlotMappingJson = v.InferInput<typeof SlotMappingJsonSchema>;

/** Where a slot belongs; an absent node is an offline slot. */
export interface SlotMapping {
  id: number;
  /** 0 = offline. */
  groupId: number;
  /** The slot's migration: `state` "" when there is none. */
  action: { index: number; state: SlotActionState | ""; targetId: number };
}

export function offlineSlotMapping(id: number): SlotMapping {
  return { id, groupId: 0, action: { index: 0, state: "", targetId: 0 } };
}

/** True for an offline slot with no action: what an absent node means. */
export function isDefaultSlotMapping(m: SlotMapping): boolean {
  return m.groupId === 0 && m.action.index === 0 && m.action.state === "" && m.action.targetId === 0;
}

export function slotMappingToJson(m: SlotMapping): SlotMappingJson {
  const action: SlotMappingJson["action"] = {};
  if (m.action.index) action.index = m.action.index;
  if (m.action.state) action.state = m.action.state;
  if (m.action.targetId) action.target_id = m.action.targetId;
  return { id: m.id, group_id: m.groupId, action };
}

/** A slot mapping's JSON, validated and read into a {@linkcode SlotMapping}. */
export const SlotMappingSchema = v.pipe(
  SlotMappingJsonSchema,
  v.transform((o): SlotMapping => ({
    id: o.id,
    groupId: o.group_id,
    action: { index: o.action.index ?? 0, state: o.action.state ?? "", targetId: o.action.target_id ?? 0 },
  })),
);

/** A JSON array of slot mappings (the body of slots/assign). */
export const SlotMappingListSchema = v.array(SlotMappingSchema, "expected a JSON array of slot mappings");

export function slotMappingFromJson(json: unknown): SlotMapping {
  const what = (j: unknown) => slotWhat(j) === "slot" ? "slot mapping" : slotWhat(j);
  return parseModel(SlotMappingSchema, json, what);
}

// --- groups --------------------------------------------------------------------------------------

/** A server's sync (REPLICAOF) action states (Codis's `ActionPending` … `ActionSyncedFailed`). */
export const SYNC_ACTION_STATES = ["pending", "syncing", "synced", "synced_failed"] as const;
/** A server's sync action state. */
export type SyncActionState = typeof SYNC_ACTION_STATES[number];
export const SYNC_PENDING: "pending" = "pending" satisfies SyncActionState;
export const SYNC_SYNCING: "syncing" = "syncing" satisfies SyncActionState;
export const SYNC_SYNCED: "synced" = "synced" satisfies SyncActionState;
export const SYNC_FAILED: "synced_failed" = "synced_failed" satisfies SyncActionState;

/** A group's promotion goes through these states (Codis reuses its slot action names). */
export type PromotingState = typeof ACTION_PREPARING | typeof ACTION_PREPARED | typeof ACTION_FINISHED;

/** One server of a group; the group's first server is its master. */
export interface GroupServer {
  addr: string;
  datacenter: string;
  /** The sync (REPLICAOF) action ("" when there is none). */
  action: { index: number; state: SyncActionState | "" };
  /** Whether the server may serve reads for other groups' slots (Codis's replica groups). */
  replicaGroup: boolean;
}

/** A group of servers (`/codis3/{product}/group/group-NNNN`). */
export interface GroupModel {
  id: number;
  servers: GroupServer[];
  promoting: { index: number; state: PromotingState | "" };
  outOfSync: boolean;
}

export const MAX_GROUP_ID = 9999;

/** Codis's JSON of a group. */
export const GroupJsonSchema = v.object({
  id: Int,
  servers: opt(
    v.array(
      v.object({
        server: opt(Str, ""),
        datacenter: opt(Str, ""),
        action: optObject({
          index: opt(Int, 0),
          state: opt(v.picklist(["", ...SYNC_ACTION_STATES], "is not a sync action state"), ""),
        }),
        replica_group: opt(Bool, false),
      }, "must be a JSON object"),
      "must be a list",
    ),
    [],
  ),
  promoting: optObject({
    index: opt(Int, 0),
    state: opt(
      v.picklist(["", ACTION_PREPARING, ACTION_PREPARED, ACTION_FINISHED], "is not a promoting state"),
      "",
    ),
  }),
  out_of_sync: opt(Bool, false),
}, "must be a JSON object");

/** The wire form of a group. */
export type GroupJson = v.InferInput<typeof GroupJsonSchema>;

export function groupToJson(g: GroupModel): GroupJson {
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
  const what = (j: unknown) => {
    const id = (j as { id?: unknown } | null)?.id;
    return typeof id === "number" ? `group-${String(id).padStart(4, "0")}` : "group";
  };
  const o = parseModel(GroupJsonSchema, json, what);
  return {
    id: o.id,
    servers: o.servers.map((s) => ({
      addr: s.server,
      datacenter: s.datacenter,
      action: { index: s.action?.index ?? 0, state: s.action?.state ?? "" },
      replicaGroup: s.replica_group,
    })),
    promoting: { index: o.promoting?.index ?? 0, state: o.promoting?.state ?? "" },
    outOfSync: o.out_of_sync,
  };
}

// --- sentinels -----------------------------------------------------------------------------------

/** Codis's JSON of the sentinels (`/codis3/{product}/sentinel`). */
export const SentinelJsonSchema = v.object({
  servers: opt(v.array(Str, "must be a list of addresses"), []),
  out_of_sync: opt(Bool, false),
}, "must be a JSON object");

/** The wire form of the sentinels. */
export type SentinelJson = v.InferInput<typeof SentinelJsonSchema>;

/** The sentinels. */
export interface SentinelModel {
  servers: string[];
  outOfSync: boolean;
}

export function sentinelToJson(s: SentinelModel): SentinelJson {
  const o: SentinelJson = {};
  if (s.servers.length > 0) o.servers = s.servers;
  o.out_of_sync = s.outOfSync;
  return o;
}

/** A Sentinel JSON, validated and read into a {@linkcode SentinelModel}. */
export const SentinelSchema = v.pipe(
  SentinelJsonSchema,
  v.transform((o): SentinelModel => ({ servers: o.servers, outOfSync: o.out_of_sync })),
);

export function sentinelFromJson(json: unknown): SentinelModel {
  return parseModel(SentinelSchema, json, "sentinel");
}

function indexState<S extends string>(a: { index: number; state: S }): { index?: number; state?: S } {
  const o: { index?: number; state?: S } = {};
  if (a.index) o.index = a.index;
  if (a.state) o.state = a.state;
  return o;
}
