/**
 * A raw RESP connection for tests that read what a server pushes (Pub/Sub messages): commands
 * go out as written, and every frame that comes back is kept, as text, in arrival order.
 */

import { NEED_MORE, PROTOCOL_ERROR, ReplyScanner } from "../../redis/resp_scanner.ts";
import { encodeCommand } from "../../redis/resp_writer.ts";
import { waitFor } from "./servers.ts";

/** A connection that keeps every frame it receives. */
export class RawClient {
  readonly frames: string[] = [];
  #conn: Deno.TcpConn;
  #closed = false;
  #done: Promise<void>;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.#done = this.#read();
  }

  static async connect(addr: string): Promise<RawClient> {
    const i = addr.lastIndexOf(":");
    const conn = await Deno.connect({ hostname: addr.slice(0, i), port: Number(addr.slice(i + 1)) });
    return new RawClient(conn);
  }

  /** Sends one command. */
  async send(...args: (string | number)[]): Promise<void> {
    const bytes = encodeCommand(args);
    let off = 0;
    while (off < bytes.length) off += await this.#conn.write(bytes.subarray(off));
  }

  /** Waits until `n` frames have come (in all), then returns the frames from `from` on. */
  async until(n: number, from = 0, timeoutMs = 30_000): Promise<string[]> {
    await waitFor(() => this.frames.length >= n, {
      timeoutMs,
      intervalMs: 5,
      what: `${n} frames (have ${this.frames.length}: ${JSON.stringify(this.frames.slice(-3))})`,
    });
    return this.frames.slice(from, n);
  }

  /** Sends a command and returns the `count` frames that follow it. */
  async call(count: number, ...args: (string | number)[]): Promise<string[]> {
    const from = this.frames.length;
    await this.send(...args);
    return await this.until(from + count, from);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    await this.#done;
  }

  async #read(): Promise<void> {
    const scanner = new ReplyScanner();
    let buf = new Uint8Array(64 * 1024);
    let start = 0;
    let end = 0;
    const dec = new TextDecoder();
    try {
      for (;;) {
        if (end === buf.length) {
          const bigger = new Uint8Array(buf.length * 2);
          bigger.set(buf.subarray(start, end));
          end -= start;
          start = 0;
          buf = bigger;
        }
        const n = await this.#conn.read(buf.subarray(end));
        if (n === null) return;
        end += n;
        for (;;) {
          const e = scanner.scan(buf, start, end);
          if (e === NEED_MORE) break;
          if (e === PROTOCOL_ERROR) throw new Error(scanner.error);
          this.frames.push(dec.decode(buf.subarray(start, e)));
          start = e;
        }
        if (start === end) start = end = 0;
      }
    } catch {
      // closed
    }
  }
}
