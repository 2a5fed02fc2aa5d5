/**
 * The dashboard's key mover on stock Redis (no `SLOTSMGRT*` commands): for each source
 * master, one SCAN pass over every database that has keys serves every slot leaving that
 * master in the batch; the keys of those slots are moved with `MIGRATE … KEYS` in batches of
 * `migration_async_numkeys`; a slot is done when a whole pass finds none of its keys.
 *
 * Proxies move the keys they are asked about themselves (before serving a request), so the
 * mover and the proxies race harmlessly: MIGRATE is atomic per call, and a key already moved
 * answers NOKEY.
 *
 * Big keys (`big_keys.ts`) are found before the slots start migrating ({@linkcode ScanMover.findBig}),
 * held on every proxy from the migrating fill on, and moved in pieces first; each is released
 * on every proxy as soon as it is in place.
 *
 * @module
 */

import type { SlotActionJson } from "../api/topom_stats.ts";
import { type BigKey, type ChunkLimits, collectionKeys, findBigKeys, transferBigKey } from "./big_keys.ts";
import type { RedisClient } from "../redis/redis_client.ts";
import type { ServerConnector } from "./topom.ts";
import { RespError, type RespValue } from "../redis/resp_value.ts";
import { migrateCommand } from "../redis/migrate.ts";
import { slotOf } from "../redis/slot_hash.ts";
import { delay } from "../utils/async.ts";
import { fromUtf8 } from "../utils/bytes.ts";
import { errorMessage } from "../utils/errors.ts";
import { log } from "../utils/log.ts";

/** One slot whose keys must move: from the source master to the target master. */
export interface SlotMove {
  slot: number;
  /** Source master ("" when the slot was offline: nothing to move). */
  from: string;
  to: string;
  fromGroup: number;
  toGroup: number;
  /** Slots the source group owns: the first estimate of keys per slot divides its keys by it. */
  sourceSlots: number;
}

/** What the mover needs from the scheduler that runs it. */
export interface MoverHost {
  readonly settings: {
    readonly productAuth: string;
    /** Timeout of each MIGRATE, ms. */
    readonly migrationTimeout: number;
    /** Keys per MIGRATE. */
    readonly migrationAsyncNumkeys: number;
    /** "semi-async": big keys move in pieces; "sync": every key with MIGRATE. */
    readonly migrationMethod: string;
    /** Adaptive pacing: the longest a MIGRATE may take, ms (0 = fixed batches). */
    readonly migrationLatencyBound: number;
    /** Elements and bytes per chunk of a big key. */
    readonly migrationAsyncMaxbulks: number;
    readonly migrationAsyncMaxbytes: number;
  };
  /**
   * Sets the big keys of `slot` that every proxy serves from the source (none: released) and the
   * one being copied (whose writes wait), and pushes the slot to every proxy; rejects when a proxy
   * did not take it. Once it resolves, no write to the moving key is in flight anywhere.
   */
  holdKeys(slot: number, keys: readonly Uint8Array[], moving?: readonly Uint8Array[]): Promise<void>;
  /** Microseconds to pause after each MIGRATE (room for clients). */
  readonly intervalUs: number;
  /** While true, no key moves (the mover waits where it is). */
  readonly disabled: boolean;
  /** Once true, the mover stops with an error. */
  readonly closed: boolean;
  /** The last step's status line (`[OK] Slot[0001] moved 10 keys`, `[ERROR] …`). */
  report(status: string): void;
  /** Opens a client of a source server. */
  connect: ServerConnector;
}

/** How often a disabled mover looks whether it may go on. */
const DISABLED_POLL_MS = 100;

/** Progress of one slot's migration, for the stats. */
interface SlotProgress {
  slot: number;
  from: string;
  to: string;
  /** Keys this mover has moved (proxies move some more on demand). */
  moved: number;
  /** An estimate of the slot's keys still on the source (from the source's size until a pass has counted). */
  remaining: number;
  /** Full passes over the source so far. */
  passes: number;
  startedAt: number;
}

/** Adaptive pacing pays the servers' idle time back in pauses of at least this long (ms). */
const PACE_PAUSE_MS = 4;

