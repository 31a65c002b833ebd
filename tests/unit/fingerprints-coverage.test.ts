/**
 * The coverage section of fingerprints/README.md is generated from the data
 * (scripts/fingerprint-coverage.mjs): this test fails when the committed README differs from what
 * the data renders today, e.g. after a rule, vendor, CVE or policy was added without rerunning it.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { COVERAGE_END, COVERAGE_START, coverageMarkdown, withCoverage } from '../../agent/fingerprint/index.js';
import { loadKnowledge } from '../../agent/knowledge/index.js';

const db = loadKnowledge();
const readmePath = join(db.dir, 'README.md');

function rendered(dir: string): string {
  return coverageMarkdown(loadKnowledge(dir));
}

describe('fingerprints/README.md coverage section', () => {
  it('is what scripts/fingerprint-coverage.mjs writes from the data today (rerun it after changing the data)', () => {
    const readme = readFileSync(readmePath, 'utf8');
    expect(readme, 'run: npm run build && node scripts/fingerprint-coverage.mjs').toBe(withCoverage(readme, rendered(db.dir)));
  });

  it('states rules per field, makers and brands with relation and source, the registry, CVEs and policies', () => {
    const md = rendered(db.dir);
    for (const heading of ['### Rules per field', '### Makers and brands', '### OUI registry', '### CVEs', '### Policies']) expect(md).toContain(heading);
    for (const v of db.vendors.values()) expect(md).toContain(`| \`${v.key}\` | ${v.name} |`);
    expect(md).toContain('| `hikvision` | Hikvision | hikvision itself |');
    expect(md).toContain('| `lts` | LTS | oem of hikvision |');
    for (const c of loadKnowledge().cves.cves) expect(md).toContain(`| ${c.id} | ${c.vendor} |`);
    expect(md).toContain('Buildtime before June, 2021');
    for (const p of loadKnowledge().policies) expect(md).toContain(`| \`${p.id}\` |`);
    const totalRules = db.rules.length;
    expect(md).toMatch(new RegExp(`\\| \\*\\*all fields\\*\\* \\| ${new Set(db.files.map((f) => f.file)).size} files \\| ${totalRules} \\|`));
  });
});

describe('staleness is caught', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('a rule added to a copy of the database changes the rendered section', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cctv-coverage-'));
    dirs.push(dir);
    cpSync(db.dir, dir, { recursive: true });
    const path = join(dir, 'kinds', 'brand-label.yaml');
    const doc = parse(readFileSync(path, 'utf8')) as { rules: Record<string, unknown>[] };
    doc.rules.push({
      id: 'label-coverage-test',
      description: 'a rule only this test adds',
      pattern: '^Coverage Test$',
      supports: 'axis',
      claim: 'brand',
      confidence: 0.5,
      source: 'test',
      examples: [{ value: 'Coverage Test' }],
    });
    writeFileSync(path, stringify(doc));
    const before = rendered(db.dir);
    const after = rendered(dir);
    expect(after).not.toBe(before);
    const readme = readFileSync(readmePath, 'utf8');
    expect(withCoverage(readme, after)).not.toBe(readme);
  });

  it('withCoverage replaces only the text between the markers, and needs them', () => {
    const text = `intro\n${COVERAGE_START}\nold\n${COVERAGE_END}\noutro\n`;
    expect(withCoverage(text, 'new\n')).toBe(`intro\n${COVERAGE_START}\nnew\n${COVERAGE_END}\noutro\n`);
    expect(() => withCoverage('no markers here', 'x')).toThrow(/coverage:start/);
  });
});
