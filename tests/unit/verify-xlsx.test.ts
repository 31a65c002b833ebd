/**
 * Handover schedules saved as Excel workbooks (agent/handover/xlsx.ts through schedule.ts): a real
 * file written by openpyxl (tests/fixtures/handover/schedule.xlsx), workbooks built here as Excel
 * writes them (shared strings, rich text, formulas with saved results; packed with fflate's
 * zipSync), and hostile packages: a zip bomb, entity declarations, a file cut short, a ZIP that is
 * no workbook, a CSV renamed .xlsx. Nothing touches the network.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { strToU8, Zip, zipSync, ZipPassThrough } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { refusal } from '../support/agent-error.js';
import { parseXlsxHandover, readHandoverFile } from '../../agent/handover/schedule.js';
import { columnName } from '../../agent/handover/xlsx.js';
import { workbook, workbookParts } from '../support/xlsx.js';

const fixtures = resolve(import.meta.dirname, '..', 'fixtures', 'handover');
const dir = mkdtempSync(join(tmpdir(), 'cctv-xlsx-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A ZIP of `parts` (stored) and of parts of `zeros[name]` zero bytes each, deflated by node:zlib
 * (native, so a bomb is made in milliseconds) and written as DEFLATE entries (APPNOTE.TXT §4.4.5
 * method 8) through fflate's pass-through entry.
 */
function zipWithZeros(parts: Record<string, Uint8Array>, zeros: Record<string, number>): Uint8Array {
  const chunks: Uint8Array[] = [];
  const zip = new Zip((error, chunk) => {
    if (error) throw error;
    chunks.push(chunk);
  });
  const add = (name: string, data: Uint8Array, compression: number): void => {
    const entry = new ZipPassThrough(name);
    entry.compression = compression;
    zip.add(entry);
    entry.push(data, true);
  };
  for (const [name, data] of Object.entries(parts)) add(name, data, 0);
  for (const [name, size] of Object.entries(zeros)) add(name, deflateRawSync(Buffer.alloc(size)), 8);
  zip.end();
  return Buffer.concat(chunks);
}

/** A header row of shared strings 0..n-1 and then `rows`. */
function sheetWith(header: string[], rows: string): { sheet: string; shared: string[] } {
  const cells = header.map((_, i) => `<c r="${columnName(i + 1)}1" t="s"><v>${i}</v></c>`).join('');
  return { sheet: `<row r="1">${cells}</row>${rows}`, shared: header };
}

