/**
 * Builds the programs into `dist/`:
 *
 *   deno task bundle     single-file bundles (dist/codis-proxy.js …) that run anywhere Deno runs:
 *                        `deno run -A dist/codis-proxy.js --version`
 *   deno task compile    standalone executables (dist/codis-proxy …) with `deno compile`; this
 *                        downloads Deno's runtime, so it fails on machines without internet access
 *
 * @module
 */

const top = new URL("..", import.meta.url).pathname;
const compile = Deno.args.includes("--compile");
const PROGRAMS = [
  { name: "codis-proxy", main: "proxy/main.ts" },
  { name: "codis-dashboard", main: "dashboard/main.ts" },
  { name: "codis-admin", main: "admin/main.ts" },
];

await Deno.mkdir(`${top}dist`, { recursive: true });
let failed = false;
for (const p of PROGRAMS) {
  try {
    await Deno.stat(`${top}${p.main}`);
  } catch {
    continue; // not written yet
  }
  const args = compile
    ? ["compile", "--allow-all", "--output", `${top}dist/${p.name}`, `${top}${p.main}`]
    : ["bundle", "--platform", "deno", "--output", `${top}dist/${p.name}.js`, `${top}${p.main}`];
  const out = await new Deno.Command(Deno.execPath(), { args, stdout: "inherit", stderr: "piped" }).output();
  if (out.success) {
    console.log(`built dist/${p.name}${compile ? "" : ".js"}`);
  } else {
    failed = true;
    const err = new TextDecoder().decode(out.stderr);
    console.error(err);
    if (compile && /dl\.deno\.land|download|denort/i.test(err)) {
      console.error(
        `${p.name}: deno compile needs to download Deno's runtime, which this machine cannot reach; use 'deno task bundle' instead`,
      );
    }
  }
}
Deno.exit(failed ? 1 : 0);
