/**
 * MGET, MSET, DEL, UNLINK, TOUCH and EXISTS across slots: split into one sub-request per backend
 * connection (not one per key, as Codis does), sent concurrently, and merged into the reply the
 * client expects. Keys of slots that are blocked or migrating get a sub-request per slot, so each
 * follows its slot's own rules.
 *
 * The module keeps scratch space (`groups`, `scratch`, `range`, `scanner`) shared by every split
 * of every session in the process. That is safe because each use is synchronous from start to
 * end: {@linkcode dispatchSplit} fills and empties `groups` and `scratch` before it returns (the
 * router copies what it keeps), and `Merge` runs the scanner over one complete part at a time.
 * Nothing that awaits may touch them.
 *
 * @module
 */

import { NEED_MORE, PROTOCOL_ERROR, ReplyScanner } from "../redis/resp_scanner.ts";
import { ByteWriter } from "../redis/resp_writer.ts";
import { parseInteger } from "../redis/resp_scanner.ts";
import { CR, RESP_ARRAY, RESP_ERROR, RESP_INTEGER, RESP_SIMPLE } from "../redis/resp_types.ts";
import type { BackendConn } from "./backend.ts";
import { type CommandInfo, isReadOnly, type SplitRule } from "./command_table.ts";
import type { ByteRange, Frame } from "./frame.ts";
import type { Request } from "./request.ts";
import type { Router } from "./router.ts";
import { holdSlot, releaseSlots, type Routed, type Slot } from "./slot.ts";

const scanner = new ReplyScanner();
const NO_REFS = new Int32Array(0);
const OK = new TextEncoder().encode("+OK\r\n");

/** Merges the sub-replies of one split request. */
class Merge {
  readonly parent: Request;
  readonly rule: SplitRule;
  readonly name: string;
  #remaining = 0;
  #parts: Uint8Array[] = [];
  // For MGET: for each key, the part holding its value and the value's offsets in it.
  #refs: Int32Array;
  #sum = 0;
  #errorReply: Uint8Array | null = null;
  #failure: string | null = null;

  constructor(parent: Request, rule: SplitRule, name: string, keyCount: number, parts: number) {
    this.parent = parent;
    this.rule = rule;
    this.name = name;
    this.#refs = rule === "mget" ? new Int32Array(keyCount * 3) : NO_REFS;
    this.#remaining = parts;
  }

  replied(sub: SubRequest, buf: Uint8Array, start: number, end: number): void {
    const type = buf[start];
    if (type === RESP_ERROR) { // the first error reply becomes the whole reply
      this.#errorReply ??= buf.slice(start, end);
    } else if (this.rule === "mget") {
      this.#collectValues(sub, buf, start, end);
    } else if (this.rule === "mset") {
      if (type !== RESP_SIMPLE) this.#failure ??= `ERR handle response, bad mset resp: expected a status reply`;
    } else {
      const n = type === RESP_INTEGER ? parseInteger(buf, start + 1, end - 2) : NaN;
      if (n !== n) this.#failure ??= `ERR handle response, bad ${this.name.toLowerCase()} resp: expected an integer`;
      else this.#sum += n;
    }
    this.#done();
  }

  failed(message: string): void {
    this.#failure ??= message;
    this.#done();
  }

