/**
 * Our programs as real processes for tests: codis-dashboard and codis-proxy on free loopback
 * ports with their own config files, and codis-admin runs.
 *
 * @module
 */

import { programRunArgs } from "../../utils/runtime_flags.ts";
import { freePort, StopWaiting, waitFor } from "./servers.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Result of one codis-admin run. */
export interface AdminResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs codis-admin with `args` (the first may be options: more environment variables). */
export async function admin(...args: (string | { env: Record<string, string> })[]): Promise<AdminResult> {
  const env = typeof args[0] === "object" ? args[0].env : {};
  const flags = args.filter((a): a is string => typeof a === "string");
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...programRunArgs(`${ROOT}admin/main.ts`), ...flags],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

/** Runs codis-admin and fails the test, with its output, unless it exits 0. */
export async function adminOk(...args: string[]): Promise<string> {
  const r = await admin(...args);
  if (r.code !== 0) throw new Error(`codis-admin ${args.join(" ")} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** One of our programs running as a process; its output goes to a log file in `dir`. */
export class ProgramProcess {
  readonly name: string;
  readonly dir: string;
  readonly args: string[];
  #child: Deno.ChildProcess | null = null;
  #status: Promise<Deno.CommandStatus> | null = null;
  #exit: Deno.CommandStatus | null = null;
  #runs = 0;

  constructor(name: string, dir: string, args: string[]) {
    this.name = name;
    this.dir = dir;
    this.args = args;
  }

  get pid(): number {
    return this.#child?.pid ?? 0;
  }

  get logPath(): string {
    return `${this.dir}/${this.name}.log`;
  }

  /** Starts the program (again); output is appended to the log. */
  async start(): Promise<void> {
    const file = await Deno.open(this.logPath, { create: true, append: true, write: true });
    await file.write(new TextEncoder().encode(`--- run ${++this.#runs} ---\n`));
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [...programRunArgs(`${ROOT}${this.name}/main.ts`), ...this.args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const child = this.#child;
    const copy = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream) await file.write(chunk);
    };
    this.#exit = null;
    this.#status = Promise.all([copy(child.stdout), copy(child.stderr)]).then(async () => {
      const status = await child.status;
      file.close();
      if (this.#child === child) this.#exit = status;
      return status;
    });
  }

  /**
   * Throws {@linkcode StopWaiting} (so a `waitFor` fails at once) when this run has exited, or
   * when `pid` (read from what answers on our port) is another process's.
   */
  protected assertOurs(pid?: number): void {
    if (this.#exit) {
      throw new StopWaiting(`${this.name} exited (code ${this.#exit.code}) before it was ready (log: ${this.logPath})`);
    }
    if (pid !== undefined && pid !== this.pid) {
      throw new StopWaiting(`another process (${pid}) answers for ${this.name} ${this.pid} (log: ${this.logPath})`);
    }
  }

  /** Resolves with the exit status once the process has exited. */
  get exited(): Promise<Deno.CommandStatus> {
    return this.#status ?? Promise.resolve({ success: true, code: 0, signal: null });
  }

  async log(): Promise<string> {
    return await Deno.readTextFile(this.logPath).catch(() => "");
  }

  /** Sends `signal` (SIGHUP, SIGUSR1…) and returns at once. */
  signal(signal: Deno.Signal): void {
    this.#child?.kill(signal);
  }

  /** Sends `signal` and waits for the exit. */
  async kill(signal: Deno.Signal = "SIGKILL"): Promise<Deno.CommandStatus> {
    try {
      this.#child?.kill(signal);
    } catch {
      // already exited
    }
    return await this.exited;
  }
}

/** A codis-dashboard process with a config file on 127.0.0.1. */
export class DashboardProcess extends ProgramProcess {
  readonly port: number;

  private constructor(dir: string, port: number, args: string[]) {
    super("dashboard", dir, args);
    this.port = port;
  }

  get addr(): string {
    return `127.0.0.1:${this.port}`;
  }

