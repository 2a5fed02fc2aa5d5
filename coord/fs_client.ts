/**
 * The filesystem store (Codis's `pkg/models/fs`): the embedded default, no server needed.
 *
 * Layout under the root directory R, as Codis has it: node `/a/b` is the file `R/data/a/b`, its
 * parents are real directories; writes go to a temporary file in `R/temp/` and are renamed into
 * place, so a reader never sees half a node. Every operation holds an exclusive `flock` on
 * `R/data.lck` (which then names the holder: `{"pid":…,"now":…}`), so two processes sharing the
 * root take turns instead of corrupting it. There are no ephemeral nodes; watches use the
 * operating system's file notifications.
 *
 * @module
 */

import {
  checkPath,
  childPath,
  type ClientOptions,
  type CoordClient,
  DEFAULT_TIMEOUT_MS,
  type EphemeralNode,
  StoreError,
  type StoreErrorCode,
  type StoreNode,
  type Watch,
} from "./client.ts";
import { deadline } from "../utils/async.ts";
import { utf8 } from "../utils/bytes.ts";
import { errorMessage } from "../utils/errors.ts";

export class FsClient implements CoordClient {
  readonly backend = "filesystem" as const;
  readonly addr: string;
  readonly #dataDir: string;
  readonly #tempDir: string;
  readonly #lockPath: string;
  readonly #timeoutMs: number;
  /** Operations of this process, one after another (the flock then orders processes). */
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  #watches = new Set<Watch>();
  #tempSeq = 0;

