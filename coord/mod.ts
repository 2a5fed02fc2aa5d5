/**
 * The cluster's metadata: Codis's models and their JSON, the store client interface with its
 * filesystem, etcd and ZooKeeper implementations, one product's layout, and config dumps.
 *
 * @module
 */

export * from "./models.ts";
export * from "./client.ts";
export * from "./open.ts";
export * from "./store.ts";
export * from "./config_dump.ts";
export { FsClient } from "./fs_client.ts";
export { EtcdClient } from "./etcd_client.ts";
export { ZooKeeperClient } from "./zk_client.ts";
