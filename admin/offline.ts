/**
 * codis-admin's offline store operations: they talk to the coordinator directly, with no
 * dashboard running (`--remove-lock`, `--config-dump`, `--config-restore`, `--dashboard-list`).
 *
 * @module
 */

import { type CoordClient } from "../coord/client.ts";
import { configFromJson, configToJson, dumpConfig, restoreConfig } from "../coord/config_dump.ts";
import { topomFromJson } from "../coord/models.ts";
import { CODIS_DIR, ProductStore } from "../coord/store.ts";
import { fromUtf8 } from "../utils/bytes.ts";
import { toCodisJson } from "../utils/json.ts";
import { errorMessage } from "../utils/errors.ts";

/** Where output goes (tests capture it). */
export interface Output {
  out(text: string): void;
  err(text: string): void;
}

/** Deletes the product's dashboard lock. */
export async function removeLock(client: CoordClient, product: string, io: Output): Promise<void> {
  const store = new ProductStore(client, product);
  const holder = await store.loadTopom().catch(() => null);
  const exists = holder !== null || await client.read(store.lockPath) !== null;
  if (!exists) {
    io.err(`product "${product}" has no lock (${store.lockPath} is absent in ${client.backend} ${client.addr})`);
    return;
  }
  await store.release();
  io.err(
    `removed the lock of product "${product}"` +
      (holder ? `, held by dashboard ${holder.adminAddr} (pid ${holder.pid}, started ${holder.startTime})` : ""),
  );
}

/** Prints the product's configuration as JSON. */
export async function configDump(client: CoordClient, product: string, io: Output): Promise<void> {
  const config = await dumpConfig(new ProductStore(client, product));
  io.out(toCodisJson(configToJson(config)));
}

/** Checks a configuration file and, with `confirm`, writes it into an empty product. */
export async function configRestore(
  client: CoordClient,
  product: string,
  file: string,
  confirm: boolean,
  io: Output,
): Promise<void> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    throw new Error(`cannot read ${file}: ${errorMessage(e)}`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file} is not JSON: ${errorMessage(e)}`, { cause: e });
  }
  const config = configFromJson(json);
  if (!confirm) {
    io.out(toCodisJson(configToJson(config)));
    io.err(
      `checked ${file}: ${config.groups.length} groups, ${config.proxies.length} proxies, ` +
        `${config.slots.filter((s) => s.groupId !== 0).length} assigned slots; add --confirm to write it`,
    );
    return;
  }
  await restoreConfig(new ProductStore(client, product), config);
  io.err(`restored product "${product}" into ${client.backend} ${client.addr}`);
  io.out("done");
}

/** Lists every product in the store with its dashboard's address ("" when none holds the lock). */
export async function dashboardList(client: CoordClient, io: Output): Promise<void> {
  const list: { name: string; dashboard: string }[] = [];
  for (const dir of await client.list(CODIS_DIR)) {
    const name = dir.slice(CODIS_DIR.length + 1);
    let dashboard = "";
    const data = await client.read(`${dir}/topom`);
    if (data && data.length > 0) {
      try {
        dashboard = topomFromJson(JSON.parse(fromUtf8(data))).adminAddr;
      } catch {
        dashboard = "";
      }
    }
    list.push({ name, dashboard });
  }
  io.out(toCodisJson(list));
}
