/**
 * Everything about talking to Redis: zero-copy resumable RESP scanners, encoding, decoding, a
 * small pipelined client, and Codis's key → slot hashing.
 *
 * @module
 */

export { NEED_MORE, PROTOCOL_ERROR, ReplyScanner, RequestScanner, type RespLimits } from "./resp_scanner.ts";
export { ByteWriter, encodeCommand } from "./resp_writer.ts";
export { decodeReply, RespError, type RespValue } from "./resp_value.ts";
export {
  parseInfo,
  RedisClient,
  type RedisClientOptions,
  RedisConnectionError,
  RedisReplyError,
} from "./redis_client.ts";
export { MAX_SLOT_NUM, slotOf, slotOfString } from "./slot_hash.ts";
