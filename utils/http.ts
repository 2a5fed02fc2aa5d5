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

/**
 * How an admin API tells who may change things (decision 10: secure by default):
 *
 * - with an admin secret (`admin_auth`), a route with an `:xauth` needs the xauth derived from the
 *   secret, or an `Authorization: Bearer <secret>` header;
 * - without one (Codis's behaviour), a route that changes anything answers only loopback clients,
 *   since its xauth can be computed from public data.
 */
export interface AdminGuard {
  /** The key a route's `:xauth` must equal. */
  expected(): string;
  /** Codis's hint after "missing xauth, " and "invalid xauth, " (e.g. "please check product name"). */
  hint: string;
  /** The admin secret; "" when none is set. */
  adminAuth: string;
  /** Throws when the program cannot serve changes now (closed). */
  check?(): void;
}

/** What {@linkcode serveApi} passes to every request, for the guards. */
export interface ApiBindings {
  remoteAddr?: Deno.Addr;
}

/** True for a client on this machine (127.0.0.0/8, ::1, a unix socket). */
export function isLoopback(addr: Deno.Addr | undefined): boolean {
  if (!addr) return false;
  if (addr.transport === "unix" || addr.transport === "unixpacket") return true;
  const host = (addr as Deno.NetAddr).hostname;
  return host === "::1" || host.startsWith("127.") || host.startsWith("::ffff:127.");
}

/** The secret of an `Authorization: Bearer <secret>` header, or "". */
function bearer(c: Context): string {
  const h = c.req.header("authorization") ?? "";
  return h.startsWith("Bearer ") ? h.slice(7).trim() : "";
}

/** True when the request proves it knows the admin secret (by its Bearer header). */
function hasSecret(c: Context, guard: AdminGuard): boolean {
  return guard.adminAuth !== "" && timingSafeEqual(bearer(c), guard.adminAuth);
}

/** Refuses a change from a non-loopback client when no admin secret is set. */
function checkOrigin(c: Context, guard: AdminGuard): void {
  if (guard.adminAuth || c.req.method === "GET" || c.req.method === "HEAD") return;
  if (!isLoopback((c.env as ApiBindings | undefined)?.remoteAddr)) {
    throw new CodisError(
      "forbidden",
      "changes are accepted only from this machine: admin_auth is not set (set it in the config of every program)",
    );
  }
}

/**
 * A middleware for routes with an `:xauth` parameter: refuses a missing (401) or wrong (403) key,
 * and applies the admin-secret rules of {@linkcode AdminGuard}.
 */
export function requireXAuth(guard: AdminGuard): MiddlewareHandler {
  return async (c, next) => {
    checkOrigin(c, guard);
    if (!hasSecret(c, guard)) {
      const xauth = c.req.param("xauth");
      if (!xauth) throw new CodisError("unauthorized", `missing xauth, ${guard.hint}`);
      if (!timingSafeEqual(xauth, guard.expected())) throw new CodisError("forbidden", `invalid xauth, ${guard.hint}`);
    }
    guard.check?.();
    await next();
  };
}

/**
 * A middleware for routes without an `:xauth` that must still be protected (the dashboard's
 * `group/info`): with an admin secret they need the Bearer header, without one a loopback client.
 */
export function requireAdmin(guard: AdminGuard): MiddlewareHandler {
  return async (c, next) => {
    if (guard.adminAuth) {
      if (!bearer(c)) throw new CodisError("unauthorized", "missing Authorization: Bearer <admin_auth>");
      if (!hasSecret(c, guard)) throw new CodisError("forbidden", "invalid admin_auth");
    } else if (!isLoopback((c.env as ApiBindings | undefined)?.remoteAddr)) {
      throw new CodisError("forbidden", "accepted only from this machine: admin_auth is not set");
    }
    await next();
  };
}

/** Compares two secrets in a time that does not depend on where they differ. */
function timingSafeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/**
 * Serves a Hono app with `Deno.serve`, passing each client's address to the guards. `app` may be
 * a function that returns null while the program is starting: requests then get a 503 saying
 * `notReady`. The listener is the caller's to shut down.
 */
export function serveApi(
  app: Hono | (() => Hono | null),
  options: { hostname: string; port: number; onListen?: (addr: Deno.NetAddr) => void; notReady?: string },
): Deno.HttpServer {
  const current = typeof app === "function" ? app : () => app;
  return Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen: (addr) => options.onListen?.(addr as Deno.NetAddr),
  }, (req, info) => {
    const a = current();
    if (!a) return jsonResponse({ Cause: options.notReady ?? "not ready" }, 503);
    return a.fetch(req, { remoteAddr: info.remoteAddr } satisfies ApiBindings);
  });
}

/** A route parameter that must be an integer; otherwise 400 `invalid <what> = <value>`. */
export function intParam(c: Context, name: string, what: string): number {
  const value = c.req.param(name);
  if (value === undefined || !/^-?\d+$/.test(value)) throw invalid(`invalid ${what} = ${value ?? ""}`);
  return Number(value);
}

/** The largest request body the admin APIs read (a full slot table is about 150 KB). */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** Reads a request body of at most `limit` bytes (413 past it, without reading the rest). */
export async function readBody(c: Context, limit = MAX_BODY_BYTES): Promise<string> {
  const tooLarge = () => new CodisError("too-large", `request body larger than ${limit} bytes`);
  const declared = Number(c.req.header("content-length") ?? "0");
  if (declared > limit) throw tooLarge();
  const body = c.req.raw.body;
  if (body === null) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > limit) throw tooLarge();
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const all = new Uint8Array(size);
  let pos = 0;
  for (const chunk of chunks) {
    all.set(chunk, pos);
    pos += chunk.length;
  }
  return new TextDecoder().decode(all);
}

/**
 * A middleware that reads the request body as JSON (whatever its content type says, as Codis's
 * API does; at most {@linkcode MAX_BODY_BYTES}) and validates it with `schema`; the handler gets
 * the result from `c.req.valid("json")`. A body that is not JSON, or not of the schema, is a 400
 * `bad request body: <why>`; a larger one a 413.
 */
export function jsonBody<S extends v.GenericSchema>(
  schema: S,
): MiddlewareHandler<Env, string, { in: { json: v.InferInput<S> }; out: { json: v.InferOutput<S> } }> {
  return async (c, next) => {
    const text = await readBody(c);
    let value: unknown;
    try {
      value = JSON.parse(text);
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
  /** The admin secret, sent as `Authorization: Bearer …` ("" or absent: none). */
  adminAuth?: string;
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
    const headers: Record<string, string> = {};
    if (o.body !== undefined) headers["content-type"] = "application/json";
    if (o.adminAuth) headers["authorization"] = `Bearer ${o.adminAuth}`;
    res = await fetch(url, {
      method: o.method,
      body: o.body === undefined ? undefined : JSON.stringify(o.body),
      headers,
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
