/**
 * The cluster's metadata: Codis's models and their JSON.
 *
 * @module
 */

export * from "./models.ts";
