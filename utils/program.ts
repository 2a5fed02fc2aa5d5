/**
 * What every command-line program shares: flag parsing, error reporting with a non-zero exit,
 * the common flags (`--help`, `--version`, `--default-config`, `--log`, `--log-level`), and pid
 * files.
 *
 * @module
 */

import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { errorMessage } from "./errors.ts";
import { log, parseLogLevel } from "./log.ts";
import { COMPILE_TEXT, VERSION_TEXT } from "./version.ts";

/** A mistake in how the program was called; printed with a hint to `--help`. */
export class UsageError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}

/** The flags of every server program (codis-proxy, codis-dashboard, codis-fe), Codis's spelling. */
export const SERVER_FLAGS = {
  "help": { type: "boolean", short: "h" },
  "version": { type: "boolean" },
  "default-config": { type: "boolean" },
  "config": { type: "string", short: "c" },
  "log": { type: "string", short: "l" },
  "log-level": { type: "string" },
  "pidfile": { type: "string" },
  "ncpu": { type: "string" },
} as const;

/** The flags that name a coordinator store (see `coordinatorFromFlags` in `coord/open.ts`). */
export const COORDINATOR_FLAGS = {
  "zookeeper": { type: "string" },
  "zookeeper-auth": { type: "string" },
  "etcd": { type: "string" },
  "etcd-auth": { type: "string" },
  "filesystem": { type: "string" },
} as const;

/**
 * Parses command-line flags strictly (unknown flags and missing values are errors) with Node's
 * `parseArgs`; a mistake is a {@linkcode UsageError}.
 *
 * @example
 * ```ts
 * const { values, positionals } = parseFlags(Deno.args, { ...SERVER_FLAGS, "listen": { type: "string" } });
 * ```
 */
export function parseFlags<const O extends ParseArgsOptionsConfig>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (e) {
    if (e instanceof TypeError && String((e as { code?: unknown }).code).startsWith("ERR_PARSE_ARGS")) {
      throw new UsageError(errorMessage(e), { cause: e });
    }
    throw e;
  }
}

/** Throws a usage error when a server program was given positional arguments. */
export function noPositionals(positionals: readonly string[]): void {
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
}

/**
 * Runs `main` with the command-line arguments and exits with its status. Any error is printed
 * as one clear line (`name: message`) and exits with status 1 (2 for usage errors).
 */
export function runProgram(name: string, main: (args: string[]) => Promise<number>): void {
  main(Deno.args).then(
    (code) => Deno.exit(code),
    (e) => {
      const message = errorMessage(e);
      const usageProblem = e instanceof UsageError;
      console.error(`${name}: ${message}`);
      if (usageProblem) console.error(`Run '${name} --help' for usage.`);
      Deno.exit(usageProblem ? 2 : 1);
    },
  );
}

/** Writes the pid file; returns a function that removes it. */
export function writePidFile(path: string): () => void {
  Deno.writeTextFileSync(path, `${Deno.pid}\n`);
  return () => {
    try {
      Deno.removeSync(path);
    } catch {
      // already gone
    }
  };
}

/** Flags every server program has (codis-proxy, codis-dashboard). */
export interface CommonFlags {
  help?: boolean;
  "default-config"?: boolean;
  version?: boolean;
  "log-level"?: string;
  log?: string;
}

/**
 * Handles `--help`, `--default-config`, `--version` (printing, then the program exits 0: the
 * result is true) and `--log-level`/`--log` (set up, the program goes on: false). With `--log`
 * the file is rotated daily and opened again on SIGUSR1.
 */
export function handleCommonFlags(flags: CommonFlags, usage: string, defaultConfig: () => string): boolean {
  if (flags.help) {
    console.log(usage);
    return true;
  }
  if (flags["default-config"]) {
    console.log(defaultConfig());
    return true;
  }
  if (flags.version) {
    console.log(`version: ${VERSION_TEXT}\ncompile: ${COMPILE_TEXT}`);
    return true;
  }
  if (flags["log-level"]) {
    const level = parseLogLevel(flags["log-level"]);
    if (!level) {
      throw new UsageError(`invalid --log-level "${flags["log-level"]}": use DEBUG, INFO, WARN, ERROR or NONE`);
    }
    log.setLevel(level);
  }
  if (flags.log) {
    log.setFile(flags.log);
    // logrotate's postrotate: kill -USR1 <pid> makes the program write to a new file of that name.
    Deno.addSignalListener("SIGUSR1", () => log.reopen());
  }
  return false;
}
