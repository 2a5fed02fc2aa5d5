/**
 * `SCAN` over the whole cluster, and `KEYS` through it.
 *
 * The proxy's cursor is one unsigned 64-bit number, as Redis's, that packs where the iteration is:
 * `server cursor << 34 | server index << 32 | filter << 22 | pass << 12 | group id` (group ids up
 * to 4095, server cursors up to 2^30: a table of a billion buckets). One pass visits the groups in
 * order of id (their masters, and the sources of slots migrating out of them), each with Redis's
 * own `SCAN`, so a pass alone gives Redis's guarantee as long as no slot changes servers.
 *
 * A slot that moves during a pass (migration, master switch) may carry a key from a group not yet
 * visited to one already visited. So the router counts moves (`Router.moves`, each slot's
 * `movedAt`); a pass remembers the count it started at (`pass`), and when it ends with slots moved
 * since, another pass follows that visits only the groups holding those slots now and returns
 * only their keys (`filter`). It ends once a pass saw no move. Duplicates are possible, as with
 * Redis; a key that existed throughout is never missed.
 *
 * @module
 */

import { RESP_ARRAY, RESP_BULK, RESP_ERROR } from "../redis/resp_types.ts";
import { ByteWriter, encodeCommand } from "../redis/resp_writer.ts";
import { slotOf } from "../redis/slot_hash.ts";
import type { BackendServer, Pending } from "./backend.ts";
import type { Frame } from "./frame.ts";
import type { Request } from "./request.ts";
import type { Router } from "./router.ts";

const GROUP_BITS = 12n;
/** Where the pseudo group ids of servers without a group start. */
const UNGROUPED = 3072;
const COUNT_BITS = 10n;
const COUNT_MASK = (1 << Number(COUNT_BITS)) - 1;
const HALF = (COUNT_MASK + 1) / 2;
const dec = new TextDecoder();

/** Where an iteration is (see the module's notes). */
export interface ScanCursor {
  group: number;
  /** `Router.moves` (mod 2^10) when this pass began. */
  pass: number;
  /** 0 in the first pass; else only keys of slots moved after this count are returned. */
  filter: number;
  /** The position in the group: `server's own cursor << 2 | index of the server in the group`. */
  server: bigint;
}

/** Parses the client's cursor; null when it is not one. */
export function decodeCursor(text: string): ScanCursor | null {
  if (!/^\d{1,20}$/.test(text)) return null;
  const n = BigInt(text);
  if (n >= 1n << 64n) return null;
  const mask = BigInt(COUNT_MASK);
  return {
    group: Number(n & ((1n << GROUP_BITS) - 1n)),
    pass: Number((n >> GROUP_BITS) & mask),
    filter: Number((n >> (GROUP_BITS + COUNT_BITS)) & mask),
    server: n >> (GROUP_BITS + 2n * COUNT_BITS),
  };
}

/** The cursor's text. */
export function encodeCursor(c: ScanCursor): string {
  return String(
    (c.server << (GROUP_BITS + 2n * COUNT_BITS)) | (BigInt(c.filter & COUNT_MASK) << (GROUP_BITS + COUNT_BITS)) |
      (BigInt(c.pass & COUNT_MASK) << GROUP_BITS) | BigInt(c.group),
  );
}

/** True when `slotMovedAt` is after the count `since` (both mod 2^10: within 511 moves of each other). */
function movedAfter(slotMovedAt: number, since: number): boolean {
  if (slotMovedAt === 0) return false;
  const d = ((slotMovedAt & COUNT_MASK) - since) & COUNT_MASK;
  return d !== 0 && d < HALF;
}

/**
 * The groups to visit and the servers that hold their keys now, by group id: in a filtered pass,
 * only the groups of the slots moved after `filter`.
 */
function groupsToVisit(router: Router, filter: number): Map<number, Set<BackendServer>> {
  const out = new Map<number, Set<BackendServer>>();
  // Slots filled without group ids (--fillslots with addresses only): a pseudo group per server.
  const ungrouped = [...new Set(router.slots.flatMap((s) => [s.master, s.migrateFrom]))]
    .filter((s) => s !== null).map((s) => s!.addr).sort();
  const add = (gid: number, server: BackendServer | null) => {
    if (server === null) return;
    if (gid <= 0) gid = UNGROUPED + ungrouped.indexOf(server.addr);
    let set = out.get(gid);
    if (set === undefined) out.set(gid, set = new Set());
    set.add(server);
  };
  for (const slot of router.slots) {
    if (filter !== 0 && !movedAfter(slot.movedAt, filter)) continue;
    add(slot.spec.backendAddrGroupId, slot.master);
    add(slot.spec.migrateFromGroupId, slot.migrateFrom);
  }
  return out;
}

/** Options of a SCAN request after the cursor, as sent (MATCH, COUNT, TYPE). */
function options(frame: Frame, from: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = from; i < frame.argc; i++) out.push(frame.argBytes(i));
  return out;
}

/** One server's SCAN reply: its next cursor and where each key is. */
interface ServerPage {
  next: bigint;
  keys: [number, number][];
}

function parsePage(buf: Uint8Array, start: number, end: number): ServerPage | null {
  let p = start;
  // The number on the line at p (after its type byte); p moves past the line.
  const line = (): number => {
    let n = 0;
    p++;
    while (p < end && buf[p] !== 13) n = n * 10 + buf[p++] - 48;
    p += 2;
    return n;
  };
  if (buf[p] !== RESP_ARRAY || line() !== 2 || buf[p] !== RESP_BULK) return null;
  const len = line();
  const next = BigInt(dec.decode(buf.subarray(p, p + len)));
  p += len + 2;
  if (buf[p] !== RESP_ARRAY) return null;
  const n = line();
  const keys: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    if (buf[p] !== RESP_BULK) return null;
    const l = line();
    keys.push([p, p + l]);
    p += l + 2;
  }
  return { next, keys };
}

