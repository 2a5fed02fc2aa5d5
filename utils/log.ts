/**
 * Leveled logging to stderr or to a file rotated daily, as Codis's programs log.
 *
 * @module
 */

import { errorMessage, invalid } from "./errors.ts";

/** Log levels, most verbose first; `NONE` silences everything. */
export const LOG_LEVELS = ["DEBUG", "INFO", "WARN", "ERROR", "NONE"] as const;
/** One of {@linkcode LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Parses a level name as Codis accepts it (`WARNING` = `WARN`); null when unknown. */
export function parseLogLevel(name: string): LogLevel | null {
  const upper = name.trim().toUpperCase();
  if (upper === "WARNING") return "WARN";
  return (LOG_LEVELS as readonly string[]).includes(upper) ? upper as LogLevel : null;
}

/** Parses a level name, or throws an "invalid" error that names the levels there are. */
export function requireLogLevel(name: string): LogLevel {
  const level = parseLogLevel(name);
  if (!level) throw invalid(`invalid loglevel "${name}": use ${LOG_LEVELS.map((l) => l.toLowerCase()).join(", ")}`);
  return level;
}

const encoder = new TextEncoder();

/** A logger shared by one program. */
export class Logger {
  #level: number;
  #file: Deno.FsFile | null = null;
  #path = "";
  #day = "";
  /** The time (tests move it to see the daily rotation). */
  now: () => Date = () => new Date();

  constructor(level: LogLevel = "INFO") {
    this.#level = LOG_LEVELS.indexOf(level);
  }

  /** The current level. */
  get level(): LogLevel {
    return LOG_LEVELS[this.#level];
  }

  /** Changes the level. */
  setLevel(level: LogLevel): void {
    this.#level = LOG_LEVELS.indexOf(level);
  }

  /** Writes to `path` from now on (appending); the file is rotated to `path.YYYY-MM-DD` daily. */
  setFile(path: string): void {
    this.#path = path;
    this.#openFile();
  }

  /**
   * Opens the log file again by its name (SIGUSR1): after logrotate moved it away, writing goes to
   * a new file of that name. Nothing to do when logging to stderr.
   */
  reopen(): void {
    if (this.#path && this.#file) this.#openFile();
  }

  /** Closes the log file, if any. */
  close(): void {
    this.#file?.close();
    this.#file = null;
  }

  /** True when messages of `level` are written. */
  enabled(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) >= this.#level;
  }

  debug(message: string): void {
    if (this.#level <= 0) this.#write("DEBUG", message);
  }
  info(message: string): void {
    if (this.#level <= 1) this.#write("INFO", message);
  }
  warn(message: string, error?: unknown): void {
    if (this.#level <= 2) this.#write("WARN", withCause(message, error));
  }
  error(message: string, error?: unknown): void {
    if (this.#level <= 3) this.#write("ERROR", withCause(message, error));
  }

  #openFile(): void {
    this.#file?.close();
    this.#file = Deno.openSync(this.#path, { append: true, create: true });
    this.#day = dayOf(this.now());
  }

  #write(level: string, message: string): void {
    const now = this.now();
    const line = `${formatTimestamp(now)} [${level}] ${message}\n`;
    if (this.#file) {
      if (dayOf(now) !== this.#day) this.#rotate();
      this.#file.writeSync(encoder.encode(line));
    } else {
      Deno.stderr.writeSync(encoder.encode(line));
    }
  }

  #rotate(): void {
    const old = this.#day;
    this.#file?.close();
    this.#file = null;
    try {
      Deno.renameSync(this.#path, `${this.#path}.${old}`);
    } catch {
      // keep writing to the same file if it cannot be renamed
    }
    this.#openFile();
  }
}

function withCause(message: string, error: unknown): string {
  if (error === undefined) return message;
  return `${message}: ${errorMessage(error)}`;
}

function dayOf(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

/** `2006/01/02 15:04:05.000000`, as Codis's log lines start. */
export function formatTimestamp(d: Date): string {
  return `${d.getFullYear()}/${pad(d.getMonth() + 1)}/${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** The process-wide logger. */
export const log: Logger = new Logger();
