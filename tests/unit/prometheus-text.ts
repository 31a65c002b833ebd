/**
 * A strict parser of the Prometheus text exposition format 0.0.4, written from the format's
 * specification (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format)
 * to check what the daemon serves on /metrics. It throws on anything the spec does not allow:
 * a malformed line, name, label or value; a bad escape; HELP or TYPE given twice; TYPE after the
 * family's first sample; a family's samples not in one group; a duplicate sample; no final newline.
 * Histograms and summaries (which the daemon does not emit) are accepted with their suffixes.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  timestamp?: number;
}

export interface MetricFamily {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help?: string;
  samples: Sample[];
}

const METRIC_NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const families = new Map<string, MetricFamily>();
  const finished = new Set<string>();
  let current: string | undefined;
  const family = (name: string): MetricFamily => {
    let f = families.get(name);
    if (!f) {
      f = { name, type: 'untyped', samples: [] };
      families.set(name, f);
    }
    return f;
  };
  const seen = new Set<string>();

  text.split('\n').forEach((line, index) => {
    const where = `line ${index + 1}`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const meta = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (!meta) return; // a comment
      const [, keyword, name = '', rest = ''] = meta;
      if (!new RegExp(`^${METRIC_NAME}$`).test(name)) throw new Error(`${where}: "${name}" is not a metric name`);
      const f = family(name);
      if (keyword === 'HELP') {
        if (f.help !== undefined) throw new Error(`${where}: second HELP for ${name}`);
        f.help = unescape(rest, false, where);
      } else {
        if ((f as { typed?: boolean }).typed) throw new Error(`${where}: second TYPE for ${name}`);
        if (f.samples.length > 0) throw new Error(`${where}: TYPE for ${name} after its samples`);
        if (!TYPES.has(rest)) throw new Error(`${where}: "${rest}" is not a metric type`);
        f.type = rest as MetricFamily['type'];
        (f as { typed?: boolean }).typed = true;
      }
      return;
    }
    const sample = parseSample(line, where);
    const owner = familyOf(sample.name, families);
    if (current !== owner) {
      if (finished.has(owner)) throw new Error(`${where}: samples of ${owner} are not in one group`);
      if (current !== undefined) finished.add(current);
      current = owner;
    }
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (seen.has(key)) throw new Error(`${where}: duplicate sample ${sample.name} ${JSON.stringify(sample.labels)}`);
    seen.add(key);
    family(owner).samples.push(sample);
  });
  for (const f of families.values()) delete (f as { typed?: boolean }).typed;
  return families;
}

/** The family a sample belongs to: its own name, or a histogram/summary base for _bucket, _sum, _count. */
function familyOf(name: string, families: Map<string, MetricFamily>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue;
    const base = families.get(name.slice(0, -suffix.length));
    if (base && (base.type === 'histogram' || base.type === 'summary')) return base.name;
  }
  return name;
}

function parseSample(line: string, where: string): Sample {
  const head = new RegExp(`^(${METRIC_NAME})`).exec(line);
  if (!head?.[1]) throw new Error(`${where}: no metric name in "${line}"`);
  const name = head[1];
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i += 1;
    for (;;) {
      if (line[i] === '}') {
        i += 1;
        break;
      }
      const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(i));
      if (!label?.[1]) throw new Error(`${where}: malformed label at column ${i + 1}`);
      if (!LABEL_NAME.test(label[1])) throw new Error(`${where}: bad label name ${label[1]}`);
      if (Object.hasOwn(labels, label[1])) throw new Error(`${where}: label ${label[1]} given twice`);
      i += label[0].length;
      let raw = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) throw new Error(`${where}: unterminated label value`);
        if (c === '"') break;
        if (c === '\\') {
          raw += c + (line[i + 1] ?? '');
          i += 2;
          continue;
        }
        raw += c;
        i += 1;
      }
      i += 1; // closing quote
      labels[label[1]] = unescape(raw, true, where);
      if (line[i] === ',') i += 1;
      else if (line[i] !== '}') throw new Error(`${where}: expected , or } at column ${i + 1}`);
    }
  }
  const rest = line.slice(i);
  const tail = /^[ \t]+(\S+)(?:[ \t]+(-?\d+))?[ \t]*$/.exec(rest);
  if (!tail?.[1]) throw new Error(`${where}: no value in "${line}"`);
  const value = parseValue(tail[1], where);
  return { name, labels, value, ...(tail[2] === undefined ? {} : { timestamp: Number(tail[2]) }) };
}

function parseValue(text: string, where: string): number {
  if (text === 'NaN') return NaN;
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (!/^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/.test(text)) throw new Error(`${where}: "${text}" is not a sample value`);
  return Number(text);
}

/** HELP text allows \\ and \n; label values also \". Any other escape is an error. */
function unescape(text: string, quoteAllowed: boolean, where: string): string {
  return text.replace(/\\(.?)/g, (_m, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    if (c === '"' && quoteAllowed) return '"';
    throw new Error(`${where}: invalid escape "\\${c}"`);
  });
}
