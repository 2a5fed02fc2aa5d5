/**
 * Text and bytes: UTF-8 both ways, with one shared encoder and decoder.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 bytes of a string. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** A string from UTF-8 bytes (invalid sequences become U+FFFD). */
export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** Bytes as a latin1 string, one char per byte (binary-safe; `btoa` of it is their base64). */
export function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 4096) s += String.fromCharCode(...bytes.subarray(i, i + 4096));
  return s;
}

/** True when `a` and `b` hold the same bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** `keys` without repeats, first occurrences in order (`keys` itself when none repeats). */
export function uniqueKeys(keys: Uint8Array[]): Uint8Array[] {
  if (keys.length < 2) return keys;
  const out: Uint8Array[] = [];
  // By a hash of their bytes; keys that share one are compared byte by byte.
  const seen = new Map<number, Uint8Array[]>();
  for (const k of keys) {
    const h = fnv1a(k);
    const same = seen.get(h);
    if (same === undefined) seen.set(h, [k]);
    else if (same.some((x) => sameBytes(x, k))) continue;
    else same.push(k);
    out.push(k);
  }
  return out.length === keys.length ? keys : out;
}

/** The 32-bit FNV-1a hash of some bytes. */
function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}
