/**
 * The output formats, one registry: what `report --format` and `verify --format` offer. A new
 * format is one name in format-names.ts and its renderer here (the compiler asks for one per name);
 * the CLI's choices and help come from those names.
 */
import { verifyHtml, verifyTable, type HandoverSignOff } from '../handover/verify.js';
import type { Inventory } from '../types.js';
import { inventoryCsv } from './csv.js';
import { cyclonedxHbom, netboxDeviceTypesCsv, netboxDevicesCsv, netboxInterfacesCsv, netboxIpsCsv, netboxManufacturersCsv } from './exports.js';
import type { EstateReport } from './estate.js';
import { estateCsv, estateHtml, estateTable } from './estate-render.js';
import { inventoryHtml } from './html.js';
import type { LinkedVendorNames } from './summary.js';
import { inventoryTable } from './table.js';
import { ESTATE_FORMAT_NAMES, REPORT_FORMAT_NAMES, VERIFY_FORMAT_NAMES, type EstateFormatName, type ReportFormatName, type VerifyFormatName } from './format-names.js';
import { jsonText } from './json-text.js';

export interface OutputFormat<T> {
  readonly name: string;
  /** The whole output, ending with a newline where text does; `handover`: the scan's kept sign-off, shown where the format has room for it. */
  render(value: T, names: LinkedVendorNames, handover?: HandoverSignOff | null): string;
}

type Renderer<T> = OutputFormat<T>['render'];

/** One format per name, in the names' order. */
function registry<T, N extends string>(names: readonly N[], renderers: Record<N, Renderer<T>>): readonly OutputFormat<T>[] {
  return names.map((name) => ({ name, render: renderers[name] }));
}

/** `report --format`: a scan as a terminal table, CSV (opens in Excel), the JSON document, or one self-contained HTML file. */
export const reportFormats = registry<Inventory, ReportFormatName>(REPORT_FORMAT_NAMES, {
  table: inventoryTable,
  csv: inventoryCsv,
  json: (inventory) => jsonText(inventory),
  html: inventoryHtml,
  // For asset registers (exports.ts): a CycloneDX 1.6 hardware BOM, and NetBox's five import files in import order.
  cyclonedx: cyclonedxHbom,
  'netbox-manufacturers': netboxManufacturersCsv,
  'netbox-device-types': netboxDeviceTypesCsv,
  netbox: netboxDevicesCsv,
  'netbox-interfaces': netboxInterfacesCsv,
  'netbox-ips': netboxIpsCsv,
});

/** `verify --format`: a handover verification as a table, JSON, or one self-contained HTML page. */
export const verifyFormats = registry<HandoverSignOff, VerifyFormatName>(VERIFY_FORMAT_NAMES, {
  table: verifyTable,
  json: (result) => jsonText(result),
  html: verifyHtml,
});

/** `estate --format`: every site of a store side by side, as a table, CSV, JSON (the estate without the devices) or one HTML page. */
export const estateFormats = registry<EstateReport, EstateFormatName>(ESTATE_FORMAT_NAMES, {
  table: estateTable,
  csv: estateCsv,
  json: (report) => jsonText(report.estate),
  html: estateHtml,
});

function formatNames<T>(formats: readonly OutputFormat<T>[]): string[] {
  return formats.map((f) => f.name);
}

/** Renders `value` in the format named `name` (one of `formats`: the CLI only offers those). */
export function renderFormat<T>(formats: readonly OutputFormat<T>[], name: string, value: T, names: LinkedVendorNames, handover?: HandoverSignOff | null): string {
  const format = formats.find((f) => f.name === name);
  if (!format) throw new Error(`no output format "${name}" (${formatNames(formats).join(', ')})`);
  return format.render(value, names, handover);
}
