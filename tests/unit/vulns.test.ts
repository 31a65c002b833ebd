/**
 * Offline CVE flags (agent/pipeline/vulns.ts over fingerprints/cves.yaml): firmware parsing of the
 * forms public captures and reports show, every boundary just inside, just outside and unknown, OEM firmware, and the
 * flags in a built device. Model names come from the CVE records' families and the public sources
 * cited in fingerprints/; where a
 * model or firmware string is not copied from a public source it is marked as invented.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { AgentError } from '../../agent/errors.js';
import { buildDevice } from '../../agent/pipeline/assess.js';
import { loadKnowledge } from '../../agent/knowledge/index.js';
import { knowledgeCopies } from '../support/knowledge-copy.js';
import { inventoryProblems } from '../support/inventory-schema.js';
import type { LinkedVendor, Observation, Relation } from '../../agent/types.js';
import {
  compareVersions,
  parseBuildDate,
  parseHikvisionFirmware,
  parseVersionNumbers,
  vulnerabilitiesOf,
  type VulnerabilityFlag,
} from '../../agent/pipeline/vulns.js';

const table = loadKnowledge().cves;

function flags(model: string | null, firmware: string | null, linkedVendor: LinkedVendor | null, relation: Relation | null = 'direct'): VulnerabilityFlag[] {
  return vulnerabilitiesOf(table, { model, firmware, linkedVendor, relation });
}

/** id → status of the flags, for compact expectations. */
function statuses(model: string | null, firmware: string | null, linkedVendor: LinkedVendor | null, relation: Relation | null = 'direct'): Record<string, string> {
  return Object.fromEntries(flags(model, firmware, linkedVendor, relation).map((f) => [f.id, f.status]));
}

describe('parseHikvisionFirmware', () => {
  it('reads version and build in the forms the sources show', () => {
    expect(parseHikvisionFirmware(table.firmwareForms, 'V5.4.0 build 160530')).toEqual({ version: [5, 4, 0], build: '160530' });
    expect(parseHikvisionFirmware(table.firmwareForms, 'V5.6.2build 190701')).toEqual({ version: [5, 6, 2], build: '190701' });
    expect(parseHikvisionFirmware(table.firmwareForms, 'V5.4.0 Build 160401')).toEqual({ version: [5, 4, 0], build: '160401' });
    expect(parseHikvisionFirmware(table.firmwareForms, 'V4.82.000 build 240224')).toEqual({ version: [4, 82, 0], build: '240224' });
    expect(parseHikvisionFirmware(table.firmwareForms, 'V7.3 build 190626')).toEqual({ version: [7, 3], build: '190626' });
    expect(parseHikvisionFirmware(table.firmwareForms, ' V5.7.12 ')).toEqual({ version: [5, 7, 12], build: null });
  });

  it('refuses what is not that form, and impossible build dates', () => {
    for (const text of ['', 'B-R-E8-0', 'build 160530', 'V5.4.0 build 16053', 'V5.4.0 build 161332', 'V5.4.0 build 160230', '2.800.0000000.13.R', 'V5.4.0 build 160530 extra', 'V5', `V5.4.0 build ${'1'.repeat(5000)}`]) {
      expect(parseHikvisionFirmware(table.firmwareForms, text), text.slice(0, 40)).toBeNull();
    }
  });
});

describe('parseBuildDate', () => {
  it('reads Hikvision build codes (YYMMDD) as dates of this century', () => {
    expect(parseBuildDate(table.firmwareForms, 'V5.5.0 build 170725')).toBe('2017-07-25');
    expect(parseBuildDate(table.firmwareForms, 'V5.6.2build 190701')).toBe('2019-07-01');
    expect(parseBuildDate(table.firmwareForms, 'V4.30.210 Build201224')).toBe('2020-12-24');
    expect(parseBuildDate(table.firmwareForms, 'V5.5.0 build 171325')).toBeNull();
    expect(parseBuildDate(table.firmwareForms, 'V5.5.0 build 1707251')).toBeNull();
  });

  it('reads the build date from the Dahua web UI, CGI and OEM forms', () => {
    expect(parseBuildDate(table.firmwareForms, 'V2.800.0000018.0.R, Build Date: 2021-07-07')).toBe('2021-07-07');
    expect(parseBuildDate(table.firmwareForms, '2.800.0000000.13.R, Build Date: 2021-07-07')).toBe('2021-07-07');
    expect(parseBuildDate(table.firmwareForms, '4.001.0000005.0,build:2020-11-17')).toBe('2020-11-17');
    expect(parseBuildDate(table.firmwareForms, '3.200.0000011.1.R,build:2024-06-19')).toBe('2024-06-19');
    expect(parseBuildDate(table.firmwareForms, 'V2.400.AC01.15.R.20170328')).toBe('2017-03-28');
    expect(parseBuildDate(table.firmwareForms, 'V2.800.0000000.25.R, Build Date: 2021-07-15')).toBe('2021-07-15');
    // The fixed builds of the CVE-2020-5735 record end in YYMMDD.
    expect(parseBuildDate(table.firmwareForms, '2.623.00AC004.0.R.200316')).toBe('2020-03-16');
  });

  it('gives null when no date is shown or the date is impossible', () => {
    for (const text of ['2.800.0000000.13.R', '3.210.IB01.3', 'build:2021-02-30', 'Build Date: 2021-13-01', 'V2.400.AC01.15.R.20171399', '', 'x'.repeat(10000)]) {
      expect(parseBuildDate(table.firmwareForms, text), text.slice(0, 40)).toBeNull();
    }
  });
});

describe('versions and boundaries', () => {
  it('compares versions with missing numbers as 0', () => {
    expect(parseVersionNumbers(table.firmwareForms, 'V2.3.8-8')).toEqual([2, 3, 8, 8]);
    expect(parseVersionNumbers(table.firmwareForms, 'v1.1.4 ')).toEqual([1, 1, 4]);
    expect(parseVersionNumbers(table.firmwareForms, 'beta')).toBeNull();
    expect(compareVersions([2, 3, 8], [2, 3, 8, 0])).toBe(0);
    expect(compareVersions([2, 3, 8], [2, 3, 8, 8])).toBe(-1);
    expect(compareVersions([2, 10], [2, 9, 9])).toBe(1);
  });
});

