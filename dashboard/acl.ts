/**
 * The Redis ACL user the proxies serve clients as (`proxy_acl_user`, default `codis-proxy`): it
 * may run every command except those that administer a server or empty or reshape its keyspace
 * (Redis's `@admin` and `@dangerous` categories), with `INFO`, `ROLE`, `SORT` and `SORT_RO` given
 * back since clients use them through the proxy. So a script sent through the proxy (`EVAL`,
 * `FCALL`) cannot run `FLUSHALL`, `CONFIG`, `SHUTDOWN` or `MIGRATE` either: Redis answers `NOPERM`.
 * The proxy's own MIGRATEs go on connections logged in with `product_auth`.
 *
 * The dashboard creates the user on every server it adds, and again on any server it sees that
 * does not have it (a server that restarted without saving it, or one added before): the stats
 * loop checks each server once per run (`run_id`). The user is saved with `ACL SAVE` when the
 * server has an ACL file, else with `CONFIG REWRITE`; when neither is possible, the stats say so.
 *
 * @module
 */

import type { RedisClient } from "../redis/redis_client.ts";
import { RespError } from "../redis/resp_value.ts";
import { log } from "../utils/log.ts";
import { proxyAclPassword } from "../utils/xauth.ts";

/** The user's rules after `reset` (its password is added to them). */
export const PROXY_ACL_RULES: readonly string[] = [
  "on",
  "~*",
  "&*",
  "+@all",
  "-@admin",
  "-@dangerous",
  "+info",
  "+role",
  "+sort",
  "+sort_ro",
];

/** What the dashboard knows to create the user. */
export interface ProxyUserSettings {
  readonly proxyAclUser: string;
  readonly productName: string;
  readonly productAuth: string;
}

/** The proxies' user on each server the dashboard has seen. */
export class ProxyUsers {
  #settings: ProxyUserSettings;
  /** `run_id` of each server at its last check: a new one means the server restarted. */
  #checked = new Map<string, string>();
  #notes = new Map<string, string>();

  constructor(settings: ProxyUserSettings) {
    this.#settings = settings;
  }

  /** What the last check of `addr` found worth telling ("" when all is well). */
  note(addr: string): string {
    return this.#notes.get(addr) ?? "";
  }

  /** Forgets a server that left the product. */
  forget(addr: string): void {
    this.#checked.delete(addr);
    this.#notes.delete(addr);
  }

  /** Creates the user on `addr` unless it was done since the server started (`runId` from INFO). */
  async ensure(client: RedisClient, runId: string): Promise<void> {
    if (!this.#settings.proxyAclUser || this.#checked.get(client.addr) === runId) return;
    const note = await this.create(client);
    this.#checked.set(client.addr, runId);
    if (note) this.#notes.set(client.addr, note);
    else this.#notes.delete(client.addr);
  }

  /**
   * Creates (or resets) the user on the server `client` is logged in to, and saves it. Returns a
   * note when it could not be saved or ACLs are missing; throws when the server refused it.
   */
  async create(client: RedisClient): Promise<string> {
    const s = this.#settings;
    if (!s.proxyAclUser) return "";
    const password = proxyAclPassword(s.productName, s.productAuth);
    const set = await client.send(["ACL", "SETUSER", s.proxyAclUser, "reset", ...PROXY_ACL_RULES, `>${password}`]);
    if (set instanceof RespError) {
      if (/unknown command/i.test(set.message)) {
        const note = "this Redis has no ACLs (before 6.0): scripts sent through the proxies are not restricted";
        log.warn(`server-[${client.addr}]: ${note}`);
        return note;
      }
      throw new Error(`ACL SETUSER ${s.proxyAclUser} failed: ${set.message}`);
    }
    const saved = await client.send(["ACL", "SAVE"]);
    if (!(saved instanceof RespError)) return "";
    const rewritten = await client.send(["CONFIG", "REWRITE"]);
    if (!(rewritten instanceof RespError)) return "";
    return `the ACL user ${s.proxyAclUser} is not saved (no aclfile, and CONFIG REWRITE failed: ${rewritten.message}); ` +
      "the dashboard creates it again when the server restarts";
  }
}
