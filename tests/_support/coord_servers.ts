/**
 * etcd and ZooKeeper servers for tests, from Debian's packages, on free loopback ports with
 * temporary data directories (kept across {@linkcode ServerProcess.restart}).
 *
 * @module
 */

import { freePort, ServerProcess, StopWaiting, waitFor } from "./servers.ts";

/**
 * Sends a ZooKeeper four-letter command and reads the whole answer (the server then closes). A
 * server still starting may accept and say nothing: the connection is dropped after 2 s.
 */
async function fourLetters(port: number, command: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), 2000);
  const chunks: Uint8Array[] = [];
  try {
    await conn.write(new TextEncoder().encode(command));
    const buf = new Uint8Array(4096);
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) chunks.push(buf.slice(0, n));
  } catch (e) {
    if (!(e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted)) throw e;
    return ""; // timed out
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
  return new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
}

/** The etcd member name of a test server: its directory's name, unique on the machine. */
function memberName(dir: string): string {
  return dir.slice(dir.lastIndexOf("/") + 1);
}

/** A single-member etcd cluster. */
export class EtcdServer extends ServerProcess {
  /**
   * Killed, not terminated: a graceful etcd sends GOAWAY to the HTTP/2 sessions of clients still
   * connected, and Deno 2.9's `node:http2` can crash the whole test process on it
   * (denoland/deno#36788, seen here once as a segfault of the test runner).
   */
  protected override stopSignal: Deno.Signal = "SIGKILL";

  private constructor(port: number, dir: string, args: string[]) {
    super("etcd", port, dir, args);
  }

  static start(): Promise<EtcdServer> {
    return ServerProcess.launch(async (port) => {
      const peer = freePort();
      const dir = await Deno.makeTempDir({ prefix: "codis-test-etcd-" });
      const client = `http://127.0.0.1:${port}`;
      const peerUrl = `http://127.0.0.1:${peer}`;
      return new EtcdServer(port, dir, [
        `--name=${memberName(dir)}`,
        `--data-dir=${dir}/data`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=${memberName(dir)}=${peerUrl}`,
        `--log-outputs=${dir}/etcd.log`,
        "--logger=zap",
      ]);
    });
  }

  /** Waits until etcd answers its health endpoint, and checks that the member answering is ours. */
  async waitReady(timeoutMs = 60_000): Promise<void> {
    await waitFor(async () => {
      this.assertAlive();
      const res = await fetch(`http://127.0.0.1:${this.port}/health`, { signal: AbortSignal.timeout(5000) });
      const body = await res.json();
      if (body.health !== "true") return false;
      const list = await fetch(`http://127.0.0.1:${this.port}/v3/cluster/member/list`, {
        method: "POST",
        body: "{}",
        signal: AbortSignal.timeout(5000),
      });
      const names = ((await list.json()).members ?? []).map((m: { name?: string }) => m.name);
      if (!names.includes(memberName(this.dir))) {
        throw new StopWaiting(`${this.addr} is another etcd (members ${names.join(", ")})`);
      }
      return true;
    }, { timeoutMs, intervalMs: 100, what: `etcd on ${this.addr}` });
  }
}

const ZK_CLASSPATH = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar";

/** A standalone ZooKeeper server (ticks of 500 ms, so sessions may be as short as 1 s). */
export class ZooKeeperServer extends ServerProcess {
  private constructor(port: number, dir: string, args: string[]) {
    super("java", port, dir, args);
  }

  static start(): Promise<ZooKeeperServer> {
    return ServerProcess.launch(async (port) => {
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
          "4lw.commands.whitelist=ruok,conf",
          "",
        ].join("\n"),
      );
      return new ZooKeeperServer(port, dir, [
        "-Xmx256m",
        `-Dzookeeper.log.dir=${dir}`,
        "-cp",
        ZK_CLASSPATH,
        "org.apache.zookeeper.server.ZooKeeperServerMain",
        `${dir}/zoo.cfg`,
      ]);
    });
  }

  /** Waits until ZooKeeper answers `ruok` with `imok`, and checks (`conf`) that it is ours. */
  async waitReady(timeoutMs = 60_000): Promise<void> {
    await waitFor(async () => {
      this.assertAlive();
      if (await fourLetters(this.port, "ruok") !== "imok") return false;
      const conf = await fourLetters(this.port, "conf");
      const dataDir = /^dataDir=(.*)$/m.exec(conf)?.[1];
      if (dataDir === undefined) return false; // "not currently serving requests" yet
      if (!dataDir.startsWith(`${this.dir}/`)) throw new StopWaiting(`${this.addr} is another ZooKeeper (${dataDir})`);
      return true;
    }, { timeoutMs, intervalMs: 100, what: `ZooKeeper on ${this.addr}` });
  }
}
