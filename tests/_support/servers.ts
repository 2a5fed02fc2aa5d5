/**
 * Real servers for tests: redis-server processes on free loopback ports, and waiting helpers.
 * Every server a test starts is stopped by the test (by PID, never by name).
 *
 * @module
 */

import { RedisClient } from "../../redis/redis_client.ts";
import { errorMessage } from "../../utils/errors.ts";

/** A free TCP port on 127.0.0.1 (bound then released). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Options of {@linkcode waitFor}. */
export interface WaitOptions {
  timeoutMs: number;
  intervalMs: number;
  /** Describes the condition in the timeout error. */
  what: string;
}

/** Polls `check` until it returns a truthy value (or stops throwing); fails after the timeout. */
export async function waitFor<T>(check: () => T | Promise<T>, options: Partial<WaitOptions> = {}): Promise<T> {
  const o = { timeoutMs: 30_000, intervalMs: 25, what: "condition", ...options };
  const deadline = performance.now() + o.timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
      last = undefined;
    } catch (e) {
      last = e;
    }
    if (performance.now() > deadline) {
      throw new Error(
        `Timed out after ${o.timeoutMs} ms waiting for ${o.what}${last ? `: ${errorMessage(last)}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, o.intervalMs));
  }
}

/**
 * A server process started for a test, on its own port and temporary directory. Subclasses say
 * how to tell that it is ready.
 */
export abstract class ServerProcess {
  readonly port: number;
  readonly dir: string;
  #command: string;
  #args: string[];
  #child: Deno.ChildProcess;
  #stopped = false;

  protected constructor(command: string, port: number, dir: string, args: string[]) {
    this.#command = command;
    this.port = port;
    this.dir = dir;
    this.#args = args;
    this.#child = this.#spawn();
  }

  /** `127.0.0.1:port`. */
  get addr(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** The process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Waits until the server answers. */
  abstract waitReady(timeoutMs?: number): Promise<void>;

  /** Kills the process with `signal` (SIGKILL: a crash) and waits for it to exit. */
  async kill(signal: Deno.Signal = "SIGKILL"): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    try {
      this.#child.kill(signal);
    } catch {
      // already exited
    }
    await this.#child.status;
  }

  /** Starts the process again on the same port and directory (after {@linkcode kill}). */
  async restart(): Promise<void> {
    if (!this.#stopped) await this.kill();
    this.#child = this.#spawn();
    this.#stopped = false;
    await this.waitReady();
  }

  /** Stops the server and removes its directory. */
  async stop(): Promise<void> {
    await this.kill("SIGTERM");
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  #spawn(): Deno.ChildProcess {
    return new Deno.Command(this.#command, {
      args: this.#args,
      cwd: this.dir,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
  }
}

/** A redis-server process started for a test. */
export class RedisServer extends ServerProcess {
  readonly password: string;
  /** The CA to trust when the server listens with TLS only (null: plain TCP). */
  readonly tls: { caCerts: string[] } | null;

  private constructor(
    port: number,
    dir: string,
    password: string,
    args: string[],
    tls: { caCerts: string[] } | null,
  ) {
    super("redis-server", port, dir, args);
    this.password = password;
    this.tls = tls;
  }

  /**
   * Starts redis-server on a free port and waits until it answers PING. With `tls` (PEM files), the
   * port speaks TLS only.
   */
  static async start(
    options: { password?: string; port?: number; args?: string[]; tls?: { cert: string; key: string; ca: string } } =
      {},
  ): Promise<RedisServer> {
    const port = options.port ?? freePort();
    const dir = await Deno.makeTempDir({ prefix: "codis-test-redis-" });
    const password = options.password ?? "";
    const t = options.tls;
    const tlsArgs = t
      ? [
        "--port",
        "0",
        "--tls-port",
        String(port),
        "--tls-cert-file",
        t.cert,
        "--tls-key-file",
        t.key,
        "--tls-ca-cert-file",
        t.ca,
        "--tls-auth-clients",
        "no",
        "--tls-cluster",
        "yes",
        "--tls-replication",
        "yes",
      ]
      : [];
    const args = [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
      "--daemonize",
      "no",
      "--logfile",
      `${dir}/redis.log`,
      ...(password ? ["--requirepass", password, "--masterauth", password] : []),
      ...tlsArgs,
      ...(options.args ?? []),
    ];
    const server = new RedisServer(port, dir, password, args, t ? { caCerts: [Deno.readTextFileSync(t.ca)] } : null);
    await server.waitReady();
    return server;
  }

  /** Waits until the server answers PING. */
  async waitReady(timeoutMs = 30_000): Promise<void> {
    await waitFor(async () => {
      const c = await RedisClient.connect(this.addr, {
        password: this.password,
        connectTimeoutMs: 1000,
        tls: this.tls,
      });
      try {
        return await c.call("PING") === "PONG";
      } finally {
        await c.close();
      }
    }, { timeoutMs, what: `redis-server on ${this.addr}` });
  }

  /** A client connected to this server. */
  client(db = 0): Promise<RedisClient> {
    return RedisClient.connect(this.addr, { password: this.password, db, tls: this.tls });
  }
}
