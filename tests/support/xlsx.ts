/**
 * Excel workbooks (.xlsx) built for tests, laid out as Excel writes them (ECMA-376 Part 1 §18;
 * a package of XML parts, Part 2) and packed with fflate's zipSync: package and workbook
 * relationships, one sheet "Cams", shared strings.
 */
import { strToU8, zipSync, type ZipOptions, type Zippable } from 'fflate';
import { escapeXml } from '../../agent/protocols/xml.js';
import { columnName } from '../../agent/handover/xlsx.js';

const MAIN = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
const REL = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
const PKG = 'http://schemas.openxmlformats.org/package/2006/relationships';

/**
 * The parts of a one-sheet workbook; `sheet` is the `<sheetData>` content and `shared` the shared
 * strings' `<si>` contents (plain text becomes one `<t>`; XML such as rich-text runs is kept).
 */
export function workbookParts(sheet: string, shared: string[] = []): Zippable {
  const sst = shared.map((s) => `<si>${s.startsWith('<') ? s : `<t>${s}</t>`}</si>`).join('');
  return {
    '[Content_Types].xml': strToU8('<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'),
    '_rels/.rels': strToU8(`<Relationships xmlns="${PKG}"><Relationship Id="rId1" Type="${REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>`),
    'xl/workbook.xml': strToU8(`<workbook xmlns="${MAIN}" xmlns:r="${REL}"><sheets><sheet name="Cams" sheetId="1" r:id="rId1"/></sheets></workbook>`),
    'xl/_rels/workbook.xml.rels': strToU8(
      `<Relationships xmlns="${PKG}"><Relationship Id="rId1" Type="${REL}/worksheet" Target="worksheets/sheet1.xml"/>` +
        `<Relationship Id="rId2" Type="${REL}/sharedStrings" Target="/xl/sharedStrings.xml"/></Relationships>`,
    ),
    'xl/sharedStrings.xml': strToU8(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="${MAIN}">${sst}</sst>`),
    'xl/worksheets/sheet1.xml': strToU8(`<worksheet xmlns="${MAIN}"><sheetData>${sheet}</sheetData></worksheet>`),
  };
}

/** A workbook of {@link workbookParts}; `zip.level: 0` stores the parts uncompressed. */
export function workbook(sheet: string, shared: string[] = [], zip: ZipOptions = {}): Uint8Array {
  return zipSync(workbookParts(sheet, shared), zip);
}

/** A workbook whose sheet holds `rows` (first the header) as shared strings, as Excel saves typed text. */
export function workbookOfRows(rows: string[][], zip: ZipOptions = {}): Uint8Array {
  const shared: string[] = [];
  const sheet = rows
    .map((cells, r) => {
      const xml = cells.map((value, c) => {
        if (value === '') return '';
        shared.push(escapeXml(value));
        return `<c r="${columnName(c + 1)}${r + 1}" t="s"><v>${shared.length - 1}</v></c>`;
      });
      return `<row r="${r + 1}">${xml.join('')}</row>`;
    })
    .join('');
  return workbook(sheet, shared, zip);
}
