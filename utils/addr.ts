/**
 * Network addresses: parsing `host:port`, and the address a listener advertises.
 *
 * @module
 */

/** An address that cannot be parsed or used. */
export class AddressError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "AddressError";
  }
}

/** A parsed `host:port`. */
export interface HostPort {
  /** Host name or IP, without brackets; empty for "any". */
  host: string;
  /** TCP port, 0..65535. */
  port: number;
}

/**
 * Parses `host:port`, `[ipv6]:port` or `:port`.
 *
 * @example
 * ```ts
 * parseAddr("127.0.0.1:6379"); // { host: "127.0.0.1", port: 6379 }
 * ```
 */
export function parseAddr(addr: string): HostPort {
  const colon = addr.lastIndexOf(":");
  if (colon < 0) throw new AddressError(`Cannot parse address "${addr}": expected host:port`);
  let host = addr.slice(0, colon);
  const portText = addr.slice(colon + 1);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  else if (host.includes(":")) {
    throw new AddressError(`Cannot parse address "${addr}": an IPv6 host needs [brackets]`);
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw new AddressError(`Cannot parse address "${addr}": port "${portText}" is not 0..65535`);
  }
  if (/[\s/]/.test(host)) throw new AddressError(`Cannot parse address "${addr}": bad host "${host}"`);
  return { host, port: Number(portText) };
}

/** Formats a host and port as `host:port` (IPv6 in brackets). */
export function formatAddr(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** True for the wildcard hosts that mean "every interface". */
export function isUnspecifiedHost(host: string): boolean {
  return host === "" || host === "0.0.0.0" || host === "::" || host === "[::]";
}

/**
 * The address other machines should use to reach a listener bound to `host:port`: the bound
 * address itself, or, for a wildcard bind, the first non-loopback IPv4 address of this machine
 * (127.0.0.1 when it has none).
 */
export function advertisedAddr(host: string, port: number): string {
  if (!isUnspecifiedHost(host)) return formatAddr(host, port);
  let ip = "127.0.0.1";
  try {
    for (const nic of Deno.networkInterfaces()) {
      if (nic.family === "IPv4" && !nic.address.startsWith("127.")) {
        ip = nic.address;
        break;
      }
    }
  } catch {
    // no permission to list interfaces: fall back to loopback
  }
  return formatAddr(ip, port);
}
