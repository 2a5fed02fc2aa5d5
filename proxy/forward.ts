/**
 * Requests on a migrating slot (Codis's `pkg/proxy/forward.go`, on stock Redis): the slot's
 * target master serves it, its source master still holds the keys not moved yet.
 *
 * - A write, or a multi-key request, first moves its keys: `MIGRATE host port "" db timeout
 *   [AUTH pw] KEYS k…` on the source (one call per source and target, on the proxy's own
 *   connection: the ACL user that serves clients may not MIGRATE), then goes to the target.
 *   MIGRATE is atomic per call and removes the keys from the source; `NOKEY` means they moved
 *   already, or are new.
 * - A single-key read moves nothing: `MULTI; EXISTS key; <read>; EXEC` on the source answers it
 *   there while the key is still there (its value there is current, since every write moves the
 *   key first), and otherwise the read goes to the target.
 *
 * The request holds its slots throughout, so they cannot be refilled (and the migration cannot
 * finish) between the move and the request.
 *
 * @module
 */

import { migrateCommand } from "../redis/migrate.ts";
import { encodeCommand } from "../redis/resp_writer.ts";
import { CR, LF, RESP_ARRAY, RESP_ERROR, RESP_INTEGER } from "../redis/resp_types.ts";
import { slotOf } from "../redis/slot_hash.ts";
import { fromUtf8, latin1 } from "../utils/bytes.ts";
import type { BackendServer, Pending } from "./backend.ts";
import { realDb } from "./backend_base.ts";
import { holdSlot, type Routed, type Slot } from "./slot.ts";

/** The I/O timeout (ms) of the MIGRATE a proxy runs before serving a key of a migrating slot. */
export const MIGRATE_TIMEOUT_MS = 10_000;

const MULTI = encodeCommand(["MULTI"]);
const EXEC = encodeCommand(["EXEC"]);
const DIGIT_0 = 0x30;
const DIGIT_1 = 0x31;
const DIGIT_2 = 0x32;

/**
 * For an EXEC reply `*2\r\n:N\r\n<reply>`: the offset of <reply> when N is 1, 0 when N is 0,
 * -1 for anything else (the transaction failed: fall back to MIGRATE).
 */
export function execExistsPrefix(buf: Uint8Array, start: number, end: number): number {
  if (end - start < 9) return -1;
  if (buf[start] !== RESP_ARRAY || buf[start + 1] !== DIGIT_2 || buf[start + 2] !== CR || buf[start + 3] !== LF) {
    return -1;
  }
  if (buf[start + 4] !== RESP_INTEGER || buf[start + 6] !== CR || buf[start + 7] !== LF) return -1;
  const n = buf[start + 5];
  if (n === DIGIT_1) return start + 8;
  if (n === DIGIT_0) return 0;
  return -1;
}

/** Why a request that cannot wait for a key moving in pieces (a blocking command) fails. */
const HELD_REASON = "key is being moved to another server in pieces, retry in a moment";

/** Serves requests on migrating slots for one router. */
export class MigrationForwarder {
  #slots: readonly Slot[];
  #auth: string;
  /** MIGRATEs this proxy ran to move keys it was asked for, and the keys they carried. */
  migrates = 0;
  migratedKeys = 0;
  /**
   * Slots of the table with big keys moving in pieces ({@linkcode Slot.held}), kept by the router's
   * fills: while it is 0, no request looks its keys up in those sets.
   */
  heldSlots = 0;

  /** `slots` is the router's table; `auth` the password of the target servers (`product_auth`). */
  constructor(slots: readonly Slot[], auth: string) {
    this.#slots = slots;
    this.#auth = auth;
  }

  /**
   * Sends `bytes` (a request whose keys are `keys`) for `slot`, which is migrating and not blocked.
   * Big keys the dashboard moves in pieces ({@linkcode Slot.held}) are never MIGRATEd: a request on
   * such keys only goes to the source; one on a key being copied now, or mixing big keys with
   * others, waits (holding no reference) until a fill releases the key.
   */
  forward(routed: Routed, slot: Slot, bytes: Uint8Array, keys: Uint8Array[], readOnly: boolean): void {
    const single = readOnly && keys.length === 1 && slotOf(keys[0]) === slot.id;
    if (!single) {
      const held = this.#held(keys);
      if (held !== null && (held.moving !== null || held.count < keys.length)) {
        // Resumed at each fill of that slot; goes on once the key is no longer held there.
        (held.moving ?? held.first).waiters.push({ routed, bytes, readOnly, since: performance.now(), keys });
        return;
      }
      holdSlot(routed, slot);
      // Only big keys not being copied yet: they are whole on the source.
      if (held !== null) slot.migrateFrom!.conn(routed.db, routed.seed).send(routed, bytes, 0, bytes.length);
      else this.#migrateThenSend(routed, slot, bytes, keys);
      return;
    }
    holdSlot(routed, slot);
    this.#read(routed, slot, bytes, keys[0]);
  }

