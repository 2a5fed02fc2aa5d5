/**
 * Opening TCP connections, in plain text or over TLS, with a time limit and no-delay set (small
 * pipelined writes must not wait for Nagle's algorithm).
 *
 * @module
 */

import { parseAddr } from "./addr.ts";
import { deadline } from "./async.ts";

/** How a client reaches servers over TLS. */
export interface TlsClientOptions {
  /** PEM certificates of the authorities to trust, besides the system's. */
  caCerts: string[];
}

/** Options of {@linkcode dial}. */
export interface DialOptions {
  /** Milliseconds the connection (and its TLS handshake) may take. */
  timeoutMs: number;
  /** Connect over TLS (null: plain TCP). */
  tls: TlsClientOptions | null;
  /** Turn TCP keepalive on. */
  keepAlive?: boolean;
}

/** A connection failed or timed out. */
export class DialError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DialError";
  }
}

/** Connects to `addr` (`host:port`), over TLS when asked, with no-delay on. */
export async function dial(addr: string, options: DialOptions): Promise<Deno.Conn> {
  const { host, port } = parseAddr(addr);
  const signal = AbortSignal.timeout(options.timeoutMs);
  let tcp: Deno.TcpConn;
  try {
    tcp = await Deno.connect({ hostname: host, port, signal } as Deno.ConnectOptions) as Deno.TcpConn;
  } catch (e) {
    const why = signal.aborted ? `timed out after ${options.timeoutMs} ms` : String((e as Error)?.message ?? e);
    throw new DialError(`dial ${addr} failed: ${why}`, { cause: e });
  }
  tcp.setNoDelay(true);
  if (options.keepAlive) tcp.setKeepAlive(true);
  if (!options.tls) return tcp;
  try {
    const conn = await Deno.startTls(tcp, { hostname: host, caCerts: options.tls.caCerts });
    await deadline(conn.handshake(), options.timeoutMs, {
      error: () => new DialError(`TLS handshake with ${addr} timed out after ${options.timeoutMs} ms`),
    }).catch((e) => {
      conn.close();
      throw e;
    });
    return conn;
  } catch (e) {
    if (e instanceof DialError) throw e;
    throw new DialError(`TLS handshake with ${addr} failed: ${(e as Error)?.message ?? e}`, { cause: e });
  }
}

/** Reads the PEM certificates of a CA file for {@linkcode TlsClientOptions} ("" = none: the system's only). */
export function readCaCerts(file: string): string[] {
  return file ? [Deno.readTextFileSync(file)] : [];
}

/** Closes `conn`, ignoring that it is closed already (a timed-out handshake closes it too). */
export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // closed already
  }
}
