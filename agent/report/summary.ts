import type { Device, Inventory, Relation } from '../types.js';

/** The counts a report opens with. Every device is counted once in `byRelation`. */
export interface ReportSummary {
  devices: number;
  hikvision: number;
  dahua: number;
  byRelation: Record<Relation | 'unlinked', number>;
  withCves: number;
  /** Devices whose maker is unknown: no manufacturer, no brand and no linked vendor. */
  unidentified: number;
}

export function isUnidentified(device: Device): boolean {
  return device.classification.linkedVendor === null && !device.identity.manufacturer && !device.identity.brand;
}

export function summarize(inventory: Inventory): ReportSummary {
  const summary: ReportSummary = {
    devices: inventory.devices.length,
    hikvision: 0,
    dahua: 0,
    byRelation: { direct: 0, oem: 0, subsidiary: 0, unlinked: 0 },
    withCves: 0,
    unidentified: 0,
  };
  for (const d of inventory.devices) {
    const { linkedVendor, relation } = d.classification;
    if (linkedVendor === 'hikvision') summary.hikvision++;
    if (linkedVendor === 'dahua') summary.dahua++;
    summary.byRelation[linkedVendor ? (relation ?? 'direct') : 'unlinked']++;
    if (d.vulnerabilities.length > 0) summary.withCves++;
    if (isUnidentified(d)) summary.unidentified++;
  }
  return summary;
}

const VENDOR_NAMES = { hikvision: 'Hikvision', dahua: 'Dahua' } as const;

/**
 * The verdict in a sentence a committee reads: "made by Hikvision, sold as LTS (OEM)",
 * "made by Dahua", "not linked to Hikvision or Dahua (made by Axis)".
 */
export function plainVerdict(device: Device): string {
  const { linkedVendor, relation } = device.classification;
  const { brand, manufacturer } = device.identity;
  if (!linkedVendor) {
    const maker = manufacturer ?? brand;
    return maker ? `not linked to Hikvision or Dahua (made by ${maker})` : 'not linked to Hikvision or Dahua (maker unknown)';
  }
  const vendor = VENDOR_NAMES[linkedVendor];
  const soldAs = brand && brand.toLowerCase() !== vendor.toLowerCase() ? `, sold as ${brand}` : '';
  if (relation === 'oem') return `made by ${vendor}${soldAs} (OEM)`;
  if (relation === 'subsidiary') return `made by a ${vendor} subsidiary${soldAs}`;
  return `made by ${vendor}${soldAs}`;
}

/** One line of the strongest evidence details, for CSV cells and table tooltips. */
export function evidenceSummary(device: Device, max = 3): string {
  const strongest = [...device.evidence].sort((a, b) => b.confidence - a.confidence).slice(0, max);
  const more = device.evidence.length - strongest.length;
  return strongest.map((e) => e.detail).join('; ') + (more > 0 ? `; and ${more} more` : '');
}

/** The summary counts as labelled rows, in the order reports show them. */
export function summaryRows(summary: ReportSummary): Array<{ key: string; label: string; value: number }> {
  return [
    { key: 'devices', label: 'Devices found', value: summary.devices },
    { key: 'hikvision', label: 'Linked to Hikvision', value: summary.hikvision },
    { key: 'dahua', label: 'Linked to Dahua', value: summary.dahua },
    { key: 'direct', label: 'Made by them, own brand', value: summary.byRelation.direct },
    { key: 'oem', label: 'Made for another brand (OEM)', value: summary.byRelation.oem },
    { key: 'subsidiary', label: 'Made by a subsidiary', value: summary.byRelation.subsidiary },
    { key: 'unlinked', label: 'Not linked', value: summary.byRelation.unlinked },
    { key: 'cves', label: 'With known CVEs', value: summary.withCves },
    { key: 'unidentified', label: 'Maker unknown', value: summary.unidentified },
  ];
}
