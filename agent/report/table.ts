import { handoverLine, type HandoverSignOff } from '../handover/verify.js';
import { displaySafe } from '../safe-text.js';
import type { Device, Inventory } from '../types.js';
import { cveLabel, isFlagged, linkedNamesText, misaddressedNote, type LinkedVendorNames } from './summary.js';
import { terminalTable } from './terminal-table.js';

/** Plain words for a verdict: "Hikvision (OEM)", "Dahua", "not linked". */
export function verdictText(device: Device, names: LinkedVendorNames): string {
  const { linkedVendor, relation } = device.classification;
  if (!linkedVendor) return 'not linked';
  const vendor = names.get(linkedVendor) ?? linkedVendor;
  if (!relation || relation === 'direct') return vendor;
  return `${vendor} (${relation === 'oem' ? 'OEM' : relation})`;
}

/**
 * The CVE cell of a table row: each CVE that concerns the device with its status ("CVE-2021-36260
 * affected"), those it is past counted at the end ("2 not affected") to keep the row short.
 */
export function cveCell(device: Device): string {
  const notAffected = device.vulnerabilities.filter((v) => v.status === 'not-affected').length;
  const shown = device.vulnerabilities.filter((v) => v.status !== 'not-affected').map(cveLabel);
  return [...shown, ...(notAffected > 0 ? [`${notAffected} not affected`] : [])].join(', ') || '-';
}

/**
 * The inventory as a terminal table, one row a device, with a one-line summary under it. The
 * confidence is that of the link: a device not linked shows none (its classification confidence is
 * about a maker the table does not name).
 */
export function inventoryTable(inventory: Inventory, names: LinkedVendorNames, handover?: HandoverSignOff | null): string {
  const rows = inventory.devices.map((d) => [
    d.misaddressed ? `${d.ip} (${misaddressedNote(d)})` : d.ip,
    d.mac ?? '-',
    d.identity.brand ?? '-',
    d.identity.manufacturer ?? '-',
    verdictText(d, names),
    d.identity.model ?? '-',
    d.identity.firmware ?? '-',
    d.classification.linkedVendor === null ? '-' : d.classification.confidence.toFixed(2),
    cveCell(d),
  ]);
  const table = terminalTable(['IP', 'MAC', 'Brand', 'Made by', 'Linked to', 'Model', 'Firmware', 'Confidence', 'CVEs'], rows);
  const linked = inventory.devices.filter((d) => d.classification.linkedVendor !== null).length;
  const withCves = inventory.devices.filter((d) => d.vulnerabilities.some(isFlagged)).length;
  const misaddressed = inventory.devices.filter((d) => d.misaddressed).length;
  const { scan } = inventory;
  return (
    displaySafe(`Site ${scan.site}, scan ${scan.id} (${scan.startedAt} to ${scan.finishedAt})`) +
    `\n${table}\n` +
    `${inventory.devices.length} device(s), ${linked} linked to ${linkedNamesText(names)}, ${withCves} with known CVEs (affected or possibly).\n` +
    (misaddressed > 0 ? `${misaddressed} device(s) on this segment that IPv4 cannot reach (misaddressed: listed at the address they claim, never probed there).\n` : '') +
    (handover ? `${displaySafe(handoverLine(handover, names))}\n` : '')
  );
}
