/**
 * The HTTP conventions of the admin APIs, server and client side.
 *
 * Success: status 200 and a JSON value, 4-space indented (mutations answer `"OK"`). Failure: an
 * ordinary 4xx/5xx status (Codis's status 800 is not valid HTTP) and `{"Cause": "<message>"}`.
 *
 * @module
 */

import type { Context, Hono } from "hono";
import { toCodisJson } from "./json.ts";
import { errorMessage } from "./errors.ts";

/** An API error with its HTTP status; the message is sent as `Cause`. */
export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

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

/** Installs the error and not-found handlers that answer `{"Cause": …}`. */
export function installErrorHandlers(app: Hono, onInternal?: (e: Error) => void): void {
  app.onError((err) => {
    if (err instanceof ApiError) return jsonResponse({ Cause: err.message }, err.status);
    onInternal?.(err);
    return jsonResponse({ Cause: err.message || String(err) }, 500);
  });
  app.notFound((c) => jsonResponse({ Cause: `no such route: ${c.req.method} ${new URL(c.req.url).pathname}` }, 404));
}

/** Reads a JSON request body; a body that is not JSON is a 400. */
export async function readJsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ApiError(400, `bad request body: ${errorMessage(e)}`);
  }
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
