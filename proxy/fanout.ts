/**
 * Commands sent to every master of the cluster, their replies merged into the one a single Redis
 * would give: `DBSIZE` (summed), `RANDOMKEY` (a key of a random master that has keys), `SCRIPT LOAD`
 * (the same SHA from each), `SCRIPT EXISTS` (a script exists when every master has it),
 * `SCRIPT FLUSH`, `FLUSHDB`, `FLUSHALL` (`+OK` from each), `PUBSUB CHANNELS|NUMSUB|NUMPAT` (and
 * their SHARD variants). So `EVALSHA` works on any slot once a script was loaded through the proxy.
 *
 * @module
 */

import { decodeReply, RespError } from "../redis/resp_value.ts";
import { ByteWriter } from "../redis/resp_writer.ts";
import { RESP_ARRAY, RESP_ERROR, RESP_VERBATIM } from "../redis/resp_types.ts";
import type { BackendServer, Pending } from "./backend.ts";
import type { Frame } from "./frame.ts";
import type { Request } from "./request.ts";
import type { Router } from "./router.ts";

/** How the masters' replies become one. */
export type FanoutRule = "sum" | "same" | "and" | "ok" | "any" | "union" | "max" | "maxPairs" | "info";

/** The distinct masters that serve slots now. */
export function masters(router: Router): BackendServer[] {
  const out = new Set<BackendServer>();
  for (const s of router.slots) if (s.master !== null) out.add(s.master);
  return [...out].sort((a, b) => a.addr < b.addr ? -1 : 1);
}

/** Sends the request in `frame` to every master and answers `req` with the merged reply. */
export function dispatchToAll(router: Router, req: Request, frame: Frame, rule: FanoutRule): void {
  const servers = masters(router);
  if (servers.length === 0) {
    req.reject("slot is not ready, may be offline");
    return;
  }
  const bytes = frame.buf.slice(frame.start, frame.end);
  const replies: Uint8Array[] = [];
  let remaining = servers.length;
  let failure: string | null = null;
  const done = () => {
    if (--remaining > 0) return;
    if (failure !== null) req.onFailure(failure);
    else {
      const merged = merge(rule, replies);
      req.onReply(merged, 0, merged.length);
    }
  };
  for (const server of servers) {
    const pending: Pending = {
      onReply(buf: Uint8Array, start: number, end: number) {
        replies.push(buf.slice(start, end));
        done();
      },
      onFailure(reason: string) {
        failure ??= `${reason} (${server.addr})`;
        done();
      },
    };
    server.conn(req.db, req.seed).send(pending, bytes, 0, bytes.length);
  }
}

/** One reply from the masters' replies (the first error reply wins, as for split commands). */
function merge(rule: FanoutRule, replies: Uint8Array[]): Uint8Array {
  const error = replies.find((r) => r[0] === RESP_ERROR);
  if (error) return error;
  const w = new ByteWriter(64);
  switch (rule) {
    case "sum": {
      let total = 0;
      for (const r of replies) total += Number(decodeReply(r, 0, r.length));
      w.appendInteger(total);
      return w.view().slice();
    }
    case "same":
    case "ok": {
      const first = replies[0];
      const same = replies.every((r) => r.length === first.length && r.every((b, i) => b === first[i]));
      if (!same) {
        w.appendError("ERR the masters answered differently: " + replies.map((r) => String(decode(r))).join(", "));
        return w.view().slice();
      }
      return first;
    }
    case "any": {
      // RANDOMKEY: a key of a random master that has one (nil when none has).
      const found = replies.filter((r) => decode(r) !== null);
      return found.length > 0 ? found[Math.floor(Math.random() * found.length)] : replies[0];
    }
    case "info": {
      // INFO: the first master's, with the keyspace section summed over every master.
      const texts = replies.map((r) => String(decode(r)));
      const merged = texts[0].replace(/# Keyspace\r\n[^#]*/, keyspaceSection(texts));
      if (replies[0][0] === RESP_VERBATIM) {
        // RESP3: a verbatim string, as Redis answers INFO there.
        const bytes = new TextEncoder().encode(`txt:${merged}`);
        w.appendHeader(RESP_VERBATIM, bytes.length);
        w.append(bytes);
        w.appendAscii("\r\n");
      } else {
        w.appendBulkString(merged);
      }
      return w.view().slice();
    }
    case "union": {
      // PUBSUB CHANNELS: every master's channels, each once.
      const all = new Set<string>();
      for (const r of replies) for (const c of decode(r) as string[]) all.add(c);
      w.appendHeader(RESP_ARRAY, all.size);
      for (const c of all) w.appendBulkString(c);
      return w.view().slice();
    }
    case "max": {
      // PUBSUB NUMPAT: every session's patterns are on every master.
      w.appendInteger(Math.max(...replies.map((r) => Number(decode(r)))));
      return w.view().slice();
    }
    case "maxPairs": {
      // PUBSUB NUMSUB: a channel's subscribers are on its master (on two while its slot moves).
      const lists = replies.map((r) => decode(r) as (string | number)[]);
      const first = lists[0];
      w.appendHeader(RESP_ARRAY, first.length);
      for (let i = 0; i < first.length; i += 2) {
        w.appendBulkString(String(first[i]));
        w.appendInteger(Math.max(...lists.map((l) => Number(l[i + 1]))));
      }
      return w.view().slice();
    }
    case "and": {
      const lists = replies.map((r) => decode(r) as number[]);
      const n = lists[0].length;
      w.appendHeader(RESP_ARRAY, n);
      for (let i = 0; i < n; i++) w.appendInteger(lists.every((l) => Number(l[i]) === 1) ? 1 : 0);
      return w.view().slice();
    }
  }
}

/** The `# Keyspace` section of INFO with the keys and expires of every server added up. */
export function keyspaceSection(infos: string[]): string {
  const dbs = new Map<number, { keys: number; expires: number; ttlSum: number }>();
  for (const info of infos) {
    for (const m of info.matchAll(/^db(\d+):keys=(\d+),expires=(\d+),avg_ttl=(\d+)/gm)) {
      const db = Number(m[1]);
      const d = dbs.get(db) ?? { keys: 0, expires: 0, ttlSum: 0 };
      d.keys += Number(m[2]);
      d.expires += Number(m[3]);
      d.ttlSum += Number(m[4]) * Number(m[3]);
      dbs.set(db, d);
    }
  }
  let out = "# Keyspace\r\n";
  for (const [db, d] of [...dbs].sort((a, b) => a[0] - b[0])) {
    const avg = d.expires > 0 ? Math.round(d.ttlSum / d.expires) : 0;
    out += `db${db}:keys=${d.keys},expires=${d.expires},avg_ttl=${avg}\r\n`;
  }
  return out + "\r\n";
}

function decode(r: Uint8Array): unknown {
  const v = decodeReply(r, 0, r.length);
  return v instanceof RespError ? v.message : v;
}
