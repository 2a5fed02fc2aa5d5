/**
 * A {@linkcode CoordClient} that counts and times every operation of the client it wraps (for the
 * dashboard's metrics: store latency and errors by operation).
 *
 * @module
 */

import type { CoordClient } from "./client.ts";

/** Counters of one operation. */
export interface StoreOpStats {
  calls: number;
  errors: number;
  /** Total time, in seconds. */
  seconds: number;
}

/** The operations that are timed (every method that talks to the store). */
const TIMED = new Set([
  "create",
  "createIfAbsent",
  "update",
  "updateMany",
  "delete",
  "read",
  "list",
  "readChildren",
  "createEphemeral",
  "watch",
]);

/** `client` with every store operation counted in `stats` (by method name). */
export function timedClient(client: CoordClient, stats: Map<string, StoreOpStats>): CoordClient {
  return new Proxy(client, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof prop !== "string" || !TIMED.has(prop) || typeof value !== "function") {
        return typeof value === "function" ? value.bind(target) : value;
      }
      return async (...args: unknown[]) => {
        let s = stats.get(prop);
        if (!s) stats.set(prop, s = { calls: 0, errors: 0, seconds: 0 });
        const t0 = performance.now();
        try {
          return await value.apply(target, args);
        } catch (e) {
          s.errors++;
          throw e;
        } finally {
          s.calls++;
          s.seconds += (performance.now() - t0) / 1000;
        }
      };
    },
  });
}
