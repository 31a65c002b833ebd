import { FLAGGED_STATUSES, type Device, type Inventory, type Relation, type Vulnerability, type VulnerabilityStatus } from '../types.js';

/** Linked vendor key → display name, in vendors.yaml order (agent/knowledge linkedVendorNames). */
export type LinkedVendorNames = ReadonlyMap<string, string>;

/** "Hikvision or Dahua". */
export function linkedNamesText(names: LinkedVendorNames): string {
  const all = [...names.values()];
  return all.length > 1 ? `${all.slice(0, -1).join(', ')} or ${all[all.length - 1]}` : (all[0] ?? 'a linked vendor');
}

/** How each CVE status reads in every report: the table, CSV and HTML use the same words. */
const CVE_STATUS_WORDS: Record<VulnerabilityStatus, string> = {
  affected: 'affected',
  'possibly-affected': 'possibly',
  'not-affected': 'not affected',
  'cannot-tell': 'cannot tell',
};

/** "affected", "possibly", "not affected", "cannot tell"; empty for an entry without a status (a document of an older agent). */
export function cveStatusWords(v: Vulnerability): string {
  return v.status ? CVE_STATUS_WORDS[v.status] : '';
}

/** "CVE-2021-36260 affected": the id and its status in words. */
export function cveLabel(v: Vulnerability): string {
  const words = cveStatusWords(v);
  return words ? `${v.id} ${words}` : v.id;
}

/**
 * Does this entry count the device as one "with known CVEs"? Only `affected` and
 * `possibly-affected` do; `not-affected` and `cannot-tell` do not. An entry without a status (older
 * agents listed a CVE only when it concerned the device) still counts.
 */
export function isFlagged(v: Vulnerability): boolean {
  return v.status === undefined || FLAGGED_STATUSES.includes(v.status);
}

/** The CVEs that count a device as one "with known CVEs", in document order. */
export function flaggedCves(device: Device): Vulnerability[] {
  return device.vulnerabilities.filter(isFlagged);
}

/** The counts a report opens with. Every device is counted once in `byRelation`. */
export interface ReportSummary {
  devices: number;
  /** Linked vendor key → devices linked to it, for every linked vendor. */
  linked: Record<string, number>;
  byRelation: Record<Relation | 'unlinked', number>;
  /** Devices with at least one CVE `affected` or `possibly-affected` (see isFlagged). */
  withCves: number;
  /** Devices whose maker is unknown: no manufacturer, no brand and no linked vendor. */
  unidentified: number;
  /** Devices on this segment that IPv4 cannot reach (`misaddressed`: agent/pipeline/misaddressed.ts). */
  misaddressed: number;
}

/** How every report names the misaddressed devices, and what they need. */
export const MISADDRESSED_LABEL = 'On this segment, IPv4 cannot reach';

/** "needs 192.168.1.0/24" (or the address it claims, when it gave no usable mask); empty for a device that is not misaddressed. */
export function misaddressedNote(device: Device): string {
  const flag = device.misaddressed;
  if (!flag) return '';
  return `needs ${flag.subnet ?? flag.address}`;
}

export function isUnidentified(device: Device): boolean {
  return device.classification.linkedVendor === null && !device.identity.manufacturer && !device.identity.brand;
}

export function summarize(inventory: Inventory, names: LinkedVendorNames): ReportSummary {
  const summary: ReportSummary = {
    devices: inventory.devices.length,
    linked: Object.fromEntries([...names.keys()].map((key) => [key, 0])),
    byRelation: { direct: 0, oem: 0, subsidiary: 0, unlinked: 0 },
    withCves: 0,
    unidentified: 0,
    misaddressed: 0,
  };
  for (const d of inventory.devices) {
    const { linkedVendor, relation } = d.classification;
    if (linkedVendor !== null) summary.linked[linkedVendor] = (summary.linked[linkedVendor] ?? 0) + 1;
    summary.byRelation[linkedVendor ? (relation ?? 'direct') : 'unlinked']++;
    if (flaggedCves(d).length > 0) summary.withCves++;
    if (isUnidentified(d)) summary.unidentified++;
    if (d.misaddressed) summary.misaddressed++;
  }
  return summary;
}

/**
 * The verdict in a sentence a committee reads: "made by Hikvision, sold as LTS (OEM)",
 * "made by Dahua", "not linked to Hikvision or Dahua (made by Axis)".
 */
export function plainVerdict(device: Device, names: LinkedVendorNames): string {
  const { linkedVendor, relation } = device.classification;
  const { brand, manufacturer } = device.identity;
  if (!linkedVendor) return `not linked to ${linkedNamesText(names)} (${(manufacturer ?? brand) ? `made by ${manufacturer ?? brand}` : 'maker unknown'})`;
  const vendor = names.get(linkedVendor) ?? linkedVendor;
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
export function summaryRows(summary: ReportSummary, names: LinkedVendorNames): Array<{ key: string; label: string; value: number }> {
  return [
    { key: 'devices', label: 'Devices found', value: summary.devices },
    ...[...names].map(([key, name]) => ({ key, label: `Linked to ${name}`, value: summary.linked[key] ?? 0 })),
    { key: 'direct', label: 'Made by them, own brand', value: summary.byRelation.direct },
    { key: 'oem', label: 'Made for another brand (OEM)', value: summary.byRelation.oem },
    { key: 'subsidiary', label: 'Made by a subsidiary', value: summary.byRelation.subsidiary },
    { key: 'unlinked', label: 'Not linked', value: summary.byRelation.unlinked },
    { key: 'cves', label: 'With known CVEs', value: summary.withCves },
    { key: 'unidentified', label: 'Maker unknown', value: summary.unidentified },
    { key: 'misaddressed', label: MISADDRESSED_LABEL, value: summary.misaddressed },
  ];
}
