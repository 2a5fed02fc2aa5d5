/**
 * Waiting without leaks: a cancellable {@linkcode delay}, a {@linkcode deadline} for any promise,
 * and {@linkcode Loop}, a named background loop that can be woken and stopped. Every timer these
 * start is cleared when they settle, so tests with Deno's sanitizers stay clean.
 *
 * @module
 */

import { errorMessage } from "./errors.ts";

/** Options of {@linkcode delay}. */
export interface DelayOptions {
  /** Ends the wait early: the promise resolves at once (it never rejects). */
  signal?: AbortSignal;
}

/**
 * Resolves after `ms` milliseconds, or at once when `signal` aborts (check `signal.aborted`
 * afterwards to tell which).
 */
export function delay(ms: number, options: DelayOptions = {}): Promise<void> {
  const signal = options.signal;
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Options of {@linkcode deadline}. */
export interface DeadlineOptions {
  /** The error to reject with when time runs out (default: a `DeadlineError`). */
  error?: () => Error;
}

/** The error {@linkcode deadline} rejects with by default. */
export class DeadlineError extends Error {
  constructor(ms: number) {
    super(`Timed out after ${ms} ms`);
    this.name = "DeadlineError";
  }
}

/** Settles as `promise` does, or rejects after `ms` milliseconds, whichever comes first. */
export function deadline<T>(promise: Promise<T>, ms: number, options: DeadlineOptions = {}): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(options.error?.() ?? new DeadlineError(ms)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** What a {@linkcode Loop}'s step reports: `true` when it did work and should run again soon. */
export type LoopStep = () => Promise<boolean | void>;

/** Options of {@linkcode Loop}. */
export interface LoopOptions {
  /** Milliseconds between steps that did no work. */
  periodMs: number;
  /** Milliseconds after a step that threw; doubled after each further failure, up to `errorBackoffMaxMs`. */
  errorBackoffMs: number;
  /** Longest wait after failures (default: `errorBackoffMs`, no doubling). */
  errorBackoffMaxMs?: number;
  /** Milliseconds after a step that did work. */
  busyPeriodMs: number;
  /** Milliseconds before the first step (default 0). */
  initialDelayMs?: number;
  /** Where a failed step is reported, with the wait before the next try (default: nowhere). */
  onError?: (name: string, message: string, retryMs: number) => void;
}

/** Defaults of {@linkcode LoopOptions}. */
export const DEFAULT_LOOP_OPTIONS: Readonly<LoopOptions> = { periodMs: 1000, errorBackoffMs: 5000, busyPeriodMs: 10 };

/**
 * A named background loop: runs `step` about every `periodMs`, again soon after a step that did
 * work, later after a step that failed. `wake()` runs the next step now; `stop()` ends it and
 * resolves once the step in progress has returned.
 */
export class Loop {
  readonly name: string;
  #stop = new AbortController();
  #wake: AbortController | null = null;
  #done: Promise<void>;

  /** Starts running `step` (at once, or after `initialDelayMs`). */
  constructor(name: string, step: LoopStep, options: Partial<LoopOptions> = {}) {
    this.name = name;
    const o = { ...DEFAULT_LOOP_OPTIONS, ...options };
    const maxBackoff = Math.max(o.errorBackoffMs, o.errorBackoffMaxMs ?? o.errorBackoffMs);
    this.#done = (async () => {
      let backoff = o.errorBackoffMs;
      if (o.initialDelayMs) await this.sleep(o.initialDelayMs);
      while (!this.#stop.signal.aborted) {
        let wait = o.periodMs;
        try {
          if (await step()) wait = o.busyPeriodMs;
          backoff = o.errorBackoffMs;
        } catch (e) {
          wait = backoff;
          backoff = Math.min(maxBackoff, backoff * 2);
          o.onError?.(name, errorMessage(e), wait);
        }
        await this.sleep(wait);
      }
    })();
  }

  /** True once stopped. */
  get stopped(): boolean {
    return this.#stop.signal.aborted;
  }

  /** Sleeps `ms` unless the loop is stopped or woken meanwhile. */
  sleep(ms: number): Promise<void> {
    const wake = new AbortController();
    this.#wake = wake;
    return delay(ms, { signal: AbortSignal.any([wake.signal, this.#stop.signal]) }).finally(() => {
      if (this.#wake === wake) this.#wake = null;
    });
  }

  /** Runs the next step now (if the loop is sleeping). */
  wake(): void {
    this.#wake?.abort();
  }

  /** Stops the loop; resolves when its current step has returned. Idempotent. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#done;
  }
}
