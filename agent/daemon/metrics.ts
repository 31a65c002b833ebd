/**
 * A small metrics registry rendered in the Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format): per family one
 * `# HELP` and one `# TYPE` line, then `name{label="value",…} value` samples; HELP text escapes
 * `\` and newline, label values escape `\`, `"` and newline; the output ends with a newline.
 * Written by hand: it is this small, and the daemon needs no client library for it.
 */

export type MetricType = 'counter' | 'gauge';
export type Labels = Readonly<Record<string, string>>;

interface Family {
  type: MetricType;
  help: string;
  samples: Map<string, { labels: Labels; value: number }>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export class MetricsRegistry {
  private readonly families = new Map<string, Family>();

  /** Declares a metric family; its samples appear once set or incremented. */
  define(name: string, type: MetricType, help: string): void {
    if (!NAME.test(name)) throw new Error(`"${name}" is not a Prometheus metric name`);
    if (type === 'counter' && !name.endsWith('_total')) throw new Error(`counter "${name}" must end in _total`);
    this.families.set(name, { type, help, samples: new Map() });
  }

  /** Adds `by` (default 1) to a counter or gauge sample, creating it at 0 first. */
  inc(name: string, labels: Labels = {}, by = 1): void {
    const family = this.family(name);
    if (family.type === 'counter' && by < 0) throw new Error(`counter "${name}" cannot go down`);
    const sample = this.sample(family, labels);
    sample.value += by;
  }

  /** Sets a gauge sample. */
  set(name: string, labels: Labels, value: number): void {
    const family = this.family(name);
    if (family.type !== 'gauge') throw new Error(`"${name}" is a ${family.type}, not a gauge`);
    this.sample(family, labels).value = value;
  }

  /** Drops the gauge samples of `name` whose labels include `match` (e.g. a site's vendor counts before new ones are set). */
  clear(name: string, match: Labels = {}): void {
    const family = this.family(name);
    for (const [key, sample] of family.samples) {
      if (Object.entries(match).every(([k, v]) => sample.labels[k] === v)) family.samples.delete(key);
    }
  }

  render(): string {
    const lines: string[] = [];
    for (const [name, family] of this.families) {
      lines.push(`# HELP ${name} ${escapeHelp(family.help)}`, `# TYPE ${name} ${family.type}`);
      const samples = [...family.samples.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      for (const [, { labels, value }] of samples) lines.push(`${name}${renderLabels(labels)} ${renderValue(value)}`);
    }
    return `${lines.join('\n')}\n`;
  }

  private family(name: string): Family {
    const family = this.families.get(name);
    if (!family) throw new Error(`metric "${name}" is not defined`);
    return family;
  }

  private sample(family: Family, labels: Labels): { labels: Labels; value: number } {
    for (const label of Object.keys(labels)) if (!LABEL_NAME.test(label) || label.startsWith('__')) throw new Error(`"${label}" is not a label name`);
    const key = renderLabels(labels);
    let sample = family.samples.get(key);
    if (!sample) {
      sample = { labels: { ...labels }, value: 0 };
      family.samples.set(key, sample);
    }
    return sample;
  }
}

function renderLabels(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escapeLabelValue(labels[k] ?? '')}"`).join(',')}}`;
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function renderValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
