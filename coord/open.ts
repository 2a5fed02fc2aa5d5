/**
 * Opens a coordinator store by Codis's `coordinator_name` and `coordinator_addr`.
 *
 * @module
 */

import { type BackendName, type ClientOptions, type CoordClient, StoreError } from "./client.ts";
import { FsClient } from "./fs_client.ts";

/** Codis's coordinator names and their aliases (`zk`, `fs`), case-insensitive. */
export function backendName(name: string): BackendName | null {
  switch (name.trim().toLowerCase()) {
    case "zookeeper":
    case "zk":
      return "zookeeper";
    case "etcd":
      return "etcd";
    case "filesystem":
    case "fs":
      return "filesystem";
    default:
      return null;
  }
}

/**
 * Opens a client: `filesystem` on a root directory, `etcd` and `zookeeper` on a comma-separated
 * list of `host:port`. Fails with a StoreError (code `invalid` for an unknown name).
 */
export async function openClient(name: string, addr: string, options: ClientOptions = {}): Promise<CoordClient> {
  // etcd and ZooKeeper clients are loaded on first use: programs on the filesystem store never
  // load them (nor do single-file bundles, where etcd3's .proto files cannot be found).
  switch (backendName(name)) {
    case "filesystem":
      return await FsClient.open(addr, options);
    case "etcd":
      return await (await import("./etcd_client.ts")).EtcdClient.open(addr, options);
    case "zookeeper":
      return await (await import("./zk_client.ts")).ZooKeeperClient.open(addr, options);
    default:
      throw new StoreError(
        "filesystem",
        addr,
        "open",
        "",
        "invalid",
        `unknown coordinator "${name}" (use zookeeper, etcd or filesystem)`,
      );
  }
}

/** Which store a program was pointed at with `--zookeeper`/`--etcd`/`--filesystem`. */
export interface CoordinatorChoice {
  name: BackendName;
  addr: string;
  auth: string;
}

/**
 * The coordinator given on a command line (`--zookeeper=ADDR [--zookeeper-auth=USR:PWD]`,
 * `--etcd=ADDR [--etcd-auth=USR:PWD]`, `--filesystem=ROOT`); null when none is given. Throws
 * a message fit for a usage error when more than one is given, or an address is empty.
 */
export function coordinatorFromFlags(flags: Record<string, unknown>): CoordinatorChoice | null {
  const given: CoordinatorChoice[] = [];
  for (const name of ["zookeeper", "etcd", "filesystem"] as const) {
    const addr = flags[name];
    if (addr === undefined) continue;
    if (typeof addr !== "string" || addr.trim() === "") throw new Error(`--${name} needs an address`);
    const auth = name === "filesystem" ? "" : flags[`${name}-auth`];
    given.push({ name, addr: addr.trim(), auth: typeof auth === "string" ? auth : "" });
  }
  if (given.length > 1) {
    throw new Error(`give one coordinator, not ${given.map((g) => `--${g.name}`).join(" and ")}`);
  }
  return given[0] ?? null;
}
