import { describe, expect, it } from 'vitest';
import { plainVerdict, summarize } from '../../agent/report/summary.js';
import { sampleInventory } from './report-fixture.js';
import { linkedVendorNames } from '../../agent/knowledge/index.js';

const names = linkedVendorNames();

describe('report summary', () => {
  it('counts devices, linked vendors, relations, CVEs and unidentified devices', () => {
    expect(summarize(sampleInventory(), names)).toEqual({
      devices: 7,
      linked: { hikvision: 3, dahua: 2 },
      byRelation: { direct: 2, oem: 2, subsidiary: 1, unlinked: 2 },
      withCves: 2,
      unidentified: 1,
    });
  });

  it('counts nothing for an empty scan', () => {
    const empty = { ...sampleInventory(), devices: [] };
    expect(summarize(empty, names)).toEqual({ devices: 0, linked: { hikvision: 0, dahua: 0 }, byRelation: { direct: 0, oem: 0, subsidiary: 0, unlinked: 0 }, withCves: 0, unidentified: 0 });
  });

  it('names the linked vendors as vendors.yaml spells them, in its order', () => {
    expect([...names]).toEqual([
      ['hikvision', 'Hikvision'],
      ['dahua', 'Dahua'],
    ]);
  });

  it('says in plain words who made a device and what it is sold as', () => {
    const verdicts = sampleInventory().devices.map((d) => plainVerdict(d, names));
    expect(verdicts).toEqual([
      'made by Hikvision',
      'made by Hikvision, sold as LTS (OEM)',
      'made by Dahua',
      'made by Dahua, sold as Amcrest (OEM)',
      'made by a Hikvision subsidiary, sold as EZVIZ',
      'not linked to Hikvision or Dahua (made by Axis)',
      'not linked to Hikvision or Dahua (maker unknown)',
    ]);
  });
});
