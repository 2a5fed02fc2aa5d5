/**
 * The etcd v3 store, with `npm:etcd3`.
 *
 * A node is the key of its full path (`/codis3/demo/topom`); parents are implied by their
 * children's keys. Creation is a transaction on the key's create revision, so exactly one of
 * several racing clients wins. Ephemeral nodes are keys attached to a lease of
 * `sessionTimeoutMs` that the client keeps alive; when the owner dies, the lease runs out and
 * etcd deletes them.
 *
 * (Codis 3.2 talks to etcd with the v2 API, whose keys the v3 API does not see; a store written
 * by Codis's etcd backend must be moved with `codis-admin --config-dump` / `--config-restore`.)
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { type CallContext, Etcd3, type Lease, type Watcher } from "etcd3";
import {
  checkPath,
  childPath,
  type ClientOptions,
  type CoordClient,
  DEFAULT_SESSION_TIMEOUT_MS,
  DEFAULT_TIMEOUT_MS,
  type EphemeralNode,
  StoreError,
  type StoreErrorCode,
  type StoreNode,
  type Watch,
} from "./client.ts";
import { deadline } from "../utils/async.ts";
import { errorMessage } from "../utils/errors.ts";

export class EtcdClient implements CoordClient {
  readonly backend = "etcd" as const;
  readonly addr: string;
  readonly #client: Etcd3;
  readonly #timeoutMs: number;
  readonly #sessionTimeoutMs: number;
  #closed = false;
  #leases = new Set<Lease>();
  #watchers = new Set<Watcher>();

  private constructor(addr: string, client: Etcd3, options: ClientOptions) {
    this.addr = addr;
    this.#client = client;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#sessionTimeoutMs = options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
  }

  /**
   * Opens a client on a comma-separated list of `host:port` (or `http://host:port`) endpoints
   * and checks that the cluster answers.
   */
  static async open(addr: string, options: ClientOptions = {}): Promise<EtcdClient> {
    const hosts = addr.split(",").map((h) => h.trim()).filter((h) => h !== "").map((h) =>
      /^https?:\/\//.test(h) ? h : `http://${h}`
    );
    if (hosts.length === 0) throw new StoreError("etcd", addr, "open", "", "invalid", "no etcd address given");
    let auth: { username: string; password: string } | undefined;
    if (options.auth) {
      const i = options.auth.indexOf(":");
      if (i <= 0) {
        throw new StoreError("etcd", addr, "open", "", "invalid", `auth must be user:password, got "${options.auth}"`);
      }
      auth = { username: options.auth.slice(0, i), password: options.auth.slice(i + 1) };
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const client = new Etcd3({
      hosts,
      auth,
      dialTimeout: timeoutMs,
      defaultCallOptions: (ctx: CallContext) => ctx.isStream ? {} : { deadline: new Date(Date.now() + timeoutMs) },
    });
    const etcd = new EtcdClient(addr, client, options);
    try {
      // One round trip: a server that is down or refuses the user fails here, clearly.
      await etcd.#call("open", "", () => client.get("/").exists());
    } catch (e) {
      await etcd.close();
      throw e;
    }
    return etcd;
  }

  async create(path: string, data: Uint8Array): Promise<void> {
    if (!await this.createIfAbsent(path, data)) {
      throw this.#fail("create", checkPath(this.backend, this.addr, "create", path), "exists", "node already exists");
    }
  }

  async createIfAbsent(path: string, data: Uint8Array): Promise<boolean> {
    const p = this.#path("create", path);
    const res = await this.#call(
      "create",
      p,
      () => this.#client.if(p, "Create", "==", 0).then(this.#client.put(p).value(Buffer.from(data))).commit(),
    );
    return res.succeeded;
  }

  async update(path: string, data: Uint8Array): Promise<void> {
    const p = this.#path("update", path);
    await this.#call("update", p, () => this.#client.put(p).value(Buffer.from(data)).exec());
  }

  async updateMany(nodes: ReadonlyArray<{ path: string; data: Uint8Array }>): Promise<void> {
    const paths = nodes.map((n) => this.#path("update", n.path));
    // gRPC multiplexes them on one connection.
    await Promise.all(
      nodes.map((n, i) =>
        this.#call("update", paths[i], () => this.#client.put(paths[i]).value(Buffer.from(n.data)).exec())
      ),
    );
  }

  async delete(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    const p = this.#path("delete", path);
    const below = p === "/" ? "/" : `${p}/`;
    await this.#call("delete", p, async () => {
      if (options.recursive) {
        await this.#client.delete().prefix(below).exec();
      } else if (await this.#client.getAll().prefix(below).limit(1).count() > 0) {
        throw this.#fail("delete", p, "not-empty", "node has children (delete them first, or delete recursively)");
      }
      if (p !== "/") await this.#client.delete().key(p).exec();
    });
  }

  async read(path: string, must = false): Promise<Uint8Array | null> {
    const p = this.#path("read", path);
    return await this.#call("read", p, async () => {
      const value = p === "/" ? null : await this.#client.get(p).buffer();
      if (value !== null) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      // A parent exists while it has children, and holds no data.
      const below = p === "/" ? "/" : `${p}/`;
      if (await this.#client.getAll().prefix(below).limit(1).count() > 0) return new Uint8Array(0);
      if (must) throw this.#fail("read", p, "not-found", "no such node");
      return null;
    });
  }

  async list(path: string, must = false): Promise<string[]> {
    const p = this.#path("list", path);
    return await this.#call("list", p, async () => {
      const below = p === "/" ? "/" : `${p}/`;
      const keys = await this.#client.getAll().prefix(below).keys();
      if (keys.length === 0) {
        if (must && (p === "/" || !await this.#client.get(p).exists())) {
          throw this.#fail("list", p, "not-found", "no such node");
        }
        return [];
      }
      const names = new Set<string>();
      for (const k of keys) {
        const rest = k.slice(below.length);
        const name = rest.split("/", 1)[0];
        if (name) names.add(name);
      }
      return [...names].sort().map((n) => childPath(p, n));
    });
  }

  async readChildren(dir: string): Promise<StoreNode[]> {
    const p = this.#path("read children", dir);
    return await this.#call("read children", p, async () => {
      const below = p === "/" ? "/" : `${p}/`;
      const all = await this.#client.getAll().prefix(below).buffers();
      const nodes = new Map<string, Uint8Array>();
      for (const [key, value] of Object.entries(all)) {
        const rest = key.slice(below.length);
        const slash = rest.indexOf("/");
        const name = slash < 0 ? rest : rest.slice(0, slash);
        if (!name) continue;
        const child = childPath(p, name);
        // A deeper key makes its ancestor a parent, which holds no data of its own here.
        if (slash < 0) nodes.set(child, new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
        else if (!nodes.has(child)) nodes.set(child, new Uint8Array(0));
      }
      return [...nodes.keys()].sort().map((path) => ({ path, data: nodes.get(path)! }));
    });
  }

  async createEphemeral(path: string, data: Uint8Array): Promise<EphemeralNode> {
    const p = this.#path("create ephemeral", path);
    const ttl = Math.max(1, Math.ceil(this.#sessionTimeoutMs / 1000));
    const lease = this.#client.lease(ttl, { autoKeepAlive: true });
    this.#leases.add(lease);
    let onLost!: (e: Error) => void;
    const lost = new Promise<Error>((resolve) => onLost = resolve);
    lease.on("lost", (e: Error) => {
      this.#leases.delete(lease);
      onLost(this.#fail("keep ephemeral", p, "unavailable", `lease lost: ${e.message}`));
    });
    try {
      const id = await this.#call("create ephemeral", p, () => lease.grant());
      const res = await this.#call(
        "create ephemeral",
        p,
        () =>
          this.#client.if(p, "Create", "==", 0).then(this.#client.put(p).value(Buffer.from(data)).lease(id)).commit(),
      );
      if (!res.succeeded) throw this.#fail("create ephemeral", p, "exists", "node already exists");
    } catch (e) {
      this.#leases.delete(lease);
      await lease.revoke().catch(() => {});
      throw e;
    }
    return {
      path: p,
      lost,
      remove: async () => {
        if (!this.#leases.delete(lease)) return;
        // Revoking the lease deletes the key with it.
        await this.#call("remove ephemeral", p, () => lease.revoke());
      },
    };
  }

  async watch(dir: string, onChange: () => void): Promise<Watch> {
    const p = this.#path("watch", dir);
    const below = p === "/" ? "/" : `${p}/`;
    const watcher = await this.#call("watch", p, () => this.#client.watch().prefix(below).create());
    this.#watchers.add(watcher);
    const fire = (kv: { key: Buffer }) => {
      // Only the directory's own children: `dir/name`, not `dir/name/deeper`.
      const rest = kv.key.toString().slice(below.length);
      if (!rest.includes("/")) onChange();
    };
    watcher.on("put", fire);
    watcher.on("delete", fire);
    watcher.on("connected", () => onChange());
    queueMicrotask(onChange);
    return {
      close: async () => {
        if (!this.#watchers.delete(watcher)) return;
        await watcher.cancel().catch(() => {});
      },
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#watchers].map((w) => w.cancel().catch(() => {})));
    this.#watchers.clear();
    // Deleting our ephemeral nodes now, instead of when their leases run out.
    await Promise.all(
      [...this.#leases].map((l) => deadline(l.revoke(), 1000, { error: () => new Error() }).catch(() => {})),
    );
    this.#leases.clear();
    this.#client.close();
  }

  // --- internals -------------------------------------------------------------------------------

  #path(op: string, path: string): string {
    if (this.#closed) throw this.#fail(op, path, "unavailable", "the client is closed");
    return checkPath(this.backend, this.addr, op, path);
  }

  async #call<T>(op: string, p: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await deadline(fn(), this.#timeoutMs + 500, {
        error: () =>
          this.#fail(op, p, "unavailable", `no answer within ${this.#timeoutMs} ms (is etcd running there?)`),
      });
    } catch (e) {
      throw this.#error(op, p, e);
    }
  }

  #fail(op: string, p: string, code: StoreErrorCode, detail: string): StoreError {
    return new StoreError(this.backend, this.addr, op, p, code, detail);
  }

  #error(op: string, p: string, e: unknown): StoreError {
    if (e instanceof StoreError) return e;
    const message = errorMessage(e).replace(/\s*Resolution note:\s*$/, "");
    const name = e instanceof Error ? e.name : "";
    if (/authenticat|permission denied|invalid auth|user name/i.test(message)) {
      return this.#fail(op, p, "denied", message);
    }
    if (/Unavailable|DeadlineExceeded|deadline|ECONNREFUSED|connect|timed out|No connection/i.test(name + message)) {
      return this.#fail(op, p, "unavailable", `${message} (is etcd running there?)`);
    }
    return this.#fail(op, p, "failed", message);
  }
}
