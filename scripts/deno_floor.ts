/**
 * The least a Deno program can hold per connection: accepts connections on `--port` and answers
 * `+PONG` to whatever it reads, with one 64-byte buffer per connection and nothing else. The
 * connection rows of `deno task bench` measure it beside the proxy, as the floor Deno itself sets.
 *
 * @module
 */

import { parseArgs } from "node:util";

const { values } = parseArgs({ args: Deno.args, options: { port: { type: "string" } } });
const listener = Deno.listen({ hostname: "127.0.0.1", port: Number(values.port) });
const PONG = new TextEncoder().encode("+PONG\r\n");

async function serve(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(64);
  try {
    while ((await conn.read(buf)) !== null) await conn.write(PONG);
  } catch {
    // reset
  }
  try {
    conn.close();
  } catch {
    // closed
  }
}

for await (const conn of listener) void serve(conn);
