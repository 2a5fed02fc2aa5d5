import assert from "node:assert/strict";
import { DEFAULT_PROXY_CONFIG, defaultProxyToml, parseProxyConfig, proxyConfigJson } from "../../proxy/config.ts";
import { ConfigError } from "../../utils/toml_config.ts";
import { formatByteSize, formatDuration, parseByteSize, parseDuration, UnitError } from "../../utils/units.ts";

Deno.test("durations use Go's syntax; a bare number means seconds", () => {
  assert.equal(parseDuration("30s"), 30_000);
  assert.equal(parseDuration("1m30s"), 90_000);
  assert.equal(parseDuration("30m"), 1_800_000);
  assert.equal(parseDuration("500ms"), 500);
  assert.equal(parseDuration("1.5h"), 5_400_000);
  assert.equal(parseDuration("75"), 75_000);
  assert.equal(parseDuration(75), 75_000);
  assert.equal(parseDuration("0"), 0);
  assert.throws(() => parseDuration("30 seconds"), UnitError);
  assert.throws(() => parseDuration("s"), UnitError);
  assert.equal(formatDuration(90_000), "1m30s");
  assert.equal(formatDuration(1_800_000), "30m0s");
  assert.equal(formatDuration(500), "500ms");
});

Deno.test("sizes use binary units; a bare number means bytes", () => {
  assert.equal(parseByteSize("128kb"), 131072);
  assert.equal(parseByteSize("1024mb"), 2 ** 30);
  assert.equal(parseByteSize("64KB"), 65536);
  assert.equal(parseByteSize("1g"), 2 ** 30);
  assert.equal(parseByteSize("100"), 100);
  assert.equal(parseByteSize(100), 100);
  assert.throws(() => parseByteSize("12xb"), UnitError);
  assert.equal(formatByteSize(131072), "128kb");
  assert.equal(formatByteSize(100), "100b");
});

Deno.test("proxy.toml keys override Codis's defaults", () => {
  const c = parseProxyConfig(`
product_name = "demo"
proxy_addr = "127.0.0.1:19001"
session_recv_timeout = "10m"
backend_recv_bufsize = "256kb"
session_max_pipeline = 5000
backend_primary_only = true
proxy_max_offheap_size = "1024mb"  # Go-only, accepted
`);
  assert.equal(c.productName, "demo");
  assert.equal(c.proxyAddr, "127.0.0.1:19001");
  assert.equal(c.sessionRecvTimeout, 600_000);
  assert.equal(c.backendRecvBufsize, 262144);
  assert.equal(c.sessionMaxPipeline, 5000);
  assert.equal(c.backendPrimaryOnly, true);
  assert.equal(c.adminAddr, DEFAULT_PROXY_CONFIG.adminAddr);
});

Deno.test("proxy.toml problems are clear errors naming the key", () => {
  assert.throws(() => parseProxyConfig(`no_such_key = 1`), /Unknown key "no_such_key"/);
  assert.throws(() => parseProxyConfig(`session_max_pipeline = "lots"`), /session_max_pipeline/);
  assert.throws(() => parseProxyConfig(`session_recv_timeout = "forever"`), /session_recv_timeout/);
  assert.throws(() => parseProxyConfig(`product_name = "bad name!"`), ConfigError);
  assert.throws(() => parseProxyConfig(`backend_number_databases = 0`), /backend_number_databases/);
  assert.throws(() => parseProxyConfig(`proto_type = "unixpacket"`), /proto_type/);
  assert.throws(() => parseProxyConfig(`jodis_name = "etcd"`), /jodis_addr/);
  assert.throws(() => parseProxyConfig(`this is not toml`), /Cannot parse/);
});

Deno.test("the default config parses back to the defaults", () => {
  const text = defaultProxyToml();
  assert.match(text, /^product_name = "codis-demo"$/m);
  assert.match(text, /^session_recv_timeout = "30m0s"$/m);
  assert.deepEqual(parseProxyConfig(text), DEFAULT_PROXY_CONFIG);
});

Deno.test("the config JSON hides passwords", () => {
  const json = proxyConfigJson({ ...DEFAULT_PROXY_CONFIG, productAuth: "secret", sessionAuth: "secret2" });
  assert.equal("product_auth" in json, false);
  assert.equal("session_auth" in json, false);
  assert.equal(json.proxy_addr, "0.0.0.0:19000");
  assert.equal(json.backend_recv_bufsize, "128kb");
});

Deno.test("the deno.json tasks start the programs with the same V8 flags as the scripts and tests", async () => {
  const { PROGRAM_V8_FLAGS } = await import("../../utils/runtime_flags.ts");
  const tasks = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url))).tasks;
  for (const name of ["proxy", "dashboard", "admin"]) {
    assert.match(tasks[name], new RegExp(`--v8-flags=${PROGRAM_V8_FLAGS}( |$)`), `task ${name}`);
  }
});
