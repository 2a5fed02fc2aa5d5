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
  if (keys.length <= 16) {
    // Few keys (a client's request): comparing pairs costs less than a set of strings.
    for (const k of keys) if (!out.some((e) => sameBytes(e, k))) out.push(k);
  } else {
    const seen = new Set<string>();
    for (const k of keys) {
      const s = latin1(k);
      if (!seen.has(s)) {
        seen.add(s);
        out.push(k);
      }
    }
  }
  return out.length === keys.length ? keys : out;
}
