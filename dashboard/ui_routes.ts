/**
 * The web UI's routes, shared by codis-fe and every dashboard: `/` answers the page to a browser,
 * `/ui/app.js` and `/ui/app.css` its script and styles. The files come from the build in
 * `ui_assets.ts`, or from an assets directory when one is given (codis-fe's `--assets-dir`).
 *
 * @module
 */

import type { Context, Hono } from "hono";
import { UI_ASSETS } from "./ui_assets.ts";

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json",
  png: "image/png",
  svg: "image/svg+xml",
  ico: "image/x-icon",
};

function contentType(name: string): string {
  return TYPES[name.slice(name.lastIndexOf(".") + 1)] ?? "application/octet-stream";
}

/** Whether the request comes from a browser asking for a page (rather than curl or a client). */
export function wantsHtml(c: Context): boolean {
  return (c.req.header("accept") ?? "").includes("text/html");
}

async function asset(name: string, assetsDir: string | null): Promise<Response | null> {
  const headers = { "content-type": contentType(name), "cache-control": "no-cache" };
  if (assetsDir === null) {
    const body = UI_ASSETS[name];
    return body === undefined ? null : new Response(body, { headers });
  }
  if (name.split("/").some((part) => part === ".." || part === "")) return null;
  try {
    return new Response(await Deno.readFile(`${assetsDir}/${name}`), { headers });
  } catch {
    return null;
  }
}

/**
 * Adds the UI's routes. `/` answers the page when `root` says so (codis-fe: always; a dashboard:
 * to browsers, while other clients keep Codis's redirect to `/topom`).
 */
export function addUiRoutes(
  app: Hono,
  options: { assetsDir: string | null; root: (c: Context) => boolean; otherAssets?: boolean },
): void {
  const dir = options.assetsDir;
  app.get("/", async (c, next) => {
    if (!options.root(c)) return await next();
    return await asset("index.html", dir) ?? c.notFound();
  });
  // An assets directory may hold more files (Codis's own FE has several): then every path is one.
  const files = options.otherAssets && dir !== null ? "*" : "/ui/*";
  app.get(files, async (c) => await asset(new URL(c.req.url).pathname.slice(1), dir) ?? c.notFound());
}
