import { stringify } from 'csv-stringify/sync';
import type { Inventory } from '../types.js';
import { evidenceSummary, plainVerdict, type LinkedVendorNames } from './summary.js';

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
];

/**
 * Characters that make Excel, LibreOffice or Sheets read a cell as a formula (OWASP "CSV
 * Injection"): such a cell gets a leading apostrophe, which the spreadsheet shows as text.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

export function neutralizeFormula(cell: string): string {
  return FORMULA_START.test(cell) ? `'${cell}` : cell;
}

/**
 * One row a device, RFC 4180 (quoted where needed, CRLF line ends), UTF-8 with a byte order mark so
 * Excel reads the encoding right, ISO 8601 dates. Device-supplied text is neutralized against
 * formula injection.
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
      d.vulnerabilities.map((v) => v.id).join(' '),
      (d.policies ?? []).map((p) => p.name).join('; '),
      evidenceSummary(d),
    ].map(neutralizeFormula),
  );
  return stringify([HEADER, ...rows], { bom: true, record_delimiter: 'windows' });
}
