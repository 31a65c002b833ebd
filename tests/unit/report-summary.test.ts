import { describe, expect, it } from 'vitest';
import { cveLabel, isFlagged, plainVerdict, summarize } from '../../agent/report/summary.js';
import { cveCell, inventoryTable } from '../../agent/report/table.js';
import { sampleInventory } from './report-fixture.js';
import { linkedVendorNames } from '../../agent/knowledge/index.js';

const names = linkedVendorNames();

describe('report summary', () => {
  it('counts devices, linked vendors, relations, CVEs and unidentified devices', () => {
    expect(summarize(sampleInventory(), names)).toEqual({
      devices: 7,
      linked: { hikvision: 3, dahua: 2 },
      byRelation: { direct: 2, oem: 2, subsidiary: 1, unlinked: 2 },
      // Hikvision (affected), Dahua (an entry without a status), Amcrest (possibly); not LTS, whose CVEs are not-affected and cannot-tell.
      withCves: 3,
      unidentified: 1,
      misaddressed: 0,
    });
  });

  it('counts a device with known CVEs only for affected or possibly-affected entries, and labels each status in words', () => {
    const entries = [
      { id: 'CVE-2021-36260', status: 'affected' },
      { id: 'CVE-2021-36260', status: 'possibly-affected' },
      { id: 'CVE-2021-36260', status: 'not-affected' },
      { id: 'CVE-2021-36260', status: 'cannot-tell' },
      { id: 'CVE-2021-36260' },
    ] as const;
    expect(entries.map(isFlagged)).toEqual([true, true, false, false, true]);
    expect(entries.map(cveLabel)).toEqual([
      'CVE-2021-36260 affected',
      'CVE-2021-36260 possibly',
      'CVE-2021-36260 not affected',
      'CVE-2021-36260 cannot tell',
      'CVE-2021-36260',
    ]);
  });

  it('the terminal table shows each CVE with its status, counts those it is past, and how many devices have known CVEs', () => {
    const [hik, lts, dahua, amcrest, ezviz] = sampleInventory().devices;
    expect([hik, lts, dahua, amcrest, ezviz].map((d) => cveCell(d!))).toEqual([
      'CVE-2021-36260 affected, 1 not affected',
      'CVE-2021-36260 cannot tell, 1 not affected',
      'CVE-2021-33044',
      'CVE-2020-5735 possibly',
      '-',
    ]);
    const table = inventoryTable(sampleInventory(), names);
    expect(table).toContain('CVE-2021-36260 affected, 1 not affected');
    expect(table).toContain('7 device(s), 5 linked to Hikvision or Dahua, 3 with known CVEs (affected or possibly).');
  });

  it('counts nothing for an empty scan', () => {
    const empty = { ...sampleInventory(), devices: [] };
    expect(summarize(empty, names)).toEqual({ devices: 0, linked: { hikvision: 0, dahua: 0 }, byRelation: { direct: 0, oem: 0, subsidiary: 0, unlinked: 0 }, withCves: 0, unidentified: 0, misaddressed: 0 });
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
