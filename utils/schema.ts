/**
 * Validation issues in words, for the schemas (valibot) that check what arrives from the store,
 * another program or a request body.
 *
 * @module
 */

import type * as v from "valibot";

/** One validation issue in words: `"servers[0].server" must be a string`. */
export function describeIssue(issue: v.BaseIssue<unknown>): string {
  // Codis's own texts ("invalid slot id = 1024, out of range") name their field already.
  if (issue.message.startsWith("invalid ")) return issue.message;
  const keys = (issue.path ?? []).map((p) => p.key).filter((k) => k !== undefined);
  const path = keys.map((k, i) => typeof k === "number" ? `[${k}]` : `${i > 0 ? "." : ""}${String(k)}`).join("");
  return path ? `"${path}" ${issue.message}` : issue.message;
}