  /**
   * Writes `dashboard.toml` (store, product, admin on a free port) and starts the dashboard,
   * waiting until its API answers unless `wait` is false.
   */
  static async start(
    dir: string,
    o: {
      coordinator: string;
      coordinatorAddr: string;
      product: string;
      productAuth?: string;
      wait?: boolean;
      extra?: string[];
      /** More `dashboard.toml` keys. */
      config?: Record<string, string | number | boolean>;
    },
  ): Promise<DashboardProcess> {
    const port = freePort();
    const config = `${dir}/dashboard-${port}.toml`;
    await Deno.writeTextFile(
      config,
      [
        `coordinator_name = "${o.coordinator}"`,
        `coordinator_addr = "${o.coordinatorAddr}"`,
        `product_name = "${o.product}"`,
        `product_auth = "${o.productAuth ?? ""}"`,
        `admin_addr = "127.0.0.1:${port}"`,
        ...Object.entries(o.config ?? {}).map(([k, v]) => `${k} = ${JSON.stringify(v)}`),
        "",
      ].join("\n"),
    );
    const d = new DashboardProcess(dir, port, ["--config", config, ...(o.extra ?? [])]);
    await d.start();
    if (o.wait ?? true) await d.waitReady();
    return d;
  }

  async waitReady(): Promise<void> {
    await waitFor(async () => {
      this.assertOurs();
      const res = await fetch(`http://${this.addr}/api/topom/model`);
      if (!res.ok) {
        await res.body?.cancel();
        return false;
      }
      this.assertOurs((await res.json()).pid);
      return true;
    }, { timeoutMs: 60_000, intervalMs: 100, what: `dashboard on ${this.addr} (log: ${this.logPath})` });
  }

  /** The dashboard's stats JSON. */
  async stats(): Promise<Record<string, unknown>> {
    const res = await fetch(`http://${this.addr}/topom/stats`);
    return await res.json();
  }
}

/** A codis-proxy process with a config file on 127.0.0.1. */
export class ProxyProcess extends ProgramProcess {
  readonly port: number;
  readonly adminPort: number;

  private constructor(dir: string, port: number, adminPort: number, args: string[]) {
    super("proxy", dir, args);
    this.port = port;
    this.adminPort = adminPort;
  }

  get addr(): string {
    return `127.0.0.1:${this.port}`;
  }

  get adminAddr(): string {
    return `127.0.0.1:${this.adminPort}`;
  }

  /** Writes `proxy.toml` and starts the proxy with `online` flags (e.g. `--dashboard=…`). */
  static async start(
    dir: string,
    o: {
      product: string;
      productAuth?: string;
      online: string[];
      port?: number;
      adminPort?: number;
      /** More `proxy.toml` keys. */
      config?: Record<string, string | number | boolean>;
    },
  ): Promise<ProxyProcess> {
    const port = o.port ?? freePort();
    const adminPort = o.adminPort ?? freePort();
    const config = `${dir}/proxy-${port}.toml`;
    await Deno.writeTextFile(
      config,
      [
        `product_name = "${o.product}"`,
        `product_auth = "${o.productAuth ?? ""}"`,
        `proxy_addr = "127.0.0.1:${port}"`,
        `admin_addr = "127.0.0.1:${adminPort}"`,
        ...Object.entries(o.config ?? {}).map(([k, v]) => `${k} = ${JSON.stringify(v)}`),
        "",
      ].join("\n"),
    );
    const p = new ProxyProcess(dir, port, adminPort, ["--config", config, ...o.online]);
    await p.start();
    return p;
  }

  /** The proxy's overview (`/proxy`), or null while it does not answer. */
  async overview(): Promise<Record<string, unknown> | null> {
    try {
      const res = await fetch(`http://${this.adminAddr}/proxy`);
      return res.ok ? await res.json() : null;
    } catch {
      return null;
    }
  }

  /** The process's resident memory and its peak so far, in bytes (from /proc). */
  async memory(): Promise<{ rss: number; peak: number }> {
    const status = await Deno.readTextFile(`/proc/${this.pid}/status`);
    const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
    return { rss: kb("VmRSS"), peak: kb("VmHWM") };
  }

  /** Waits until the proxy says it is online. */
  async waitOnline(timeoutMs = 60_000): Promise<void> {
    await waitFor(async () => {
      this.assertOurs();
      const o = await this.overview();
      if (o === null) return false;
      this.assertOurs((o.model as { pid: number }).pid);
      return (o.stats as { online?: boolean }).online === true;
    }, { timeoutMs, intervalMs: 100, what: `proxy ${this.addr} online (log: ${this.logPath})` });
  }
}
