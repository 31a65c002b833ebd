import Table from 'cli-table3';
import type { Device, Inventory } from '../types.js';
import { linkedNamesText, type LinkedVendorNames } from './summary.js';

/** Plain words for a verdict: "Hikvision (OEM)", "Dahua", "not linked". */
export function verdictText(device: Device, names: LinkedVendorNames): string {
  const { linkedVendor, relation } = device.classification;
  if (!linkedVendor) return 'not linked';
  const vendor = names.get(linkedVendor) ?? linkedVendor;
  if (!relation || relation === 'direct') return vendor;
  return `${vendor} (${relation === 'oem' ? 'OEM' : relation})`;
}

/** The inventory as a terminal table, one row a device, with a one-line summary under it. */
export function inventoryTable(inventory: Inventory, names: LinkedVendorNames): string {
  const table = new Table({
    head: ['IP', 'MAC', 'Brand', 'Made by', 'Linked to', 'Model', 'Firmware', 'Confidence'],
    style: { head: [], border: [] },
  });
  for (const d of inventory.devices) {
    table.push([
      d.ip,
      d.mac ?? '-',
      d.identity.brand ?? '-',
      d.identity.manufacturer ?? '-',
      verdictText(d, names),
      d.identity.model ?? '-',
      d.identity.firmware ?? '-',
      d.classification.confidence.toFixed(2),
    ]);
  }
  const linked = inventory.devices.filter((d) => d.classification.linkedVendor !== null).length;
  const { scan } = inventory;
  return (
    `Site ${scan.site}, scan ${scan.id} (${scan.startedAt} to ${scan.finishedAt})\n` +
    `${table.toString()}\n` +
    `${inventory.devices.length} device(s), ${linked} linked to ${linkedNamesText(names)}.\n`
  );
}
