/**
 * codis-deno: a Codis-class distributed Redis cluster on Deno.
 *
 * - {@link ./proxy/mod.ts} — codis-proxy
 * - {@link ./redis/mod.ts} — RESP and slot hashing
 * - {@link ./coord/mod.ts} — models and the coordinator store
 *
 * @module
 */

export * as proxy from "./proxy/mod.ts";
export * as redis from "./redis/mod.ts";
export * as coord from "./coord/mod.ts";
export { VERSION, VERSION_TEXT } from "./utils/version.ts";
