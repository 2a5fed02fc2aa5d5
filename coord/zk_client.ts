/**
 * The ZooKeeper store, with `npm:node-zookeeper-client` (pure JavaScript; the native
 * `npm:zookeeper` addon cannot be loaded by Deno).
 *
 * As Codis's `pkg/models/zk`: parents are created on demand with empty data; with digest auth
 * `user:password` nodes carry a digest ACL (parents: every permission; data nodes: admin, read,
 * write), otherwise the open ACL. Ephemeral nodes belong to the client's session; when the owner
 * dies the session times out (`sessionTimeoutMs`) and ZooKeeper deletes them. When a session
 * expires the client opens a new one on the next call, and re-arms its watches.
 *
 * The library's `removeRecursive` is not used (it fails on wide trees and races); recursive
 * deletion here walks the tree itself, children first.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import zookeeper from "node-zookeeper-client";
import {
  checkPath,
  childPath,
  type ClientOptions,
  type CoordClient,
  DEFAULT_SESSION_TIMEOUT_MS,
  DEFAULT_TIMEOUT_MS,
  type EphemeralNode,
  parentPath,
  StoreError,
  type StoreErrorCode,
  type StoreNode,
  type Watch,
} from "./client.ts";
import { deadline, delay } from "../utils/async.ts";

/** How long to wait between attempts to re-arm watches on a new session. */
const REARM_RETRY_MS = 1000;
import { errorMessage } from "../utils/errors.ts";

type ZkClient = ReturnType<typeof zookeeper.createClient>;
type ZkAcl = InstanceType<typeof zookeeper.ACL>;

const { Exception, CreateMode, ACL, Id, Permission } = zookeeper;

/** ZooKeeper's own subtree, hidden from `list("/")`. */
const ZK_SYSTEM = "/zookeeper";

interface Armed {
  dir: string;
  onChange: () => void;
  closed: boolean;
  /** Bound once, so ZooKeeper's client registers each watcher once per path. */
  childWatcher: () => void;
  dataWatcher: () => void;
}

export class ZooKeeperClient implements CoordClient {
  readonly backend = "zookeeper" as const;
  readonly addr: string;
  readonly #timeoutMs: number;
  readonly #sessionTimeoutMs: number;
  readonly #auth: string;
  readonly #dirAcl: ZkAcl[];
  readonly #dataAcl: ZkAcl[];
  #zk: ZkClient | null = null;
  #connecting: Promise<ZkClient> | null = null;
  #closed = false;
  /** Ephemeral nodes of the current session, told when it expires. */
  #ephemeral = new Map<string, (e: Error) => void>();
  #watches = new Set<Armed>();