  /**
   * Which of `keys` the dashboard moves in pieces: how many, the slot of the first, and the slot
   * of the first being copied now; null when none (at once while no slot has any).
   */
  #held(keys: Uint8Array[]): { count: number; first: Slot; moving: Slot | null } | null {
    if (this.heldSlots === 0) return null;
    let out: { count: number; first: Slot; moving: Slot | null } | null = null;
    for (const key of keys) {
      const s = this.#slots[slotOf(key)];
      if (s.held === null) continue;
      const k = latin1(key);
      if (!s.held.has(k)) continue;
      out ??= { count: 0, first: s, moving: null };
      out.count++;
      if (s.moving !== null && s.moving.has(k)) out.moving ??= s;
    }
    return out;
  }

  /**
   * A single-key read, without moving anything: `MULTI; EXISTS key; <the read>; EXEC` on the
   * source. One round trip to the source instead of a MIGRATE (which makes the source write to the
   * target and wait). The four commands are queued on the shared connection in one synchronous
   * block, so nothing can come between them.
   */
  #read(routed: Routed, slot: Slot, bytes: Uint8Array, key: Uint8Array): void {
    const source = slot.migrateFrom!.conn(routed.db, routed.seed);
    const target = slot.master!;
    const queued: Pending = { onReply() {}, onFailure() {} };
    source.send(queued, MULTI, 0, MULTI.length);
    const exists = encodeCommand(["EXISTS", key]);
    source.send(queued, exists, 0, exists.length);
    source.send(queued, bytes, 0, bytes.length);
    source.send(
      {
        onReply: (buf: Uint8Array, start: number, end: number) => {
          // `*2\r\n:1\r\n<reply>`: the key is on the source, and <reply> is the answer.
          const after = execExistsPrefix(buf, start, end);
          if (after > 0) routed.onReply(buf, after, end);
          else if (after === 0) target.conn(routed.db, routed.seed).send(routed, bytes, 0, bytes.length);
          else if (this.#held([key]) !== null) routed.reject(HELD_REASON);
          else this.#migrateThenSend(routed, slot, bytes, [key]);
        },
        onFailure: (reason: string) =>
          routed.reject(`bad migrate resp: ${reason} (read from ${slot.migrateFrom?.addr})`),
      },
      EXEC,
      0,
      EXEC.length,
    );
  }

  /**
   * Moves every key of the request that lives in a migrating slot (one MIGRATE per source and
   * target), then sends the request to `slot`'s target. The request already holds `slot`; it
   * takes a hold on every other slot it moves keys of.
   */
  #migrateThenSend(routed: Routed, slot: Slot, bytes: Uint8Array, keys: Uint8Array[]): void {
    const target = slot.master!;
    this.#move(routed, keys, () => target.conn(routed.db, routed.seed).send(routed, bytes, 0, bytes.length));
  }

  /**
   * Moves `keys` that live in migrating slots to their targets (one MIGRATE per source and
   * target), then calls `then`; fails `routed` when a MIGRATE fails. `routed` takes a hold on every
   * slot it moves keys of (the caller releases them once done).
   */
  moveKeys(routed: Routed, keys: Uint8Array[], then: () => void): void {
    // A caller that cannot wait (a blocking command) fails on a key moving in pieces.
    if (this.#held(keys) !== null) routed.reject(HELD_REASON);
    else this.#move(routed, keys, then);
  }

  /** {@linkcode moveKeys} for keys known not to be moving in pieces. */
  #move(routed: Routed, keys: Uint8Array[], then: () => void): void {
    const moves = new Map<string, { from: BackendServer; to: string; keys: Uint8Array[] }>();
    for (const key of keys) {
      const s = this.#slots[slotOf(key)];
      if (s.migrateFrom === null || s.master === null || s.blocked) continue;
      if (!routed.slots?.includes(s)) holdSlot(routed, s);
      const id = `${s.migrateFrom.addr}>${s.master.addr}`;
      let m = moves.get(id);
      if (m === undefined) {
        m = { from: s.migrateFrom, to: s.master.addr, keys: [] };
        moves.set(id, m);
      }
      m.keys.push(key);
    }
    const send = then;
    if (moves.size === 0) {
      send();
      return;
    }
    let waiting = moves.size;
    let failed = false;
    const fail = (reason: string) => {
      if (failed) return;
      failed = true;
      routed.reject(`bad migrate resp: ${reason}`);
    };
    for (const m of moves.values()) {
      const { args, keyCount } = migrateCommand(m.to, realDb(routed.db), MIGRATE_TIMEOUT_MS, this.#auth, m.keys);
      this.migrates++;
      this.migratedKeys += keyCount;
      const cmd = encodeCommand(args);
      m.from.ownConn(realDb(routed.db)).send(
        {
          onReply(buf: Uint8Array, start: number, end: number) {
            if (buf[start] === RESP_ERROR) {
              fail(`${fromUtf8(buf.subarray(start + 1, end)).trim()} (MIGRATE from ${m.from.addr} to ${m.to})`);
            } else if (--waiting === 0 && !failed) {
              send();
            }
          },
          onFailure(reason: string) {
            fail(`${reason} (MIGRATE from ${m.from.addr} to ${m.to})`);
          },
        },
        cmd,
        0,
        cmd.length,
      );
    }
  }
}
