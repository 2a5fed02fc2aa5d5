/**
 * JSON text as Codis writes it, for the store's nodes and the admin APIs' replies.
 *
 * @module
 */

/**
 * JSON text as Codis writes it: Go's `json.MarshalIndent` with 4-space indentation, which also
 * escapes `<`, `>`, `&` and the line separators U+2028/U+2029 in strings.
 */
export function toCodisJson(value: unknown): string {
  return JSON.stringify(value, null, 4).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
