/**
 * Credentials for the store: ZooKeeper's digest ACLs and etcd's users, on real servers.
 */

import assert from "node:assert/strict";
import { StoreError } from "../../coord/client.ts";
import { openClient } from "../../coord/open.ts";
import { EtcdServer, ZooKeeperServer } from "../_support/coord_servers.ts";
import { fromUtf8, utf8 } from "../../utils/bytes.ts";

async function rejectsWith(p: Promise<unknown>, code: string, mention: string): Promise<void> {
  await assert.rejects(p, (e) => {
    assert.ok(e instanceof StoreError, String(e));
    assert.equal(e.code, code, e.message);
    assert.ok(e.message.includes(mention), e.message);
    return true;
  });
}

Deno.test({
  name: "ZooKeeper digest auth: nodes carry the ACL; a client without the credentials is refused",
  async fn() {
    const server = await ZooKeeperServer.start();
    const owner = await openClient("zookeeper", server.addr, { auth: "codis:secret", timeoutMs: 5000 });
    const stranger = await openClient("zookeeper", server.addr, { timeoutMs: 5000 });
    const wrong = await openClient("zookeeper", server.addr, { auth: "codis:guess", timeoutMs: 5000 });
    try {
      await owner.create("/codis3/secure/topom", utf8("lock"));
      assert.equal(fromUtf8((await owner.read("/codis3/secure/topom"))!), "lock");
      await rejectsWith(stranger.read("/codis3/secure/topom"), "denied", "/codis3/secure/topom");
      await rejectsWith(wrong.read("/codis3/secure/topom"), "denied", "/codis3/secure/topom");
      await rejectsWith(stranger.create("/codis3/secure/other", utf8("x")), "denied", "/codis3/secure/other");
      await rejectsWith(stranger.delete("/codis3/secure/topom"), "denied", "/codis3/secure/topom");
      assert.equal(fromUtf8((await owner.read("/codis3/secure/topom"))!), "lock", "nothing changed");
      await owner.delete("/codis3", { recursive: true });
      await rejectsWith(openClient("zookeeper", server.addr, { auth: "no-colon" }), "invalid", "user:password");
    } finally {
      await Promise.all([owner.close(), stranger.close(), wrong.close()]);
      await server.stop();
    }
  },
});

Deno.test({
  name: "etcd users: the right password works, a wrong one or none is refused clearly",
  async fn() {
    const server = await EtcdServer.start();
    try {
      const etcdctl = async (...args: string[]) => {
        const out = await new Deno.Command("etcdctl", {
          args: [`--endpoints=http://${server.addr}`, ...args],
          env: { ETCDCTL_API: "3" },
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      };
      await etcdctl("user", "add", "root:rootpw", "--interactive=false");
      await etcdctl("auth", "enable");

      const root = await openClient("etcd", server.addr, { auth: "root:rootpw", timeoutMs: 5000 });
      try {
        await root.create("/codis3/secure/topom", utf8("lock"));
        assert.equal(fromUtf8((await root.read("/codis3/secure/topom"))!), "lock");
      } finally {
        await root.close();
      }
      await rejectsWith(
        openClient("etcd", server.addr, { auth: "root:wrong", timeoutMs: 5000 }),
        "denied",
        server.addr,
      );
      await rejectsWith(openClient("etcd", server.addr, { timeoutMs: 5000 }), "denied", server.addr);
    } finally {
      await server.stop();
    }
  },
});
