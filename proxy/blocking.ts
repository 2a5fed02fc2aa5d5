/**
 * Blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP,
 * XREAD/XREADGROUP with BLOCK): each runs on a dedicated connection to its slot's master, so that
 * it can wait as long as the client asked without stalling the shared connections.
 *
 * - A slot that is blocked (locked, being refilled) holds the command until it is released, as
 *   for any request; on a migrating slot its keys are moved to the target first, and it waits
 *   there (every write to those keys goes to the target meanwhile).
 * - A refill that moves the slot elsewhere (migration barrier, master switch) ends the wait with
 *   `CLIENT UNBLOCK <id> ERROR` on the proxy's own connection, and the refill waits for the
 *   server's answer: either the command was served just before (its reply goes to the client), or
 *   nothing was taken and the client gets a `TRYAGAIN` error. So no element is ever popped on a
 *   server that no longer owns the slot, nor lost.
 * - A client that disconnects while blocked closes the dedicated connection at once.
 *
 * @module
 */

import { RESP_ERROR } from "../redis/resp_types.ts";
import type { Pending } from "./backend.ts";
import type { DedicatedConn } from "./dedicated.ts";
import type { Request } from "./request.ts";
import type { Router } from "./router.ts";
import { type Blocker, holdSlot, releaseSlots, type Slot } from "./slot.ts";

/** How long a blocked command may take to answer its CLIENT UNBLOCK before its connection is closed. */
const UNBLOCK_TIMEOUT_MS = 3000;

const UNBLOCKED = new TextEncoder().encode("-UNBLOCKED");

/** One blocking command of a session, from its dispatch to its reply. */
export class BlockingCommand implements Pending, Blocker {
  readonly req: Request;
  #router: Router;
  #bytes: Uint8Array;
  #keys: Uint8Array[];
  #slotId: number;
  #name: string;
  #conn: DedicatedConn | null = null;
  #slot: Slot | null = null;
  #unblocked = false;
  #finished = false;
  /** Called once the command has its outcome (or was cancelled). */
  onFinished: (() => void) | null = null;

  /** `bytes` is a copy of the request, `keys` copies of its keys, `slotId` its routing key's slot. */
  constructor(router: Router, req: Request, name: string, bytes: Uint8Array, keys: Uint8Array[], slotId: number) {
    this.#router = router;
    this.req = req;
    this.#name = name;
    this.#bytes = bytes;
    this.#keys = keys;
    this.#slotId = slotId;
  }

  /** Sends the command (now, or once its slot is released). */
  start(): void {
    if (this.#finished) return;
    const slot = this.#router.slots[this.#slotId];
    if (slot.blocked) {
      slot.waiters.push({
        routed: this.req,
        bytes: this.#bytes,
        readOnly: false,
        since: performance.now(),
        keys: null,
        resume: () => this.start(),
      });
      return;
    }
    if (slot.master === null) {
      this.#finish(() => this.req.reject("slot is not ready, may be offline"));
      return;
    }
    if (slot.migrateFrom !== null) {
      // The keys move to the target first; the command waits there.
      holdSlot(this.req, slot);
      this.#router.forwarder.moveKeys(this.req, this.#keys, () => {
        releaseSlots(this.req);
        if (!this.#finished) this.#send(slot);
      });
      return;
    }
    this.#send(slot);
  }

  /** Sends the command on a dedicated connection to `slot`'s master, where it waits. */
  #send(slot: Slot): void {
    if (slot.master === null || slot.blocked) {
      this.start(); // the slot changed meanwhile: start over
      return;
    }
    const conn = slot.master.dedicated.take(this.req.db);
    if (typeof conn === "string") {
      this.#finish(() => this.req.reject(conn));
      return;
    }
    this.#conn = conn;
    this.#slot = slot;
    slot.blockers.add(this);
    conn.onClosed = (reason) => this.onFailure(reason);
    conn.send(this, this.#bytes, 0, this.#bytes.length);
  }

  unblock(slot: Slot): void {
    const conn = this.#conn;
    if (this.#unblocked || conn === null || slot.master === null) return;
    this.#unblocked = true;
    holdSlot(this.req, slot);
    const server = slot.master;
    const send = () => {
      server.ownConn(0).sendCommand({
        onReply() {},
        onFailure: () => conn.close("backend conn closed, its slot is moving"),
      }, ["CLIENT", "UNBLOCK", conn.clientId, "ERROR"]);
    };
    if (conn.clientId > 0) send();
    else conn.onClientId = send;
    // A server that does not answer (stopped, unreachable) must not hold the refill for ever.
    const timer = setTimeout(() => {
      if (!this.#finished) conn.close("backend conn closed, no answer to CLIENT UNBLOCK");
    }, UNBLOCK_TIMEOUT_MS);
    Deno.unrefTimer(timer);
  }

  onReply(buf: Uint8Array, start: number, end: number): void {
    const conn = this.#conn;
    if (this.#unblocked && isUnblocked(buf, start, end)) {
      this.#finish(() => {
        releaseSlots(this.req);
        this.req.sink.failed(
          this.req,
          `TRYAGAIN slot ${this.#slotId} is moving (migration or master switch) while ${this.#name} waited; ` +
            "nothing was taken: retry",
        );
      });
    } else {
      this.#finish(() => this.req.onReply(buf, start, end));
    }
    conn?.release();
  }

  onFailure(reason: string): void {
    this.#finish(() => this.req.onFailure(reason));
    this.#conn?.close(reason);
  }

  /** The client went away: the dedicated connection closes (the server forgets the command). */
  cancel(): void {
    if (this.#finished) return;
    this.#finish(() => this.req.onFailure("client closed"));
    this.#conn?.close("client closed");
  }

  #finish(outcome: () => void): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#slot?.blockers.delete(this);
    if (this.#conn !== null) this.#conn.onClosed = null;
    outcome();
    const done = this.onFinished;
    this.onFinished = null;
    done?.();
  }
}

function isUnblocked(buf: Uint8Array, start: number, end: number): boolean {
  if (buf[start] !== RESP_ERROR || end - start < UNBLOCKED.length) return false;
  for (let i = 1; i < UNBLOCKED.length; i++) if (buf[start + i] !== UNBLOCKED[i]) return false;
  return true;
}