describe('reading a handover schedule from an Excel workbook', () => {
  it('reads the first visible sheet of a real workbook (openpyxl): header variants, an empty row, a serial typed as a number', () => {
    expect(readHandoverFile(join(fixtures, 'schedule.xlsx'))).toEqual([
      { ip: '198.18.0.21', mac: 'bc:ad:28:4f:12:9e', serial: null, model: 'DS-2CD2143G2-I', firmware: null, brand: 'Hikvision', location: 'Town hall, north door', line: 2 },
      { ip: null, mac: null, serial: '7J0A8F2PAZ4C1D9', model: 'IPC-HDW2431T-AS-S2', firmware: null, brand: 'Dahua', location: 'Car park "A"', line: 4 },
      { ip: '198.18.0.40', mac: null, serial: '123456789012', model: 'M3106-LVE Mk II', firmware: null, brand: 'Axis', location: 'Reception', line: 5 },
    ]);
  });

  it('reads the sheet --sheet names (case-insensitive, hidden ones too), and lists the sheets when none has that name', () => {
    const path = join(fixtures, 'schedule.xlsx');
    expect(readHandoverFile(path, { sheet: 'cameras' })).toHaveLength(3);
    expect(refusal(() => readHandoverFile(path, { sheet: 'Old' })).message).toContain('at cell A1 of sheet "Old": unknown column "Seral"');
    const missing = refusal(() => readHandoverFile(path, { sheet: 'Rack 2' }));
    expect([missing.code, missing.message]).toEqual(['CCTV_ERR_BAD_XLSX', expect.stringContaining('it has no sheet "Rack 2" (its sheets: "Old", "Cameras", "Notes")')]);
    const csv = refusal(() => readHandoverFile(join(fixtures, 'schedule.csv'), { sheet: 'Cameras' }));
    expect([csv.code, csv.message]).toEqual(['CCTV_ERR_BAD_OPTION', expect.stringContaining('a CSV or JSON schedule has no sheets')]);
  });

  it('reads shared strings, rich-text runs, inline strings, saved formula results and cells without references, evaluating nothing', () => {
    const shared = ['IP Address', '<r><t>Serial</t></r><r><rPr><b/></rPr><t>No.</t></r><rPh><t>x</t></rPh>', 'Location', 'Model', 'DS-2CD2143G2-I', 'Firmware'];
    const header = ['A', 'B', 'C', 'D', 'E'].map((c, i) => `<c r="${c}1" t="s"><v>${[0, 1, 2, 3, 5][i]}</v></c>`).join('');
    const rows =
      // a 15-digit serial stored as a number: kept digit for digit (read as text, never as a JavaScript number)
      '<row r="2"><c r="A2" t="inlineStr"><is><t>198.18.0.21</t></is></c><c r="B2"><v>123456789012345</v></c>' +
      // a formula's saved result is read; the formula (which would give "rack 2") is not evaluated
      '<c r="C2" t="str"><f>CONCAT("rack ",1+1)</f><v>rack 9</v></c><c r="D2" t="s"><v>4</v></c><c r="E2"><v>5.5</v></c></row>' +
      '<row><c t="inlineStr"><is><t>198.18.0.22</t></is></c><c><f>SUM(1,1)</f><v>7</v></c><c t="b"><v>1</v></c></row>';
    expect(parseXlsxHandover(workbook(`<row r="1">${header}</row>${rows}`, shared), 'site.xlsx')).toEqual([
      { ip: '198.18.0.21', mac: null, serial: '123456789012345', model: 'DS-2CD2143G2-I', firmware: '5.5', brand: null, location: 'rack 9', line: 2 },
      { ip: '198.18.0.22', mac: null, serial: '7', model: null, firmware: null, brand: null, location: 'TRUE', line: 3 },
    ]);
  });

  const cellProblems: [string, string[], string, string][] = [
    ['an unknown column', ['IP', 'Seral'], '', 'cell B1 of sheet "Cams": unknown column "Seral"'],
    ['a bad MAC', ['IP', 'MAC'], '<row r="3"><c r="A3" t="inlineStr"><is><t>198.18.0.5</t></is></c><c r="B3" t="inlineStr"><is><t>ac:cc:8e:62:30</t></is></c></row>', 'cell B3 of sheet "Cams": "ac:cc:8e:62:30" is not a MAC address'],
    ['a value under no header', ['IP'], '<row r="2"><c r="A2" t="inlineStr"><is><t>198.18.0.5</t></is></c><c r="C2" t="inlineStr"><is><t>x</t></is></c></row>', 'cell C2 of sheet "Cams": "x" is in a column with no header name'],
    ['a formula with no saved result', ['IP', 'Serial'], '<row r="2"><c r="A2" t="inlineStr"><is><t>198.18.0.5</t></is></c><c r="B2"><f>A1&amp;"x"</f></c></row>', 'cell B2 of sheet "Cams": it holds a formula with no saved result; formulas are not evaluated'],
    ['a serial that lost digits as a number (exponent)', ['Serial'], '<row r="2"><c r="A2"><v>1.2345678901234567E+19</v></c></row>', 'cell A2 of sheet "Cams": it holds the number 1.2345678901234567E+19, written with an exponent'],
    ['a serial that lost digits as a number (16 digits)', ['Serial'], '<row r="2"><c r="A2"><v>1234567890123456</v></c></row>', 'cell A2 of sheet "Cams": it holds the number 1234567890123456, longer than the 15 digits'],
    ['a spreadsheet error value', ['IP'], '<row r="2"><c r="A2" t="e"><v>#N/A</v></c></row>', 'cell A2 of sheet "Cams": it holds the spreadsheet error #N/A'],
    ['a shared string the workbook lacks', ['IP'], '<row r="2"><c r="A2" t="s"><v>99</v></c></row>', 'cell A2 of sheet "Cams": it refers to shared string 99'],
    ['an empty sheet', [], '', 'cell A1 of sheet "Cams": the file is empty'],
  ];
  for (const [what, header, rows, where] of cellProblems) {
    it(`refuses ${what}, naming the sheet and cell`, () => {
      const { sheet, shared } = sheetWith(header, rows);
      const error = refusal(() => parseXlsxHandover(workbook(header.length ? sheet : '', shared), 'site.xlsx'));
      expect([error.code, error.exitCode]).toEqual(['CCTV_ERR_BAD_HANDOVER_CELL', 2]);
      expect(error.message).toContain(`"site.xlsx" is not valid at ${where}`);
    });
  }
});

