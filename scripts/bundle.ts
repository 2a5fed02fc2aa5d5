/**
 * Builds the programs into `dist/` (or `--out=DIR`):
 *
 *   deno task bundle     single-file bundles (dist/codis-proxy.js …) that run anywhere Deno runs:
 *                        `deno run -A dist/codis-proxy.js --version`
 *   deno task compile    executables dist/codis-proxy, dist/codis-dashboard, dist/codis-admin (and
 *                        dist/codis-fe when it exists): `deno compile` binaries where Deno's compile
 *                        runtime can be downloaded; elsewhere (offline machines) the bundle made
 *                        executable, with a `#!/usr/bin/env -S deno run …` line and the permissions
 *                        the programs need (then `deno` must be on the PATH where they run)
 *
 * Every output is one self-contained file that runs from any directory with every store: the etcd
 * client reads its `.proto` files at run time, so they are carried inside the bundle and written to
 * a temporary directory the first time the etcd client is loaded.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { PROGRAM_V8_FLAGS } from "../utils/runtime_flags.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: { compile: { type: "boolean" }, out: { type: "string" } },
});

const top = new URL("..", import.meta.url).pathname;
const out = flags.out ?? `${top}dist`;
const PROGRAMS = [
  // The proxy hands the memory of closed connections back with glibc's malloc_trim (utils/malloc_trim.ts).
  { name: "codis-proxy", main: "proxy/main.ts", extra: ["--allow-ffi"] },
  { name: "codis-dashboard", main: "dashboard/main.ts", extra: [] },
  { name: "codis-admin", main: "admin/main.ts", extra: [] },
  { name: "codis-fe", main: "dashboard/fe.ts", extra: [] },
];
/** What the programs need (the same as `deno task proxy` and the others), with each one's `extra`. */
const PERMISSIONS = ["--allow-net", "--allow-read", "--allow-write", "--allow-env", "--allow-sys", "--allow-run"];

await Deno.mkdir(out, { recursive: true });

async function run(args: string[]): Promise<{ ok: boolean; stderr: string }> {
  const o = await new Deno.Command(Deno.execPath(), { args, stdout: "inherit", stderr: "piped" }).output();
  return { ok: o.success, stderr: new TextDecoder().decode(o.stderr) };
}

/** The etcd3 package's directory in Deno's npm cache (its `proto/` is read at run time). */
async function etcdProtoFiles(): Promise<Record<string, string>> {
  const resolved = import.meta.resolve("etcd3");
  const path = new URL(resolved).pathname;
  const dir = path.slice(0, path.lastIndexOf("/lib/"));
  const files: Record<string, string> = {};
  for await (const e of Deno.readDir(`${dir}/proto`)) {
    if (e.isFile && e.name.endsWith(".proto")) files[e.name] = await Deno.readTextFile(`${dir}/proto/${e.name}`);
  }
  if (!files["rpc.proto"]) throw new Error(`no rpc.proto in ${dir}/proto`);
  return files;
}

const ETCD_PROTO_USE = "`${__dirname}/../proto/rpc.proto`";

/**
 * Makes a bundle self-contained: the etcd client's `.proto` files go inside it and are written
 * to a temporary directory (once per content) when the etcd client loads.
 */
function embedEtcdProtos(code: string, protos: Record<string, string>): string {
  if (!code.includes(ETCD_PROTO_USE)) return code; // this program does not bundle the etcd client
  const helper = `
const __codisEtcdProtos = ${JSON.stringify(protos)};
function __codisEtcdProtoDir() {
  let hash = 0;
  for (const text of Object.values(__codisEtcdProtos)) for (let i = 0; i < text.length; i++) hash = (hash * 31 + text.charCodeAt(i)) | 0;
  const tmp = Deno.env.get("TMPDIR") || "/tmp";
  const dir = \`\${tmp}/codis-etcd3-proto-\${(hash >>> 0).toString(16)}\`;
  try {
    Deno.statSync(\`\${dir}/rpc.proto\`);
  } catch {
    const part = Deno.makeTempDirSync({ dir: tmp, prefix: "codis-etcd3-proto-" });
    for (const [name, text] of Object.entries(__codisEtcdProtos)) Deno.writeTextFileSync(\`\${part}/\${name}\`, text);
    try {
      Deno.renameSync(part, dir);
    } catch {
      Deno.removeSync(part, { recursive: true }); // another process made it meanwhile
    }
  }
  return dir;
}
`;
  const body = code.replaceAll(ETCD_PROTO_USE, "`${__codisEtcdProtoDir()}/rpc.proto`");
  // After the bundle's own imports, so the file stays a valid module.
  const lines = body.split("\n");
  let at = 0;
  for (let i = 0; i < lines.length && i < 50; i++) if (lines[i].startsWith("import ")) at = i + 1;
  lines.splice(at, 0, helper);
  return lines.join("\n");
}

const protos = await etcdProtoFiles();
let failed = false;
let offline = false;
for (const p of PROGRAMS) {
  try {
    await Deno.stat(`${top}${p.main}`);
  } catch {
    continue; // not written yet
  }
  const bundlePath = `${out}/${p.name}.js`;
  if (flags.compile && !offline) {
    // deno compile will not overwrite a file it did not make (an executable bundle of an earlier build).
    await Deno.remove(`${out}/${p.name}`).catch(() => {});
    const r = await run([
      "compile",
      ...PERMISSIONS,
      ...p.extra,
      `--v8-flags=${PROGRAM_V8_FLAGS}`,
      "--output",
      `${out}/${p.name}`,
      `${top}${p.main}`,
    ]);
    if (r.ok) {
      console.log(`built ${out}/${p.name} (deno compile)`);
      continue;
    }
    if (!/dl\.deno\.land|download|denort|network|dns/i.test(r.stderr)) {
      console.error(r.stderr);
      failed = true;
      continue;
    }
    offline = true;
    console.error(
      "deno compile cannot download Deno's runtime here: building executable bundles instead (deno must be on the PATH)",
    );
  }
  const r = await run(["bundle", "--platform", "deno", "--output", bundlePath, `${top}${p.main}`]);
  if (!r.ok) {
    console.error(r.stderr);
    failed = true;
    continue;
  }
  const code = embedEtcdProtos(await Deno.readTextFile(bundlePath), protos);
  if (flags.compile) {
    const shebang = `#!/usr/bin/env -S deno run --no-config ${
      [...PERMISSIONS, ...p.extra].join(" ")
    } --v8-flags=${PROGRAM_V8_FLAGS}`;
    await Deno.writeTextFile(`${out}/${p.name}`, `${shebang}\n${code}`, { mode: 0o755 });
    await Deno.remove(bundlePath);
    console.log(`built ${out}/${p.name} (executable bundle)`);
  } else {
    await Deno.writeTextFile(bundlePath, code);
    console.log(`built ${bundlePath}`);
  }
}
Deno.exit(failed ? 1 : 0);
