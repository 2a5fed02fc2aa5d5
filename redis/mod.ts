/**
 * Everything about talking to Redis: zero-copy RESP scanners, encoding, decoding, a small
 * pipelined client, and Codis's key → slot hashing.
 *
 * @module
 */

export * from "./resp_scanner.ts";
export * from "./resp_writer.ts";
export * from "./resp_value.ts";
export * from "./redis_client.ts";
export * from "./slot_hash.ts";
export * from "./read_buffer.ts";
