/**
 * The `MIGRATE` command, as the proxy (keys of a request on a migrating slot) and the dashboard's
 * mover (a slot's keys in batches) both send it.
 *
 * @module
 */

import { parseAddr } from "../utils/addr.ts";
import { uniqueKeys } from "../utils/bytes.ts";

/**
 * `MIGRATE host port "" db timeout [AUTH password] KEYS k…` moving `keys` to the server `to`
 * (`host:port`), and how many keys it carries. Each key goes once: `MIGRATE … KEYS a a` moves `a`,
 * then fails with BUSYKEY on the second copy — and a request may name a key twice (`RPOPLPUSH l l`,
 * `MGET a a`), a SCAN may return one twice (while the table rehashes as keys leave).
 */
export function migrateCommand(
  to: string,
  db: number,
  timeoutMs: number,
  password: string,
  keys: Uint8Array[],
): { args: (string | number | Uint8Array)[]; keyCount: number } {
  const { host, port } = parseAddr(to);
  const once = uniqueKeys(keys);
  return {
    args: ["MIGRATE", host, port, "", db, timeoutMs, ...(password ? ["AUTH", password] : []), "KEYS", ...once],
    keyCount: once.length,
  };
}
