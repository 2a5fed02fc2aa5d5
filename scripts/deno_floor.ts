/**
 * The least a Deno program does per connection, as a floor to measure the proxy against:
 *
 * - `--port=P`: accepts connections and answers `+PONG` to whatever it reads, with one 64-byte
 *   buffer per connection and nothing else (what a connection costs Deno itself);
 * - `--port=P --forward=PORT`: a forwarder that gives each client its own connection to the Redis
 *   server on PORT and copies bytes both ways (what one more hop costs in Deno);
 * - `--port=P --shared=PORT`: a forwarder over one shared connection to the Redis server on PORT,
 *   as a proxy forwards (requests written in order, replies handed back in order; frames found
 *   with the proxy's own scanners). It assumes what redis-benchmark without `-P` sends: whole
 *   requests in each read. Nothing else: the least a proxy does.
 *
 * The connection rows of `deno task bench` run all three beside the proxy and twemproxy.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { NEED_MORE, ReplyScanner, RequestScanner } from "../redis/resp_scanner.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { port: { type: "string" }, forward: { type: "string" }, shared: { type: "string" } },
});
const listener = Deno.listen({ hostname: "127.0.0.1", port: Number(values.port) });
const PONG = new TextEncoder().encode("+PONG\r\n");

function closeQuietly(c: Deno.Conn): void {
  try {
    c.close();
  } catch {
    // closed
  }
}

async function pong(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(64);
  try {
    while ((await conn.read(buf)) !== null) await conn.write(PONG);
  } catch {
    // reset
  }
  closeQuietly(conn);
}

async function pipe(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(16 * 1024);
  try {
    for (;;) {
      const n = await from.read(buf);
      if (n === null) break;
      await to.write(buf.subarray(0, n));
    }
  } catch {
    // reset
  }
  closeQuietly(from);
  closeQuietly(to);
}

async function forward(conn: Deno.Conn, port: number): Promise<void> {
  (conn as Deno.TcpConn).setNoDelay(true);
  const backend = await Deno.connect({ hostname: "127.0.0.1", port });
  backend.setNoDelay(true);
  void pipe(conn, backend);
  void pipe(backend, conn);
}

/** Clients waiting for their reply, in the order their requests went out. */
const waiting: Deno.Conn[] = [];
let backendOut: Uint8Array[] = [];
let shared: Deno.TcpConn | null = null;
const requests = new RequestScanner();
const replies = new ReplyScanner();

function sendShared(conn: Deno.Conn, request: Uint8Array): void {
  // One waiting entry per request in the read.
  for (let at = 0; at < request.length;) {
    const stop = requests.scan(request, at, request.length);
    if (stop < 0) {
      requests.reset(); // not a whole request: not this floor's case (see the module doc)
      break;
    }
    waiting.push(conn);
    at = stop;
  }
  backendOut.push(request);
  if (backendOut.length === 1) {
    queueMicrotask(() => {
      const parts = backendOut;
      backendOut = [];
      const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        all.set(p, at);
        at += p.length;
      }
      void shared!.write(all);
    });
  }
}

async function readShared(backend: Deno.Conn): Promise<void> {
  let buf = new Uint8Array(64 * 1024);
  let end = 0;
  for (;;) {
    const n = await backend.read(buf.subarray(end));
    if (n === null) Deno.exit(1);
    end += n;
    let at = 0;
    for (;;) {
      const stop = replies.scan(buf, at, end);
      if (stop === NEED_MORE) break;
      if (stop < 0) Deno.exit(1);
      const client = waiting.shift()!;
      client.write(buf.slice(at, stop)).catch(() => closeQuietly(client));
      at = stop;
    }
    buf.copyWithin(0, at, end);
    end -= at;
    if (end === buf.length) {
      const grown = new Uint8Array(buf.length * 2);
      grown.set(buf);
      buf = grown;
    }
  }
}

async function serveShared(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(256);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      sendShared(conn, buf.slice(0, n));
    }
  } catch {
    // reset
  }
  closeQuietly(conn);
}

if (values.shared) {
  shared = await Deno.connect({ hostname: "127.0.0.1", port: Number(values.shared) });
  shared.setNoDelay(true);
  void readShared(shared);
}

for await (const conn of listener) {
  if (values.forward) void forward(conn, Number(values.forward)).catch(() => closeQuietly(conn));
  else if (values.shared) void serveShared(conn);
  else void pong(conn);
}
