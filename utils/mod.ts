/**
 * Shared helpers of every program: addresses, units, configuration files, logging, identity
 * tokens, HTTP conventions.
 *
 * @module
 */

export * from "./addr.ts";
export * from "./fifo.ts";
export * from "./http.ts";
export * from "./log.ts";
export * from "./process_info.ts";
export * from "./program.ts";
export * from "./toml_config.ts";
export * from "./units.ts";
export * from "./version.ts";
export * from "./xauth.ts";
