/**
 * The first byte of each RESP2 and RESP3 frame type, named. Code that looks at a frame's type
 * compares against these, never against a bare number.
 *
 * @module
 */

/** `+OK\r\n` */
export const RESP_SIMPLE = 0x2b;
/** `-ERR message\r\n` */
export const RESP_ERROR = 0x2d;
/** `:42\r\n` */
export const RESP_INTEGER = 0x3a;
/** `$5\r\nhello\r\n`, `$-1\r\n` (null) */
export const RESP_BULK = 0x24;
/** `*2\r\n…`, `*-1\r\n` (null) */
export const RESP_ARRAY = 0x2a;
/** RESP3 `_\r\n` */
export const RESP_NULL = 0x5f;
/** RESP3 `#t\r\n` */
export const RESP_BOOLEAN = 0x23;
/** RESP3 `,3.14\r\n` */
export const RESP_DOUBLE = 0x2c;
/** RESP3 `(12345678901234567890\r\n` */
export const RESP_BIG_NUMBER = 0x28;
/** RESP3 `=15\r\ntxt:Some string\r\n` */
export const RESP_VERBATIM = 0x3d;
/** RESP3 `!21\r\nSYNTAX invalid syntax\r\n` */
export const RESP_BLOB_ERROR = 0x21;
/** RESP3 `%2\r\n…` (key, value pairs) */
export const RESP_MAP = 0x25;
/** RESP3 `~3\r\n…` */
export const RESP_SET = 0x7e;
/** RESP3 `>3\r\n…` (out-of-band: Pub/Sub messages) */
export const RESP_PUSH = 0x3e;
/** RESP3 `|1\r\n…` (attributes of the value that follows) */
export const RESP_ATTRIBUTE = 0x7c;

/** Carriage return, which ends every RESP line with {@linkcode LF}. */
export const CR = 0x0d;
/** Line feed. */
export const LF = 0x0a;
