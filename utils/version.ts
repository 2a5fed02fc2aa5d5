/**
 * The version every program reports (`--version`, the admin APIs' overviews).
 *
 * @module
 */

/** This project's version. */
export const VERSION = "0.1.0";

/** The Codis release whose behaviour these programs follow. */
export const CODIS_COMPAT = "3.2.2";

/** What `--version` prints and the overviews call `version`. */
export const VERSION_TEXT = `${CODIS_COMPAT}-deno-${VERSION}`;

/** What the overviews call `compile`: the runtime that runs the program. */
export const COMPILE_TEXT = `deno ${Deno.version.deno} (v8 ${Deno.version.v8}, ${Deno.build.target})`;
