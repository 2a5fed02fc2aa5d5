/**
 * Checking what another program answered against the schema of its reply.
 *
 * @module
 */

import type * as v from "valibot";
import { ModelError, parseModel } from "../coord/models.ts";
import { RpcError } from "../utils/http.ts";

/** `value` parsed with `schema`; a mismatch is an {@linkcode RpcError} naming `source` and the field. */
export function checkReply<T extends v.GenericSchema>(schema: T, value: unknown, source: string): v.InferOutput<T> {
  try {
    return parseModel(schema, value, "reply");
  } catch (e) {
    if (e instanceof ModelError) throw new RpcError(`${source} answered an unexpected reply: ${e.message}`);
    throw e;
  }
}

/** `value` itself once it has been checked against `schema` (for printing a reply as it came). */
export function checkRawReply(schema: v.GenericSchema, value: unknown, source: string): unknown {
  checkReply(schema, value, source);
  return value;
}