  private constructor(root: string, options: ClientOptions) {
    this.addr = root;
    this.#dataDir = `${root}/data`;
    this.#tempDir = `${root}/temp`;
    this.#lockPath = `${root}/data.lck`;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** Opens the store rooted at `root` (made absolute against the working directory), creating it if needed. */
  static async open(root: string, options: ClientOptions = {}): Promise<FsClient> {
    if (!root) throw new StoreError("filesystem", root, "open", "", "invalid", "the root directory is empty");
    const abs = root.startsWith("/") ? root : `${Deno.cwd()}/${root}`;
    const normalised = abs.replace(/\/+$/, "") || "/";
    const client = new FsClient(normalised, options);
    try {
      await Deno.mkdir(client.#dataDir, { recursive: true });
      await Deno.mkdir(client.#tempDir, { recursive: true });
    } catch (e) {
      throw client.#error("open", "", e);
    }
    return client;
  }

  async create(path: string, data: Uint8Array): Promise<void> {
    const p = this.#path("create", path);
    return await this.#locked("create", p, async () => {
      if (await this.#stat(p)) throw this.#fail("create", p, "exists", "node already exists");
      await this.#write(p, data);
    });
  }

  async createIfAbsent(path: string, data: Uint8Array): Promise<boolean> {
    const p = this.#path("create", path);
    return await this.#locked("create", p, async () => {
      if (await this.#stat(p)) return false;
      await this.#write(p, data);
      return true;
    });
  }

  async update(path: string, data: Uint8Array): Promise<void> {
    const p = this.#path("update", path);
    return await this.#locked("update", p, async () => {
      const st = await this.#stat(p);
      if (st?.isDirectory) throw this.#fail("update", p, "invalid", "node has children and cannot hold data here");
      await this.#write(p, data);
    });
  }

  async updateMany(nodes: ReadonlyArray<{ path: string; data: Uint8Array }>): Promise<void> {
    if (nodes.length === 0) return;
    const paths = nodes.map((n) => this.#path("update", n.path));
    // One turn of the lock for all of them.
    await this.#locked("update", paths[0], async () => {
      const write = async (i: number) => {
        const st = await this.#stat(paths[i]);
        if (st?.isDirectory) {
          throw this.#fail("update", paths[i], "invalid", "node has children and cannot hold data here");
        }
        await this.#write(paths[i], nodes[i].data);
      };
      // Many files at once: the writes overlap in the runtime's I/O threads.
      for (let i = 0; i < nodes.length; i += 64) {
        await Promise.all(nodes.slice(i, i + 64).map((_, j) => write(i + j)));
      }
    });
  }

  async delete(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    const p = this.#path("delete", path);
    return await this.#locked("delete", p, async () => {
      const st = await this.#stat(p);
      if (!st) return;
      if (st.isDirectory && !options.recursive) {
        for await (const _ of Deno.readDir(this.#file(p))) {
          throw this.#fail("delete", p, "not-empty", "node has children (delete them first, or delete recursively)");
        }
      }
      if (p === "/") {
        // The root itself stays; empty it.
        for await (const e of Deno.readDir(this.#dataDir)) {
          await Deno.remove(`${this.#dataDir}/${e.name}`, { recursive: true });
        }
        return;
      }
      await Deno.remove(this.#file(p), { recursive: options.recursive ?? false });
    });
  }

  async read(path: string, must = false): Promise<Uint8Array | null> {
    const p = this.#path("read", path);
    return await this.#locked("read", p, async () => {
      const st = await this.#stat(p);
      if (!st) {
        if (must) throw this.#fail("read", p, "not-found", "no such node");
        return null;
      }
      if (st.isDirectory) return new Uint8Array(0);
      return await Deno.readFile(this.#file(p));
    });
  }

  async list(path: string, must = false): Promise<string[]> {
    const p = this.#path("list", path);
    return await this.#locked("list", p, async () => {
      const st = await this.#stat(p);
      if (!st) {
        if (must) throw this.#fail("list", p, "not-found", "no such node");
        return [];
      }
      if (!st.isDirectory) return [];
      const names: string[] = [];
      for await (const e of Deno.readDir(this.#file(p))) names.push(e.name);
      return names.sort().map((n) => childPath(p, n));
    });
  }

  async readChildren(dir: string): Promise<StoreNode[]> {
    const p = this.#path("read children", dir);
    return await this.#locked("read children", p, async () => {
      const st = await this.#stat(p);
      if (!st?.isDirectory) return [];
      const entries: Deno.DirEntry[] = [];
      for await (const e of Deno.readDir(this.#file(p))) entries.push(e);
      entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
      const out: StoreNode[] = [];
      // Many files at once: the reads overlap in the runtime's I/O threads.
      for (let i = 0; i < entries.length; i += 64) {
        out.push(
          ...await Promise.all(
            entries.slice(i, i + 64).map(async (e) => {
              const path = childPath(p, e.name);
              return { path, data: e.isDirectory ? new Uint8Array(0) : await Deno.readFile(this.#file(path)) };
            }),
          ),
        );
      }
      return out;
    });
  }

  // deno-lint-ignore require-await
  async createEphemeral(path: string, _data: Uint8Array): Promise<EphemeralNode> {
    const p = this.#path("create ephemeral", path);
    throw this.#fail(
      "create ephemeral",
      p,
      "unsupported",
      "the filesystem store has no ephemeral nodes (nothing notices a dead owner); use etcd or ZooKeeper",
    );
  }

  async watch(dir: string, onChange: () => void): Promise<Watch> {
    const p = this.#path("watch", dir);
    this.#checkOpen("watch", p);
    const fsPath = this.#file(p);
    let watcher: Deno.FsWatcher;
    try {
      await Deno.mkdir(fsPath, { recursive: true });
      watcher = Deno.watchFs(fsPath, { recursive: false });
    } catch (e) {
      throw this.#error("watch", p, e);
    }
    let pending = false;
    const notify = () => {
      if (pending) return;
      pending = true;
      queueMicrotask(() => {
        pending = false;
        onChange();
      });
    };
    const loop = (async () => {
      try {
        for await (const _ of watcher) notify();
      } catch {
        // closed
      }
    })();
    const watch: Watch = {
      close: async () => {
        if (!this.#watches.delete(watch)) return;
        try {
          watcher.close();
        } catch {
          // already closed
        }
        await loop;
      },
    };
    this.#watches.add(watch);
    notify();
    return watch;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#watches].map((w) => w.close()));
    await this.#queue.catch(() => {});
  }

  // --- internals -------------------------------------------------------------------------------

  #path(op: string, path: string): string {
    return checkPath(this.backend, this.addr, op, path);
  }

  #file(p: string): string {
    return p === "/" ? this.#dataDir : this.#dataDir + p;
  }

  async #stat(p: string): Promise<Deno.FileInfo | null> {
    try {
      return await Deno.stat(this.#file(p));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return null;
      throw e;
    }
  }

  async #write(p: string, data: Uint8Array): Promise<void> {
    if (p === "/") throw this.#fail("write", p, "invalid", "the root cannot hold data");
    const file = this.#file(p);
    const parent = file.slice(0, file.lastIndexOf("/"));
    try {
      await Deno.mkdir(parent, { recursive: true });
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists || e instanceof Deno.errors.NotADirectory) {
        throw this.#fail("write", p, "invalid", "a parent of the node holds data and cannot have children");
      }
      throw e;
    }
    const temp = `${this.#tempDir}/${Deno.pid}.${++this.#tempSeq}.${Date.now()}`;
    try {
      await Deno.writeFile(temp, data, { mode: 0o644 });
      await Deno.rename(temp, file);
    } catch (e) {
      await Deno.remove(temp).catch(() => {});
      throw e;
    }
  }

  /** Runs `fn` holding this process's turn and the root's flock. */
  #locked<T>(op: string, p: string, fn: () => Promise<T>): Promise<T> {
    this.#checkOpen(op, p);
    const run = async (): Promise<T> => {
      let lockFile: Deno.FsFile;
      try {
        lockFile = await Deno.open(this.#lockPath, { read: true, write: true, create: true });
      } catch (e) {
        throw this.#error(op, p, e);
      }
      try {
        await deadline(lockFile.lock(true), this.#timeoutMs, {
          error: () =>
            this.#fail(
              op,
              p,
              "unavailable",
              `timed out after ${this.#timeoutMs} ms waiting for the lock ${this.#lockPath} (${this.#holder()})`,
            ),
        });
        await lockFile.truncate(0);
        await lockFile.write(utf8(JSON.stringify({ pid: Deno.pid, now: new Date().toISOString() })));
        return await fn();
      } catch (e) {
        throw this.#error(op, p, e);
      } finally {
        lockFile.close();
      }
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => {});
    return result;
  }

  #holder(): string {
    try {
      return `held by ${Deno.readTextFileSync(this.#lockPath) || "an unknown process"}`;
    } catch {
      return "held by an unknown process";
    }
  }

  #checkOpen(op: string, p: string): void {
    if (this.#closed) throw this.#fail(op, p, "unavailable", "the client is closed");
  }

  #fail(op: string, p: string, code: StoreErrorCode, detail: string): StoreError {
    return new StoreError(this.backend, this.addr, op, p, code, detail);
  }

  #error(op: string, p: string, e: unknown): StoreError {
    if (e instanceof StoreError) return e;
    if (e instanceof Deno.errors.PermissionDenied) return this.#fail(op, p, "denied", String((e as Error).message));
    return this.#fail(op, p, "failed", errorMessage(e));
  }
}
