/**
 * Transactions through the proxy: `WATCH`, `MULTI`, the queued commands, `EXEC` / `DISCARD`,
 * `UNWATCH`, on a dedicated connection to the master of the one group that holds every key of
 * the transaction.
 *
 * - The connection is taken at the first `WATCH`, or at the first queued command with a key
 *   (`MULTI` is answered by the proxy until then; keyless commands before it are answered
 *   `+QUEUED` and replayed after `MULTI` on the connection). A transaction without any key runs
 *   on any master.
 * - A key of another group than the transaction's answers `CROSSSLOT` (and `EXEC` then answers
 *   `EXECABORT`, as Redis does after any error while queueing); so does a command the proxy
 *   refuses, and a key whose slot is migrating (`TRYAGAIN`).
 * - `EXEC` first checks that every slot of the transaction is still served by that master and not
 *   moving; it holds those slots until its reply, so a migration or a master switch waits for it.
 *   Otherwise the transaction is discarded and `EXEC` answers `EXECABORT … retry`.
 * - Every other reply (`QUEUED`, errors, `EXEC`'s array) is Redis's own, byte for byte.
 *
 * @module
 */

import { encodeCommand, encodeError } from "../redis/resp_writer.ts";
import { type BackendServer, IGNORE_REPLY, type Pending } from "./backend.ts";
import { type CommandInfo, forEachKey, NOT_ALLOWED } from "./command_table.ts";
import type { DedicatedConn } from "./dedicated.ts";
import type { Frame } from "./frame.ts";
import type { Request } from "./request.ts";
import type { Router } from "./router.ts";
import { slotOf } from "../redis/slot_hash.ts";
import { holdSlot } from "./slot.ts";

const MULTI = encodeCommand(["MULTI"]);
const EXEC = encodeCommand(["EXEC"]);
const DISCARD = encodeCommand(["DISCARD"]);
const UNWATCH = encodeCommand(["UNWATCH"]);

/** Redis's answer to EXEC after an error while queueing. */
const EXECABORT = "EXECABORT Transaction discarded because of previous errors.";

/** What a transaction needs from its session. */
export interface TransactionHost {
  readonly router: Router;
  /** Answers `req` with a status reply made by the proxy (`+OK`, `+QUEUED`). */
  status(req: Request, text: string): void;
  /** Answers `req` with the error `message` (made by the proxy, counted as a failure). */
  error(req: Request, message: string): void;
  /** The transaction ended (EXEC, DISCARD, UNWATCH, or its connection was lost and reported). */
  ended(tx: Transaction): void;
  /**
   * Runs `send` once every request the client sent before `req` is answered, and reads nothing
   * more from the client until `req`'s reply is in: what WATCH and EXEC see and do is then ordered
   * with the client's other commands, which go on other connections, as on one Redis.
   */
  inOrder(req: Request, send: (pending: Pending) => void): void;
}

/** One client's transaction, from its first WATCH or MULTI to EXEC, DISCARD or UNWATCH. */
export class Transaction {
  /** True after MULTI. */
  inMulti = false;
  #host: TransactionHost;
  #db: number;
  #conn: DedicatedConn | null = null;
  #server: BackendServer | null = null;
  /** Slots of the keys watched or queued. */
  #slots = new Set<number>();
  /** Why EXEC must answer EXECABORT ("" = nothing went wrong). */
  #dirty = "";
  /** Why the transaction cannot go on: its connection was lost ("" = it is fine). */
  #lost = "";
  /** Keyless commands queued before the connection was taken. */
  #deferred: Uint8Array[] = [];

  constructor(host: TransactionHost, db: number) {
    this.#host = host;
    this.#db = db;
  }

