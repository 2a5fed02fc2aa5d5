/**
 * Codis's models and their JSON, field for field (`../shared/reference/codis-behaviour.md` §2.3).
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

/** JSON text as Codis writes it: pretty-printed with 4-space indentation. */
export function toCodisJson(value: unknown): string {
  return JSON.stringify(value, null, 4);
}