/** How long a slot's big keys, found for an earlier batch, are trusted (ms). */
const BIG_SCAN_TTL_MS = 5 * 60_000;
/**
 * Keys looked at per call of the look for big keys: ~1.5 ms of the server per call (~3 µs a key),
 * during which its clients wait (2,000 a call took ~6 ms: the first GETs of a move saw a p99 of
 * 10 ms; the whole look takes 3.0-3.3 s per 1,000,000 keys either way).
 */
const BIG_SCAN_COUNT = 500;

/** SCAN COUNT: keys the server looks at per call. */
const SCAN_COUNT = 1000;

/** Moves the keys of migrating slots by scanning their sources. */
export class ScanMover {
  #host: MoverHost;
  /** Slots being moved now. */
  readonly #progress = new Map<number, SlotProgress>();
  /** Keys moved since the dashboard started, and when the last batch ended: for keys/s. */
  totalMoved = 0;
  /**
   * Big keys found in slots about to move (or moving), by slot, and when they were looked for:
   * moved in pieces, then released.
   */
  readonly #big = new Map<number, { keys: BigKey[]; foundAt: number }>();
  /** The big key being copied now, and how far. */
  #current: { big: BigKey; slot: number; copied: number; startedAt: number } | null = null;
  /** Adaptive pacing: the batch size each source ended its last pass with. */
  readonly #adaptive = new Map<string, number>();
  /** Big keys moved in pieces since the dashboard started. */
  bigKeysMoved = 0;
  #rate = { keys: 0, since: performance.now(), perSecond: 0 };

  constructor(host: MoverHost) {
    this.#host = host;
  }

