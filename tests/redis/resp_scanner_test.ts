import assert from "node:assert/strict";
import {
  DEFAULT_RESP_LIMITS,
  NEED_MORE,
  PROTOCOL_ERROR,
  ReplyScanner,
  RequestScanner,
  splitInlineArgs,
} from "../../redis/resp_scanner.ts";
import { decodeReply, RespError } from "../../redis/resp_value.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Every reply type a Redis 7 server can send, RESP2 and RESP3. */
const REPLIES: Record<string, string> = {
  "simple string": "+OK\r\n",
  "error": "-ERR unknown command 'FOO'\r\n",
  "integer": ":-12345\r\n",
  "bulk string": "$5\r\nhello\r\n",
  "empty bulk": "$0\r\n\r\n",
  "binary bulk with CRLF inside": "$4\r\n\r\n\r\n\r\n",
  "null bulk": "$-1\r\n",
  "array": "*3\r\n$3\r\nfoo\r\n:1\r\n+bar\r\n",
  "empty array": "*0\r\n",
  "null array": "*-1\r\n",
  "nested array": "*2\r\n*2\r\n:1\r\n*1\r\n$1\r\nx\r\n*0\r\n",
  "array with null elements": "*3\r\n$-1\r\n*-1\r\n:0\r\n",
  "RESP3 null": "_\r\n",
  "RESP3 boolean": "#t\r\n",
  "RESP3 double": ",3.14\r\n",
  "RESP3 big number": "(3492890328409238509324850943850943825024385\r\n",
  "RESP3 verbatim string": "=15\r\ntxt:Some string\r\n",
  "RESP3 blob error": "!21\r\nSYNTAX invalid syntax\r\n",
  "RESP3 map": "%2\r\n+first\r\n:1\r\n+second\r\n*1\r\n:2\r\n",
  "RESP3 set": "~2\r\n+a\r\n+b\r\n",
  "RESP3 push": ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nm\r\n",
  "RESP3 attribute before a value": "|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*2\r\n:2039123\r\n:9543892\r\n",
};

function scanWhole(text: string): number {
  const buf = enc.encode(text);
  return new ReplyScanner().scan(buf, 0, buf.length);
}

/** Feeds the frame one byte at a time; returns the end offset once complete. */
function scanByteByByte(scanner: ReplyScanner | RequestScanner, bytes: Uint8Array): number {
  for (let n = 1; n < bytes.length; n++) {
    const r = scanner.scan(bytes, 0, n);
    if (r !== NEED_MORE) return -100 - n; // finished or failed too early
  }
  return scanner.scan(bytes, 0, bytes.length);
}

for (const [name, text] of Object.entries(REPLIES)) {
  Deno.test(`ReplyScanner finds the end of a ${name} fed whole`, () => {
    assert.deepEqual(scanWhole(text), enc.encode(text).length);
  });
  Deno.test(`ReplyScanner finds the end of a ${name} fed one byte at a time`, () => {
    const bytes = enc.encode(text);
    assert.deepEqual(scanByteByByte(new ReplyScanner(), bytes), bytes.length);
  });
}

Deno.test("ReplyScanner scans back-to-back replies one at a time", () => {
  const all = Object.values(REPLIES).join("");
  const buf = enc.encode(all);
  const scanner = new ReplyScanner();
  let pos = 0;
  let count = 0;
  while (pos < buf.length) {
    const end = scanner.scan(buf, pos, buf.length);
    assert.deepEqual(end > pos, true);
    pos = end;
    count++;
  }
  assert.deepEqual(count, Object.keys(REPLIES).length);
});

Deno.test("ReplyScanner resumes after the caller moves a partial frame", () => {
  const frame = enc.encode("*2\r\n$5\r\nhello\r\n$5\r\nworld\r\n");
  const buf = new Uint8Array(100);
  buf.set(frame.subarray(0, 12), 50);
  const scanner = new ReplyScanner();
  assert.deepEqual(scanner.scan(buf, 50, 62), NEED_MORE);
  // compact: move the partial frame to offset 0, then append the rest
  buf.copyWithin(0, 50, 62);
  buf.set(frame.subarray(12), 12);
  assert.deepEqual(scanner.scan(buf, 0, frame.length), frame.length);
});

Deno.test("ReplyScanner handles deep nesting without recursion", () => {
  const depth = 10_000;
  const text = "*1\r\n".repeat(depth) + ":1\r\n";
  assert.deepEqual(scanWhole(text), text.length);
});

