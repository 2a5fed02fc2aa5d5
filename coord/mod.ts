/**
 * The cluster's metadata: Codis's models and their JSON, the store client interface with its
 * filesystem, etcd and ZooKeeper implementations (opened by name with {@linkcode openClient},
 * which loads the etcd and ZooKeeper clients only when asked for), one product's layout, and
 * config dumps.
 *
 * @module
 */

export {
  type BackendName,
  type ClientOptions,
  type CoordClient,
  type EphemeralNode,
  StoreError,
  type StoreErrorCode,
  type StoreNode,
  type Watch,
} from "./client.ts";
export { backendName, type CoordinatorChoice, coordinatorFromFlags, openClient } from "./open.ts";
export { LockedError, ProductStore, type StoredProxy } from "./store.ts";
export {
  ConfigDumpError,
  configFromJson,
  configToJson,
  dumpConfig,
  type ProductConfig,
  restoreConfig,
} from "./config_dump.ts";
export {
  type GroupModel,
  type GroupServer,
  ModelError,
  type ProxyModel,
  type SentinelModel,
  type SlotMapping,
  type SlotSpec,
  type TopomModel,
} from "./models.ts";
