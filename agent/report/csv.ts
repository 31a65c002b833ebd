import { stringify } from 'csv-stringify/sync';
import { displaySafeLines } from '../safe-text.js';
import type { Inventory } from '../types.js';
import { cveLabel, evidenceSummary, misaddressedNote, plainVerdict, type LinkedVendorNames } from './summary.js';

const HEADER = [
  'scanned_at',
  'ip',
  'mac',
  'brand',
  'maker',
  'relation',
  'linked_vendor',
  'verdict',
  'model',
  'firmware',
  'serial',
  'confidence',
  'cves',
  'policies',
  'evidence',
  'misaddressed',
];

/**
 * Starts that make Excel, LibreOffice or Sheets read a cell as a formula (OWASP "CSV Injection",
 * https://owasp.org/www-community/attacks/CSV_Injection): `=`, `+`, `-`, `@`, tab, CR or LF first;
 * the same after leading spaces, which some spreadsheet imports trim; and the fullwidth forms ＝ ＋ － ＠
 * (U+FF1D, U+FF0B, U+FF0D, U+FF20), which spreadsheets with East Asian input read as the ASCII
 * ones. Such a cell gets a leading apostrophe, which the spreadsheet shows as text.
 */
const FORMULA_START = /^(?:[\t\r\n]|\s*[=+\-@\uff1d\uff0b\uff0d\uff20])/;

export function neutralizeFormula(cell: string): string {
  return FORMULA_START.test(cell) ? `'${cell}` : cell;
}

/**
 * A CSV cell: neutralized against formulas, then display-safe (controls shown as `\x1b`, never
 * raw), except line feeds, which RFC 4180 §2.6 lets a quoted cell hold and a spreadsheet shows as
 * a line break.
 */
export function csvCell(value: string): string {
  return displaySafeLines(neutralizeFormula(value));
}

/**
 * One row a device, RFC 4180 (quoted where needed, CRLF line ends), UTF-8 with a byte order mark so
 * Excel reads the encoding right, ISO 8601 dates. Device-supplied text is neutralized against
 * formula injection, and its control and bidirectional characters are shown as escapes.
 */
export function inventoryCsv(inventory: Inventory, names: LinkedVendorNames): string {
  const rows = inventory.devices.map((d) =>
    [
      inventory.scan.finishedAt,
      d.ip,
      d.mac ?? '',
      d.identity.brand ?? '',
      d.identity.manufacturer ?? '',
      d.classification.relation ?? '',
      d.classification.linkedVendor ?? '',
      plainVerdict(d, names),
      d.identity.model ?? '',
      d.identity.firmware ?? '',
      d.identity.serial ?? '',
      d.classification.confidence.toFixed(2),
      d.vulnerabilities.map(cveLabel).join('; '),
      (d.policies ?? []).map((p) => p.name).join('; '),
      evidenceSummary(d),
      misaddressedNote(d),
    ].map(csvCell),
  );
  return stringify([HEADER, ...rows], { bom: true, record_delimiter: 'windows' });
}
