/**
 * Server HA with real redis-sentinels: a group's master SIGKILLed under writes through two proxy
 * processes; the sentinels promote its replica, both proxies and the dashboard follow, the old
 * master comes back as a replica, and no write acknowledged after the switch is lost.
 */

import assert from "node:assert/strict";
import { failoverOnce, startHaCluster } from "../_support/ha_cluster.ts";

Deno.test("a master killed under writes: sentinels promote its replica, both proxies and the dashboard follow", async () => {
  const cluster = await startHaCluster({ groups: 2, proxies: 2, downAfterMs: 1000 });
  try {
    const r = await failoverOnce(cluster, 1, cluster.proxies[0].addr);
    console.log(r);
    assert.equal(r.lostAfterSwitch, 0);
  } finally {
    await cluster.stop();
  }
});
