/**
 * What every command-line program shares: error reporting with a non-zero exit, and pid files.
 *
 * @module
 */

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
      const message = e instanceof Error ? e.message : String(e);
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
