/**
 * Key → slot hashing, exactly as Codis computes it: crc32 (IEEE) of the key's hash tag, modulo
 * 1024.
 *
 * The hash tag rule differs from Redis Cluster's: find the first `{`; if a `}` occurs after it,
 * hash only the bytes strictly between them, even when that is empty (`{}abc` hashes `""`).
 *
 * @module
 */

/** Number of slots of a Codis cluster. */
export const MAX_SLOT_NUM = 1024;

const CRC32_TABLE = buildCrc32Table();

function buildCrc32Table(): Int32Array {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
}

/** crc32 (IEEE 802.3, as Go's `hash/crc32.ChecksumIEEE`) of `bytes[start, end)`, unsigned. */
export function crc32(bytes: Uint8Array, start = 0, end: number = bytes.length): number {
  let crc = -1;
  for (let i = start; i < end; i++) crc = CRC32_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

/**
 * The slot of the key `bytes[start, end)`.
 *
 * @example
 * ```ts
 * slotOf(new TextEncoder().encode("{user1000}.following")); // 870, the slot of "user1000"
 * ```
 */
export function slotOf(bytes: Uint8Array, start = 0, end: number = bytes.length): number {
  let open = -1;
  for (let i = start; i < end; i++) {
    if (bytes[i] === 0x7b) { // '{'
      open = i;
      break;
    }
  }
  if (open >= 0) {
    for (let i = open + 1; i < end; i++) {
      if (bytes[i] === 0x7d) return crc32(bytes, open + 1, i) % MAX_SLOT_NUM; // '}'
    }
  }
  return crc32(bytes, start, end) % MAX_SLOT_NUM;
}

const encoder = new TextEncoder();

/** The slot of a key given as a string (UTF-8 encoded first). */
export function slotOfString(key: string): number {
  return slotOf(encoder.encode(key));
}
