import { describe, expect, it } from 'vitest';
import { plainVerdict, summarize } from '../../agent/report/summary.js';
import { sampleInventory } from './report-fixture.js';

describe('report summary', () => {
  it('counts devices, linked vendors, relations, CVEs and unidentified devices', () => {
    expect(summarize(sampleInventory())).toEqual({
      devices: 7,
      hikvision: 3,
      dahua: 2,
      byRelation: { direct: 2, oem: 2, subsidiary: 1, unlinked: 2 },
      withCves: 2,
      unidentified: 1,
    });
  });

  it('counts nothing for an empty scan', () => {
    const empty = { ...sampleInventory(), devices: [] };
    expect(summarize(empty)).toEqual({ devices: 0, hikvision: 0, dahua: 0, byRelation: { direct: 0, oem: 0, subsidiary: 0, unlinked: 0 }, withCves: 0, unidentified: 0 });
  });

  it('says in plain words who made a device and what it is sold as', () => {
    const verdicts = sampleInventory().devices.map(plainVerdict);
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