Deno.test("ReplyScanner rejects malformed replies", () => {
  for (const bad of ["?what\r\n", "$abc\r\nxx\r\n", "*x\r\n", "$3\r\nfooXY", "$-2\r\n", "+OK\rX"]) {
    const s = new ReplyScanner();
    const buf = enc.encode(bad);
    assert.deepEqual(s.scan(buf, 0, buf.length), PROTOCOL_ERROR, JSON.stringify(bad));
    assert.match(s.error, /^Protocol error: /);
  }
});

Deno.test("ReplyScanner enforces the bulk and array limits", () => {
  const s = new ReplyScanner({ ...DEFAULT_RESP_LIMITS, maxBulkLength: 10, maxArrayLength: 3 });
  let buf = enc.encode("$11\r\n");
  assert.deepEqual(s.scan(buf, 0, buf.length), PROTOCOL_ERROR);
  buf = enc.encode("*4\r\n");
  assert.deepEqual(s.scan(buf, 0, buf.length), PROTOCOL_ERROR);
  buf = enc.encode("$10\r\n0123456789\r\n");
  assert.deepEqual(s.scan(buf, 0, buf.length), buf.length);
});

Deno.test("decodeReply turns every type into a value", () => {
  const value = (t: string) => {
    const b = enc.encode(t);
    return decodeReply(b, 0, b.length);
  };
  const expected: Record<string, unknown> = {
    "simple string": "OK",
    "integer": -12345,
    "bulk string": "hello",
    "empty bulk": "",
    "binary bulk with CRLF inside": "\r\n\r\n",
    "null bulk": null,
    "array": ["foo", 1, "bar"],
    "empty array": [],
    "null array": null,
    "nested array": [[1, ["x"]], []],
    "array with null elements": [null, null, 0],
    "RESP3 null": null,
    "RESP3 boolean": true,
    "RESP3 double": 3.14,
    "RESP3 big number": 3492890328409238509324850943850943825024385n,
    "RESP3 verbatim string": "Some string",
    "RESP3 map": ["first", 1, "second", [2]],
    "RESP3 set": ["a", "b"],
    "RESP3 push": ["message", "ch", "m"],
    "RESP3 attribute before a value": [2039123, 9543892],
  };
  for (const [name, text] of Object.entries(REPLIES)) {
    if (name === "error" || name === "RESP3 blob error") continue;
    assert.ok(name in expected, `a value is expected for ${name}`);
    assert.deepEqual(value(text), expected[name], name);
  }
  const e = value(REPLIES["error"]);
  assert.ok(e instanceof RespError);
  assert.equal(e.code, "ERR");
  assert.equal(e.message, "ERR unknown command 'FOO'");
  const blob = value(REPLIES["RESP3 blob error"]);
  assert.ok(blob instanceof RespError);
  assert.equal(blob.message, "SYNTAX invalid syntax");
});

Deno.test("decodeReply raw keeps bulk strings as bytes that outlive the buffer they were read from", () => {
  // A SCAN reply inside a larger read buffer, as the client's reader sees it.
  const reply = "*2\r\n$1\r\n0\r\n*3\r\n$2\r\nk1\r\n$0\r\n\r\n$4\r\n\r\n\x00\xff\r\n";
  const buf = new Uint8Array(reply.length + 10);
  for (let i = 0; i < reply.length; i++) buf[i + 5] = reply.charCodeAt(i);
  const v = decodeReply(buf, 5, 5 + reply.length, true) as [Uint8Array, Uint8Array[]];
  buf.fill(0x41); // the reader reuses its buffer
  assert.deepEqual(v[0], new Uint8Array([0x30]));
  assert.deepEqual(v[1], [
    new Uint8Array([0x6b, 0x31]),
    new Uint8Array(0),
    new Uint8Array([13, 10, 0, 0xff]),
  ]);
  // The keys are views of one copy of the reply, not of the reader's buffer.
  assert.ok(v[1][0].buffer !== buf.buffer);
  assert.equal(v[1][0].buffer, v[1][2].buffer);
});

// ---- requests ----

function args(s: RequestScanner, buf: Uint8Array): string[] {
  const src = s.inline ? s.inlineFrame : buf;
  const out: string[] = [];
  for (let i = 0; i < s.argc; i++) out.push(dec.decode(src.subarray(s.args[i * 2], s.args[i * 2 + 1])));
  return out;
}

Deno.test("RequestScanner reads a multi-bulk request's arguments in place", () => {
  const buf = enc.encode("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n");
  const s = new RequestScanner();
  assert.deepEqual(s.scan(buf, 0, buf.length), buf.length);
  assert.deepEqual(s.inline, false);
  assert.deepEqual(args(s, buf), ["SET", "key", "value"]);
});

