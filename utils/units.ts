/**
 * Durations and byte sizes written the way Codis's TOML files write them.
 *
 * Durations use Go's syntax (`"30s"`, `"1m30s"`, `"75s"`, `"500ms"`); a bare integer means
 * seconds. Sizes use `b, k/kb, m/mb, g/gb, t/tb, p/pb` (binary: 1kb = 1024 bytes); a bare
 * integer means bytes.
 *
 * @module
 */

/** A duration or size that cannot be parsed. */
export class UnitError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UnitError";
  }
}

const DURATION_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  "μs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Parses a duration into milliseconds.
 *
 * @example
 * ```ts
 * parseDuration("1m30s"); // 90000
 * parseDuration(30);      // 30000 (bare numbers are seconds)
 * ```
 */
export function parseDuration(value: string | number): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) {
      throw new UnitError(`Cannot parse duration ${value}: not a non-negative number`);
    }
    return value * 1000;
  }
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (text === "0") return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let pos = 0;
  let total = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) throw new UnitError(`Cannot parse duration "${value}": expected a number and a unit such as "30s"`);
    total += Number(m[1]) * DURATION_UNITS[m[2]];
    pos = re.lastIndex;
  }
  if (text.length === 0) throw new UnitError(`Cannot parse duration "${value}": empty`);
  return total;
}

/** Formats milliseconds the way Go prints a `time.Duration` (`1m30s`, `500ms`, `0s`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (ms < 1) return `${Math.round(ms * 1000)}µs`;
  if (ms < 1000) return `${ms}ms`;
  let rest = ms / 1000;
  const h = Math.floor(rest / 3600);
  rest -= h * 3600;
  const m = Math.floor(rest / 60);
  rest -= m * 60;
  const s = Math.round(rest * 1000) / 1000;
  return `${h ? `${h}h` : ""}${h || m ? `${m}m` : ""}${s}s`;
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 2 ** 10,
  kb: 2 ** 10,
  m: 2 ** 20,
  mb: 2 ** 20,
  g: 2 ** 30,
  gb: 2 ** 30,
  t: 2 ** 40,
  tb: 2 ** 40,
  p: 2 ** 50,
  pb: 2 ** 50,
};

/**
 * Parses a byte size.
 *
 * @example
 * ```ts
 * parseByteSize("128kb"); // 131072
 * ```
 */
export function parseByteSize(value: string | number): number {
  if (typeof value === "number") {
    if (!Number.isInteger(value) || value < 0) {
      throw new UnitError(`Cannot parse size ${value}: not a non-negative integer`);
    }
    return value;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new UnitError(`Cannot parse size "${value}": expected a number and b, kb, mb, gb, tb or pb`);
  }
  return Math.floor(Number(m[1]) * unit);
}

/** Formats a byte size with the largest exact unit (`128kb`, `1gb`, `100b`). */
export function formatByteSize(bytes: number): string {
  for (
    const [unit, factor] of [["pb", 2 ** 50], ["tb", 2 ** 40], ["gb", 2 ** 30], ["mb", 2 ** 20], [
      "kb",
      2 ** 10,
    ]] as const
  ) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return `${bytes}b`;
}
