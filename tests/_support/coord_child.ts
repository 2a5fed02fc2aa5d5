/**
 * A separate process for the store tests, so that "the owner dies" and "two processes race"
 * are real processes:
 *
 *     coord_child.ts race      NAME ADDR PATH        createIfAbsent(PATH); prints "won" or "lost"
 *     coord_child.ts ephemeral NAME ADDR PATH MS     creates an ephemeral node with a session of MS,
 *                                                    prints "ready", then waits to be killed
 *
 * @module
 */

import { openClient } from "../../coord/open.ts";
import { utf8 } from "../../utils/bytes.ts";

const [mode, name, addr, path, ms] = Deno.args;
const client = await openClient(name, addr, { sessionTimeoutMs: Number(ms) || 2000, timeoutMs: 20_000 });
if (mode === "race") {
  // Everyone starts together: wait for the go file the test creates.
  const go = Deno.env.get("RACE_GO");
  console.log("ready");
  while (go) {
    try {
      await Deno.stat(go);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 1));
    }
  }
  const won = await client.createIfAbsent(path, utf8(String(Deno.pid)));
  console.log(won ? "won" : "lost");
  await client.close();
  Deno.exit(0);
} else if (mode === "ephemeral") {
  await client.createEphemeral(path, utf8(String(Deno.pid)));
  console.log("ready");
  // Stay alive, keeping the session or lease, until killed.
  setInterval(() => {}, 1 << 30);
} else {
  console.error(`unknown mode ${mode}`);
  Deno.exit(2);
}
