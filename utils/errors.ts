/**
 * The error family every program shares: {@linkcode errorMessage} for a message from anything
 * thrown, and {@linkcode CodisError}, an error that carries a {@linkcode ErrorKind} saying what
 * went wrong in words the caller can act on. Only the HTTP layer (`utils/http.ts`) turns a kind
 * into a status code; the code that throws never names one.
 *
 * @module
 */

/** What kind of failure an error is, independent of how it is reported. */
export type ErrorKind =
  /** The request is malformed or the state does not allow it (Codis's usual refusal). */
  | "invalid"
  /** No credentials were given. */
  | "unauthorized"
  /** The credentials given are wrong, or the caller may not do this. */
  | "forbidden"
  /** What the request names does not exist. */
  | "not-found"
  /** What the request would create exists already. */
  | "conflict"
  /** The request's body is larger than allowed. */
  | "too-large"
  /** Not built here. */
  | "unsupported"
  /** A server the operation depends on (a proxy, a Redis, a sentinel) failed. */
  | "upstream"
  /** This program cannot serve the request now (closing, not online). */
  | "unavailable";

/** An error with a {@linkcode ErrorKind}; its message is what the user sees (Codis's text). */
export class CodisError extends Error {
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CodisError";
    this.kind = kind;
  }
}

/** `new CodisError("invalid", message)`: a request the state does not allow. */
export function invalid(message: string, options?: ErrorOptions): CodisError {
  return new CodisError("invalid", message, options);
}

/** `new CodisError("not-found", message)`. */
export function notFound(message: string, options?: ErrorOptions): CodisError {
  return new CodisError("not-found", message, options);
}

/** `new CodisError("conflict", message)`. */
export function conflict(message: string, options?: ErrorOptions): CodisError {
  return new CodisError("conflict", message, options);
}

/** `new CodisError("upstream", message)`: a server we depend on failed. */
export function upstream(message: string, options?: ErrorOptions): CodisError {
  return new CodisError("upstream", message, options);
}

/**
 * The message of anything thrown: an Error's message, or the value as text.
 *
 * @example
 * ```ts
 * try { JSON.parse("{"); } catch (e) { console.log(errorMessage(e)); }
 * ```
 */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/** Marks a branch that cannot be reached when a switch covers every case (a compile-time check). */
export function assertNever(value: never): never {
  throw new Error(`Unexpected value ${JSON.stringify(value)}`);
}
