/**
 * The dashboard's REST API as the page uses it. The page is served either by codis-fe (many
 * products: every request carries `?forward=<product>`) or by a dashboard for its own product
 * (which ignores the parameter), so the same calls work in both. Changes carry the dashboard's
 * xauth and, when the operator gave it, the admin secret as a bearer token.
 *
 * @module
 */

import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import type { Overview } from "./types.ts";

/** An error answered by the dashboard (its `Cause`) or by the network. */
export class ApiError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

/** The products this page can show (`GET /list`). */
export async function listProducts(): Promise<string[]> {
  return await getJson<string[]>("/list");
}

/** Codis's xauth: the first 16 bytes of SHA-256 of `Codis-XAuth-[segment]…`, in hex. */
export function xauth(...segments: string[]): string {
  let text = "Codis-XAuth";
  for (const s of segments) text += `-[${s}]`;
  return bytesToHex(sha256(utf8ToBytes(text))).slice(0, 32);
}

/** A path segment: addresses (`host:port`, `[v6]:port`) pass as they are, anything else is escaped. */
export function seg(value: string | number): string {
  return String(value).replace(/[^A-Za-z0-9.:_\-[\]]/g, (c) => encodeURIComponent(c));
}

/** One product's dashboard. */
export class Dashboard {
  constructor(readonly product: string, public secret: string) {}

  #url(path: string): string {
    return `${path}${path.includes("?") ? "&" : "?"}forward=${encodeURIComponent(this.product)}`;
  }

  /** Everything the pages show, in one request: config, model and stats. */
  async overview(): Promise<Overview> {
    return await getJson<Overview>(this.#url("/topom"));
  }

  /**
   * A change: `route` builds the path after `/api/topom/` from the xauth, e.g.
   * `(x) => \`group/create/${x}/3\``. Resolves with the answer's JSON (or null).
   */
  async change(route: (xauth: string) => string, body?: unknown): Promise<unknown> {
    const key = this.secret ? xauth(this.product, this.secret) : xauth(this.product);
    const headers: Record<string, string> = {};
    if (this.secret) headers["authorization"] = `Bearer ${this.secret}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await request(this.#url(`/api/topom/${route(key)}`), {
      method: "PUT",
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return text ? JSON.parse(text) : null;
  }
}

async function getJson<T>(url: string): Promise<T> {
  const res = await request(url, { headers: { accept: "application/json" } });
  return await res.json() as T;
}

async function request(url: string, init: RequestInit): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
  } catch (e) {
    throw new ApiError(`cannot reach the dashboard: ${e instanceof Error ? e.message : String(e)}`, 0);
  }
  if (res.ok) return res;
  const text = await res.text();
  let cause = text || res.statusText;
  try {
    const j = JSON.parse(text) as { Cause?: string };
    if (typeof j.Cause === "string") cause = j.Cause;
  } catch {
    // not JSON: show the text
  }
  throw new ApiError(cause, res.status);
}