  private constructor(addr: string, options: ClientOptions) {
    this.addr = addr;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#sessionTimeoutMs = options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
    this.#auth = options.auth ?? "";
    if (this.#auth) {
      const i = this.#auth.indexOf(":");
      if (i <= 0) {
        throw new StoreError(
          this.backend,
          addr,
          "open",
          "",
          "invalid",
          `auth must be user:password, got "${this.#auth}"`,
        );
      }
      const digest = createHash("sha1").update(this.#auth).digest("base64");
      const id = new Id("digest", `${this.#auth.slice(0, i)}:${digest}`);
      this.#dirAcl = [new ACL(Permission.ALL, id)];
      this.#dataAcl = [new ACL(Permission.ADMIN | Permission.READ | Permission.WRITE, id)];
    } else {
      this.#dirAcl = zookeeper.ACL.OPEN_ACL_UNSAFE;
      this.#dataAcl = zookeeper.ACL.OPEN_ACL_UNSAFE;
    }
  }

  /** Opens a session on a comma-separated list of `host:port` servers (a `/chroot` suffix works too). */
  static async open(addr: string, options: ClientOptions = {}): Promise<ZooKeeperClient> {
    const servers = addr.split(",").map((s) => s.trim()).filter((s) => s !== "").join(",");
    if (!servers) throw new StoreError("zookeeper", addr, "open", "", "invalid", "no ZooKeeper address given");
    const client = new ZooKeeperClient(servers, options);
    await client.#session("open", "");
    return client;
  }

  async create(path: string, data: Uint8Array): Promise<void> {
    const p = this.#path("create", path);
    await this.#call("create", p, (zk) => this.#create(zk, p, data, CreateMode.PERSISTENT));
  }

  async createIfAbsent(path: string, data: Uint8Array): Promise<boolean> {
    const p = this.#path("create", path);
    return await this.#call("create", p, async (zk) => {
      try {
        await this.#create(zk, p, data, CreateMode.PERSISTENT);
        return true;
      } catch (e) {
        if (codeOf(e) === Exception.NODE_EXISTS) return false;
        throw e;
      }
    });
  }

  async update(path: string, data: Uint8Array): Promise<void> {
    const p = this.#path("update", path);
    await this.#call("update", p, async (zk) => {
      for (;;) {
        try {
          await cb<unknown>((done) => zk.setData(p, Buffer.from(data), -1, done));
          return;
        } catch (e) {
          if (codeOf(e) !== Exception.NO_NODE) throw e;
        }
        try {
          await this.#create(zk, p, data, CreateMode.PERSISTENT);
          return;
        } catch (e) {
          // Created by someone else in between: overwrite it.
          if (codeOf(e) !== Exception.NODE_EXISTS) throw e;
        }
      }
    });
  }

  async updateMany(nodes: ReadonlyArray<{ path: string; data: Uint8Array }>): Promise<void> {
    // Pipelined on the session's one connection.
    await Promise.all(nodes.map((n) => this.update(n.path, n.data)));
  }

  async delete(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    const p = this.#path("delete", path);
    await this.#call("delete", p, async (zk) => {
      if (options.recursive) {
        await this.#deleteTree(zk, p);
        return;
      }
      if (p === "/") {
        if ((await this.#children(zk, "/")).length > 0) {
          throw this.#fail("delete", p, "not-empty", "node has children (delete them first, or delete recursively)");
        }
        return;
      }
      try {
        await cb<void>((done) => zk.remove(p, -1, done));
      } catch (e) {
        const code = codeOf(e);
        if (code === Exception.NO_NODE) return;
        if (code === Exception.NOT_EMPTY) {
          throw this.#fail("delete", p, "not-empty", "node has children (delete them first, or delete recursively)");
        }
        throw e;
      }
    });
  }

  async read(path: string, must = false): Promise<Uint8Array | null> {
    const p = this.#path("read", path);
    return await this.#call("read", p, async (zk) => {
      try {
        const data = await cb<Buffer | undefined>((done) => zk.getData(p, done));
        return data ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(0);
      } catch (e) {
        if (codeOf(e) !== Exception.NO_NODE) throw e;
        if (must) throw this.#fail("read", p, "not-found", "no such node");
        return null;
      }
    });
  }

  async list(path: string, must = false): Promise<string[]> {
    const p = this.#path("list", path);
    return await this.#call("list", p, async (zk) => {
      try {
        return await this.#children(zk, p);
      } catch (e) {
        if (codeOf(e) !== Exception.NO_NODE) throw e;
        if (must) throw this.#fail("list", p, "not-found", "no such node");
        return [];
      }
    });
  }

  async readChildren(dir: string): Promise<StoreNode[]> {
    const p = this.#path("read children", dir);
    return await this.#call("read children", p, async (zk) => {
      let children: string[];
      try {
        children = await this.#children(zk, p);
      } catch (e) {
        if (codeOf(e) === Exception.NO_NODE) return [];
        throw e;
      }
      // The requests are pipelined on the session's one connection.
      const nodes = await Promise.all(children.map(async (path) => {
        try {
          const data = await cb<Buffer | undefined>((done) => zk.getData(path, done));
          return {
            path,
            data: data ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(0),
          };
        } catch (e) {
          if (codeOf(e) === Exception.NO_NODE) return null; // deleted between the listing and the read
          throw e;
        }
      }));
      return nodes.filter((n) => n !== null);
    });
  }

  async createEphemeral(path: string, data: Uint8Array): Promise<EphemeralNode> {
    const p = this.#path("create ephemeral", path);
    await this.#call("create ephemeral", p, (zk) => this.#create(zk, p, data, CreateMode.EPHEMERAL));
    let onLost!: (e: Error) => void;
    const lost = new Promise<Error>((resolve) => onLost = resolve);
    this.#ephemeral.set(p, onLost);
    return {
      path: p,
      lost,
      remove: async () => {
        if (!this.#ephemeral.delete(p)) return;
        await this.#call("remove ephemeral", p, async (zk) => {
          try {
            await cb<void>((done) => zk.remove(p, -1, done));
          } catch (e) {
            if (codeOf(e) !== Exception.NO_NODE) throw e;
          }
        });
      },
    };
  }

  async watch(dir: string, onChange: () => void): Promise<Watch> {
    const p = this.#path("watch", dir);
    const armed: Armed = {
      dir: p,
      onChange,
      closed: false,
      // Re-armed before the caller hears of the change, so that nothing after its next read is missed.
      childWatcher: () => {
        if (!armed.closed) this.#arm(armed).catch(() => {}).finally(() => armed.closed || onChange());
      },
      dataWatcher: () => {
        if (!armed.closed) this.#arm(armed).catch(() => {}).finally(() => armed.closed || onChange());
      },
    };
    await this.#call("watch", p, (zk) => this.#armOn(zk, armed));
    this.#watches.add(armed);
    queueMicrotask(onChange);
    return {
      close: () => {
        armed.closed = true;
        this.#watches.delete(armed);
        return Promise.resolve();
      },
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#watches) w.closed = true;
    this.#watches.clear();
    // Closing the session deletes its ephemeral nodes; that is on purpose, so `lost` stays unsettled.
    this.#ephemeral.clear();
    const zk = this.#zk ?? await this.#connecting?.catch(() => null) ?? null;
    this.#zk = null;
    if (zk) await closeClient(zk);
  }

  // --- internals -------------------------------------------------------------------------------

  #path(op: string, path: string): string {
    if (this.#closed) throw this.#fail(op, path, "unavailable", "the client is closed");
    return checkPath(this.backend, this.addr, op, path);
  }

  /** The connected session, opening a new one when there is none (first call, or after expiry). */
  #session(op: string, p: string): Promise<ZkClient> {
    if (this.#zk) return Promise.resolve(this.#zk);
    if (this.#connecting) return this.#connecting;
    const zk = zookeeper.createClient(this.addr, {
      sessionTimeout: this.#sessionTimeoutMs,
      spinDelay: 500,
      retries: 0,
    });
    if (this.#auth) zk.addAuthInfo("digest", Buffer.from(this.#auth));
    const connected = new Promise<ZkClient>((resolve, reject) => {
      zk.once("connected", () => resolve(zk));
      zk.once("authenticationFailed", () => reject(this.#fail(op, p, "denied", `authentication failed`)));
    });
    zk.on("expired", () => this.#expired(zk));
    // ZooKeeper tells a client its session expired only when it reconnects; a client cut off
    // for longer than the session timeout must assume the worst (as Curator does), so that an
    // owner learns its ephemeral nodes may be gone while the server is still unreachable.
    let cutOff: ReturnType<typeof setTimeout> | undefined;
    zk.on("disconnected", () => {
      clearTimeout(cutOff);
      if (!this.#closed && this.#zk === zk) cutOff = setTimeout(() => this.#expired(zk), this.#sessionTimeoutMs);
    });
    zk.on("connected", () => clearTimeout(cutOff));
    zk.connect();
    this.#connecting = deadline(connected, this.#timeoutMs, {
      error: () =>
        this.#fail(op, p, "unavailable", `no session within ${this.#timeoutMs} ms (is ZooKeeper running there?)`),
    }).then(
      (c) => {
        this.#connecting = null;
        if (this.#closed) {
          closeClient(c);
          throw this.#fail(op, p, "unavailable", "the client is closed");
        }
        this.#zk = c;
        return c;
      },
      (e) => {
        this.#connecting = null;
        closeClient(zk);
        throw e;
      },
    );
    return this.#connecting;
  }

  /** The session expired: its ephemeral nodes are gone and its watches with it. */
  #expired(zk: ZkClient): void {
    if (this.#zk !== zk) return;
    this.#zk = null;
    closeClient(zk);
    const lost = [...this.#ephemeral.entries()];
    this.#ephemeral.clear();
    for (const [p, onLost] of lost) {
      onLost(this.#fail("keep ephemeral", p, "unavailable", "the ZooKeeper session expired"));
    }
    if (this.#closed || this.#watches.size === 0) return;
    // Re-arm the watches on a new session (retrying until it comes or the client closes).
    const rearm = async () => {
      while (!this.#closed && this.#watches.size > 0) {
        try {
          const fresh = await this.#session("watch", "");
          for (const w of this.#watches) {
            await this.#armOn(fresh, w);
            w.onChange();
          }
          return;
        } catch {
          await delay(REARM_RETRY_MS);
        }
      }
    };
    rearm();
  }

  async #call<T>(op: string, p: string, fn: (zk: ZkClient) => Promise<T>): Promise<T> {
    try {
      return await deadline(this.#session(op, p).then(fn), this.#timeoutMs, {
        error: () =>
          this.#fail(op, p, "unavailable", `no answer within ${this.#timeoutMs} ms (is ZooKeeper running there?)`),
      });
    } catch (e) {
      throw this.#error(op, p, e);
    }
  }

  async #create(zk: ZkClient, p: string, data: Uint8Array, mode: number): Promise<void> {
    await this.#mkdirs(zk, parentPath(p));
    await cb<string>((done) => zk.create(p, Buffer.from(data), this.#dataAcl, mode, done));
  }

  /** Creates `dir` and its parents with empty data (each may be there already). */
  async #mkdirs(zk: ZkClient, dir: string): Promise<void> {
    if (dir === "/") return;
    // Most of the time the parent exists: one round trip.
    if (await cb<unknown>((done) => zk.exists(dir, done))) return;
    await this.#mkdirs(zk, parentPath(dir));
    try {
      await cb<string>((done) => zk.create(dir, Buffer.alloc(0), this.#dirAcl, CreateMode.PERSISTENT, done));
    } catch (e) {
      if (codeOf(e) !== Exception.NODE_EXISTS) throw e;
    }
  }

  async #children(zk: ZkClient, p: string, watcher?: () => void): Promise<string[]> {
    const names = watcher
      ? await cb<string[]>((done) => zk.getChildren(p, watcher, done))
      : await cb<string[]>((done) => zk.getChildren(p, done));
    return names.map((n) => childPath(p, n)).filter((c) => c !== ZK_SYSTEM).sort();
  }

  /** Deletes a subtree, children first; nodes that vanish meanwhile are fine. */
  async #deleteTree(zk: ZkClient, p: string): Promise<void> {
    let children: string[];
    try {
      children = await this.#children(zk, p);
    } catch (e) {
      if (codeOf(e) === Exception.NO_NODE) return;
      throw e;
    }
    for (const c of children) await this.#deleteTree(zk, c);
    if (p === "/") return;
    try {
      await cb<void>((done) => zk.remove(p, -1, done));
    } catch (e) {
      const code = codeOf(e);
      if (code === Exception.NO_NODE) return;
      // A child appeared meanwhile: go again.
      if (code === Exception.NOT_EMPTY) return await this.#deleteTree(zk, p);
      throw e;
    }
  }

  async #arm(w: Armed): Promise<void> {
    if (w.closed || this.#closed) return;
    const zk = await this.#session("watch", w.dir);
    await this.#armOn(zk, w);
  }

  /** Sets the child watch on the directory and a data watch on each child (the directory is created if needed). */
  async #armOn(zk: ZkClient, w: Armed): Promise<void> {
    await this.#mkdirs(zk, w.dir);
    const children = await this.#children(zk, w.dir, w.childWatcher);
    await Promise.all(children.map(async (c) => {
      try {
        await cb<unknown>((done) => zk.getData(c, w.dataWatcher, done));
      } catch (e) {
        if (codeOf(e) !== Exception.NO_NODE) throw e;
      }
    }));
  }

  #fail(op: string, p: string, code: StoreErrorCode, detail: string): StoreError {
    return new StoreError(this.backend, this.addr, op, p, code, detail);
  }

  #error(op: string, p: string, e: unknown): StoreError {
    if (e instanceof StoreError) return e;
    const code = codeOf(e);
    const message = errorMessage(e);
    if (code === Exception.NODE_EXISTS) return this.#fail(op, p, "exists", "node already exists");
    if (code === Exception.NO_NODE) return this.#fail(op, p, "not-found", "no such node (or no such parent)");
    if (code === Exception.NOT_EMPTY) return this.#fail(op, p, "not-empty", "node has children");
    if (code === Exception.NO_AUTH || code === Exception.AUTH_FAILED || code === Exception.INVALID_ACL) {
      return this.#fail(op, p, "denied", `${message} (check the user:password given as auth)`);
    }
    if (
      code === Exception.CONNECTION_LOSS || code === Exception.SESSION_EXPIRED ||
      code === Exception.OPERATION_TIMEOUT
    ) {
      return this.#fail(op, p, "unavailable", message);
    }
    return this.#fail(op, p, "failed", message);
  }
}

function codeOf(e: unknown): number | undefined {
  if (e && typeof e === "object" && "getCode" in e && typeof (e as { getCode: unknown }).getCode === "function") {
    return (e as { getCode(): number }).getCode();
  }
  return undefined;
}

/** A node-style callback call as a promise. */
function cb<T>(call: (done: (error: unknown, result?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    call((error, result) => error ? reject(error) : resolve(result as T));
  });
}

/** Closes a ZooKeeper client; resolves when its socket is gone (or after a second). */
function closeClient(zk: ZkClient): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 1000);
    zk.once("disconnected", () => {
      clearTimeout(timer);
      resolve();
    });
    try {
      zk.close();
    } catch {
      clearTimeout(timer);
      resolve();
    }
  });
}