  /** `slot_action.migration` of the stats: keys moved, keys/s, and each slot moving now. */
  toJson(): SlotActionJson["migration"] {
    const now = Date.now();
    const b = this.#current;
    return {
      keys_moved: this.totalMoved,
      keys_per_second: this.keysPerSecond,
      big_keys_moved: this.bigKeysMoved,
      ...(b
        ? {
          big_key: {
            key: fromUtf8(b.big.key),
            type: b.big.type,
            db: b.big.db,
            slot: b.slot,
            copied: b.copied,
            total: b.big.length,
            seconds: Math.round((now - b.startedAt) / 1000),
          },
        }
        : {}),
      slots: [...this.#progress.values()].map((p) => ({
        slot: p.slot,
        from: p.from,
        to: p.to,
        moved: p.moved,
        remaining: p.remaining,
        passes: p.passes,
        seconds: Math.round((now - p.startedAt) / 1000),
      })),
    };
  }

  /** Keys per second over the last few seconds. */
  get keysPerSecond(): number {
    const now = performance.now();
    const elapsed = (now - this.#rate.since) / 1000;
    if (elapsed >= 2) {
      this.#rate.perSecond = this.#rate.keys / elapsed;
      this.#rate = { keys: 0, since: now, perSecond: this.#rate.perSecond };
    }
    return Math.round(this.#rate.perSecond);
  }

  /** Moves every key of the slots; resolves when none of their keys is left on the sources. */
  async move(moves: readonly SlotMove[]): Promise<void> {
    await Promise.all([...bySource(moves)].map(([from, list]) => this.#moveFrom(from, list)));
  }

  /**
   * Finds the big keys of the slots (before they start migrating: one pass over each source for
   * its hashes, sets, sorted sets and lists, see `collectionKeys`) and remembers them; the next
   * fills of those slots hold them on every proxy. Slots looked at less than 5 minutes ago (for an
   * earlier batch) are not looked at again. A source that cannot be read leaves its slots without
   * held keys (the proxies then MIGRATE them whole).
   */
  async findBig(moves: readonly SlotMove[]): Promise<void> {
    if (this.#host.settings.migrationMethod === "sync") return;
    const now = performance.now();
    // Slots an earlier batch's look (which covers every pending slot of a source) has seen lately are skipped.
    const fresh = (m: SlotMove) => {
      const found = this.#big.get(m.slot);
      return found !== undefined && now - found.foundAt < BIG_SCAN_TTL_MS;
    };
    await Promise.all([...bySource(moves.filter((m) => !fresh(m)))].map(async ([from, list]) => {
      const slots = new Set(list.map((m) => m.slot));
      for (const slot of slots) this.#big.set(slot, { keys: [], foundAt: now });
      let client: RedisClient | null = null;
      try {
        client = await this.#host.connect(from, { raw: true, connectTimeoutMs: 5000, timeoutMs: 30_000 });
        for (const db of await keyspaceDbs(client)) {
          await client.call("SELECT", db);
          // Only collections can be big: the server picks them out, so a keyspace of strings costs
          // one quick pass and no per-key command.
          for await (const keys of collectionKeys(client, BIG_SCAN_COUNT)) {
            const mine = keys.filter((k) => slots.has(slotOf(k)));
            for (const big of await findBigKeys(client, db, mine, this.#limits())) {
              this.#big.get(slotOf(big.key))!.keys.push(big);
            }
          }
        }
      } catch (e) {
        log.warn(`looking for big keys on ${from} failed (they will move whole): ${errorMessage(e)}`);
        for (const slot of slots) this.#big.delete(slot);
      } finally {
        await client?.close();
      }
      const found = list.flatMap((m) => this.#big.get(m.slot)?.keys ?? []);
      if (found.length > 0) {
        log.info(
          `${found.length} big keys to move in pieces from ${from}: ` +
            found.slice(0, 5).map((b) => `${fromUtf8(b.key)} (${b.type}, ${b.length})`).join(", ") +
            (found.length > 5 ? ", …" : ""),
        );
      }
    }));
  }

  /** The big keys of `slot` the proxies hold now. */
  heldKeys(slot: number): readonly Uint8Array[] {
    return (this.#big.get(slot)?.keys ?? []).map((b) => b.key);
  }

  #limits(): ChunkLimits {
    const cfg = this.#host.settings;
    return { maxBulks: cfg.migrationAsyncMaxbulks, maxBytes: cfg.migrationAsyncMaxbytes };
  }

  /** Moves the big keys of `moves` in pieces (after finding them, when no one did), releasing each. */
  async #moveBig(source: RedisClient, from: string, moves: SlotMove[]): Promise<void> {
    const host = this.#host;
    const unknown = moves.filter((m) => !this.#big.has(m.slot));
    if (unknown.length > 0) {
      // A migration resumed by a restarted dashboard: find them now, and hold them everywhere.
      await this.findBig(unknown);
      for (const m of unknown) {
        if ((this.#big.get(m.slot)?.keys.length ?? 0) > 0) await host.holdKeys(m.slot, this.heldKeys(m.slot));
      }
    }
    const targets = new Map<string, RedisClient>();
    try {
      for (const m of moves) {
        const list = this.#big.get(m.slot)?.keys ?? [];
        const held = list.length > 0;
        while (list.length > 0) {
          const big = list[0];
          let target = targets.get(m.to);
          if (target === undefined) {
            target = await host.connect(m.to, {
              raw: true,
              connectTimeoutMs: 5000,
              timeoutMs: host.settings.migrationTimeout + 5000,
            });
            targets.set(m.to, target);
          }
          // Its writes wait from now on (and none is in flight), the other big keys stay on the source.
          try {
            await host.holdKeys(m.slot, this.heldKeys(m.slot), [big.key]);
          } catch (e) {
            // A proxy did not take it (dead, or hung): nothing moves, and the proxies that did take
            // it serve the key from the source again until the step is retried.
            await host.holdKeys(m.slot, this.heldKeys(m.slot), []).catch(() => {});
            throw e;
          }
          await source.call("SELECT", big.db);
          await target.call("SELECT", big.db);
          const t0 = performance.now();
          const current = { big, slot: m.slot, copied: 0, startedAt: Date.now() };
          this.#current = current;
          const r = await transferBigKey(source, target, big, this.#limits(), (copied) => {
            current.copied = copied;
            return this.#pause();
          }).finally(() => this.#current = null);
          log.info(
            `big key ${fromUtf8(big.key)} (${big.type}, db ${big.db}) ${
              r.moved ? "moved" : "expired, dropped"
            } from ${from} ` +
              `to ${m.to} in ${r.chunks} chunks, ${r.elements} elements, ${(performance.now() - t0).toFixed(0)} ms`,
          );
          if (r.moved) {
            this.bigKeysMoved++;
            this.totalMoved++;
            this.#rate.keys++;
            const p = this.#progress.get(m.slot);
            if (p) p.moved++;
          }
          list.shift();
        }
        // The last release (again, if a round before this one failed to push it).
        if (held) await host.holdKeys(m.slot, []);
        this.#big.delete(m.slot);
      }
    } finally {
      for (const c of targets.values()) await c.close();
    }
  }

  /** The operator's pause between steps; a disabled scheduler waits here. */
  async #pause(): Promise<void> {
    const host = this.#host;
    if (host.intervalUs > 0) await delay(host.intervalUs / 1000);
    while (host.disabled && !host.closed) await delay(DISABLED_POLL_MS);
    if (host.closed) throw new Error("the dashboard is closing");
  }

  async #moveFrom(from: string, moves: SlotMove[]): Promise<void> {
    const host = this.#host;
    const cfg = host.settings;
    const pending = new Map<number, SlotMove>(moves.map((m) => [m.slot, m]));
    for (const m of moves) {
      this.#progress.set(m.slot, {
        slot: m.slot,
        from: m.from,
        to: m.to,
        moved: 0,
        remaining: 0,
        passes: 0,
        startedAt: Date.now(),
      });
    }
    const client = await host.connect(from, {
      raw: true,
      connectTimeoutMs: 5000,
      timeoutMs: cfg.migrationTimeout + 5000,
    });
    try {
      // Until the first pass has counted them: the source's keys spread evenly over its slots.
      const owned = moves[0].sourceSlots || 1;
      const perSlot = Math.round((await keyspaceTotal(client)) / owned);
      for (const m of moves) this.#progress.get(m.slot)!.remaining = perSlot;
      await this.#moveBig(client, from, moves);
      while (pending.size > 0) {
        if (host.closed) throw new Error("the dashboard is closing");
        const seen = new Map<number, number>();
        for (const db of await keyspaceDbs(client)) {
          await client.call("SELECT", db);
          await this.#passDb(client, db, pending, seen);
        }
        for (const [slot] of [...pending]) {
          const p = this.#progress.get(slot)!;
          p.passes++;
          // Every key a pass finds is moved in it; only keys written meanwhile can remain.
          p.remaining = 0;
          if (!seen.has(slot)) {
            pending.delete(slot);
            log.debug(`slot-[${slot}] has no keys left on ${from}: ${p.moved} moved`);
            host.report(`[OK] Slot[${String(slot).padStart(4, "0")}] moved ${p.moved} keys`);
          }
        }
      }
    } catch (e) {
      const first = moves[0].slot;
      host.report(`[ERROR] Slot[${String(first).padStart(4, "0")}]: ${errorMessage(e)}`);
      throw e;
    } finally {
      await client.close();
      for (const m of moves) this.#progress.delete(m.slot);
    }
  }

  /** One SCAN pass over a database, migrating the keys of pending slots as they are found. */
  async #passDb(
    client: RedisClient,
    db: number,
    pending: Map<number, SlotMove>,
    seen: Map<number, number>,
  ): Promise<void> {
    const host = this.#host;
    const most = host.settings.migrationAsyncNumkeys;
    const bound = host.settings.migrationLatencyBound;
    // Adaptive pacing starts small and grows while MIGRATEs stay well under the bound.
    let batchSize = bound > 0 ? Math.min(most, this.#adaptive.get(client.addr) ?? 16) : most;
    const pace = { smoothed: 0, owed: 0 };
    // Keys waiting to be moved, per target.
    const buckets = new Map<string, { keys: Uint8Array[]; slots: number[] }>();
    const flush = async (to: string) => {
      const b = buckets.get(to);
      if (!b || b.keys.length === 0) return;
      buckets.delete(to);
      const t0 = performance.now();
      await this.#migrate(client, to, db, b.keys);
      if (bound > 0) {
        // Both servers were busy with this MIGRATE for `took` ms. The batch grows while MIGRATEs take
        // less than the bound and shrinks in proportion when the smoothed time goes over it (one slow
        // call on a busy machine does not collapse it); the mover owes the servers as much idle time
        // as they spent, and pays it in pauses of a few ms (a timer cannot sleep less than ~1 ms).
        const took = performance.now() - t0;
        pace.smoothed = pace.smoothed === 0 ? took : pace.smoothed * 0.8 + took * 0.2;
        if (pace.smoothed > bound) {
          batchSize = Math.max(1, Math.floor(batchSize * bound / pace.smoothed));
          pace.smoothed = bound;
        } else if (took < bound) {
          batchSize = Math.min(most, batchSize + Math.max(1, Math.floor(batchSize / 8)));
        }
        this.#adaptive.set(client.addr, batchSize);
        pace.owed += took;
        if (pace.owed >= PACE_PAUSE_MS) {
          await delay(pace.owed);
          pace.owed = 0;
        }
      }
      // The operator's pause between steps (µs), as Codis's action interval: room for clients.
      if (host.intervalUs > 0) await delay(host.intervalUs / 1000);
      for (const slot of b.slots) {
        const p = this.#progress.get(slot);
        if (p) {
          p.moved++;
          if (p.remaining > 0) p.remaining--;
        }
      }
    };
    let cursor = "0";
    do {
      // Disabled by the operator: data stops moving at once, and picks up where it stopped.
      while (host.disabled && !host.closed) await delay(DISABLED_POLL_MS);
      if (host.closed) throw new Error("the dashboard is closing");
      const reply = await client.call("SCAN", cursor, "COUNT", SCAN_COUNT) as RespValue[];
      cursor = fromUtf8(reply[0] as Uint8Array);
      for (const key of reply[1] as Uint8Array[]) {
        const slot = slotOf(key);
        const move = pending.get(slot);
        if (!move) continue;
        seen.set(slot, (seen.get(slot) ?? 0) + 1);
        const b = buckets.get(move.to) ?? { keys: [], slots: [] };
        b.keys.push(key);
        b.slots.push(slot);
        buckets.set(move.to, b);
        if (b.keys.length >= batchSize) await flush(move.to);
      }
    } while (cursor !== "0");
    for (const to of [...buckets.keys()]) await flush(to);
  }

  /** `MIGRATE host port "" db timeout [AUTH pw] KEYS k…`: atomic per call; NOKEY = already gone. */
  async #migrate(client: RedisClient, to: string, db: number, keys: Uint8Array[]): Promise<void> {
    const cfg = this.#host.settings;
    const { args, keyCount } = migrateCommand(to, db, cfg.migrationTimeout, cfg.productAuth, keys);
    const reply = await client.send(args);
    if (reply instanceof RespError) {
      throw new Error(
        `MIGRATE of ${keyCount} keys from ${client.addr} to ${to} (db ${db}) failed: ${reply.message}`,
      );
    }
    this.totalMoved += keyCount;
    this.#rate.keys += keyCount;
  }
}

/** The slots that have keys to move (a source other than the target), by source master. */
function bySource(moves: readonly SlotMove[]): Map<string, SlotMove[]> {
  const out = new Map<string, SlotMove[]>();
  for (const m of moves) {
    if (!m.from || m.from === m.to) continue; // an offline slot has no keys anywhere
    const list = out.get(m.from);
    if (list === undefined) out.set(m.from, [m]);
    else list.push(m);
  }
  return out;
}

/** Keys in every database, from INFO keyspace. */
async function keyspaceTotal(client: RedisClient): Promise<number> {
  const info = await client.call("INFO", "keyspace");
  const text = info instanceof Uint8Array ? fromUtf8(info) : String(info);
  let total = 0;
  for (const m of text.matchAll(/^db\d+:keys=(\d+)/gm)) total += Number(m[1]);
  return total;
}

/** The databases that hold keys, from INFO keyspace (`db3:keys=10,...`). */
export async function keyspaceDbs(client: RedisClient): Promise<number[]> {
  const info = await client.call("INFO", "keyspace");
  const text = info instanceof Uint8Array ? fromUtf8(info) : String(info);
  const dbs: number[] = [];
  for (const line of text.split("\r\n")) {
    const m = /^db(\d+):keys=(\d+)/.exec(line);
    if (m && Number(m[2]) > 0) dbs.push(Number(m[1]));
  }
  return dbs.sort((a, b) => a - b);
}
