/**
 * Policies that concern a device (agent/pipeline/policies.ts over fingerprints/policies.yaml): every policy
 * naming the linked vendor, whatever the relation; none for an unlinked device; a broken file is
 * refused with a coded error naming its line and key.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { AgentError } from '../../agent/errors.js';
import { loadKnowledge } from '../../agent/knowledge/index.js';
import type { Policy } from '../../agent/knowledge/tables.js';
import { policiesFor } from '../../agent/pipeline/policies.js';
import { knowledgeCopies } from '../support/knowledge-copy.js';
import type { Classification } from '../../agent/types.js';

const policies = loadKnowledge().policies;

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
  const copies = knowledgeCopies();
  afterAll(() => copies.removeAll());
  const broken = (edit: (text: string) => string): AgentError => copies.loadError(copies.edited({ 'policies.yaml': edit }));

  it('a vendor that is not a linked vendor, naming the file, line and key', () => {
    const error = broken((t) => t.replace('vendors: [hikvision, dahua]', 'vendors: [hikvision, uniview]'));
    expect(error.code).toBe('CCTV_ERR_FINGERPRINT_DATA');
    expect(error.message).toMatch(/policies\.yaml" is invalid: line \d+: policies\[0\]\.vendors\[1\]: "uniview" is not a linked vendor of vendors\.yaml \(hikvision, dahua\)/);
  });

  it('a duplicate id, and text that is not YAML', () => {
    expect(broken((t) => t.replace('id: us-ndaa-889', 'id: uk-wms-2022-11-24')).message).toMatch(/line \d+: policies\[1\]\.id: policy "uk-wms-2022-11-24" is listed twice/);
    expect(broken((t) => `${t}\npolicies: [\n`).message).toContain('not valid YAML');
  });
});
