/**
 * The discoverer registry owns its vocabulary: each discoverer's name is its scan.methods entry,
 * the fields it declares are in fingerprints/fields.yaml, every rule file reads a field some
 * discoverer emits and names that discoverer's evidence source, and the evidence sources of the
 * types and of the inventory schema are exactly the registry's. (What each discoverer really
 * emits is checked against its declaration in its own unit tests: tests/support/declared-emits.ts.)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { discoverers } from '../../agent/discovery/index.js';
import { repoPath } from '../../agent/paths.js';
import { EVIDENCE_SOURCES } from '../../agent/types.js';
import { declaresField } from '../support/declared-emits.js';

const FINGERPRINTS = repoPath('fingerprints');
const vocabulary = new Set(
  (parseYaml(readFileSync(join(FINGERPRINTS, 'fields.yaml'), 'utf8')) as { fields: { name: string }[] }).fields.map((f) => f.name),
);
const ruleFiles = readdirSync(join(FINGERPRINTS, 'rules'))
  .filter((name) => name.endsWith('.yaml'))
  .map((name) => ({ name, ...(parseYaml(readFileSync(join(FINGERPRINTS, 'rules', name), 'utf8')) as { field: string; source: string }) }));
const schema = JSON.parse(readFileSync(repoPath('schema', 'cctv-inventory-v1.schema.json'), 'utf8')) as {
  $defs: { device: { properties: { evidence: { items: { properties: { source: { enum: string[] } } } } } } };
};

describe('the discoverer registry', () => {
  it('gives each discoverer one unique name, in the form of a scan.methods entry', () => {
    const names = discoverers.map((d) => d.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[a-z0-9]+(?:-[a-z0-9]+)*$/);
  });

  it('declares only fields listed in fields.yaml, each once', () => {
    for (const d of discoverers) {
      expect(new Set(d.emits).size, d.name).toBe(d.emits.length);
      const unknown = d.emits.filter((e) => (e.endsWith('.*') ? ![...vocabulary].some((f) => declaresField([e], f)) : !vocabulary.has(e)));
      expect(unknown, `${d.name} declares fields fields.yaml does not list`).toEqual([]);
    }
  });

  it('emits every field fields.yaml lists (no field without a discoverer)', () => {
    const orphans = [...vocabulary].filter((f) => !discoverers.some((d) => declaresField(d.emits, f)));
    expect(orphans).toEqual([]);
  });

  it('reads every rule file field from a discoverer whose evidence source the file names', () => {
    for (const file of ruleFiles) {
      const emitters = discoverers.filter((d) => declaresField(d.emits, file.field));
      expect(emitters.map((d) => d.name), `${file.name}: no discoverer emits ${file.field}`).not.toEqual([]);
      for (const d of emitters) expect(d.evidence, `${file.name} (source: ${file.source}) reads ${file.field}, which ${d.name} emits`).toBe(file.source);
    }
  });

  it('has exactly the evidence sources of the types and of the inventory schema (plus oui, the MAC registry)', () => {
    const fromRegistry = new Set(['oui', ...discoverers.flatMap((d) => (d.evidence ? [d.evidence] : []))]);
    expect(new Set(EVIDENCE_SOURCES)).toEqual(fromRegistry);
    expect(schema.$defs.device.properties.evidence.items.properties.source.enum).toEqual([...EVIDENCE_SOURCES]);
  });
});
