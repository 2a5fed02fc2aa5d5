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
 * `--gc-memory-reducer-start-delay-ms=1000`: once a process goes quiet, V8's memory reducer collects
 * and shrinks the heap after 1 s instead of 30 s. The objects of 5,000 closed sessions are garbage
 * that nothing else collects while the proxy is idle; measured 10 s after they closed (proxy RSS,
 * idle → with 5,000 connections → 10 s after):
 *
 * | flags | RSS | V8 heap total after |
 * | --- | ---: | ---: |
 * | without | 69.8 → 109.0 → 110.2 MiB | 38 MB |
 * | with | 70.7 → 108.6 → 84.8 MiB | 11 MB |
 *
 * (`--memory-reducer-delay-ms` alone changes nothing.) The reducer only runs when allocation has
 * slowed down, so a busy proxy is not affected; but when it runs varies (10-30 s after 19,000
 * sessions closed). `--expose-gc` lets the proxy collect at once when it is quiet after many
 * sessions closed, then hand the allocator's free memory back (`Proxy.#giveMemoryBack`).
 *
 * @module
 */

/** The value of `--v8-flags=` for every program. */
export const PROGRAM_V8_FLAGS =
  "--max-semi-space-size=2,--max-old-space-size=1024,--gc-memory-reducer-start-delay-ms=1000,--expose-gc";

/** The `deno run` arguments that start the program whose entry point is `main` (a path). */
export function programRunArgs(main: string): string[] {
  return ["run", "--allow-all", `--v8-flags=${PROGRAM_V8_FLAGS}`, main];
}
