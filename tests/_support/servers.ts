/**
 * Real servers for tests: redis-server processes on free loopback ports, and waiting helpers.
 * Every server a test starts is stopped by the test (by PID, never by name).
 *
 * @module
 */

import { RedisClient } from "../../redis/redis_client.ts";
import { errorMessage } from "../../utils/errors.ts";

/**
 * A free TCP port on 127.0.0.1 (bound then released). Another process may take it before the
 * server binds it: {@linkcode ServerProcess} retries on a new port when its child exits early, and
 * its `waitReady` checks that the server answering is its own child.
 */
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

/** Thrown by a `waitFor` check to stop waiting at once (the condition can no longer be met). */
export class StopWaiting extends Error {
  override name = "StopWaiting";
}

/**
 * Polls `check` until it returns a truthy value (or stops throwing); fails after the timeout, or at
 * once when `check` throws {@linkcode StopWaiting}.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  options: Partial<WaitOptions> = {},
): Promise<Exclude<T, false | null | undefined | 0 | "">> {
  const o = { timeoutMs: 30_000, intervalMs: 25, what: "condition", ...options };
  const deadline = performance.now() + o.timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      // A check that never settles (a read nobody answers) must not outlive the deadline.
      const v = await raceDeadline(check(), deadline - performance.now(), o.what);
      if (v) return v as Exclude<T, false | null | undefined | 0 | "">;
      last = undefined;
    } catch (e) {
      if (e instanceof StopWaiting) throw e;
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

async function raceDeadline<T>(value: T | Promise<T>, ms: number, what: string): Promise<T> {
  if (!(value instanceof Promise)) return value;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new StopWaiting(`a check for ${what} did not finish within the deadline`)),
      Math.max(ms, 1000),
    );
  });
  try {
    return await Promise.race([value, late]);
  } finally {
    clearTimeout(timer);
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
  #exit: Deno.CommandStatus | null = null;
  #stopped = false;

  protected constructor(command: string, port: number, dir: string, args: string[]) {
    this.#command = command;
    this.port = port;
    this.dir = dir;
    this.#args = args;
    this.#child = this.#spawn();
  }

  /**
   * Starts a server with `make(port)` on a free port and waits until it is ready; when the child
   * exits before that, or another process answers on the port (it took the port first), tries
   * again on a new port. With a given `port`, fails instead.
   */
  protected static async launch<S extends ServerProcess>(
    make: (port: number) => Promise<S>,
    port?: number,
  ): Promise<S> {
    for (let attempt = 1;; attempt++) {
      const server = await make(port ?? freePort());
      try {
        await server.waitReady();
        return server;
      } catch (e) {
        await server.stop();
        if (!(e instanceof StopWaiting) || port !== undefined || attempt === 5) throw e;
      }
    }
  }

  /** Throws (stopping a `waitFor`) once this server's own process has exited. */
  protected assertAlive(): void {
    if (this.#exit) {
      throw new StopWaiting(`${this.#command} on ${this.addr} exited (code ${this.#exit.code}) before it was ready`);
    }
  }

  /**
   * Reads `INFO server` over `c` and throws (stopping a `waitFor`) unless this process answers;
   * returns the INFO text.
   */
  protected async assertServedByUs(c: RedisClient): Promise<string> {
    const info = String(await c.call("INFO", "server"));
    const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
    if (pid !== this.pid) throw new StopWaiting(`${this.addr} is served by process ${pid}, not ours (${this.pid})`);
    return info;
  }

  /** `127.0.0.1:port`. */
  get addr(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** The process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** True while the process runs (not killed or stopped, not exited). */
  get alive(): boolean {
    return !this.#stopped && this.#exit === null;
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

  /** The signal {@linkcode stop} sends. */
  protected stopSignal: Deno.Signal = "SIGTERM";

  /** Stops the server and removes its directory. */
  async stop(): Promise<void> {
    await this.kill(this.stopSignal);
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  #spawn(): Deno.ChildProcess {
    const child = new Deno.Command(this.#command, {
      args: this.#args,
      cwd: this.dir,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#exit = null;
    void child.status.then((status) => {
      if (this.#child === child) this.#exit = status;
    });
    return child;
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
  static start(
    options: {
      password?: string;
      args?: string[];
      tls?: { cert: string; key: string; ca: string };
      /** A fixed port (default: a free one, retried if taken). */
      port?: number;
    } = {},
  ): Promise<RedisServer> {
    const password = options.password ?? "";
    const t = options.tls;
    return ServerProcess.launch(async (port) => {
      const dir = await Deno.makeTempDir({ prefix: "codis-test-redis-" });
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
        ...(password ? ["--requirepass", password] : []),
        ...tlsArgs,
        ...(options.args ?? []),
      ];
      return new RedisServer(port, dir, password, args, t ? { caCerts: [Deno.readTextFileSync(t.ca)] } : null);
    }, options.port);
  }

  /** Waits until the server answers PING, and checks that it is this process that answers. */
  async waitReady(timeoutMs = 30_000): Promise<void> {
    await waitFor(async () => {
      this.assertAlive();
      const c = await RedisClient.connect(this.addr, {
        password: this.password,
        connectTimeoutMs: 1000,
        tls: this.tls,
      });
      try {
        if (await c.call("PING") !== "PONG") return false;
        await this.assertServedByUs(c);
        return true;
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

/** A redis-sentinel process started for a test, with its own config file (which it rewrites). */
export class SentinelServer extends ServerProcess {
  private constructor(port: number, dir: string) {
    super("redis-sentinel", port, dir, [`${dir}/sentinel.conf`]);
  }

  /** Starts redis-sentinel on a free port, monitoring nothing, and waits until it answers. */
  static start(): Promise<SentinelServer> {
    return ServerProcess.launch(async (port) => {
      const dir = await Deno.makeTempDir({ prefix: "codis-test-sentinel-" });
      await Deno.writeTextFile(
        `${dir}/sentinel.conf`,
        [
          `port ${port}`,
          "bind 127.0.0.1",
          `dir ${dir}`,
          `logfile ${dir}/sentinel.log`,
          "daemonize no",
          "",
        ].join("\n"),
      );
      return new SentinelServer(port, dir);
    });
  }

  /** Waits until the sentinel answers PING, and checks that it is this process that answers. */
  async waitReady(timeoutMs = 30_000): Promise<void> {
    await waitFor(async () => {
      this.assertAlive();
      const c = await RedisClient.connect(this.addr, { connectTimeoutMs: 1000 });
      try {
        if (await c.call("PING") !== "PONG") return false;
        const info = await this.assertServedByUs(c);
        if (!/redis_mode:sentinel/.test(info)) throw new StopWaiting(`${this.addr} is not a sentinel`);
        return true;
      } finally {
        await c.close();
      }
    }, { timeoutMs, what: `redis-sentinel on ${this.addr}` });
  }

  /** A client of this sentinel. */
  client(): Promise<RedisClient> {
    return RedisClient.connect(this.addr);
  }
}
