/**
 * Facts about this process for the models and stats Codis reports: `uname -a`, start time in
 * Go's format, and resource usage sampled from /proc.
 *
 * @module
 */

/** The output of `uname -a`, or the OS name when it cannot be run. */
export function unameAll(): string {
  try {
    const out = new Deno.Command("uname", { args: ["-a"], stdout: "piped", stderr: "null" })
      .outputSync();
    return new TextDecoder().decode(out.stdout).trim();
  } catch {
    return `${Deno.build.os} ${Deno.build.arch}`;
  }
}

/** This machine's host name ("localhost" when it cannot be read). */
export function hostName(): string {
  try {
    return Deno.hostname();
  } catch {
    return "localhost";
  }
}

function pad(n: number, width = 2): string {
  return String(Math.trunc(Math.abs(n))).padStart(width, "0");
}

/** A time formatted as Go's `time.Time.String()`: `2006-01-02 15:04:05.000 +0800 CST`. */
export function goTimeString(d: Date = new Date()): string {
  const offset = -d.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const zone = new Intl.DateTimeFormat("en-US", { timeZoneName: "short" })
    .formatToParts(d).find((p) => p.type === "timeZoneName")?.value ?? "UTC";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)} ` +
    `${sign}${pad(offset / 60)}${pad(offset % 60)} ${zone}`;
}

/** Raw resource usage as Codis reports it (`rusage.raw`): times in nanoseconds, sizes in bytes. */
export interface RawUsage {
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
  num_threads: number;
  vm_size: number;
  vm_rss: number;
}

const TICK_NS = 1e7; // USER_HZ = 100 on Linux
const PAGE_SIZE = 4096;

/** Reads /proc/self/stat; null where there is no /proc. */
export function readRawUsage(): RawUsage | null {
  let text: string;
  try {
    text = Deno.readTextFileSync("/proc/self/stat");
  } catch {
    return null;
  }
  // Fields after the command name (which is in parentheses and may hold spaces).
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // f[0] is field 3 (state); field n is f[n - 3].
  return {
    utime: Number(f[11]) * TICK_NS,
    stime: Number(f[12]) * TICK_NS,
    cutime: Number(f[13]) * TICK_NS,
    cstime: Number(f[14]) * TICK_NS,
    num_threads: Number(f[17]),
    vm_size: Number(f[20]),
    vm_rss: Number(f[21]) * PAGE_SIZE,
  };
}

/** Usage sampled once a second: CPU share over the last second (1.0 = one core) and RSS. */
export class UsageSampler {
  /** Go-format time of the last sample. */
  now = goTimeString();
  /** CPU used over the last sampling interval, in cores. */
  cpu = 0;
  /** Resident memory in bytes. */
  mem = 0;
  /** The last raw sample. */
  raw: RawUsage | null = null;
  #lastCpuNs = 0;
  #lastAt = 0;

  /** Takes a sample. */
  sample(): void {
    const raw = readRawUsage();
    const at = performance.now();
    if (raw) {
      const cpuNs = raw.utime + raw.stime;
      if (this.#lastAt > 0 && at > this.#lastAt) {
        this.cpu = (cpuNs - this.#lastCpuNs) / 1e6 / (at - this.#lastAt);
      }
      this.#lastCpuNs = cpuNs;
      this.mem = raw.vm_rss;
    } else {
      this.mem = Deno.memoryUsage().rss;
    }
    this.#lastAt = at;
    this.raw = raw;
    this.now = goTimeString();
  }
}
