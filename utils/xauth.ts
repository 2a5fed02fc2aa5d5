/**
 * Identity tokens and admin API keys, computed byte for byte as Codis computes them, so that
 * our programs and Codis's tools agree on them.
 *
 * @module
 */

import { createHash } from "node:crypto";

function macAddresses(): string[] {
  const macs = new Set<string>();
  try {
    for (const nic of Deno.networkInterfaces()) {
      if (nic.mac && nic.mac !== "00:00:00:00:00:00") macs.add(nic.mac);
    }
  } catch {
    // without permission to list interfaces the token is still deterministic per address
  }
  return [...macs].sort();
}

/**
 * A token: hex MD5 of `Codis-Token@[mac addresses]` followed by `-{segment}` for each segment.
 * Deterministic per machine and segments, so a proxy restarted at the same addresses keeps it.
 */
export function newToken(...segments: string[]): string {
  let text = `Codis-Token@[${macAddresses().join(" ")}]`;
  for (const s of segments) text += `-{${s}}`;
  return createHash("md5").update(text).digest("hex");
}

/**
 * An xauth key: hex of the first 16 bytes of SHA-256 of `Codis-XAuth` followed by `-[segment]`
 * for each segment. The dashboard's is `newXAuth(product)`; a proxy's is
 * `newXAuth(product, productAuth, token)`.
 */
export function newXAuth(...segments: string[]): string {
  let text = "Codis-XAuth";
  for (const s of segments) text += `-[${s}]`;
  return createHash("sha256").update(text).digest("hex").slice(0, 32);
}

/**
 * The dashboard's xauth. Without an admin secret it is Codis's `newXAuth(product)`, which anyone
 * who can read the product name can compute; with `admin_auth` it is derived from the secret too.
 */
export function dashboardXAuth(product: string, adminAuth: string): string {
  return adminAuth ? newXAuth(product, adminAuth) : newXAuth(product);
}

/**
 * A proxy's xauth: Codis's `newXAuth(product, productAuth, token)`, with `admin_auth` in place of
 * `product_auth` when the secret is set (so it cannot be computed from the proxy's public model).
 */
export function proxyXAuth(product: string, adminAuth: string, productAuth: string, token: string): string {
  return newXAuth(product, adminAuth || productAuth, token);
}

/**
 * The password of the ACL user the proxies log in to the servers as (`backend_acl_user`), when
 * none is configured: derived from the product and `product_auth`, which every proxy and the
 * dashboard know, and which already gives full access to the servers (so it reveals nothing).
 */
export function proxyAclPassword(product: string, productAuth: string): string {
  return newXAuth("acl", product, productAuth);
}

/** Product names must match Codis's pattern `^\w[\w.-]*$`. */
export function isValidProductName(name: string): boolean {
  return /^\w[\w.\-]*$/.test(name);
}
