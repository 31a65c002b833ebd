/**
 * Policies that concern a device (agent/policies.ts over fingerprints/policies.yaml): every policy
 * naming the linked vendor, whatever the relation; none for an unlinked device; a broken file is
 * refused with a coded error.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentError } from '../../agent/errors.js';
import { loadPolicies, policiesFor, readPolicies, type Policy } from '../../agent/policies.js';
import type { Classification } from '../../agent/types.js';

const policies = loadPolicies();

function classification(linkedVendor: Classification['linkedVendor'], relation: Classification['relation']): Classification {
  return { linkedVendor, relation, confidence: 0.9 };
}

describe('fingerprints/policies.yaml', () => {
  it('holds the UK statement, NDAA §889, the FCC Covered List and the Entity List, each with a source', () => {
    expect(policies.map((p) => p.id)).toEqual(['uk-wms-2022-11-24', 'us-ndaa-889', 'us-fcc-covered-list', 'us-entity-list-2019']);
    for (const p of policies) {
      expect(p.vendors).toEqual(['hikvision', 'dahua']);
      expect(p.source.length).toBeGreaterThan(20);
      expect(p.name.length).toBeGreaterThan(10);
    }
    expect(policies.find((p) => p.id === 'uk-wms-2022-11-24')?.scope).toContain('subject to the National Intelligence Law');
    expect(policies.find((p) => p.id === 'us-ndaa-889')?.scope).toContain('any subsidiary or affiliate');
  });
});

describe('policiesFor', () => {
  it('a device linked to Hikvision or Dahua carries every policy naming its vendor, as { id, name }, in file order', () => {
    for (const vendor of ['hikvision', 'dahua'] as const) {
      const found = policiesFor(policies, classification(vendor, 'direct'));
      expect(found).toEqual(policies.map((p) => ({ id: p.id, name: p.name })));
    }
  });

  it('the relation does not matter: OEM and subsidiary devices carry the same policies', () => {
    const direct = policiesFor(policies, classification('hikvision', 'direct'));
    expect(policiesFor(policies, classification('hikvision', 'oem'))).toEqual(direct);
    expect(policiesFor(policies, classification('hikvision', 'subsidiary'))).toEqual(direct);
  });

  it('a device with no linked vendor carries none', () => {
    expect(policiesFor(policies, classification(null, null))).toEqual([]);
  });

  it('only policies naming the vendor apply', () => {
    const table: Policy[] = [
      { id: 'a', name: 'names Dahua only', vendors: ['dahua'], scope: 's', source: 's' },
      { id: 'b', name: 'names both', vendors: ['hikvision', 'dahua'], scope: 's', source: 's' },
    ];
    expect(policiesFor(table, classification('hikvision', 'direct'))).toEqual([{ id: 'b', name: 'names both' }]);
    expect(policiesFor(table, classification('dahua', 'oem')).map((p) => p.id)).toEqual(['a', 'b']);
  });
});

describe('a broken policies.yaml is refused', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  function errorFor(text: string): AgentError {
    const dir = mkdtempSync(join(tmpdir(), 'cctv-policies-'));
    dirs.push(dir);
    const path = join(dir, 'policies.yaml');
    writeFileSync(path, text);
    try {
      readPolicies(path);
    } catch (err) {
      if (err instanceof AgentError) return err;
      throw err;
    }
    throw new Error('expected readPolicies to throw');
  }

  const entry = (id: string, vendors: string): string => `  - id: ${id}\n    name: n\n    vendors: ${vendors}\n    scope: s\n    source: s\n`;

  it('a vendor that is not hikvision or dahua, and a duplicate id, naming the file', () => {
    const unknown = errorFor(`policies:\n${entry('x', '[uniview]')}`);
    expect(unknown.code).toBe('CCTV_ERR_FINGERPRINT_DATA');
    expect(unknown.message).toContain('policies.yaml');
    expect(unknown.message).toContain('must be one of "hikvision", "dahua"');
    expect(errorFor(`policies:\n${entry('x', '[dahua]')}${entry('x', '[hikvision]')}`).message).toContain('policy "x" is listed twice');
    expect(errorFor('policies: [\n').message).toContain('not valid YAML');
  });
});
