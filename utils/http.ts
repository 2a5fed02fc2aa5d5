/**
 * The HTTP conventions of the admin APIs, server and client side.
 *
 * Success: status 200 and a JSON value, 4-space indented (mutations answer `"OK"`). Failure: an
 * ordinary 4xx/5xx status (Codis's status 800 is not valid HTTP) and `{"Cause": "<message>"}`.
 * Route handlers throw {@linkcode CodisError}s; only {@linkcode installErrorHandlers} turns their
 * kind into a status.
 *
 * @module
 */

import type { Context, Env, Hono, MiddlewareHandler } from "hono";
import * as v from "valibot";
import { CodisError, type ErrorKind, errorMessage, invalid } from "./errors.ts";
import { toCodisJson } from "./json.ts";
import { describeIssue } from "./schema.ts";

/** The HTTP status of each kind of error. */
export const STATUS_OF_KIND: Readonly<Record<ErrorKind, number>> = {
  "invalid": 400,
  "unauthorized": 401,
  "forbidden": 403,
  "not-found": 404,
  "conflict": 409,
  "too-large": 413,
  "unsupported": 501,
  "upstream": 502,
  "unavailable": 503,
};

/** A JSON response in Codis's format. */
export function jsonResponse(value: unknown, status = 200): Response {
  return new Response(toCodisJson(value), {
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}

/** A JSON response for `c` (keeps Hono's context in the signature for route handlers). */
export function json(_c: Context, value: unknown, status = 200): Response {
  return jsonResponse(value, status);
}

/** The answer of every mutation that succeeded: the JSON string `"OK"`. */
export function ok(_c: Context): Response {
  return jsonResponse("OK");
}

/** Installs the error and not-found handlers that answer `{"Cause": …}`. */
export function installErrorHandlers(app: Hono, onInternal?: (e: Error) => void): void {
  app.onError((err) => {
    if (err instanceof CodisError) return jsonResponse({ Cause: err.message }, STATUS_OF_KIND[err.kind]);
    onInternal?.(err);
    return jsonResponse({ Cause: err.message || String(err) }, 500);
  });
  app.notFound((c) => jsonResponse({ Cause: `no such route: ${c.req.method} ${new URL(c.req.url).pathname}` }, 404));
}

/** What {@linkcode requireXAuth} checks. */
export interface XAuthGuard {
  /** The key the route's `:xauth` must equal. */
  expected(): string;
  /** Codis's hint after "missing xauth, " and "invalid xauth, " (e.g. "please check product name"). */
  hint: string;
  /** Throws when the program cannot serve changes now (closed). */
  check?(): void;
}

/** A middleware for routes with an `:xauth` parameter: refuses a missing (401) or wrong (403) key. */
export function requireXAuth(guard: XAuthGuard): MiddlewareHandler {
  return async (c, next) => {
    const xauth = c.req.param("xauth");
    if (!xauth) throw new CodisError("unauthorized", `missing xauth, ${guard.hint}`);
    if (xauth !== guard.expected()) throw new CodisError("forbidden", `invalid xauth, ${guard.hint}`);
    guard.check?.();
    await next();
  };
}

/** A route parameter that must be an integer; otherwise 400 `invalid <what> = <value>`. */
export function intParam(c: Context, name: string, what: string): number {
  const value = c.req.param(name);
  if (value === undefined || !/^-?\d+$/.test(value)) throw invalid(`invalid ${what} = ${value ?? ""}`);
  return Number(value);
}

/**
 * A middleware that reads the request body as JSON (whatever its content type says, as Codis's
 * API does) and validates it with `schema`; the handler gets the result from
 * `c.req.valid("json")`. A body that is not JSON, or not of the schema, is a 400
 * `bad request body: <why>`.
 */
export function jsonBody<S extends v.GenericSchema>(
  schema: S,
): MiddlewareHandler<Env, string, { in: { json: v.InferInput<S> }; out: { json: v.InferOutput<S> } }> {
  return async (c, next) => {
    let value: unknown;
    try {
      value = JSON.parse(await c.req.text());
    } catch (e) {
      throw invalid(`bad request body: ${errorMessage(e)}`, { cause: e });
    }
    const result = v.safeParse(schema, value);
    if (!result.success) throw invalid(`bad request body: ${describeIssue(result.issues[0])}`);
    c.req.addValidatedData("json", result.output as object);
    await next();
  };
}

/** An admin API call that failed: unreachable, timed out, or answered an error. */
export class RpcError extends Error {
  /** HTTP status, or 0 when no answer came. */
  readonly status: number;
  constructor(message: string, status = 0, options?: ErrorOptions) {
    super(message, options);
    this.name = "RpcError";
    this.status = status;
  }
}

/** Options of {@linkcode callApi}. */
export interface CallOptions {
  method: "GET" | "PUT" | "POST" | "DELETE";
  body?: unknown;
  /** Milliseconds before the call is abandoned. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Defaults of {@linkcode CallOptions}. */
export const DEFAULT_CALL_OPTIONS: Readonly<CallOptions> = { method: "GET", timeoutMs: 10_000 };

/**
 * Calls an admin API at `http://addr/path` and returns the decoded JSON. Errors carry the
 * server's `Cause`.
 */
export async function callApi(addr: string, path: string, options: Partial<CallOptions> = {}): Promise<unknown> {
  const o = { ...DEFAULT_CALL_OPTIONS, ...options };
  const url = `http://${addr}${path}`;
  const timeout = AbortSignal.timeout(o.timeoutMs);
  const signal = o.signal ? AbortSignal.any([timeout, o.signal]) : timeout;
  let res: Response;
  try {
    res = await fetch(url, {
      method: o.method,
      body: o.body === undefined ? undefined : JSON.stringify(o.body),
      headers: o.body === undefined ? undefined : { "content-type": "application/json" },
      signal,
    });
  } catch (e) {
    const why = timeout.aborted ? `timed out after ${o.timeoutMs} ms` : errorMessage(e);
    throw new RpcError(`${o.method} ${url} failed: ${why}`, 0, { cause: e });
  }
  let text: string;
  try {
    text = await res.text();
  } catch (e) {
    throw new RpcError(`${o.method} ${url} failed: ${errorMessage(e)}`, res.status, { cause: e });
  }
  let value: unknown;
  try {
    value = text === "" ? null : JSON.parse(text);
  } catch {
    value = text;
  }
  if (!res.ok) {
    const cause = typeof value === "object" && value !== null && "Cause" in value
      ? String((value as { Cause: unknown }).Cause)
      : text || res.statusText;
    throw new RpcError(cause, res.status);
  }
  return value;
}
