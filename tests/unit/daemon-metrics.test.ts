import { describe, expect, it } from 'vitest';
import { MetricsRegistry } from '../../agent/daemon/metrics.js';
import { parsePrometheusText } from './prometheus-text.js';

describe('MetricsRegistry', () => {
  it('renders HELP, TYPE and labelled samples that a strict 0.0.4 parser reads back', () => {
    const m = new MetricsRegistry();
    m.define('cctv_agent_sweeps_total', 'counter', 'Sweeps by result.');
    m.define('cctv_agent_devices', 'gauge', 'Devices by "linked" vendor\\site\nsecond line.');
    m.inc('cctv_agent_sweeps_total', { site: 'town-hall', result: 'ok' });
    m.inc('cctv_agent_sweeps_total', { site: 'town-hall', result: 'ok' }, 2);
    m.set('cctv_agent_devices', { site: 'depot "north"\\b\nc', linked_vendor: 'hikvision' }, 4);
    m.set('cctv_agent_devices', { site: 'x', linked_vendor: 'none' }, NaN);
    const text = m.render();
    expect(text.endsWith('\n')).toBe(true);
    const families = parsePrometheusText(text);
    expect(families.get('cctv_agent_sweeps_total')).toEqual({
      name: 'cctv_agent_sweeps_total',
      type: 'counter',
      help: 'Sweeps by result.',
      samples: [{ name: 'cctv_agent_sweeps_total', labels: { result: 'ok', site: 'town-hall' }, value: 3 }],
    });
    const devices = families.get('cctv_agent_devices');
    expect(devices?.help).toBe('Devices by "linked" vendor\\site\nsecond line.');
    expect(devices?.samples.find((s) => s.labels.linked_vendor === 'hikvision')).toEqual({
      name: 'cctv_agent_devices',
      labels: { site: 'depot "north"\\b\nc', linked_vendor: 'hikvision' },
      value: 4,
    });
    expect(Number.isNaN(devices?.samples.find((s) => s.labels.site === 'x')?.value)).toBe(true);
  });

  it('renders a family with no samples as HELP and TYPE only, and clear() removes matching samples', () => {
    const m = new MetricsRegistry();
    m.define('a_total', 'counter', 'A.');
    m.define('b', 'gauge', 'B.');
    m.set('b', { site: 's1', v: 'x' }, 1);
    m.set('b', { site: 's2', v: 'x' }, 2);
    m.clear('b', { site: 's1' });
    expect(m.render()).toBe('# HELP a_total A.\n# TYPE a_total counter\n# HELP b B.\n# TYPE b gauge\nb{site="s2",v="x"} 2\n');
  });

  it('refuses what the format cannot carry: bad names, counters without _total or going down, gauges set as counters', () => {
    const m = new MetricsRegistry();
    expect(() => m.define('9bad', 'gauge', 'x')).toThrow();
    expect(() => m.define('sweeps', 'counter', 'x')).toThrow(/_total/);
    m.define('ok_total', 'counter', 'x');
    expect(() => m.inc('ok_total', {}, -1)).toThrow();
    expect(() => m.set('ok_total', {}, 1)).toThrow(/not a gauge/);
    expect(() => m.inc('ok_total', { 'bad-label': 'x' })).toThrow();
    expect(() => m.inc('undefined_total')).toThrow();
  });
});

describe('the strict exposition parser', () => {
  const bad: Array<[string, string]> = [
    ['no final newline', '# TYPE a gauge\na 1'],
    ['a malformed value', 'a one\n'],
    ['an unknown escape in a label value', 'a{l="\\t"} 1\n'],
    ['an unterminated label value', 'a{l="x} 1\n'],
    ['a second TYPE', '# TYPE a gauge\n# TYPE a gauge\na 1\n'],
    ['TYPE after samples', 'a 1\n# TYPE a gauge\n'],
    ['a family split in two groups', 'a 1\nb 1\na{x="y"} 2\n'],
    ['a duplicate sample', 'a{x="1"} 1\na{x="1"} 2\n'],
    ['an unknown type', '# TYPE a meter\n'],
    ['a label given twice', 'a{x="1",x="2"} 1\n'],
  ];
  it.each(bad)('rejects %s', (_why, text) => {
    expect(() => parsePrometheusText(text)).toThrow();
  });

  it('accepts the spec example: comments, escapes, timestamps, +Inf and a histogram', () => {
    const text = [
      '# HELP http_requests_total The total number of HTTP requests.',
      '# TYPE http_requests_total counter',
      'http_requests_total{method="post",code="200"} 1027 1395066363000',
      'http_requests_total{method="post",code="400"}    3 1395066363000',
      '# Escaping in label values:',
      'msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9',
      'metric_without_timestamp_and_labels 12.47',
      '# HELP http_request_duration_seconds A histogram of the request duration.',
      '# TYPE http_request_duration_seconds histogram',
      'http_request_duration_seconds_bucket{le="0.05"} 24054',
      'http_request_duration_seconds_bucket{le="+Inf"} 144320',
      'http_request_duration_seconds_sum 53423',
      'http_request_duration_seconds_count 144320',
      '',
    ].join('\n');
    const families = parsePrometheusText(text);
    expect(families.get('http_requests_total')?.samples[1]).toEqual({
      name: 'http_requests_total',
      labels: { method: 'post', code: '400' },
      value: 3,
      timestamp: 1395066363000,
    });
    expect(families.get('msdos_file_access_time_seconds')?.samples[0]?.labels).toEqual({ path: 'C:\\DIR\\FILE.TXT', error: 'Cannot find file:\n"FILE.TXT"' });
    expect(families.get('http_request_duration_seconds')?.samples).toHaveLength(4);
  });
});
