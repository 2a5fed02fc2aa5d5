/**
 * Parses a `/metrics` text with Prometheus's own Python parser (Debian's
 * `python3-prometheus-client`): a test fails if the exposition is not valid.
 *
 * @module
 */

/** One sample: its name, labels and value. */
export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** One family: name, type, help, samples. */
export interface ParsedFamily {
  name: string;
  type: string;
  help: string;
  samples: ParsedSample[];
}

const PARSER = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type, "help": f.documentation,
                "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]})
print(json.dumps(out))
`;

/** The families of `text`, as Prometheus's parser reads them; throws with its message when invalid. */
export async function parsePrometheus(text: string): Promise<Map<string, ParsedFamily>> {
  const child = new Deno.Command("/usr/bin/python3", {
    args: ["-c", PARSER],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  if (!out.success) throw new Error(`invalid exposition: ${new TextDecoder().decode(out.stderr)}`);
  const families = JSON.parse(new TextDecoder().decode(out.stdout)) as ParsedFamily[];
  return new Map(families.map((f) => [f.name, f]));
}

/** The value of the sample `name` whose labels include these (null when there is none). */
export function sampleValue(
  families: Map<string, ParsedFamily>,
  name: string,
  labels: Record<string, string> = {},
): number | null {
  for (const f of families.values()) {
    const s = f.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
    if (s) return s.value;
  }
  return null;
}