  /** `WATCH key…` (before MULTI). */
  watch(req: Request, cmd: CommandInfo, frame: Frame): void {
    if (this.inMulti) {
      this.#host.error(req, "ERR WATCH inside MULTI is not allowed");
      return;
    }
    const problem = this.#claimKeys(cmd, frame);
    if (problem !== "") {
      this.#host.error(req, problem);
      if (this.#conn === null) this.#host.ended(this);
      return;
    }
    const bytes = frame.buf.slice(frame.start, frame.end);
    this.#host.inOrder(req, (pending) => this.#send(pending, bytes));
  }

  /** `UNWATCH` outside MULTI: the watch ends, the connection goes back. */
  unwatch(req: Request): void {
    const conn = this.#end();
    if (conn === null) this.#host.status(req, "OK");
    else finishOn(conn, UNWATCH, req);
  }

  /** `MULTI`. */
  multi(req: Request): void {
    if (this.inMulti) {
      this.#host.error(req, "ERR MULTI calls can not be nested");
      return;
    }
    this.inMulti = true;
    if (this.#conn !== null && !this.#lost) this.#conn.send(req, MULTI, 0, MULTI.length);
    else this.#host.status(req, "OK");
  }

  /** A command after MULTI: queued on the transaction's server, or refused (and EXEC will abort). */
  queue(req: Request, cmd: CommandInfo | undefined, frame: Frame): void {
    if (cmd !== undefined && ((cmd.flags & NOT_ALLOWED) !== 0 || cmd.special !== undefined)) {
      if (cmd.special === "PING" || cmd.special === "ECHO" || cmd.name === "UNWATCH") {
        this.#queueBytes(req, frame.buf.slice(frame.start, frame.end));
        return;
      }
      this.#flag(req, `ERR handle request, command '${cmd.name}' is not allowed in a transaction`);
      return;
    }
    const problem = this.#claimKeys(cmd, frame);
    if (problem !== "") {
      this.#flag(req, problem);
      return;
    }
    this.#queueBytes(req, frame.buf.slice(frame.start, frame.end));
  }

  /** `EXEC`. */
  exec(req: Request): void {
    if (!this.inMulti) {
      this.#host.error(req, "ERR EXEC without MULTI");
      return;
    }
    if (this.#lost) {
      this.#host.error(req, `EXECABORT Transaction discarded: ${this.#lost}`);
      this.#end();
      return;
    }
    if (this.#dirty) {
      const conn = this.#end();
      if (conn !== null) finishOn(conn, DISCARD, null);
      this.#host.error(req, EXECABORT);
      return;
    }
    if (this.#conn === null) {
      // No key at all: any master runs it.
      const slot = this.#host.router.anyOnlineSlot(0);
      if (slot === null || slot.master === null) {
        this.#host.error(req, "ERR handle request, slot is not ready, may be offline");
        this.#end();
        return;
      }
      if (!this.#take(req, slot.master)) return;
    }
    const router = this.#host.router;
    const server = this.#server;
    const slots = [...this.#slots];
    const conn = this.#end()!;
    this.#host.inOrder(req, (pending) => {
      // Checked when it goes: every slot still served by that master and not moving, and held
      // until the reply, so that no refill can come between.
      for (const id of slots) {
        const slot = router.slots[id];
        if (slot.master !== server || slot.blocked || slot.migrateFrom !== null) {
          finishOn(conn, DISCARD, null);
          pending.onReply(...errorReply(
            `EXECABORT Transaction discarded because slot ${id} started moving (migration or master switch) ` +
              "after it was queued: retry",
          ));
          return;
        }
      }
      for (const id of slots) holdSlot(req, router.slots[id]);
      finishOn(conn, EXEC, pending);
    });
  }

  /** `DISCARD`. */
  discard(req: Request): void {
    if (!this.inMulti) {
      this.#host.error(req, "ERR DISCARD without MULTI");
      return;
    }
    const conn = this.#end();
    if (conn !== null) finishOn(conn, DISCARD, req);
    else this.#host.status(req, "OK");
  }

  /** The client left (or RESET): the connection closes, and the server forgets the transaction. */
  abort(): void {
    this.#conn?.close("client closed");
    this.#conn = null;
  }

  /** An error while queueing: answered, and EXEC will answer EXECABORT. */
  #flag(req: Request, message: string): void {
    this.#dirty ||= message;
    this.#host.error(req, message);
  }

  /**
   * Checks that every key of the command lives in the transaction's group and in a slot that is
   * not moving, and records their slots; "" when they do, else the error to answer.
   */
  #claimKeys(cmd: CommandInfo | undefined, frame: Frame): string {
    const router = this.#host.router;
    let problem = "";
    let server = this.#server;
    const slots: number[] = [];
    forEachKey(cmd, frame, (start, end) => {
      if (problem !== "") return;
      const id = slotOf(frame.buf, start, end);
      const slot = router.slots[id];
      if (slot.master === null) {
        problem = "ERR handle request, slot is not ready, may be offline";
      } else if (slot.blocked || slot.migrateFrom !== null) {
        problem = `TRYAGAIN slot ${id} is being migrated: retry the transaction once it has moved`;
      } else if (server !== null && slot.master !== server) {
        problem = `CROSSSLOT Keys in request are on different groups of servers (slot ${id} is not in the ` +
          "transaction's group): use a hash tag {...} to keep them together";
      } else {
        server = slot.master;
        slots.push(id);
      }
    });
    if (problem !== "") return problem;
    if (server !== null && this.#conn === null) {
      const taken = server.dedicated.take(this.#db);
      if (typeof taken === "string") return `ERR handle request, ${taken}`;
      this.#attach(taken, server);
    }
    for (const id of slots) this.#slots.add(id);
    return "";
  }

  /** Takes a connection on `server` for a transaction that had no key; false (and answered) if none. */
  #take(req: Request, server: BackendServer): boolean {
    const taken = server.dedicated.take(this.#db);
    if (typeof taken === "string") {
      this.#host.error(req, `ERR handle request, ${taken}`);
      this.#end();
      return false;
    }
    this.#attach(taken, server);
    return true;
  }

  /** Starts using `conn`: MULTI (when already in one) and the deferred commands go first. */
  #attach(conn: DedicatedConn, server: BackendServer): void {
    this.#conn = conn;
    this.#server = server;
    conn.onClosed = (reason) => {
      this.#lost = `the connection to ${conn.addr} was lost (${reason})`;
    };
    if (this.inMulti) {
      conn.send(IGNORE_REPLY, MULTI, 0, MULTI.length);
      for (const bytes of this.#deferred) conn.send(IGNORE_REPLY, bytes, 0, bytes.length);
      this.#deferred = [];
    }
  }

  /** Queues a command: on the connection when there is one, else answered QUEUED and kept. */
  #queueBytes(req: Request, bytes: Uint8Array): void {
    if (this.#lost) {
      this.#flag(req, `ERR handle request, ${this.#lost}`);
      return;
    }
    if (this.#conn !== null) {
      this.#conn.send(req, bytes, 0, bytes.length);
      return;
    }
    this.#deferred.push(bytes);
    this.#host.status(req, "QUEUED");
  }

