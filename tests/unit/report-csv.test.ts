import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { inventoryCsv, neutralizeFormula } from '../../agent/report/csv.js';
import { device, sampleInventory } from './report-fixture.js';
import { linkedVendorNames } from '../../agent/knowledge/index.js';

const names = linkedVendorNames();

const BOM = '\uFEFF';

function parseCsv(text: string): string[][] {
  return parse(text, { bom: true, record_delimiter: '\r\n' }) as string[][];
}

describe('CSV report', () => {
  it('starts with a UTF-8 byte order mark and ends every record with CRLF', () => {
    const csv = inventoryCsv(sampleInventory(), names);
    expect(csv.startsWith(BOM)).toBe(true);
    expect(Buffer.from(csv, 'utf8').subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
    const lines = csv.slice(1).split('\r\n');
    expect(lines).toHaveLength(sampleInventory().devices.length + 2); // header, devices, final empty
    expect(lines.at(-1)).toBe('');
    expect(csv.replace(/\r\n/g, '')).not.toMatch(/\n/);
  });

  it('has a header row and one row a device, readable back with csv-parse', () => {
    const inventory = sampleInventory();
    const [header, ...rows] = parseCsv(inventoryCsv(inventory, names));
    expect(header).toEqual(['scanned_at', 'ip', 'mac', 'brand', 'maker', 'relation', 'linked_vendor', 'verdict', 'model', 'firmware', 'serial', 'confidence', 'cves', 'policies', 'evidence', 'misaddressed']);
    expect(rows.map((r) => r[1])).toEqual(inventory.devices.map((d) => d.ip));
    const lts = rows[1];
    expect(lts).toEqual([
      '2026-11-28T10:00:05.000Z',
      '198.18.0.11',
      '',
      'LTS',
      'Hikvision',
      'oem',
      'hikvision',
      'made by Hikvision, sold as LTS (OEM)',
      'CMIP7442W-28M',
      '',
      '',
      '0.80',
      'CVE-2017-7921 not affected; CVE-2021-36260 cannot tell',
      '',
      '',
      '',
    ]);
    const hik = rows[0];
    expect(hik?.[12]).toBe('CVE-2017-7921 not affected; CVE-2021-36260 affected');
    expect(rows[2]?.[12]).toBe('CVE-2021-33044');
    expect(rows[3]?.[12]).toBe('CVE-2020-5735 possibly');
    expect(hik?.[13]).toBe('US NDAA section 889');
    expect(hik?.[14]).toBe('onvif.scope.name = HIKVISION DS-2CD2143G2-I');
  });

  it('quotes commas, quotes and line breaks per RFC 4180 and reads them back unchanged', () => {
    const tricky = 'Cam, "lobby"\nsecond line';
    const inventory = { ...sampleInventory(), devices: [device('198.18.0.9', { identity: { manufacturer: null, brand: null, model: tricky, firmware: 'ünïcødé 摄像机', serial: null, deviceType: null } })] };
    const csv = inventoryCsv(inventory, names);
    expect(csv).toContain('"Cam, ""lobby""\nsecond line"');
    const [, row] = parseCsv(csv);
    expect(row?.[8]).toBe(tricky);
    expect(row?.[9]).toBe('ünïcødé 摄像机');
  });

  it('neutralizes cells a spreadsheet would run as a formula (OWASP CSV injection)', () => {
    const hostile = ['=HYPERLINK("http://x","y")', '+1+1', '-2+3', '@SUM(A1)', '\tcmd', '\rcmd', '\ncmd', ' =1+1', '  @SUM(A1)', '＝1+1', '＋1', '－1', '＠SUM(A1)'];
    for (const value of hostile) expect(neutralizeFormula(value)).toBe(`'${value}`);
    for (const value of ['DS-2CD2143G2-I', '198.18.0.10', '', 'a=b']) expect(neutralizeFormula(value)).toBe(value);
    const inventory = {
      ...sampleInventory(),
      devices: [device('198.18.0.9', { identity: { manufacturer: '@evil', brand: '=cmd|"/c calc"!A1', model: '+SUM(1)', firmware: '-1', serial: '\t0', deviceType: null } })],
    };
    const [, row] = parseCsv(inventoryCsv(inventory, names));
    expect(row?.slice(3, 5)).toEqual(["'=cmd|\"/c calc\"!A1", "'@evil"]);
    // The tab a formula would start with is neutralized, then shown as its escape (a CSV cell is display-safe).
    expect(row?.slice(8, 11)).toEqual(["'+SUM(1)", "'-1", "'\\x090"]);
    for (const cell of row ?? []) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
  });
});
