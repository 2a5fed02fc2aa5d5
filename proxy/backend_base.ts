/**
 * What every backend connection shares, the shared pipelined ones and the dedicated ones alike:
 * the options (from `proxy.toml`), the dial, the login (ACL user or `product_auth`, then
 * `SELECT`), and what waits for a reply.
 *
 * @module
 */

import type { RespLimits } from "../redis/resp_scanner.ts";
import { exchange } from "../redis/redis_client.ts";
import { RespError } from "../redis/resp_value.ts";
import { log } from "../utils/log.ts";
import { errorMessage } from "../utils/errors.ts";
import { closeQuietly, dial, type TlsClientOptions } from "../utils/net.ts";

/** Something waiting for a backend reply. */
export interface Pending {
  /** The reply is `buf[start, end)`; the bytes are valid only during the call. */
  onReply(buf: Uint8Array, start: number, end: number): void;
  /** No reply will come; `reason` is Codis's text, e.g. `backend conn reset`. */
  onFailure(reason: string): void;
}

/** Options of backend connections (from `proxy.toml`). */
export interface BackendOptions {
  /** AUTH password (`product_auth`). */
  auth: string;
  /**
   * The Redis ACL user the proxy logs in as (`backend_acl_user`; "" = the default user with
   * `product_auth`, as Codis). It cannot run what the proxy refuses, so neither can scripts.
   */
  aclUser: string;
  aclPassword: string;
  /**
   * Servers where the ACL user cannot log in (Redis < 6, or the user was never created there):
   * the pool logs in with `product_auth` instead, as Codis does, and says so once.
   */
  aclRefused: Set<string>;
  recvBufsize: number;
  sendBufsize: number;
  /** Milliseconds a request may wait for its reply before the connection is reset (0 = off). */
  recvTimeout: number;
  /** Milliseconds a write may take before the connection is reset (0 = off). */
  sendTimeout: number;
  /** Most requests written and not yet answered on one connection. */
  maxPipeline: number;
  /** Most dedicated connections per server and database (0 = no limit). */
  maxDedicated: number;
  /** PING idle connections this often, in milliseconds (0 = off). */
  pingPeriod: number;
  /** Enable TCP keepalive (period > 0). */
  keepalivePeriod: number;
  /** Reach the servers over TLS (null: plain TCP). */
  tls: TlsClientOptions | null;
  limits: RespLimits;
}

/**
 * Backend databases at and above this one are the same databases spoken to in RESP3: the
 * connections of a client that said `HELLO 3` are keyed by `RESP3_DB + db`, and say `HELLO 3` at
 * login, so that its replies come in RESP3 and pass through unchanged.
 */
export const RESP3_DB = 1 << 16;

/** The Redis database of a backend database number (see {@linkcode RESP3_DB}). */
export function realDb(db: number): number {
  return db >= RESP3_DB ? db - RESP3_DB : db;
}

/** A dense index for per-database arrays: RESP2 databases even, RESP3 ones odd. */
export function dbIndex(db: number): number {
  return db >= RESP3_DB ? (db - RESP3_DB) * 2 + 1 : db * 2;
}

/** How long a connect attempt may take, as in Codis. */
const DIAL_TIMEOUT_MS = 5000;
/** How long each login step (AUTH, SELECT) of a new connection may take. */
const LOGIN_TIMEOUT_MS = 5000;

/**
 * Connects to the server at `addr` (TLS and keepalive as the options say) and logs in for
 * database `db` (see {@linkcode loginBackend}); fails with why, the connection closed.
 */
export async function connectBackend(addr: string, db: number, options: BackendOptions): Promise<Deno.Conn> {
  const conn = await dial(addr, {
    timeoutMs: DIAL_TIMEOUT_MS,
    tls: options.tls,
    keepAlive: options.keepalivePeriod > 0,
  });
  let failure: string;
  try {
    failure = await loginBackend(conn, addr, db, options);
  } catch (e) {
    failure = `login to ${addr} failed: ${errorMessage(e)}`;
  }
  if (failure) {
    closeQuietly(conn);
    throw new Error(failure);
  }
  return conn;
}

/**
 * Logs in (as the ACL user, or with `product_auth`), says `HELLO 3` for a RESP3 database and
 * selects the database, one command at a time on the fresh connection `conn` to `addr`. Returns
 * why it failed, or "".
 */
async function loginBackend(conn: Deno.Conn, addr: string, db: number, o: BackendOptions): Promise<string> {
  const steps: (string | number)[][] = [];
  if (o.aclUser && !o.aclRefused.has(addr)) {
    const reply = await exchange(conn, ["AUTH", o.aclUser, o.aclPassword], LOGIN_TIMEOUT_MS);
    if (reply instanceof RespError) {
      // No such user (or no ACLs at all, before Redis 6): log in as Codis does, and say so.
      if (!/^WRONGPASS|wrong number of arguments|^NOPERM/.test(reply.message)) {
        return `AUTH as ${o.aclUser} to ${addr} failed: ${reply.message}`;
      }
      o.aclRefused.add(addr);
      log.warn(
        `backend ${addr}: cannot log in as ACL user "${o.aclUser}" (${reply.message}); logging in ` +
          `${o.auth ? "with product_auth" : "as the default user"}: scripts there are not restricted`,
      );
      if (o.auth) steps.push(["AUTH", o.auth]);
    }
  } else if (o.auth) {
    steps.push(["AUTH", o.auth]);
  }
  if (db >= RESP3_DB) steps.push(["HELLO", 3]);
  if (realDb(db) !== 0) steps.push(["SELECT", realDb(db)]);
  for (const step of steps) {
    const reply = await exchange(conn, step, LOGIN_TIMEOUT_MS);
    if (reply instanceof RespError) {
      const why = step[0] === "HELLO" ? " (RESP3 clients need Redis 6 or later behind the proxy)" : "";
      return `${step[0]} to ${addr} failed: ${reply.message}${why}`;
    }
  }
  return "";
}