  #collectValues(sub: SubRequest, buf: Uint8Array, start: number, end: number): void {
    const keys = sub.keys;
    const bad = `ERR handle response, bad mget resp: expected an array of ${keys.length} values`;
    let lineEnd = start + 1;
    while (lineEnd < end && buf[lineEnd] !== CR) lineEnd++;
    const n = buf[start] === RESP_ARRAY ? parseInteger(buf, start + 1, lineEnd) : -1;
    if (n !== keys.length) {
      this.#failure ??= bad;
      return;
    }
    const part = buf.slice(start, end);
    const partIndex = this.#parts.length;
    this.#parts.push(part);
    let pos = lineEnd + 2 - start;
    const refs = this.#refs;
    for (let i = 0; i < n; i++) {
      // The backend's scanner found the whole reply complete, so each value is; check anyway.
      const next = scanner.scan(part, pos, part.length);
      if (next === NEED_MORE || next === PROTOCOL_ERROR) {
        scanner.reset();
        this.#failure ??= bad;
        return;
      }
      const k = keys[i] * 3;
      refs[k] = partIndex;
      refs[k + 1] = pos;
      refs[k + 2] = next;
      pos = next;
    }
  }

  #done(): void {
    if (--this.#remaining > 0) return;
    const parent = this.parent;
    if (this.#failure !== null) {
      parent.sink.failed(parent, this.#failure);
    } else if (this.#errorReply !== null) {
      parent.sink.replied(parent, this.#errorReply, 0, this.#errorReply.length);
    } else {
      if (this.rule === "mset") {
        parent.sink.replied(parent, OK, 0, OK.length);
        return;
      }
      const out = scratch;
      out.clear(SCRATCH_SIZE);
      if (this.rule === "mget") {
        const refs = this.#refs;
        const count = refs.length / 3;
        out.appendHeader(RESP_ARRAY, count);
        for (let k = 0; k < count; k++) {
          out.append(this.#parts[refs[k * 3]], refs[k * 3 + 1], refs[k * 3 + 2]);
        }
      } else {
        out.appendInteger(this.#sum);
      }
      parent.sink.replied(parent, out.bytes, 0, out.length);
    }
  }
}

/** One part of a split request: the keys that go to one backend connection (or one slot). */
class SubRequest implements Routed {
  readonly merge: Merge;
  /** Positions (0-based) of this part's keys among the request's keys. */
  readonly keys: number[];
  readonly db: number;
  readonly seed: number;
  slots: Slot[] | null = null;

  constructor(merge: Merge, keys: number[], db: number, seed: number) {
    this.merge = merge;
    this.keys = keys;
    this.db = db;
    this.seed = seed;
  }

  onReply(buf: Uint8Array, start: number, end: number): void {
    releaseSlots(this);
    this.merge.replied(this, buf, start, end);
  }

  onFailure(reason: string): void {
    releaseSlots(this);
    this.merge.failed(`ERR handle response, ${reason}`);
  }

  reject(reason: string): void {
    releaseSlots(this);
    this.merge.failed(`ERR handle request, ${reason}`);
  }
}

interface Group {
  /** The connection serving every key of the group, or null for a slot needing the full path. */
  conn: BackendConn | null;
  slotId: number;
  keys: number[];
}

// Scratch space reused by every split (see the module's notes for why sharing it is safe).
const SCRATCH_SIZE = 4096;
const groups: Group[] = [];
const scratch = new ByteWriter(SCRATCH_SIZE);
const range: ByteRange = { buf: scratch.bytes, start: 0, end: 0 };

/**
 * Splits the request in `frame` and sends its parts. The caller has checked the arity and that
 * there are at least two keys.
 */
export function dispatchSplit(router: Router, parent: Request, cmd: CommandInfo, frame: Frame): void {
  const rule = cmd.split!;
  const readOnly = isReadOnly(cmd.flags);
  const step = rule === "mset" ? 2 : 1;
  const keyCount = (frame.argc - 1) / step;
  const db = parent.db;
  const seed = parent.seed;
  let n = 0;
  for (let k = 0; k < keyCount; k++) {
    const slotId = frame.argSlot(1 + k * step);
    const conn = router.directConn(slotId, db, seed, readOnly);
    let g: Group | undefined;
    for (let i = 0; i < n; i++) {
      const c = groups[i];
      if (conn !== null ? c.conn === conn : c.conn === null && c.slotId === slotId) {
        g = c;
        break;
      }
    }
    if (g === undefined) {
      g = { conn, slotId, keys: [] };
      groups[n++] = g;
    }
    g.keys.push(k);
  }

  if (n === 1 && groups[0].conn !== null) {
    // Every key is served by one connection: forward the request unchanged, nothing to merge.
    const g = groups[0];
    groups[0] = undefined!;
    holdKeys(router, parent, g, frame, step);
    g.conn!.send(parent, frame.buf, frame.start, frame.end);
    return;
  }

  // Every part is counted before the first is sent, so that early replies cannot finish the merge.
  const merge = new Merge(parent, rule, cmd.name, keyCount, n);
  const args = frame.args;
  const buf = frame.buf;
  for (let i = 0; i < n; i++) {
    const g = groups[i];
    groups[i] = undefined!;
    const w = scratch;
    w.clear(SCRATCH_SIZE);
    w.appendHeader(RESP_ARRAY, 1 + g.keys.length * step);
    w.appendBulk(buf, args[0], args[1]);
    for (const k of g.keys) {
      const a = 1 + k * step;
      w.appendBulk(buf, args[a * 2], args[a * 2 + 1]);
      if (step === 2) w.appendBulk(buf, args[a * 2 + 2], args[a * 2 + 3]);
    }
    const sub = new SubRequest(merge, g.keys, db, seed);
    if (g.conn === null) {
      const keys = g.keys;
      range.buf = w.bytes;
      range.end = w.length;
      router.dispatch(sub, g.slotId, range, readOnly, () => keys.map((k) => frame.argBytes(1 + k * step)));
    } else {
      holdKeys(router, sub, g, frame, step);
      g.conn.send(sub, w.bytes, 0, w.length);
    }
  }
}

/** Records the slot of every key of a group as held by `routed` until its reply. */
function holdKeys(router: Router, routed: Routed, g: Group, frame: Frame, step: number): void {
  for (const k of g.keys) holdSlot(routed, router.slots[frame.argSlot(1 + k * step)]);
}