Deno.test("RequestScanner reads a request fed one byte at a time", () => {
  const buf = enc.encode("*3\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$5\r\nva\nue\r\n");
  const s = new RequestScanner();
  assert.deepEqual(scanByteByByte(s, buf), buf.length);
  assert.deepEqual(args(s, buf), ["SET", "k\r\n", "va\nue"]);
});

Deno.test("RequestScanner shifts recorded offsets when the caller compacts its buffer", () => {
  const frame = enc.encode("*2\r\n$3\r\nGET\r\n$3\r\nabc\r\n");
  const buf = new Uint8Array(64);
  buf.set(frame.subarray(0, 15), 30);
  const s = new RequestScanner();
  assert.deepEqual(s.scan(buf, 30, 45), NEED_MORE);
  buf.copyWithin(0, 30, 45);
  buf.set(frame.subarray(15), 15);
  assert.deepEqual(s.scan(buf, 0, frame.length), frame.length);
  assert.deepEqual(args(s, buf), ["GET", "abc"]);
});

Deno.test("RequestScanner turns an inline command into a RESP array", () => {
  const buf = enc.encode('set  "a b" \'it\\\'s\'  "\\x41\\n"\r\nPING\n');
  const s = new RequestScanner();
  const end = s.scan(buf, 0, buf.length);
  assert.deepEqual(args(s, buf), ["set", "a b", "it's", "A\n"]);
  assert.deepEqual(dec.decode(s.inlineFrame), "*4\r\n$3\r\nset\r\n$3\r\na b\r\n$4\r\nit's\r\n$2\r\nA\n\r\n");
  assert.deepEqual(s.scan(buf, end, buf.length), buf.length);
  assert.deepEqual(args(s, buf), ["PING"]);
});

Deno.test("RequestScanner skips empty inline lines and empty arrays", () => {
  const buf = enc.encode("\r\n*0\r\n");
  const s = new RequestScanner();
  assert.deepEqual(s.scan(buf, 0, buf.length), 2);
  assert.deepEqual(s.argc, 0);
  assert.deepEqual(s.scan(buf, 2, buf.length), buf.length);
  assert.deepEqual(s.argc, 0);
});

Deno.test("RequestScanner rejects malformed requests with Redis's protocol errors", () => {
  const cases: [string, RegExp][] = [
    ["*2\r\n+GET\r\n", /expected '\$', got '\+'/],
    ["*x\r\n", /invalid multibulk length/],
    ["*1\r\n$-1\r\n", /invalid bulk length/],
    ["*1\r\n$3\r\nGETXY", /invalid bulk format/],
    ['get "unterminated\r\n', /unbalanced quotes/],
    ['get "a"b\r\n', /unbalanced quotes/],
  ];
  for (const [text, why] of cases) {
    const s = new RequestScanner();
    const buf = enc.encode(text);
    assert.deepEqual(s.scan(buf, 0, buf.length), PROTOCOL_ERROR, JSON.stringify(text));
    assert.match(s.error, why);
  }
});

Deno.test("RequestScanner enforces Codis's limits, configurably", () => {
  const s = new RequestScanner({ maxBulkLength: 8, maxArrayLength: 2, maxInlineLength: 16 });
  for (const text of ["*3\r\n", "*1\r\n$9\r\n", "x".repeat(17)]) {
    const buf = enc.encode(text);
    assert.deepEqual(s.scan(buf, 0, buf.length), PROTOCOL_ERROR, text);
  }
  const d = new RequestScanner();
  const buf = enc.encode(`*${DEFAULT_RESP_LIMITS.maxArrayLength + 1}\r\n`);
  assert.deepEqual(d.scan(buf, 0, buf.length), PROTOCOL_ERROR);
  const big = enc.encode(`*1\r\n$${DEFAULT_RESP_LIMITS.maxBulkLength + 1}\r\n`);
  assert.deepEqual(d.scan(big, 0, big.length), PROTOCOL_ERROR);
});

Deno.test("RequestScanner does not mistake a huge header for an incomplete one forever", () => {
  const s = new RequestScanner();
  const buf = enc.encode("*" + "1".repeat(40));
  assert.deepEqual(s.scan(buf, 0, buf.length), PROTOCOL_ERROR);
});

Deno.test("splitInlineArgs follows sdssplitargs on quotes and escapes", () => {
  const line = enc.encode(`a "b\\tc" '' "\\"q\\""`);
  const parts = splitInlineArgs(line, 0, line.length);
  assert.deepEqual(parts?.map((p) => dec.decode(p)), ["a", "b\tc", "", '"q"']);
});
