/**
 * How the programs are run. Every way of starting one (the tasks in `deno.json`, `scripts/`, the
 * tests, the bundles) passes these V8 flags; a test checks that `deno.json` agrees with this file.
 *
 * Under a flood of pipelined requests most of them are still in flight at each scavenge, so they
 * are promoted to the old generation and die there; with V8's defaults on a big machine (a 4 GB old
 * generation) the heap then grows by 40-100 MB of garbage before a full collection. Measured with
 * 2,000,000 pipelined PINGs from a client that does not read:
 *
 * | flags | heap used, peak | RSS growth |
 * | --- | ---: | ---: |
 * | defaults | 90 MB | +90 MB |
 * | `--max-semi-space-size=2` | 44 MB | +30 MB |
 * | `--max-semi-space-size=2,--max-old-space-size=1024` | 19 MB | +6 MB |
 *
 * A 1 GB old generation is far above what a proxy or a dashboard keeps alive (buffers live outside
 * it), and no benchmark row got slower (`deno task bench --proxy-v8-flags=…`).
 *
 * @module
 */

/** The value of `--v8-flags=` for every program. */
export const PROGRAM_V8_FLAGS = "--max-semi-space-size=2,--max-old-space-size=1024";

/** The `deno run` arguments that start the program whose entry point is `main` (a path). */
export function programRunArgs(main: string): string[] {
  return ["run", "--allow-all", `--v8-flags=${PROGRAM_V8_FLAGS}`, main];
}
