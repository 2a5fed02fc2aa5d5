/**
 * TOML configuration files described by one table of fields: parsing with validation, the
 * JSON shown by the admin APIs (secrets hidden), and the commented default file printed by
 * `--default-config`.
 *
 * @module
 */

import { parse as parseToml } from "smol-toml";
import { formatByteSize, formatDuration, parseByteSize, parseDuration } from "./units.ts";
import { errorMessage } from "./errors.ts";

/** How a field's value is written and stored. */
export type FieldKind =
  | "string"
  | "int"
  | "bool"
  | "duration" // stored in milliseconds
  | "size" // stored in bytes
  | "ignored"; // accepted for compatibility, has no effect here

/** One key of a configuration file. */
export interface ConfigField<T> {
  /** The key as written in the file (Codis's name). */
  key: string;
  /** The property it is stored in. */
  prop: keyof T;
  kind: FieldKind;
  /** One line for the default file; several lines are separated by `\n`. */
  doc: string;
  /** Hidden from the JSON of the admin APIs. */
  secret?: boolean;
  /** The default as written in the file, for "ignored" keys. */
  ignoredDefault?: string | number | boolean;
}

/** A configuration file that cannot be read or holds a bad value. */
export class ConfigError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConfigError";
  }
}

/** Parses TOML text into a configuration, starting from `defaults`. Unknown keys are errors. */
export function parseConfig<T extends object>(
  fields: ReadonlyArray<ConfigField<T>>,
  defaults: T,
  text: string,
  source: string,
): T {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError(`Cannot parse ${source}: ${errorMessage(e)}`, { cause: e });
  }
  const config = { ...defaults };
  const byKey = new Map(fields.map((f) => [f.key, f]));
  for (const [key, value] of Object.entries(doc)) {
    const field = byKey.get(key);
    if (!field) throw new ConfigError(`Unknown key "${key}" in ${source}`);
    setField(config, field, value, source);
  }
  return config;
}

/** Sets one field from a TOML or command-line value, checking its type. */
export function setField<T extends object>(
  config: T,
  field: ConfigField<T>,
  value: unknown,
  source: string,
): void {
  const where = `key "${field.key}" in ${source}`;
  const target = config as Record<keyof T, unknown>;
  try {
    switch (field.kind) {
      case "string":
        if (typeof value !== "string") throw new ConfigError(`expected a string`);
        target[field.prop] = value;
        break;
      case "int":
        if (typeof value === "bigint") value = Number(value);
        if (typeof value !== "number" || !Number.isInteger(value)) {
          throw new ConfigError(`expected an integer`);
        }
        target[field.prop] = value;
        break;
      case "bool":
        if (typeof value !== "boolean") throw new ConfigError(`expected true or false`);
        target[field.prop] = value;
        break;
      case "duration":
        if (typeof value === "bigint") value = Number(value);
        if (typeof value !== "string" && typeof value !== "number") {
          throw new ConfigError(`expected a duration such as "30s"`);
        }
        target[field.prop] = parseDuration(value);
        break;
      case "size":
        if (typeof value === "bigint") value = Number(value);
        if (typeof value !== "string" && typeof value !== "number") {
          throw new ConfigError(`expected a size such as "128kb"`);
        }
        target[field.prop] = parseByteSize(value);
        break;
      case "ignored":
        break;
    }
  } catch (e) {
    throw new ConfigError(`Bad value ${JSON.stringify(value)} for ${where}: ${errorMessage(e)}`, { cause: e });
  }
}

function render<T>(field: ConfigField<T>, config: T): string | number | boolean {
  if (field.kind === "ignored") return field.ignoredDefault ?? "";
  const v = config[field.prop] as unknown;
  if (field.kind === "duration") return formatDuration(v as number);
  if (field.kind === "size") return formatByteSize(v as number);
  return v as string | number | boolean;
}

/** The configuration as the admin APIs show it: Codis's keys, secrets left out. */
export function configToJson<T>(
  fields: ReadonlyArray<ConfigField<T>>,
  config: T,
): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const f of fields) {
    if (f.secret || f.kind === "ignored") continue;
    out[f.key] = render(f, config);
  }
  return out;
}

/** The commented TOML file holding `config` (the output of `--default-config`). */
export function renderToml<T>(
  fields: ReadonlyArray<ConfigField<T>>,
  config: T,
  header: string,
): string {
  const lines = [header.trimEnd(), ""];
  for (const f of fields) {
    for (const d of f.doc.split("\n")) lines.push(`# ${d}`);
    const v = render(f, config);
    lines.push(`${f.key} = ${typeof v === "string" ? JSON.stringify(v) : String(v)}`);
    lines.push("");
  }
  return lines.join("\n");
}

/** What a live reload does with each changed key. */
export interface ReloadPlan<T> {
  /** In effect now. */
  applied: string[];
  /** In effect for sessions opened from now on. */
  newSessions: string[];
  /** Used only at start: restart the program for them. */
  restart: string[];
  /** The properties to copy into the running configuration (applied and new sessions). */
  props: (keyof T)[];
}

/**
 * Sorts the keys whose values differ between the running configuration `a` and the new one `b`
 * into those applied at once (`live`), those sessions take when they start (`newSessions`) and
 * those that need a restart; in the file's order.
 */
export function planReload<T>(
  fields: readonly ConfigField<T>[],
  a: T,
  b: T,
  live: ReadonlySet<string>,
  newSessions: ReadonlySet<string> = new Set(),
): ReloadPlan<T> {
  const out: ReloadPlan<T> = { applied: [], newSessions: [], restart: [], props: [] };
  for (const f of fields) {
    if (JSON.stringify(a[f.prop]) === JSON.stringify(b[f.prop])) continue;
    if (live.has(f.key)) out.applied.push(f.key);
    else if (newSessions.has(f.key)) out.newSessions.push(f.key);
    else {
      out.restart.push(f.key);
      continue;
    }
    out.props.push(f.prop);
  }
  return out;
}
