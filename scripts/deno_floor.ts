/**
 * The least a Deno program does per connection, as a floor to measure the proxy against:
 *
 * - `--port=P`: accepts connections and answers `+PONG` to whatever it reads, with one 64-byte
 *   buffer per connection and nothing else (what a connection costs Deno itself);
 * - `--port=P --forward=PORT`: a forwarder that gives each client its own connection to the Redis
 *   server on PORT and copies bytes both ways (what one more hop costs in Deno).
 *
 * The connection rows of `deno task bench` run both beside the proxy and twemproxy.
 *
 * @module
 */

import { parseArgs } from "node:util";

const { values } = parseArgs({ args: Deno.args, options: { port: { type: "string" }, forward: { type: "string" } } });
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

for await (const conn of listener) {
  if (values.forward) void forward(conn, Number(values.forward)).catch(() => closeQuietly(conn));
  else void pong(conn);
}
