/**
 * Prometheus's text exposition format (version 0.0.4): families with `# HELP` and `# TYPE`,
 * samples with escaped label values. Used by `/metrics` of the proxy and the dashboard.
 *
 * @module
 */

/** The content type of the text format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export type MetricType = "counter" | "gauge" | "histogram";
export type Labels = Record<string, string | number>;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

function formatLabels(labels: Labels | undefined): string {
  if (!labels) return "";
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(String(v))}"`);
  return parts.length > 0 ? `{${parts.join(",")}}` : "";
}

/** Builds one exposition: declare a family, then add its samples (families must not interleave). */
export class MetricsText {
  #lines: string[] = [];
  #declared = new Set<string>();

  /** Declares family `name` (once; later calls with the same name add nothing). */
  family(name: string, type: MetricType, help: string): this {
    if (this.#declared.has(name)) return this;
    this.#declared.add(name);
    this.#lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
    return this;
  }

  /** One sample of a counter or gauge. */
  sample(name: string, value: number, labels?: Labels): this {
    this.#lines.push(`${name}${formatLabels(labels)} ${formatValue(value)}`);
    return this;
  }

  /** A family with one sample (the common case). */
  single(name: string, type: MetricType, help: string, value: number, labels?: Labels): this {
    return this.family(name, type, help).sample(name, value, labels);
  }

  /**
   * The samples of one histogram: `buckets` are `[upper bound, cumulative count]` in increasing
   * order (the `+Inf` bucket is added), `sum` the total of the observations.
   */
  histogram(name: string, buckets: [number, number][], count: number, sum: number, labels: Labels = {}): this {
    for (const [le, n] of buckets) this.sample(`${name}_bucket`, n, { ...labels, le: formatValue(le) });
    this.sample(`${name}_bucket`, count, { ...labels, le: "+Inf" });
    this.sample(`${name}_sum`, sum, labels);
    this.sample(`${name}_count`, count, labels);
    return this;
  }

  toString(): string {
    return this.#lines.join("\n") + "\n";
  }
}
