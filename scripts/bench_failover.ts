/**
 * `deno task bench:failover`: how long writes stop when a master dies, and how many acknowledged
 * writes are lost. Starts groups of a master and a replica, three redis-sentinels, a dashboard and
 * two proxies (all real processes, on free loopback ports), then, in the style of Redis's own
 * sentinel tests, kills a random group's master with SIGKILL while a client writes to that group
 * through a proxy, waits until writes succeed again and everyone follows, restarts the old master
 * (it rejoins as a replica) and reads every key back. Prints each iteration and the median/max.
 *
 * Usage: deno task bench:failover [--iterations=10] [--down-after=2000,1000] [--groups=4] [--seed=N]
 *
 * Outage = from the kill to the first acknowledged write after the first failed one. The goal is
 * at most down_after + 1.5 s. "Lost" = keys whose last acknowledged value does not read back
 * (Redis replication is asynchronous: a write acknowledged just before the kill may not have
 * reached the replica); "after switch" must be 0.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { failoverLoop, type FailoverResult, seededRandom, startHaCluster } from "../tests/_support/ha_cluster.ts";
import { log } from "../utils/log.ts";

log.setLevel("NONE");

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    "iterations": { type: "string", default: "10" },
    "down-after": { type: "string", default: "2000,1000" },
    "groups": { type: "string", default: "4" },
    "seed": { type: "string" },
  },
});

const iterations = Number(flags.iterations);
const downAfters = flags["down-after"]!.split(",").map(Number);
const groups = Number(flags.groups);
if (!(iterations > 0) || downAfters.some((d) => !(d > 0)) || !(groups > 0)) {
  console.error("bench:failover: --iterations, --down-after (ms, comma separated) and --groups must be positive");
  Deno.exit(2);
}
const seed = flags.seed ? Number(flags.seed) : Math.floor(Math.random() * 2 ** 31);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : Math.round((s[m - 1] + s[m]) / 2);
}

console.log(`bench:failover: ${iterations} iterations per setting, ${groups} groups, seed ${seed}`);
const summary: string[] = [];
for (const downAfter of downAfters) {
  console.log(`\nsentinel_down_after = ${downAfter} ms`);
  console.log("| # | group | outage ms | outage − down_after | writes | failed | lost | lost after switch |");
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|");
  const cluster = await startHaCluster({ product: `bench-failover`, groups, proxies: 2, downAfterMs: downAfter });
  let results: FailoverResult[];
  try {
    results = await failoverLoop(cluster, iterations, (i, r) => {
      console.log(
        `| ${i + 1} | ${r.gid} | ${r.outageMs} | ${r.outageMs - downAfter} | ${r.writes} | ${r.failed} | ${r.lost} | ` +
          `${r.lostAfterSwitch} |`,
      );
    }, seededRandom(seed));
  } finally {
    await cluster.stop();
  }
  const outages = results.map((r) => r.outageMs);
  const line = `down_after ${downAfter} ms: outage median ${median(outages)} ms (down_after + ${
    median(outages) - downAfter
  } ms), max ${Math.max(...outages)} ms; goal ≤ down_after + 1500 ms: ${
    median(outages) <= downAfter + 1500 ? "met" : "NOT met"
  }; lost ${results.reduce((a, r) => a + r.lost, 0)} (after the switch ${
    results.reduce((a, r) => a + r.lostAfterSwitch, 0)
  })`;
  console.log(line);
  summary.push(line);
}
console.log("\nsummary:");
for (const line of summary) console.log(`  ${line}`);
