/**
 * etcd and ZooKeeper servers for tests, from Debian's packages, on free loopback ports with
 * temporary data directories (kept across {@linkcode ServerProcess.restart}).
 *
 * @module
 */

import { freePort, ServerProcess, waitFor } from "./servers.ts";

/** Whether a TCP port on 127.0.0.1 accepts connections. */
async function answers(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** A single-member etcd cluster. */
export class EtcdServer extends ServerProcess {
  private constructor(port: number, dir: string, args: string[]) {
    super("etcd", port, dir, args);
  }

  static async start(): Promise<EtcdServer> {
    const port = freePort();
    const peer = freePort();
    const dir = await Deno.makeTempDir({ prefix: "codis-test-etcd-" });
    const client = `http://127.0.0.1:${port}`;
    const peerUrl = `http://127.0.0.1:${peer}`;
    const server = new EtcdServer(port, dir, [
      "--name=test",
      `--data-dir=${dir}/data`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=test=${peerUrl}`,
      `--log-outputs=${dir}/etcd.log`,
      "--logger=zap",
    ]);
    await server.waitReady();
    return server;
  }

  /** Waits until etcd answers its health endpoint. */
  async waitReady(timeoutMs = 60_000): Promise<void> {
    await waitFor(async () => {
      const res = await fetch(`http://127.0.0.1:${this.port}/health`);
      const body = await res.json();
      return body.health === "true";
    }, { timeoutMs, intervalMs: 100, what: `etcd on ${this.addr}` });
  }
}

const ZK_CLASSPATH = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar";

/** A standalone ZooKeeper server (ticks of 500 ms, so sessions may be as short as 1 s). */
export class ZooKeeperServer extends ServerProcess {
  private constructor(port: number, dir: string, args: string[]) {
    super("java", port, dir, args);
  }

  static async start(): Promise<ZooKeeperServer> {
    const port = freePort();
    const dir = await Deno.makeTempDir({ prefix: "codis-test-zk-" });
    await Deno.mkdir(`${dir}/data`);
    await Deno.writeTextFile(
      `${dir}/zoo.cfg`,
      [
        "tickTime=500",
        `dataDir=${dir}/data`,
        `clientPort=${port}`,
        "clientPortAddress=127.0.0.1",
        "admin.enableServer=false",
        "minSessionTimeout=1000",
        "maxSessionTimeout=60000",
        "4lw.commands.whitelist=ruok",
        "",
      ].join("\n"),
    );
    const server = new ZooKeeperServer(port, dir, [
      "-Xmx256m",
      `-Dzookeeper.log.dir=${dir}`,
      "-cp",
      ZK_CLASSPATH,
      "org.apache.zookeeper.server.ZooKeeperServerMain",
      `${dir}/zoo.cfg`,
    ]);
    await server.waitReady();
    return server;
  }

  /** Waits until ZooKeeper answers `ruok` with `imok`. */
  async waitReady(timeoutMs = 60_000): Promise<void> {
    await waitFor(async () => {
      if (!await answers(this.port)) return false;
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: this.port });
      try {
        await conn.write(new TextEncoder().encode("ruok"));
        const buf = new Uint8Array(16);
        const n = await conn.read(buf);
        return n !== null && new TextDecoder().decode(buf.subarray(0, n)) === "imok";
      } finally {
        conn.close();
      }
    }, { timeoutMs, intervalMs: 100, what: `ZooKeeper on ${this.addr}` });
  }
}
