/**
 * Sync actions: making a server replicate its group's master (or be a master), one at a time, in
 * the order they were created (Codis's `ProcessSyncAction` in `pkg/topom/topom_group.go`). A
 * server's action goes pending → syncing → synced or synced_failed, each state stored.
 *
 * @module
 */

import { SYNC_FAILED, SYNC_PENDING, SYNC_SYNCED, SYNC_SYNCING } from "../coord/models.ts";

import { RespError } from "../redis/resp_value.ts";
import { parseAddr } from "../utils/addr.ts";
import { conflict, errorMessage, invalid, notFound } from "../utils/errors.ts";
import { log } from "../utils/log.ts";
import { checkAddr, type ServerConnector, type Topom } from "./topom.ts";

/** How long the REPLICAOF transaction may take. */
const REPLICAOF_TIMEOUT_MS = 30_000;

/** The sync actions of one dashboard, and what the last one of each server found worth telling. */
export class SyncActions {
  #t: Topom;
  /** Notes by server address (e.g. "CONFIG REWRITE impossible"), shown in the stats as `sync_note`. */
  readonly #notes = new Map<string, string>();

  constructor(topom: Topom) {
    this.#t = topom;
  }

  /** What the last sync action of `addr` found worth telling, or "". */
  note(addr: string): string {
    return this.#notes.get(addr) ?? "";
  }

  /** Forgets the note of a server (it left the product, or a failover changed its role). */
  forget(addr: string): void {
    this.#notes.delete(addr);
  }

  create(addr: string): Promise<void> {
    const t = this.#t;
    return t.exclusive(async () => {
      const { g, i } = this.#serverToChange(addr);
      const s = g.servers[i];
      if (s.action.state === SYNC_PENDING || s.action.state === SYNC_SYNCING) {
        throw conflict(`server-[${addr}] action already exist`);
      }
      s.action = { index: t.ctx().nextSyncActionIndex(), state: SYNC_PENDING };
      this.#notes.delete(addr);
      await t.storeGroup(g);
    });
  }

  remove(addr: string): Promise<void> {
    const t = this.#t;
    return t.exclusive(async () => {
      const { g, i } = this.#serverToChange(addr);
      const s = g.servers[i];
      if (!s.action.state) throw notFound(`server-[${addr}] action doesn't exist`);
      if (s.action.state === SYNC_SYNCING) throw invalid(`server-[${addr}] action is running`);
      s.action = { index: 0, state: "" };
      await t.storeGroup(g);
    });
  }

  /** One round of the sync-action loop: runs the next pending action; true when there was one. */
  async step(): Promise<boolean> {
    const next = await this.#take();
    if (!next) return false;
    const what = next.master ? `replicate ${next.master}` : "be a master";
    let ok = false;
    try {
      const note = await replicaOf(this.#t.connectServer, {
        addr: next.addr,
        master: next.master,
        productAuth: this.#t.config.productAuth,
      });
      if (note) {
        this.#notes.set(next.addr, note);
        log.warn(`sync server-[${next.addr}]: ${note}`);
      } else {
        this.#notes.delete(next.addr);
      }
      ok = true;
      log.info(`sync server-[${next.addr}] to ${what}: done`);
    } catch (e) {
      this.#notes.set(next.addr, `failed: ${errorMessage(e)}`);
      log.warn(`sync server-[${next.addr}] to ${what} failed: ${errorMessage(e)}`);
    }
    await this.#finish(next.addr, ok);
    return true;
  }

  /** The pending action with the smallest index, marked syncing; null when there is none. */
  #take(): Promise<{ addr: string; master: string } | null> {
    const t = this.#t;
    return t.exclusive(async () => {
      const next = t.ctx().nextSyncAction();
      if (!next) return null;
      const g = structuredClone(next.group);
      g.servers[next.index].action.state = SYNC_SYNCING;
      await t.storeGroup(g);
      return { addr: g.servers[next.index].addr, master: next.index === 0 ? "" : g.servers[0].addr };
    });
  }

  /** Records the end of a sync action (unless the server or its action went meanwhile). */
  #finish(addr: string, ok: boolean): Promise<void> {
    const t = this.#t;
    return t.exclusive(async () => {
      const place = t.ctx().serverPlace(addr);
      if (!place) return;
      const g = structuredClone(place.group);
      const s = g.servers[place.index];
      if (s.action.state !== SYNC_SYNCING) return;
      s.action.state = ok ? SYNC_SYNCED : SYNC_FAILED;
      await t.storeGroup(g);
    });
  }

  /** A copy of the group of the server at `addr` (refused while it is promoting) and the server's index. */
  #serverToChange(addr: string) {
    checkAddr(addr, "server");
    const place = this.#t.ctx().serverPlace(addr);
    if (!place) throw notFound(`server-[${addr}] doesn't exist`);
    if (place.group.promoting.state) throw invalid(`group-[${place.group.id}] is promoting`);
    return { g: structuredClone(place.group), i: place.index };
  }
}

/**
 * Points a server at `master` ("" = make it a master), as Codis's sync action does:
 * CONFIG SET masterauth, REPLICAOF, CONFIG REWRITE, CLIENT KILL TYPE normal, in one MULTI.
 * Returns a note when the setting could not be written to the server's config file.
 */
export async function replicaOf(
  connect: ServerConnector,
  o: { addr: string; master: string; productAuth: string },
): Promise<string> {
  const { addr, master, productAuth } = o;
  const client = await connect(addr, { connectTimeoutMs: 5000, timeoutMs: REPLICAOF_TIMEOUT_MS });
  try {
    const target = master ? parseAddr(master) : null;
    const replies = await client.pipeline([
      ["MULTI"],
      ["CONFIG", "SET", "masterauth", productAuth],
      target ? ["REPLICAOF", target.host, String(target.port)] : ["REPLICAOF", "NO", "ONE"],
      ["CONFIG", "REWRITE"],
      ["CLIENT", "KILL", "TYPE", "normal"],
      ["EXEC"],
    ]);
    const exec = replies.at(-1);
    if (!Array.isArray(exec)) {
      const first = replies.find((r) => r instanceof RespError);
      throw new Error(`MULTI failed: ${first instanceof RespError ? first.message : String(exec)}`);
    }
    const [setAuth, replicaof, rewrite] = exec;
    if (setAuth instanceof RespError) throw new Error(`CONFIG SET masterauth failed: ${setAuth.message}`);
    if (replicaof instanceof RespError) throw new Error(`REPLICAOF failed: ${replicaof.message}`);
    if (rewrite instanceof RespError) {
      return `CONFIG REWRITE failed (${rewrite.message}): the server replicates ${
        master || "no one"
      } now, but will forget it when it restarts`;
    }
    return "";
  } finally {
    await client.close();
  }
}
