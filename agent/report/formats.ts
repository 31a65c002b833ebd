/**
 * The output formats, one registry: what `report --format` and `verify --format` offer. A new
 * format is one entry here (and its renderer); the CLI's choices and help come from these lists.
 */
import { verifyHtml, verifyTable, type HandoverSignOff } from '../handover/verify.js';
import { jsonSafe } from '../safe-text.js';
import type { Inventory } from '../types.js';
import { inventoryCsv } from './csv.js';
import { cyclonedxHbom, netboxDeviceTypesCsv, netboxDevicesCsv, netboxInterfacesCsv, netboxIpsCsv, netboxManufacturersCsv } from './exports.js';
import type { EstateReport } from './estate.js';
import { estateCsv, estateHtml, estateTable } from './estate-render.js';
import { inventoryHtml } from './html.js';
import type { LinkedVendorNames } from './summary.js';
import { inventoryTable } from './table.js';

export interface OutputFormat<T> {
  readonly name: string;
  /** The whole output, ending with a newline where text does; `handover`: the scan's kept sign-off, shown where the format has room for it. */
  render(value: T, names: LinkedVendorNames, handover?: HandoverSignOff | null): string;
}

/**
 * JSON as every command prints it: two-space indent, one trailing newline; strings keep their raw
 * value, with control and bidirectional characters written as JSON escapes (agent/safe-text.ts).
 */
export function jsonText(value: unknown): string {
  return `${jsonSafe(JSON.stringify(value, null, 2))}\n`;
}

/** `report --format`: a scan as a terminal table, CSV (opens in Excel), the JSON document, or one self-contained HTML file. */
export const reportFormats: readonly OutputFormat<Inventory>[] = [
  { name: 'table', render: inventoryTable },
  { name: 'csv', render: inventoryCsv },
  { name: 'json', render: (inventory) => jsonText(inventory) },
  { name: 'html', render: inventoryHtml },
  // For asset registers (exports.ts): a CycloneDX 1.6 hardware BOM, and NetBox's five import files in import order.
  { name: 'cyclonedx', render: cyclonedxHbom },
  { name: 'netbox-manufacturers', render: netboxManufacturersCsv },
  { name: 'netbox-device-types', render: netboxDeviceTypesCsv },
  { name: 'netbox', render: netboxDevicesCsv },
  { name: 'netbox-interfaces', render: netboxInterfacesCsv },
  { name: 'netbox-ips', render: netboxIpsCsv },
];

/** `verify --format`: a handover verification as a table, JSON, or one self-contained HTML page. */
export const verifyFormats: readonly OutputFormat<HandoverSignOff>[] = [
  { name: 'table', render: verifyTable },
  { name: 'json', render: (result) => jsonText(result) },
  { name: 'html', render: verifyHtml },
];

/** `estate --format`: every site of a store side by side, as a table, CSV, JSON (the estate without the devices) or one HTML page. */
export const estateFormats: readonly OutputFormat<EstateReport>[] = [
  { name: 'table', render: estateTable },
  { name: 'csv', render: estateCsv },
  { name: 'json', render: (report) => jsonText(report.estate) },
  { name: 'html', render: estateHtml },
];

export function formatNames<T>(formats: readonly OutputFormat<T>[]): string[] {
  return formats.map((f) => f.name);
}

/** Renders `value` in the format named `name` (one of `formats`: the CLI only offers those). */
export function renderFormat<T>(formats: readonly OutputFormat<T>[], name: string, value: T, names: LinkedVendorNames, handover?: HandoverSignOff | null): string {
  const format = formats.find((f) => f.name === name);
  if (!format) throw new Error(`no output format "${name}" (${formatNames(formats).join(', ')})`);
  return format.render(value, names, handover);
}