  #send(pending: Pending, bytes: Uint8Array): void {
    if (this.#lost || this.#conn === null) {
      pending.onFailure(this.#lost || "no connection");
      return;
    }
    this.#conn.send(pending, bytes, 0, bytes.length);
  }

  /**
   * The transaction is over: returns its connection for the last command (see `finishOn`), or null
   * when it has none (or lost it).
   */
  #end(): DedicatedConn | null {
    const conn = this.#conn;
    this.#conn = null;
    this.#host.ended(this);
    if (conn === null) return null;
    conn.onClosed = null;
    if (this.#lost) {
      conn.close();
      return null;
    }
    return conn;
  }
}

/** An error reply as `onReply` arguments. */
function errorReply(message: string): [Uint8Array, number, number] {
  const bytes = encodeError(message);
  return [bytes, 0, bytes.length];
}

/**
 * Sends a transaction's last command (EXEC, DISCARD, UNWATCH) on `conn`; its reply goes to
 * `pending`, then the connection goes back to its pool (or closes, if something else waits on it).
 */
function finishOn(conn: DedicatedConn, command: Uint8Array, pending: Pending | null): void {
  conn.send(
    {
      onReply(buf, start, end) {
        pending?.onReply(buf, start, end);
        if (conn.pending === 0) conn.release();
        else conn.close();
      },
      onFailure(reason) {
        pending?.onFailure(reason);
        conn.close();
      },
    },
    command,
    0,
    command.length,
  );
}
