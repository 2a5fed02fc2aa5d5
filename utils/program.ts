/**
 * What every command-line program shares: error reporting with a non-zero exit, and pid files.
 *
 * @module
 */

import { log, parseLogLevel } from "./log.ts";
import { COMPILE_TEXT, VERSION_TEXT } from "./version.ts";
import { errorMessage } from "./errors.ts";

/** A mistake in how the program was called; printed with a hint to `--help`. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
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
      const usageProblem = e instanceof UsageError || (e instanceof TypeError && "code" in e &&
        String((e as { code: unknown }).code).startsWith("ERR_PARSE_ARGS"));
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
 * result is true) and `--log-level`/`--log` (set up, the program goes on: false).
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
  if (flags.log) log.setFile(flags.log);
  return false;
}