/**
 * `SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]`: one step of the iteration; answers
 * `[next cursor, keys]` as Redis does ("0" once it is over).
 */
export function dispatchScan(router: Router, req: Request, frame: Frame): void {
  const cursor = decodeCursor(frame.arg(1));
  if (cursor === null) {
    req.sink.failed(req, "ERR invalid cursor");
    return;
  }
  const opts = options(frame, 2);
  if (frame.arg(1) === "0") {
    cursor.pass = router.moves & COUNT_MASK;
    cursor.filter = 0;
  }
  step(router, req, req.db, req.seed, cursor, opts);
}

/**
 * `KEYS pattern`: every key matching, gathered with SCAN MATCH over the cluster (so no server is
 * blocked by a KEYS of its whole keyspace), each once.
 */
export function dispatchKeys(router: Router, req: Request, frame: Frame): void {
  const opts = [new TextEncoder().encode("MATCH"), frame.argBytes(1), new TextEncoder().encode("COUNT"), COUNT_1000];
  const seen = new Set<string>();
  const keys: Uint8Array[] = [];
  const next = (c: ScanCursor) =>
    step(
      router,
      {
        onReply(buf, start, end) {
          if (buf[start] === RESP_ERROR) {
            req.onReply(buf, start, end);
            return;
          }
          const page = parsePage(buf, start, end)!;
          for (const [s, e] of page.keys) {
            const id = latin1.decode(buf.subarray(s, e));
            if (seen.has(id)) continue;
            seen.add(id);
            keys.push(buf.slice(s, e));
          }
          if (page.next === 0n) {
            const w = new ByteWriter(256);
            w.appendHeader(RESP_ARRAY, keys.length);
            for (const k of keys) w.appendBulk(k);
            const out = w.view();
            req.onReply(out, 0, out.length);
          } else {
            next(decodeCursor(String(page.next))!);
          }
        },
        onFailure: (reason) => req.onFailure(reason),
      },
      req.db,
      req.seed,
      c,
      opts,
    );
  next({ group: 0, pass: router.moves & COUNT_MASK, filter: 0, server: 0n });
}

const COUNT_1000 = new TextEncoder().encode("1000");
const latin1 = new TextDecoder("latin1");

function step(router: Router, req: Pending, db: number, seed: number, c: ScanCursor, opts: Uint8Array[]): void {
  const groups = groupsToVisit(router, c.filter);
  const ids = [...groups.keys()].sort((a, b) => a - b);
  // The group to visit: this one, or the next in order (a group may have gone meanwhile).
  const gid = ids.find((id) => id >= c.group);
  if (gid === undefined) {
    endOfPass(router, req, c);
    return;
  }
  if (gid !== c.group) {
    c.group = gid;
    c.server = 0n;
  }
  const servers = [...groups.get(gid)!].sort((a, b) => a.addr < b.addr ? -1 : 1);
  // A group's servers (its master; two only while a master switch is being applied).
  const server = servers[Number(c.server & 3n) % servers.length];
  const index = Number(c.server & 3n);
  const serverCursor = c.server >> 2n;
  const bytes = encodeCommand(["SCAN", String(serverCursor), ...opts]);
  server.conn(db, seed).send(
    {
      onReply(buf, start, end) {
        if (buf[start] === RESP_ERROR) {
          req.onReply(buf, start, end);
          return;
        }
        const page = parsePage(buf, start, end);
        if (page === null || page.next >= 1n << 30n) {
          req.onFailure(page === null ? "bad SCAN reply" : `SCAN cursor of ${server.addr} beyond 2^30`);
          return;
        }
        const w = new ByteWriter(256);
        const kept = page.keys.filter(([s, e]) =>
          c.filter === 0 || movedAfter(router.slots[slotOf(buf, s, e)].movedAt, c.filter)
        );
        let next: ScanCursor;
        if (page.next !== 0n) next = { ...c, server: (page.next << 2n) | BigInt(index) };
        else if (index + 1 < servers.length) next = { ...c, server: BigInt(index + 1) };
        else next = { ...c, group: gid + 1, server: 0n };
        const text = next.group >= 1 << Number(GROUP_BITS) ? null : encodeCursor(next);
        // The last group of a pass: its end decides whether another pass follows.
        const last = text === null || ids.every((id) => id < next.group);
        const nextText = last ? passEnd(router, c) : text!;
        w.appendHeader(RESP_ARRAY, 2);
        w.appendBulkString(nextText);
        w.appendHeader(RESP_ARRAY, kept.length);
        for (const [s, e] of kept) w.appendBulk(buf, s, e);
        const out = w.view();
        req.onReply(out, 0, out.length);
      },
      onFailure(reason) {
        req.onFailure(reason);
      },
    },
    bytes,
    0,
    bytes.length,
  );
}

/** The cursor after a pass: "0" when no slot moved during it, else the start of a filtered pass. */
function passEnd(router: Router, c: ScanCursor): string {
  const now = router.moves & COUNT_MASK;
  if (!router.slots.some((s) => movedAfter(s.movedAt, c.pass))) return "0";
  return encodeCursor({ group: 0, pass: now, filter: c.pass, server: 0n });
}

function endOfPass(router: Router, req: Pending, c: ScanCursor): void {
  const w = new ByteWriter(32);
  w.appendHeader(RESP_ARRAY, 2);
  w.appendBulkString(passEnd(router, c));
  w.appendHeader(RESP_ARRAY, 0);
  const out = w.view();
  req.onReply(out, 0, out.length);
}
