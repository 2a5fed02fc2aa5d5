/**
 * The coordinator store's client interface (Codis's `models.Client`), shared by the filesystem,
 * etcd and ZooKeeper implementations.
 *
 * A store is a tree of nodes named by absolute paths (`/codis3/demo/topom`). A node holds bytes;
 * its parents exist implicitly (created on demand, never holding data of their own). Every error
 * is a {@linkcode StoreError} that names the backend, the address, the operation and the path.
 *
 * @module
 */

import { CodisError, type ErrorKind } from "../utils/errors.ts";

/** The three implementations, by Codis's `coordinator_name`. */
export type BackendName = "filesystem" | "etcd" | "zookeeper";

/** Why an operation failed, for callers that act on it. */
export type StoreErrorCode =
  /** `create` of a node that is there. */
  | "exists"
  /** `read`/`list` with `must`, or `delete` of a parent with children. */
  | "not-found"
  | "not-empty"
  /** The backend cannot do this (ephemeral nodes on the filesystem). */
  | "unsupported"
  /** The server did not answer in time, refused the connection, or the client is closed. */
  | "unavailable"
  /** ZooKeeper refused for lack of credentials; etcd refused the user. */
  | "denied"
  /** A path or argument that no backend accepts. */
  | "invalid"
  | "failed";

/** The kind of failure each store error code is, for the API layer (a bad path is the caller's mistake). */
const KIND_OF_CODE: Readonly<Record<StoreErrorCode, ErrorKind>> = {
  "exists": "conflict",
  "not-found": "not-found",
  "not-empty": "conflict",
  "unsupported": "unsupported",
  "unavailable": "unavailable",
  "denied": "upstream",
  "invalid": "invalid",
  "failed": "upstream",
};

/** An operation on the store that failed. */
export class StoreError extends CodisError {
  readonly code: StoreErrorCode;
  readonly backend: BackendName;
  readonly path: string;

  constructor(backend: BackendName, addr: string, op: string, path: string, code: StoreErrorCode, detail: string) {
    super(KIND_OF_CODE[code], `${backend} ${addr}: ${op}${path ? ` ${path}` : ""}: ${detail}`);
    this.name = "StoreError";
    this.code = code;
    this.backend = backend;
    this.path = path;
  }
}

/** A node and its data. */
export interface StoreNode {
  readonly path: string;
  readonly data: Uint8Array;
}

/** A node that lives as long as its owner: the process and its session or lease. */
export interface EphemeralNode {
  readonly path: string;
  /**
   * Settles when the node is lost (the session expired, the lease could not be renewed, or the
   * store went away); resolves with the reason. Never settles if the node is removed on purpose.
   */
  readonly lost: Promise<Error>;
  /** Deletes the node now and stops keeping it alive. */
  remove(): Promise<void>;
}

/** A watch on a directory; stop it with `close`. */
export interface Watch {
  close(): Promise<void>;
}

/** Options every implementation takes. */
export interface ClientOptions {
  /** `user:password` (etcd user, ZooKeeper digest); ignored by the filesystem store. */
  auth?: string;
  /** Longest time one operation (connecting included) may take before it fails. Default 10 s. */
  timeoutMs?: number;
  /** How long an ephemeral node outlives a dead owner (etcd lease TTL, ZooKeeper session). Default 20 s. */
  sessionTimeoutMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_SESSION_TIMEOUT_MS = 20_000;

/** The store's client. Paths are absolute, `/`-separated, with no empty, `.` or `..` segment. */
export interface CoordClient {
  readonly backend: BackendName;
  /** What the client was opened on: a root directory or a list of servers. */
  readonly addr: string;

  /** Creates a node; fails with code `exists` if it is there. Parents are created as needed. */
  create(path: string, data: Uint8Array): Promise<void>;
  /** Creates the node if absent: true when this call created it (a lock was taken), false when it was there. */
  createIfAbsent(path: string, data: Uint8Array): Promise<boolean>;
  /** Creates or overwrites a node. */
  update(path: string, data: Uint8Array): Promise<void>;
  /** Creates or overwrites many nodes, faster than one by one (not atomically as a whole). */
  updateMany(nodes: ReadonlyArray<{ path: string; data: Uint8Array }>): Promise<void>;
  /**
   * Deletes a node; no error if it is missing. A node with children fails with `not-empty` unless
   * `recursive`, which deletes the whole subtree.
   */
  delete(path: string, options?: { recursive?: boolean }): Promise<void>;
  /** The node's data; null if it is missing (or fails with `not-found` when `must`). */
  read(path: string, must?: boolean): Promise<Uint8Array | null>;
  /** Full paths of the node's children, sorted; [] if it is missing (or `not-found` when `must`). */
  list(path: string, must?: boolean): Promise<string[]>;
  /**
   * Every child of `dir` with its data (a parent's data is empty), sorted by path, in one call
   * where the backend can (etcd: one range read; filesystem: one lock; ZooKeeper: the reads
   * pipelined on one session); [] when `dir` is missing.
   */
  readChildren(dir: string): Promise<StoreNode[]>;
  /** Creates a node that is deleted when this client's owner dies; fails with `exists` if it is there. */
  createEphemeral(path: string, data: Uint8Array): Promise<EphemeralNode>;
  /**
   * Calls `onChange` whenever a child of `dir` is created, changed or deleted (and after the
   * watch is set up, so a caller can read the directory then). Calls may be coalesced.
   */
  watch(dir: string, onChange: () => void): Promise<Watch>;
  /** Closes the client; ephemeral nodes it owns are deleted where the backend can. */
  close(): Promise<void>;
}

/** Checks and normalises a node path; throws a StoreError with code `invalid`. */
export function checkPath(backend: BackendName, addr: string, op: string, path: string): string {
  if (typeof path !== "string" || !path.startsWith("/")) {
    throw new StoreError(backend, addr, op, String(path), "invalid", "a path must be absolute (start with /)");
  }
  const trimmed = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
  if (trimmed === "/") return "/";
  for (const part of trimmed.slice(1).split("/")) {
    if (part === "" || part === "." || part === "..") {
      throw new StoreError(backend, addr, op, path, "invalid", "a path may not have empty, . or .. segments");
    }
    // deno-lint-ignore no-control-regex
    if (/[\x00-\x1f\x7f]/.test(part)) {
      throw new StoreError(backend, addr, op, path, "invalid", "a path may not contain control characters");
    }
  }
  return trimmed;
}

/** The parent of a normalised path (`/` for a top-level node). */
export function parentPath(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

/** Joins a directory and a child's name. */
export function childPath(dir: string, name: string): string {
  return dir === "/" ? `/${name}` : `${dir}/${name}`;
}
