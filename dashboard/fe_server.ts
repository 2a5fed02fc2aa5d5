/**
 * codis-fe's server (Codis's `cmd/fe`): the products and their dashboards, `GET /list`, and every
 * request carrying `?forward=<product>` passed on to that product's dashboard (the web UI reaches
 * each dashboard's REST API this way, from one origin). Static assets, when an assets directory is
 * given, are served for everything else.
 *
 * Products come from a dashboard list file (`[{"name": …, "dashboard": "host:port"}, …]`, read
 * again at most every 5 s) or from the coordinator store: every `/codis3/{product}` whose dashboard
 * holds the lock (`/codis3/{product}/topom`; a filesystem lock left by a dead process on this host
 * does not count).
 *
 * @module
 */

import { Hono } from "hono";
import { compress } from "hono/compress";
import type { CoordClient } from "../coord/client.ts";
import { CODIS_DIR, isStaleOnThisHost, ProductStore } from "../coord/store.ts";
import { parseAddr } from "../utils/addr.ts";
import { errorMessage } from "../utils/errors.ts";
import { type ApiBindings, installErrorHandlers, isLoopback, jsonResponse, serveApi } from "../utils/http.ts";
import { log } from "../utils/log.ts";
import { addUiRoutes } from "./ui_routes.ts";

/** Where the products' dashboards are: product name → dashboard `host:port`. */
export interface ProductSource {
  products(): Promise<Map<string, string>>;
}

/** How long a dashboard list file is trusted before it is read again. */
const LIST_TTL_MS = 5000;
/** How long a forwarded request may take to connect and answer (Codis: a 10 s dial timeout). */
const FORWARD_TIMEOUT_MS = 10_000;

/** Products from a dashboard list file, read again at most every 5 s. */
export function dashboardListSource(file: string): ProductSource {
  let cached: Map<string, string> | null = null;
  let readAt = 0;
  return {
    async products() {
      if (cached !== null && performance.now() - readAt < LIST_TTL_MS) return cached;
      const text = await Deno.readTextFile(file);
      let entries: unknown;
      try {
        entries = JSON.parse(text);
      } catch (e) {
        throw new Error(`dashboard list ${file}: ${errorMessage(e)}`, { cause: e });
      }
      if (!Array.isArray(entries)) throw new Error(`dashboard list ${file}: expected a JSON array`);
      const map = new Map<string, string>();
      for (const e of entries as { name?: unknown; dashboard?: unknown }[]) {
        if (typeof e?.name !== "string" || typeof e?.dashboard !== "string") {
          throw new Error(`dashboard list ${file}: every entry needs "name" and "dashboard"`);
        }
        map.set(e.name, e.dashboard);
      }
      cached = map;
      readAt = performance.now();
      return map;
    },
  };
}

/** Products from the store: those whose dashboard holds the product's lock. */
export function storeSource(client: CoordClient): ProductSource {
  return {
    async products() {
      const map = new Map<string, string>();
      const children = await client.list(CODIS_DIR);
      await Promise.all(children.map(async (path) => {
        const name = path.slice(path.lastIndexOf("/") + 1);
        try {
          const topom = await new ProductStore(client, name).loadTopom();
          if (topom !== null && !isStaleOnThisHost(topom)) map.set(name, topom.adminAddr);
        } catch (e) {
          log.warn(`product ${name}: unreadable dashboard lock: ${errorMessage(e)}`);
        }
      }));
      return map;
    },
  };
}

/** The codis-fe HTTP application. */
export function feApp(source: ProductSource, assetsDir: string | null): Hono {
  const app = new Hono();
  installErrorHandlers(app);
  app.use("*", compress());
  app.get("/list", async () => jsonResponse([...(await source.products()).keys()].sort()));
  app.all("*", async (c, next) => {
    const url = new URL(c.req.url);
    const product = url.searchParams.get("forward");
    if (product === null) return await next();
    const dashboard = (await source.products()).get(product);
    if (dashboard === undefined) return jsonResponse({ Cause: `product "${product}" not found` }, 403);
    // The dashboard sees this process as the client: without an admin secret it would take a change
    // from anywhere as coming from this machine. So a change from elsewhere must carry the secret.
    const remote = (c.env as ApiBindings | undefined)?.remoteAddr;
    const change = c.req.method !== "GET" && c.req.method !== "HEAD";
    if (change && !isLoopback(remote) && !(c.req.header("authorization") ?? "").startsWith("Bearer ")) {
      return jsonResponse({
        Cause: "codis-fe passes changes from other machines only with the admin secret (Authorization: Bearer …)",
      }, 403);
    }
    url.searchParams.delete("forward");
    const { host, port } = parseAddr(dashboard);
    const target = `http://${host.includes(":") ? `[${host}]` : host}:${port}${url.pathname}${url.search}`;
    const headers = new Headers(c.req.raw.headers);
    headers.delete("host");
    // Plain between this process and the dashboard; compressed (if asked) towards the browser.
    headers.delete("accept-encoding");
    const from = remote && "hostname" in remote ? remote.hostname : "";
    if (from) headers.set("x-forwarded-for", from);
    try {
      const res = await fetch(target, {
        method: c.req.method,
        headers,
        body: c.req.method === "GET" || c.req.method === "HEAD" ? undefined : c.req.raw.body,
        redirect: "manual",
        signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
      });
      const out = new Headers(res.headers);
      // The body is passed on decoded, so its length and coding are this server's to set, as are the hop-by-hop headers.
      for (const h of ["content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive"]) {
        out.delete(h);
      }
      return new Response(res.body, { status: res.status, headers: out });
    } catch (e) {
      return jsonResponse({ Cause: `dashboard of ${product} at ${dashboard}: ${errorMessage(e)}` }, 502);
    }
  });
  addUiRoutes(app, { assetsDir, root: () => true, otherAssets: true });
  return app;
}

/** A running codis-fe. */
export interface Fe {
  /** The address it listens on. */
  addr: string;
  close(): Promise<void>;
}

/** Starts codis-fe on `listen` (`host:port`, port 0 = any free one). */
export async function startFe(
  options: { listen: string; source: ProductSource; assetsDir: string | null },
): Promise<Fe> {
  const { host, port } = parseAddr(options.listen);
  const app = feApp(options.source, options.assetsDir);
  let resolve!: (a: Deno.NetAddr) => void;
  const listening = new Promise<Deno.NetAddr>((r) => resolve = r);
  const server = serveApi(app, { hostname: host || "0.0.0.0", port, onListen: resolve });
  const addr = await listening;
  return {
    addr: `${addr.hostname}:${addr.port}`,
    close: () => server.shutdown(),
  };
}