describe('refusing a hostile or broken .xlsx with a coded error', () => {
  const parts = workbookParts('<row r="1"><c r="A1" t="s"><v>0</v></c></row>', ['IP']) as Record<string, Uint8Array>;
  const partsBut = (...names: string[]): Record<string, Uint8Array> => Object.fromEntries(Object.entries(parts).filter(([name]) => !names.includes(name)));
  const MiB = 1024 * 1024;
  const packages: [string, () => Uint8Array, string][] = [
    // 16 MiB of zeros deflate to about 16 KiB: an inflate ratio near DEFLATE's 1032:1 limit
    ['a zip bomb (one part past its cap)', () => zipWithZeros(partsBut('xl/worksheets/sheet1.xml'), { 'xl/worksheets/sheet1.xml': 16 * MiB }), 'its part xl/worksheets/sheet1.xml unpacks to more than 4 MiB'],
    ['a zip bomb (parts past the cap in all)', () => zipWithZeros(partsBut('xl/worksheets/sheet1.xml', 'xl/sharedStrings.xml'), { 'xl/sharedStrings.xml': 4 * MiB, 'xl/worksheets/sheet1.xml': 4 * MiB }), 'its parts unpack to more than 8 MiB in all'],
    ['more parts than a workbook has', () => zipSync({ ...parts, ...Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`xl/media/${i}.bin`, new Uint8Array(0)])) }), 'it holds more than 1000 parts'],
    [
      'an entity-expansion attempt (billion laughs)',
      () => zipSync({ ...parts, 'xl/sharedStrings.xml': strToU8(`<!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><sst><si><t>&c;</t></si></sst>`) }),
      'its shared strings (xl/sharedstrings.xml) is not well-formed XML, or declares a DTD or entities',
    ],
    ['a file cut short', () => readFileSync(join(fixtures, 'schedule.xlsx')).subarray(0, 3000), 'the file is cut short'],
    ['a ZIP that is no workbook', () => zipSync({ 'notes.txt': strToU8('hello') }), 'it has no package relationships'],
    ['a Word document', () => zipSync({ ...parts, 'xl/workbook.xml': strToU8('<document/>') }), 'its main document is a document, not a workbook'],
    ['a CSV renamed .xlsx', () => strToU8('IP,MAC\n198.18.0.5,\n'), 'it is not a ZIP package, which every .xlsx file is (a CSV file renamed .xlsx? then name it .csv)'],
    ['an Excel 97–2003 file', () => Uint8Array.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0, 0]), 'it is an Excel 97–2003 (.xls) workbook'],
  ];
  for (const [what, bytes, why] of packages) {
    it(`refuses ${what}`, () => {
      const file = join(dir, 'schedule.xlsx');
      writeFileSync(file, bytes());
      const error = refusal(() => readHandoverFile(file));
      expect([error.code, error.exitCode]).toEqual(['CCTV_ERR_BAD_XLSX', 2]);
      expect(error.message).toContain(`"${file}" cannot be read as an Excel workbook (.xlsx): ${why}`);
    });
  }

  it('reads a workbook under another name by its ZIP signature', () => {
    const file = join(dir, 'schedule.csv');
    writeFileSync(file, workbook('<row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>198.18.0.5</t></is></c></row>', ['IP']));
    expect(readHandoverFile(file)).toMatchObject([{ ip: '198.18.0.5', line: 2 }]);
  });
});
