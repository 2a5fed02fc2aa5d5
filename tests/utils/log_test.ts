/** The log file: rotated to FILE.YYYY-MM-DD at the first line of a new day, opened again on reopen (SIGUSR1). */

import assert from "node:assert/strict";
import { Logger } from "../../utils/log.ts";

Deno.test("the log file rotates daily and is opened again after logrotate moved it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "codis-log-" });
  const path = `${dir}/proxy.log`;
  const log = new Logger("INFO");
  let now = new Date(2026, 10, 30, 23, 59, 59);
  log.now = () => now;
  try {
    log.setFile(path);
    log.info("late on the 30th");
    now = new Date(2026, 11, 1, 0, 0, 1);
    log.info("early on the 1st");
    assert.match(await Deno.readTextFile(`${path}.2026-11-30`), /late on the 30th/);
    const current = await Deno.readTextFile(path);
    assert.match(current, /^2026\/12\/01 00:00:01\.000 \[INFO\] early on the 1st\n$/);

    // logrotate moves the file away, then sends SIGUSR1: writing goes to a new file of the name.
    await Deno.rename(path, `${path}.1`);
    log.info("still to the moved file");
    log.reopen();
    log.info("to the new file");
    assert.match(await Deno.readTextFile(`${path}.1`), /still to the moved file/);
    assert.match(await Deno.readTextFile(path), /to the new file/);
    assert.doesNotMatch(await Deno.readTextFile(path), /moved file/);
  } finally {
    log.close();
    await Deno.remove(dir, { recursive: true });
  }
});