describe('the CVE table', () => {
  it('holds every Hikvision, Dahua and Dahua-OEM CVE of the CISA KEV catalogue and the others of the issue, in id order, with sources', () => {
    const ids = table.cves.map((c) => c.id);
    // KEV: cisagov/kev-data known_exploited_vulnerabilities.json@eacf03ec6637cc7be6d3d4ed50785493da5126a2 (catalogue 2025.08.25).
    for (const id of ['CVE-2020-5735', 'CVE-2021-33044', 'CVE-2021-33045', 'CVE-2021-36260']) expect(ids).toContain(id);
    for (const id of ['CVE-2017-7921', 'CVE-2022-30563', 'CVE-2023-28808', 'CVE-2025-31700', 'CVE-2025-31701', 'CVE-2025-66177']) expect(ids).toContain(id);
    expect(ids).toEqual([...ids].sort());
    for (const c of table.cves) {
      expect(c.source).toMatch(/^https?:\/\//);
      expect(c.families.length).toBeGreaterThan(0);
      for (const f of c.families) expect(f.interpretation.length).toBeGreaterThan(0);
    }
    const kev = Object.fromEntries(table.cves.map((c) => [c.id, c.kev]));
    expect(kev).toMatchObject({ 'CVE-2020-5735': '2021-11-03', 'CVE-2021-36260': '2022-01-10', 'CVE-2021-33044': '2024-08-21', 'CVE-2021-33045': '2024-08-21' });
  });
});

describe('Hikvision version + build ranges (CVE-2017-7921 / 7923, DS-2CD2xx2F-I: V5.2.0 build 140721 to V5.4.0 build 160530)', () => {
  // DS-2CD2132F-IS: a DS-2CD2xx2F-I Series camera (the model name is a common one, not from the record).
  const model = 'DS-2CD2132F-IS';

  it('upper end, just inside: affected', () => {
    const found = flags(model, 'V5.4.0 build 160530', 'hikvision').filter((f) => f.id === 'CVE-2017-7921');
    expect(found).toEqual([
      {
        id: 'CVE-2017-7921',
        status: 'affected',
        severity: 'critical',
        kev: null,
        reason: 'model DS-2CD2132F-IS is in "DS-2CD2xx2F-I Series"; firmware "V5.4.0 build 160530" is within "V5.2.0 build 140721 to V5.4.0 build 160530"',
        source: 'https://ics-cert.us-cert.gov/advisories/ICSA-17-124-01',
      },
    ]);
    expect(statuses(model, 'V5.4.0 build 160530', 'hikvision')).toMatchObject({ 'CVE-2017-7921': 'affected', 'CVE-2017-7923': 'affected' });
  });

  it('upper end, just outside: not-affected for 7921/7923, with the reason', () => {
    const s = statuses(model, 'V5.4.0 build 160531', 'hikvision');
    expect(s).toMatchObject({ 'CVE-2017-7921': 'not-affected', 'CVE-2017-7923': 'not-affected' });
    expect(flags(model, 'V5.4.0 build 160531', 'hikvision')[0]?.reason).toBe(
      'model DS-2CD2132F-IS is in "DS-2CD2xx2F-I Series"; firmware "V5.4.0 build 160531" is past "V5.2.0 build 140721 to V5.4.0 build 160530"',
    );
  });

  it('lower end: build 140721 inside, 140720 outside; the no-space form reads too', () => {
    expect(statuses(model, 'V5.2.0 build 140721', 'hikvision')['CVE-2017-7921']).toBe('affected');
    expect(statuses(model, 'V5.2.0build 140721', 'hikvision')['CVE-2017-7921']).toBe('affected');
    expect(statuses(model, 'V5.2.0 build 140720', 'hikvision')['CVE-2017-7921']).toBe('not-affected');
  });

  it('a later version with an earlier build is outside (version first, then build)', () => {
    expect(statuses(model, 'V5.4.1 build 160101', 'hikvision')['CVE-2017-7921']).toBe('not-affected');
    expect(statuses(model, 'V5.1.9 build 170101', 'hikvision')['CVE-2017-7921']).toBe('not-affected');
  });

  it('a bare version: strictly inside is affected, a range end is possibly-affected (only the family matches), outside is not-affected', () => {
    expect(statuses(model, 'V5.3.0', 'hikvision')['CVE-2017-7921']).toBe('affected');
    expect(statuses(model, 'V5.4.0', 'hikvision')['CVE-2017-7921']).toBe('possibly-affected');
    expect(statuses(model, 'V5.2.0', 'hikvision')['CVE-2017-7921']).toBe('possibly-affected');
    expect(statuses(model, 'V5.4.1', 'hikvision')['CVE-2017-7921']).toBe('not-affected');
  });

  it('no firmware: cannot-tell; unreadable firmware: possibly-affected (only the family matches), never "not vulnerable"', () => {
    const unknown = flags(model, null, 'hikvision').find((f) => f.id === 'CVE-2017-7921');
    expect(unknown?.status).toBe('cannot-tell');
    expect(unknown?.reason).toContain('its firmware is not known');
    const unreadable = flags(model, 'B-R-E8-0', 'hikvision').find((f) => f.id === 'CVE-2017-7921');
    expect(unreadable?.status).toBe('possibly-affected');
    expect(unreadable?.reason).toContain('"B-R-E8-0" is not in a form');
  });

  it('each family keeps its own range: DS-2DFx ends at V5.4.5 build 160928', () => {
    // DS-2DF8223I-AEL: a DS-2DFx PTZ model name (invented suffix).
    expect(statuses('DS-2DF8223I-AEL', 'V5.4.5 build 160928', 'hikvision')['CVE-2017-7921']).toBe('affected');
    expect(statuses('DS-2DF8223I-AEL', 'V5.4.5 build 160929', 'hikvision')['CVE-2017-7921']).toBe('not-affected');
    expect(statuses('DS-2DF8223I-AEL', 'V5.2.0 build 140804', 'hikvision')['CVE-2017-7921']).toBe('not-affected');
    // The same firmware on a DS-2CD2xx2F-I camera is past that family's range.
    expect(statuses(model, 'V5.4.5 build 160928', 'hikvision')['CVE-2017-7921']).toBe('not-affected');
  });

  it('an OEM rebrand under the maker\'s model name is judged like the maker\'s own, and the reason says so', () => {
    const oem = vulnerabilitiesOf(table, { model, firmware: 'V5.4.0 build 160530', linkedVendor: 'hikvision', relation: 'oem', brand: 'LTS' }).find((f) => f.id === 'CVE-2017-7921');
    expect(oem?.status).toBe('affected');
    expect(oem?.reason).toContain("an OEM unit sold as LTS, judged against Hikvision's boundaries (its firmware follows Hikvision's version/build scheme)");
    expect(statuses(model, 'V5.4.0 build 160530', 'hikvision', 'subsidiary')['CVE-2017-7921']).toBe('affected');
  });

  it('other vendors and unlinked devices get nothing; a model-less device only what its firmware line says', () => {
    expect(flags(model, 'V5.4.0 build 160530', 'dahua')).toEqual([]);
    expect(flags(model, 'V5.4.0 build 160530', null, null)).toEqual([]);
    expect(statuses(null, 'V5.4.0 build 160530', 'hikvision')).toEqual({ 'CVE-2017-7921': 'possibly-affected', 'CVE-2017-7923': 'possibly-affected', 'CVE-2021-36260': 'possibly-affected' });
    expect(flags('  ', null, 'hikvision')).toEqual([]);
  });
});

describe('firmware lines: a model the families do not name, on the maker\'s firmware', () => {
  // LTS CMIP8242W-28M (tests/lab/profiles/lts.json): a Hikvision OEM camera on V5.x firmware.
  const lts = (firmware: string | null) => vulnerabilitiesOf(table, { model: 'CMIP8242W-28M', firmware, linkedVendor: 'hikvision', relation: 'oem', brand: 'LTS' });

  it('an OEM camera built before 210625 is possibly-affected by CVE-2021-36260 and past the 2017 ranges', () => {
    const found = lts('V5.6.5 build 200316');
    expect(found.map((f) => [f.id, f.status])).toEqual([
      ['CVE-2017-7921', 'not-affected'],
      ['CVE-2017-7923', 'not-affected'],
      ['CVE-2021-36260', 'possibly-affected'],
    ]);
    expect(found[2]?.reason).toBe(
      'model CMIP8242W-28M is in no row of the advisory, but its firmware is Hikvision IP camera firmware V5.x ' +
        '(https://github.com/watchfulip/watchfulip.github.io/blob/382e644b67b5a4f943d404e97e9d9008a360d4d3/_posts/2021-09-18-Hikvision-IP-Camera-Unauthenticated-RCE.md); ' +
        'firmware "V5.6.5 build 200316" was built 2020-03-16, within "Versions which Build time before 210625 (the advisory\'s camera and PTZ rows)"; ' +
        "only the build matches, not the model; an OEM unit sold as LTS, judged against Hikvision's boundaries (its firmware follows Hikvision's version/build scheme)",
    );
  });

  it('the same camera built after the fix is not-affected; without firmware nothing ties it to a CVE', () => {
    expect(lts('V5.7.3 build 220112').map((f) => [f.id, f.status])).toEqual([
      ['CVE-2017-7921', 'not-affected'],
      ['CVE-2017-7923', 'not-affected'],
      ['CVE-2021-36260', 'not-affected'],
    ]);
    expect(lts(null)).toEqual([]);
    expect(lts('V5.6.5')).toEqual([]);
  });

  it('a subsidiary (EZVIZ) runs its own firmware lines: nothing', () => {
    expect(statuses('CS-C6N-B0-1G2WF', 'V5.3.0 build 200623', 'hikvision', 'subsidiary')).toEqual({});
  });

  it('recorders: the two HSRC-202109-01 recorder rows, and the span for recorders the rows do not name', () => {
    const cve36260 = (model: string, firmware: string): string | undefined => statuses(model, firmware, 'hikvision')['CVE-2021-36260'];
    expect(cve36260('DS-7608NI-K1/4P', 'V4.31.000 build 210511')).toBe('affected');
    expect(cve36260('DS-7608NI-K1/4P', 'V4.31.100 build 210511')).toBe('not-affected');
    expect(cve36260('DS-7104NI-Q1/4P', 'V4.31.100 build 210511')).toBe('affected');
    expect(statuses('DS-7608NI-I2/8P', 'V4.31.100 build 210511', 'hikvision')).toEqual({ 'CVE-2021-36260': 'possibly-affected' });
    expect(statuses('DS-7608NI-I2/8P', 'V4.82.000build 240224', 'hikvision')).toEqual({});
  });
});

describe('CVE-2021-36260 (HSRC-202109-01): the advisory\'s rows decide', () => {
  it('a G2 camera built after 210625 is not-affected, naming the advisory row', () => {
    const [flag] = flags('DS-2CD2143G2-I', 'V5.7.12 build 220819', 'hikvision').filter((f) => f.id === 'CVE-2021-36260');
    expect(flag).toMatchObject({ id: 'CVE-2021-36260', status: 'not-affected', severity: 'critical', kev: '2022-01-10' });
    expect(flag?.reason).toContain('is in "DS-2CD2xx3G2" (watchfulip/watchfulip.github.io 2021/09/18/models1.jpg@');
    expect(flag?.reason).toContain('was built 2022-08-19, at or past the fix ("Versions which Build time before 210625")');
    expect(flag?.source).toMatch(/^https:\/\/www\.hikvision\.com\//);
  });

  it('just inside and at the boundary, cameras (210625) and thermal (210702)', () => {
    expect(statuses('DS-2CD2386G2-IU', 'V5.5.800 build 210624', 'hikvision')['CVE-2021-36260']).toBe('affected');
    expect(statuses('DS-2CD2386G2-IU', 'V5.5.800 build 210625', 'hikvision')['CVE-2021-36260']).toBe('not-affected');
    expect(statuses('DS-2TD2617-10/PA', 'V5.5.30 build 210701', 'hikvision')['CVE-2021-36260']).toBe('affected');
    expect(statuses('DS-2TD2617-10/PA', 'V5.5.30 build 210702', 'hikvision')['CVE-2021-36260']).toBe('not-affected');
  });

  it('analogue cameras get nothing', () => {
    expect(flags('DS-2CE16D0T-IRF', null, 'hikvision')).toEqual([]);
  });
});

describe('Dahua build dates (CVE-2021-33044 before June 2021, CVE-2021-33045 cameras before May 2020)', () => {
  // DH-IPC-HDW3441T-ZS: an IPC-HX3XXX camera (model name of the family's shape, not from a capture).
  const model = 'DH-IPC-HDW3441T-ZS';

  it('33044 just inside (built 2021-05-31), just outside (2021-06-01)', () => {
    expect(statuses(model, '2.800.0000000.13.R, Build Date: 2021-05-31', 'dahua')).toEqual({ 'CVE-2021-33044': 'affected', 'CVE-2021-33045': 'not-affected' });
    expect(statuses(model, '2.800.0000000.13.R, Build Date: 2021-06-01', 'dahua')).toEqual({ 'CVE-2021-33044': 'not-affected', 'CVE-2021-33045': 'not-affected' });
  });

  it('33045 just inside (built 2020-04-30), just outside (2020-05-01)', () => {
    expect(statuses(model, '2.800.0000000.5.R,build:2020-04-30', 'dahua')).toEqual({ 'CVE-2021-33044': 'affected', 'CVE-2021-33045': 'affected' });
    expect(statuses(model, '2.800.0000000.5.R,build:2020-05-01', 'dahua')).toEqual({ 'CVE-2021-33044': 'affected', 'CVE-2021-33045': 'not-affected' });
  });

  it('no build date shown: possibly-affected (only the family matches); no firmware: cannot-tell', () => {
    expect(statuses(model, '2.800.0000000.13.R', 'dahua')).toEqual({ 'CVE-2021-33044': 'possibly-affected', 'CVE-2021-33045': 'possibly-affected' });
    const [flag] = flags(model, null, 'dahua');
    expect(flag?.status).toBe('cannot-tell');
    expect(flag?.reason).toBe('model DH-IPC-HDW3441T-ZS is in "IPC-HX3XXX"; its firmware is not known, so it cannot be told whether it is within "Buildtime before June, 2021"');
  });

  it('OEM firmware (an OEM code in the build field) inside the range is judged against Dahua\'s boundaries, and says so', () => {
    expect(statuses('IPC-HDW5231R-ZE', 'V2.400.AC01.15.R.20170328', 'dahua', 'oem')).toEqual({ 'CVE-2021-33044': 'affected', 'CVE-2021-33045': 'affected' });
    const [flag] = flags('IPC-HDW5231R-ZE', 'V2.400.AC01.15.R.20170328', 'dahua', 'direct');
    expect(flag?.status).toBe('affected');
    expect(flag?.reason).toContain("firmware with an OEM build code, judged against Dahua's boundaries");
  });

  it('recorders: NVR5XXX, NVR6XX and XVR5xxx before December 2019 (33045 only)', () => {
    expect(statuses('NVR5216-4KS2', '4.001.0000000.1.R,build:2019-11-30', 'dahua')).toEqual({ 'CVE-2021-33045': 'affected' });
    expect(statuses('NVR5216-4KS2', '4.001.0000000.1.R,build:2019-12-01', 'dahua')).toEqual({ 'CVE-2021-33045': 'not-affected' });
    expect(statuses('NVR608-32-4KS2', null, 'dahua')).toEqual({ 'CVE-2021-33045': 'cannot-tell' });
    expect(statuses('DH-XVR5108C-X', null, 'dahua')).toEqual({ 'CVE-2021-33045': 'cannot-tell' });
    expect(statuses('NVR4104HS-P-4KS2', null, 'dahua')).toEqual({});
    expect(statuses('NVR6108', null, 'dahua')).toEqual({});
  });

  it('other families: a 2-series camera is outside 33044/33045, inside CVE-2022-30563 (before April 2022) and in a CVE-2025-31700/31701 series', () => {
    const series = { 'CVE-2025-31700': 'possibly-affected', 'CVE-2025-31701': 'possibly-affected' };
    expect(statuses('IPC-HFW2431S-S-S2', '2.800.0000000.13.R, Build Date: 2022-03-31', 'dahua')).toEqual({ 'CVE-2022-30563': 'affected', ...series });
    expect(statuses('IPC-HFW2431S-S-S2', '2.800.0000000.13.R, Build Date: 2022-04-01', 'dahua')).toEqual({ 'CVE-2022-30563': 'not-affected', ...series });
    expect(statuses('IPC-HUM7243-S', 'build:2021-01-01', 'dahua')).toEqual({ 'CVE-2021-33044': 'affected', 'CVE-2021-33045': 'not-affected' });
    expect(statuses('VTH5421H', 'build:2019-01-01', 'dahua')).toEqual({ 'CVE-2021-33044': 'affected', 'CVE-2021-33045': 'affected' });
    expect(statuses('TPC-BF5421-T', 'build:2021-01-01', 'dahua')).toEqual({ 'CVE-2021-33044': 'affected' });
  });

  it('a series the record names only for "certain models" is possibly-affected inside, not-affected past it', () => {
    const [flag] = flags('DH-IPC-HDW1230T2', '2.800.0000000.13.R, Build Date 2021-07-07', 'dahua');
    expect(flag?.status).toBe('possibly-affected');
    expect(flag?.reason).toContain('but the advisory says only certain models of the series are affected');
    expect(statuses('DH-IPC-HDW1230T2', 'V2.800.0000000.25.R, Build Date: 2025-04-16', 'dahua')).toEqual({ 'CVE-2025-31700': 'not-affected', 'CVE-2025-31701': 'not-affected' });
  });

  it('models seen in public sources that no family names get nothing', () => {
    for (const m of ['IPC-A22E', 'DHI-VTO2111D-P-S2']) expect(flags(m, 'build:2019-01-01', 'dahua'), m).toEqual([]);
  });
});

describe('fixed builds per line (CVE-2020-5735, Amcrest: the record\'s own builds, no OEM note)', () => {
  const amcrest = (model: string, firmware: string | null) => vulnerabilitiesOf(table, { model, firmware, linkedVendor: 'dahua', relation: 'oem', brand: 'Amcrest' });

  it('a listed line before, at and after its fix', () => {
    expect(amcrest('IP2M-841', '2.420.AC00.17.R.20200216').map((f) => f.status)).toEqual(['affected']);
    expect(amcrest('IP2M-841', '2.420.AC00.18.R.20200217').map((f) => f.status)).toEqual(['not-affected']);
    expect(amcrest('IP8M-2496EB', 'V2.800.00AC000.0.R.20200329').map((f) => f.status)).toEqual(['affected']);
    expect(amcrest('IP8M-2496EB', 'V2.800.00AC000.0.R.20200330').map((f) => f.status)).toEqual(['not-affected']);
    expect(amcrest('NV4108E-HS', '4.000.00AC000.0.R.200217').map((f) => f.status)).toEqual(['affected']);
  });

  it('a line the record does not list, or no build date: possibly-affected; no firmware: cannot-tell', () => {
    const [flag] = amcrest('IP2M-841', '2.400.AC01.15.R');
    expect(flag?.status).toBe('possibly-affected');
    expect(flag?.reason).toContain('is on a line for which "before 2.623.00AC004.0.R.200316');
    expect(flag?.reason).not.toContain('OEM');
    expect(amcrest('IP2M-841', '2.420.AC00.18.R').map((f) => f.status)).toEqual(['possibly-affected']);
    expect(amcrest('IP2M-841', null).map((f) => f.status)).toEqual(['cannot-tell']);
  });
});

describe('version lines (CVE-2023-28808, Hybrid SAN: V2.X up to V2.3.8-8, -CVS: V1.X up to V1.1.4)', () => {
  it('just inside, just outside, other lines', () => {
    expect(statuses('DS-A71024R', 'V2.3.8-8', 'hikvision')).toEqual({ 'CVE-2023-28808': 'affected' });
    expect(statuses('DS-A71024R', 'V2.3.8', 'hikvision')).toEqual({ 'CVE-2023-28808': 'affected' });
    expect(statuses('DS-A71024R', 'V2.3.8-9', 'hikvision')).toEqual({ 'CVE-2023-28808': 'not-affected' });
    expect(statuses('DS-A71024R', 'V2.3.9', 'hikvision')).toEqual({ 'CVE-2023-28808': 'not-affected' });
    expect(statuses('DS-A71024R', 'V1.1.4', 'hikvision')).toEqual({ 'CVE-2023-28808': 'not-affected' });
    expect(statuses('DS-A71048R-CVS', 'V1.1.4', 'hikvision')).toEqual({ 'CVE-2023-28808': 'affected' });
    expect(statuses('DS-A71048R-CVS', 'V1.1.5', 'hikvision')).toEqual({ 'CVE-2023-28808': 'not-affected' });
    expect(statuses('DS-A71048R-CVS', 'V2.3.8-8', 'hikvision')).toEqual({ 'CVE-2023-28808': 'not-affected' });
    expect(statuses('DS-A80624S', null, 'hikvision')).toEqual({ 'CVE-2023-28808': 'cannot-tell' });
  });
});

describe('every boundary of every family: just inside, just outside, unknown', () => {
  /** The CVE-2021-36260 rows (HSRC-202109-01), one model name of each row's shape. */
  const hsrc202109: Record<string, string> = {
    'DS-2CVxxx1, DS-2CVxxx5, DS-2CVxxx6': 'DS-2CV2041G2-IDW',
    'HWI-xxxx': 'HWI-B120-D/W',
    'IPC-xxxx': 'IPC-T240H',
    'DS-2CD1xx1': 'DS-2CD1021-I',
    'DS-2CD1x23, DS-2CD1x43 (B), DS-2CD1x43 (C), DS-2CD1x43G0E, DS-2CD1x53 (B), DS-2CD1x53 (C)': 'DS-2CD1043G0-I',
    'DS-2CD1xx7G0': 'DS-2CD1047G0-L',
    'DS-2CD2xx6G2, DS-2CD2xx7G2': 'DS-2CD2T47G2-L',
    'DS-2CD2xx2WD': 'DS-2CD2T42WD-I8',
    'DS-2CD2x21G0': 'DS-2CD2021G0-I',
    'DS-2CD2xx3G2': 'DS-2CD2143G2-I',
    'DS-2CD3xx6G2, DS-2CD3xx7G2': 'DS-2CD3T56G2-4IS',
    'DS-2CD3xx7G0E': 'DS-2CD3147G0E-LIS',
    'DS-2CD3x21G0, DS-2CD3x51G0': 'DS-2CD3021G0-I',
    'DS-2CD3xx3G2': 'DS-2CD3143G2-IS',
    'DS-2CD4xx0, DS-2CD4xx6, DS-2CD5xx7, DS-2CD5xx5, iDS-2XM6810, iDS-2CD6810': 'DS-2CD4026FWD-AP',
    'DS-2XE62x7FWD (D), DS-2XE30x6FWD (B), DS-2XE60x6FWD (B), DS-2XE62x2F (D), DS-2XC66x5G0, DS-2XE64x2F (B)': 'DS-2XE6242F-IS/316L',
    'DS-2CD7xx6G0, DS-2CD8Cx6G0': 'DS-2CD7A26G0-IZS',
    'KBA18(C)-83x6FWD': 'KBA18C-8326FWD',
    '(i)DS-2DExxxx, (i)DS-2PTxxxx, (i)DS-2SE7xxxx, iDS-2PT9xxxx': 'DS-2DE4425IW-DE',
    'DS-2DYHxxxx, DS-DY9xxxx, PTZ-Nxxxx, HWP-Nxxxx': 'PTZ-N4215I-DE',
    'DS-2DF5xxxx, DS-2DF6xxxx, DS-2DF6xxxx-Cx, DS-2DF7xxxx, DS-2DF8xxxx, DS-2DF9xxxx': 'DS-2DF8425IX-AELW',
    'iDS-2SK7xxxx, iDS-2SK8xxxx, iDS-2SR8xxxx, iDS-2VSxxxx': 'iDS-2VS435-F840-EY',
    'DS-2TBxxx, DS-Bxxxx, DS-2TDxxxxB': 'DS-2TB21-2',
    'DS-2TD1xxx-xx, DS-2TD2xxx-xx': 'DS-2TD2617-10/PA',
    'DS-2TD41xx-xx/Wx, DS-2TD62xx-xx/Wx, DS-2TD81xx-xx/Wx, DS-2TD4xxx-xx/V2, DS-2TD62xx-xx/V2, DS-2TD81xx-xx/V2': 'DS-2TD4166-25/V2',
    'DS-76xxNI-K1xxxxxxxxx, DS-76xxNI-Qxxxxxxxxx, DS-HiLookI-NVR-1xxMHxxxxx, DS-HiLookI-NVR-2xxMHxxxxx, DS-HiWatchI-HWN-41xxMHxxxxx, DS-HiWatchI-HWN-42xxMHxxxxx':
      'DS-7608NI-K1/4P',
    'DS-71xxNI-Q1xxxxxxxxx, DS-HiLookI-NVR-1xxMHxxxxx, DS-HiLookI-NVR-1xxHxxxxx, DS-HiWatchI-HWN-21xxMHxxxxx, DS-HiWatchI-HWN-21xxHxxxxx': 'DS-7104NI-Q1/4P',
  };
  // One model per family, of the family's shape (the records give masks, not model names; these are
  // common or invented names that fit exactly one family of their CVE).
  const sample: Record<string, string> = {
    ...hsrc202109,
    'DS-2CD2xx2F-I Series': 'DS-2CD2132F-IS',
    'DS-2CD2xx0F-I Series': 'DS-2CD2120F-IWS',
    'DS-2CD2xx2FWD Series': 'DS-2CD2142FWD-IS',
    'DS-2CD4x2xFWD Series': 'DS-2CD4124FWD-IZ',
    'DS-2CD4xx5 Series': 'DS-2CD4035FWD-AP',
    'DS-2DFx Series': 'DS-2DF8223I-AEL',
    'DS-2CD63xx Series': 'DS-2CD6332FWD-IV',
    'Amcrest cameras and NVR': 'IP2M-841',
    'IPC-HX3XXX': 'IPC-HDW3441T-ZS',
    'IPC-HX5XXX': 'DH-IPC-HFW5241E-Z12E',
    'IPC-HUM7XXX': 'IPC-HUM7243-S',
    VTO75X95X: 'VTO9541D',
    VTO65XXX: 'VTO6521H',
    VTH542XH: 'VTH5421H',
    'PTZ Dome Camera SD1A1, SD22, SD49, SD50, SD52C, SD6AL': 'SD49225XA-HNR',
    'Thermal TPC-BF1241, TPC-BF2221, TPC-SD2221, TPC-BF5XXX, TPC-SD8X21, TPC-PT8X21B': 'TPC-BF5421-T',
    'NVR1XXX, NVR2XXX, NVR5XXX': 'NVR5216-4KS2',
    NVR6XX: 'NVR608-32-4KS2',
    'XVR4xxx, XVR5xxx, XVR7xxx': 'XVR5108C-X',
    IPCHDBW2XXX: 'IPC-HDBW2431E-S-S2',
    IPCHFW2XXX: 'IPC-HFW2431S-S-S2',
    ASI7XXXX: 'ASI7213X-T1',
    'DS-A71024/48/72R, DS-A80624S, DS-A81016S, DS-A72024/72R, DS-A80316S, DS-A82024D': 'DS-A71024R',
    'DS-A71024/48R-CVS, DS-A72024/48R-CVS': 'DS-A72048R-CVS',
    'IPC-1XXX': 'DH-IPC-HDW1230T2',
    'IPC-2XXX': 'IPC-HFW2831S-S-S2',
    'IPC-WX': 'IPC-WPT5839DD', // invented: a Wi-Fi name outside series 1 and 2
    'IPC-ECXX': 'IPC-EC3-T',
    'SD3A, SD2A, SD3D, SDT2A, SD2C': 'SD3A400-GN-HI',
    // CVE-2025-66177: the recorder families by the words before their list of masks.
    'Recorders DS-…NI, DS-…NXI': 'DS-7608NXI-K2/8P',
    'Recorders iDS-…NXI': 'iDS-7716NXI-M4/X',
    'DVRs DS-/iDS-…HGHI, …HQHI, …HUHI, …HTHI': 'iDS-7204HQHI-M1/E',
    'DS-A806xxSI, DS-AT1000SI': 'DS-A80624SI',
    'DS-2CD1xxxG2, DS-2CD3xx1G2, HWI-xxxxHA, IPC-xxxxHA': 'DS-2CD1043G2-LIU',
    'DS-2CD2Dx5G1, DS-2CD64x5G1': 'DS-2CD2D25G1-D/NF',
    'DS-2CD29xxG0': 'DS-2CD2955G0-ISU',
    'DS-2XE6xxxG0, DS-2XC6xxxG0': 'DS-2XC6645G0-IZHRS', // invented: the mask's shape
    'DS-2CD1xxxG0(T), DS-2CD1xx1, DS-2CD3xx1G0, DS-2CD2xx1G0, IPC-xxxxH, HWI-xxxH(C)': 'DS-2CD1023G0E-I',
  };

  /** YYMMDD (or YYYY-MM-DD) moved by `days`, in the same form. */
  function shift(date: string, days: number): string {
    const iso = date.length === 6 ? `20${date.slice(0, 2)}-${date.slice(2, 4)}-${date.slice(4, 6)}` : date;
    const moved = new Date(Date.parse(`${iso}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
    return date.length === 6 ? moved.slice(2).replace(/-/g, '') : moved;
  }

  for (const cve of table.cves) {
    for (const family of cve.families) {
      it(`${cve.id} "${family.name}"`, () => {
        const model = sample[family.name] ?? sample[family.name.split(':')[0]!];
        expect(model, `add a sample model for "${family.name}" to this test`).toBeDefined();
        if (!model) return;
        const inside = family.scope === 'series' ? 'possibly-affected' : 'affected';
        const statusOf = (firmware: string | null): string | undefined => statuses(model, firmware, cve.vendor, 'direct')[cve.id];
        const b = family.firmware;
        expect(statusOf(null)).toBe('cannot-tell');
        switch (b.kind) {
          case 'version-build-range': {
            expect(cve.families.filter((f) => f.model.test(model) && f.firmware.kind === b.kind), `${model} must fit exactly this family of ${cve.id}`).toEqual([family]);
            const fw = (v: number[], build: string): string => `V${v.join('.')} build ${build}`;
            expect(statusOf(fw(b.from.version, b.from.build ?? ''))).toBe(inside);
            expect(statusOf(fw(b.to.version, b.to.build ?? ''))).toBe(inside);
            expect(statusOf(fw(b.from.version, shift(b.from.build ?? '', -1)))).toBe('not-affected');
            expect(statusOf(fw(b.to.version, shift(b.to.build ?? '', 1)))).toBe('not-affected');
            break;
          }
          case 'built-before': {
            expect(cve.families.find((f) => f.model.test(model)), `${model} must fit this family of ${cve.id} first`).toBe(family);
            const fw = (date: string): string => `2.800.0000000.1.R, Build Date: ${date}`;
            expect(statusOf(fw(shift(b.before, -1)))).toBe(inside);
            expect(statusOf(fw(b.before))).toBe('not-affected');
            expect(statusOf('2.800.0000000.1.R')).toBe('possibly-affected');
            break;
          }
          case 'version-at-most': {
            const last = b.atMost.length - 1;
            expect(statusOf(`V${b.atMost.join('.')}`)).toBe(inside);
            expect(statusOf(`V${b.atMost.map((n, i) => (i === last ? n + 1 : n)).join('.')}`)).toBe('not-affected');
            expect(statusOf(`V${b.major + 1}.0`)).toBe('not-affected');
            break;
          }
          case 'fixed-per-line': {
            for (const fix of b.fixes) {
              const fw = (date: string): string => `${fix.line}${'.0'.repeat(Math.max(0, 4 - fix.line.split('.').length))}.R.${date.replace(/-/g, '')}`;
              expect(statusOf(fw(shift(fix.fixedBuild, -1))), fix.line).toBe(inside);
              expect(statusOf(fw(fix.fixedBuild)), fix.line).toBe('not-affected');
            }
            expect(statusOf('9.999.0000000.0.R.20200101')).toBe('possibly-affected');
            break;
          }
          case 'unpublished':
            expect(statusOf('V5.7.12 build 220819')).toBe('possibly-affected');
            break;
        }
      });
    }
  }
});

describe('hostile values', () => {
  it('long or odd model and firmware strings are judged quickly and never throw', () => {
    const started = Date.now();
    for (const [model, firmware] of [
      ['DS-2CD2132F-IS' + 'A'.repeat(20000), `V5.3.0 build ${'1'.repeat(20000)}`],
      ['IPC-HDW3441T' + '-'.repeat(20000), `build:${'2021-01-01 '.repeat(2000)}`],
      ['\u0000\uFFFF', '\u0000'],
    ] as const) {
      expect(() => flags(model, firmware, 'hikvision')).not.toThrow();
      expect(() => flags(model, firmware, 'dahua')).not.toThrow();
    }
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

// ---------------------------------------------------------------------------------------------

const copies = knowledgeCopies();
afterAll(() => copies.removeAll());

/** The load error of a knowledge base whose cves.yaml `edit` changed (parsed, edited, written back). */
type CvesDoc = { cves: Record<string, unknown>[]; firmwareForms: Record<string, { patterns: string[]; examples: Record<string, unknown>[] }> };

function brokenCves(edit: (doc: CvesDoc) => void): AgentError {
  const dir = copies.edited({
    'cves.yaml': (text) => {
      const doc = parse(text, { merge: true }) as CvesDoc;
      edit(doc);
      return stringify(doc, { aliasDuplicateObjects: false });
    },
  });
  return copies.loadError(dir);
}

describe('a broken cves.yaml is refused, naming file, line and key', () => {
  const firmwareOf = (doc: { cves: Record<string, unknown>[] }, id: string): Record<string, unknown> => {
    const families = doc.cves.find((c) => c['id'] === id)?.['families'] as Record<string, unknown>[];
    return families[0]!['firmware'] as Record<string, unknown>;
  };

  it('a boundary that is text instead of structured data', () => {
    const err = brokenCves((doc) => {
      (doc.cves.find((c) => c['id'] === 'CVE-2021-33044')?.['families'] as Record<string, unknown>[])[0]!['firmware'] = 'before June 2021';
    });
    expect(err.code).toBe('CCTV_ERR_FINGERPRINT_DATA');
    expect(err.message).toContain('cves.yaml');
    expect(err.message).toMatch(/line \d+: cves\[4\]\.families\[0\]\.firmware: must match exactly one schema in oneOf/);
  });

  it('a range that runs backwards, a date that does not exist, a version off its line', () => {
    expect(
      brokenCves((doc) => {
        firmwareOf(doc, 'CVE-2017-7921')['to'] = { version: '5.1.0', build: '160530' };
      }).message,
    ).toMatch(/cves\[0\]\.families\[0\]\.firmware\.to: the range ends before it starts/);
    expect(
      brokenCves((doc) => {
        firmwareOf(doc, 'CVE-2017-7921')['from'] = { version: '5.2.0', build: '140231' };
      }).message,
    ).toMatch(/firmware\.from\.build: "140231" is not a date \(YYMMDD\)/);
    expect(
      brokenCves((doc) => {
        firmwareOf(doc, 'CVE-2021-33044')['builtBefore'] = '2021-02-30';
      }).message,
    ).toMatch(/cves\[4\]\.families\[0\]\.firmware\.builtBefore: "2021-02-30" is not a date/);
    expect(
      brokenCves((doc) => {
        firmwareOf(doc, 'CVE-2023-28808')['atMost'] = '3.0.0';
      }).message,
    ).toMatch(/firmware\.atMost: 3\.0\.0 is not on the V2\.X line/);
  });

  it('a firmware form whose example no longer reads as written, or whose pattern does not compile', () => {
    const err = brokenCves((doc) => {
      doc.firmwareForms['buildDate']!.patterns = ['\\bbuild(?:\\s*date)?\\s*[:=]?\\s*(?<year>\\d{4})-(?<month>\\d{2})-(?<day>\\d{2})\\b'];
    });
    expect(err.code).toBe('CCTV_ERR_FINGERPRINT_DATA');
    expect(err.message).toMatch(/cves\.yaml.*line \d+: firmwareForms\.buildDate\.examples\[0\]\.reads: "V5\.5\.800 build 210628" reads as null, not "2021-06-28"/);
    expect(
      brokenCves((doc) => {
        doc.firmwareForms['versionNumbers']!.patterns = ['^(?<version>\\d'];
      }).message,
    ).toMatch(/firmwareForms\.versionNumbers\.patterns\[0\]: pattern .* does not compile/);
  });

  it('a model pattern that does not compile, a duplicate id, a severity without its score', () => {
    expect(
      brokenCves((doc) => {
        (doc.cves[0]!['families'] as Record<string, unknown>[])[0]!['model'] = '^(DS-2CD';
      }).message,
    ).toMatch(/cves\[0\]\.families\[0\]\.model: pattern "\^\(DS-2CD" does not compile/);
    expect(brokenCves((doc) => doc.cves.push({ ...doc.cves[0]! })).message).toMatch(/cves\[11\]\.id: CVE-2017-7921 is listed twice/);
    expect(
      brokenCves((doc) => {
        doc.cves[0]!['cvss'] = null;
      }).message,
    ).toContain('give severity and cvss together');
  });

  it('an unknown vendor and an unknown key', () => {
    expect(
      brokenCves((doc) => {
        doc.cves[0]!['vendor'] = 'uniview';
      }).message,
    ).toMatch(/cves\[0\]\.vendor: "uniview" is not a linked vendor of vendors\.yaml/);
    expect(
      brokenCves((doc) => {
        doc.cves[1]!['sevrity'] = 'high';
      }).message,
    ).toMatch(/line \d+: cves\[1\]\.sevrity: is not a known key/);
  });
});

describe('flags in a built device', () => {
  const at = '2026-11-28T09:53:00.000Z';
  const ip = '198.18.0.21';

  function device(mac: string, fields: Observation['fields']) {
    const observation: Observation = { source: 'onvif-device-service', ip, port: 80, at, status: 'ok', fields: { 'onvif.call': 'GetDeviceInformation', ...fields } };
    return buildDevice(loadKnowledge(), { ip, addresses: [ip], mac, ownMacs: [mac], sharedMac: null, observations: [observation] });
  }

  it('a Dahua camera inside both ranges carries both CVEs and the policies, and the document validates', () => {
    // Dahua OUI E0:50:8B (IEEE registry https://standards-oui.ieee.org/); serial and device invented.
    const d = device('e0:50:8b:00:00:21', {
      'onvif.device.manufacturer': 'Dahua',
      'onvif.device.model': 'DH-IPC-HDW3441T-ZS',
      'onvif.device.firmware': 'V2.800.0000018.0.R, Build Date: 2020-03-02',
    });
    expect(d.classification.linkedVendor).toBe('dahua');
    expect(d.vulnerabilities.map((v) => [v.id, v.status])).toEqual([
      ['CVE-2021-33044', 'affected'],
      ['CVE-2021-33045', 'affected'],
    ]);
    expect(d.policies?.map((p) => p.id)).toEqual(['uk-wms-2022-11-24', 'us-ndaa-889', 'us-fcc-covered-list', 'us-entity-list-2019']);
    const doc = {
      schema: 'cctv-inventory/v1',
      scan: { id: 'test-1', site: 'lab', startedAt: at, finishedAt: at, targets: [], methods: ['onvif-device-service'] },
      devices: [d],
    };
    expect(inventoryProblems(doc)).toEqual([]);
    expect(inventoryProblems({ ...doc, devices: [{ ...d, vulnerabilities: [{ ...d.vulnerabilities[0], status: 'vulnerable' }] }] })).not.toEqual([]);
  });

  it('an unlinked device carries no CVE and no policy', () => {
    // Axis OUI 00:40:8C (IEEE registry https://standards-oui.ieee.org/); model invented.
    const d = device('00:40:8c:00:00:22', { 'onvif.device.manufacturer': 'AXIS', 'onvif.device.model': 'P3245-V' });
    expect(d.classification.linkedVendor).toBeNull();
    expect(d.vulnerabilities).toEqual([]);
    expect(d.policies).toEqual([]);
  });
});
