/**
 * Handover verification: the devices an installer says were fitted (agent/handover/schedule.ts)
 * against the devices a scan found. A pure function of the two, plus renderings.
 *
 * Matching, in order: by MAC, then serial, then IP; each found device is matched at most once
 * (the first expected device, in file order, to claim it keeps it). A matched device is then
 * compared on every identity field the schedule gives, the key that matched it aside:
 * - a MAC or serial that differs is a swapped unit (`mismatched`), never a match;
 * - an address that differs, for a device matched by its MAC or serial, is a moved device (`moved`).
 * Values are compared as agent/normalise.ts says (case, separators, vendor prefixes of models, MAC
 * notation); the raw values are what the result holds and shows.
 * A MAC the device shares with other devices (a proxy-ARP router's) is not its own: it is neither
 * matched nor compared.
 */
import type { Device, Inventory } from '../types.js';
import type { ExpectedDevice } from './schedule.js';
import { normaliseMac } from '../net/mac.js';
import { comparableMac, comparableModel, comparableText, readComparisonRules, type ComparisonRules } from '../normalise.js';
import { escapeHtml } from '../report/html.js';
import { displaySafe } from '../safe-text.js';
import { terminalTable } from '../report/terminal-table.js';
import { linkedNamesText, type LinkedVendorNames } from '../report/summary.js';
import { verdictText } from '../report/table.js';

/** Fields a matched device is checked on: what a handover schedule names about a unit. */
const COMPARED = ['ip', 'mac', 'serial', 'model', 'firmware', 'brand'] as const;
export type ComparedField = (typeof COMPARED)[number];

export interface FieldMismatch {
  field: ComparedField;
  expected: string;
  found: string | null;
}

export interface FoundDevice {
  id: string;
  ip: string;
  mac: string | null;
  brand: string | null;
  model: string | null;
  firmware: string | null;
  serial: string | null;
  /** Plain words: "Hikvision (OEM)", "not linked". */
  verdict: string;
  linkedVendor: string | null;
  relation: string | null;
}

export interface MatchedDevice {
  expected: ExpectedDevice;
  found: FoundDevice;
  matchedBy: 'mac' | 'serial' | 'ip';
  /** The fields the schedule gave that were compared (the matching key among them). */
  checked: ComparedField[];
  /** Empty when every compared field the schedule names agrees. */
  mismatches: FieldMismatch[];
  /** `moved` when the only difference is the address of a device matched by MAC or serial. */
  status: 'matched' | 'mismatched' | 'moved';
}

export interface VerifyResult {
  site: string;
  scanId: string;
  matched: MatchedDevice[];
  missing: ExpectedDevice[];
  unexpected: FoundDevice[];
  /** Matched or unexpected devices linked to a linked vendor (Hikvision, Dahua). */
  linked: FoundDevice[];
  /** True when nothing is missing, unexpected or mismatched, and (unless allowed) nothing is linked. */
  ok: boolean;
}

export function verifyHandover(
  expected: readonly ExpectedDevice[],
  inventory: Inventory,
  options: { allowLinked: boolean; names: LinkedVendorNames; comparison?: ComparisonRules },
): VerifyResult {
  const found = (d: Device): FoundDevice => foundDevice(d, options.names);
  const unclaimed = new Set(inventory.devices);
  const matched: MatchedDevice[] = [];
  const missing: ExpectedDevice[] = [];
  for (const want of expected) {
    const hit = findMatch(want, unclaimed);
    if (!hit) {
      missing.push(want);
      continue;
    }
    unclaimed.delete(hit.device);
    const compared = compare(want, hit.device, options.comparison ?? readComparisonRules());
    matched.push({ expected: want, found: found(hit.device), matchedBy: hit.by, ...compared, status: statusOf(compared.mismatches) });
  }
  const unexpected = inventory.devices.filter((d) => unclaimed.has(d)).map(found);
  const linked = [...matched.map((m) => m.found), ...unexpected].filter((d) => d.linkedVendor !== null);
  const ok =
    missing.length === 0 &&
    unexpected.length === 0 &&
    matched.every((m) => m.mismatches.length === 0) &&
    (options.allowLinked || linked.length === 0);
  return { site: inventory.scan.site, scanId: inventory.scan.id, matched, missing, unexpected, linked, ok };
}

function findMatch(want: ExpectedDevice, candidates: Set<Device>): { device: Device; by: MatchedDevice['matchedBy'] } | null {
  const pool = [...candidates];
  // A MAC the device shares with others (a proxy-ARP router's) does not tell which one is meant.
  const wantMac = want.mac ? normaliseMac(want.mac) : null;
  const mac = wantMac ? pool.find((d) => ownMacs(d).includes(wantMac)) : undefined;
  if (mac) return { device: mac, by: 'mac' };
  const wantSerial = want.serial ? comparableText(want.serial) : null;
  const serial = wantSerial ? pool.find((d) => d.identity.serial !== null && comparableText(d.identity.serial) === wantSerial) : undefined;
  if (serial) return { device: serial, by: 'serial' };
  const ip = want.ip ? pool.find((d) => d.ip === want.ip) : undefined;
  if (ip) return { device: ip, by: 'ip' };
  return null;
}

/** The device's own MACs (none when its MAC is one it shares with other devices). */
function ownMacs(device: Device): string[] {
  if (device.macShared) return [];
  return [device.mac, ...(device.macs ?? [])].filter((m): m is string => m !== null);
}

/** What the device has for `field`, as it is shown: one value, or null. */
function foundValue(device: Device, field: ComparedField): string | null {
  if (field === 'ip') return device.ip;
  if (field === 'mac') return device.macShared ? null : device.mac;
  return device.identity[field];
}

/** Whether the device agrees with the schedule's `expected` value of `field`, compared as agent/normalise.ts says. */
function agrees(device: Device, field: ComparedField, expected: string, rules: ComparisonRules): boolean {
  if (field === 'ip') return [device.ip, ...(device.addresses ?? [])].includes(expected.trim());
  if (field === 'mac') return ownMacs(device).includes(comparableMac(expected));
  const found = device.identity[field];
  if (found === null) return false;
  return field === 'model' ? comparableModel(found, rules) === comparableModel(expected, rules) : comparableText(found) === comparableText(expected);
}

/** Compares every field the schedule gives; a MAC only the device's router shows is not compared. */
function compare(want: ExpectedDevice, device: Device, rules: ComparisonRules): { checked: ComparedField[]; mismatches: FieldMismatch[] } {
  const checked: ComparedField[] = [];
  const mismatches: FieldMismatch[] = [];
  for (const field of COMPARED) {
    const expected = want[field];
    if (expected === null || (field === 'mac' && device.macShared)) continue;
    checked.push(field);
    if (!agrees(device, field, expected, rules)) mismatches.push({ field, expected, found: foundValue(device, field) });
  }
  return { checked, mismatches };
}

function statusOf(mismatches: readonly FieldMismatch[]): MatchedDevice['status'] {
  if (mismatches.length === 0) return 'matched';
  return mismatches.every((m) => m.field === 'ip') ? 'moved' : 'mismatched';
}

function foundDevice(d: Device, names: LinkedVendorNames): FoundDevice {
  return {
    id: d.id,
    ip: d.ip,
    mac: d.mac,
    brand: d.identity.brand,
    model: d.identity.model,
    firmware: d.identity.firmware,
    serial: d.identity.serial,
    verdict: verdictText(d, names),
    linkedVendor: d.classification.linkedVendor,
    relation: d.classification.relation,
  };
}

/** Exit status for an installer's script: 0 the handover holds, 1 it does not. */
export function verifyExitCode(result: VerifyResult): number {
  return result.ok ? 0 : 1;
}

function expectedLabel(e: ExpectedDevice): string {
  return [e.ip, e.mac, e.serial].filter((v): v is string => v !== null).join(' / ');
}

function foundLabel(f: FoundDevice): string {
  return [f.ip, f.mac].filter((v): v is string => v !== null).join(' / ');
}

function counts(result: VerifyResult, names: LinkedVendorNames): string {
  const mismatched = result.matched.filter((m) => m.status === 'mismatched').length;
  const moved = result.matched.filter((m) => m.status === 'moved').length;
  return (
    `${result.matched.length - mismatched - moved} matched, ${mismatched} mismatched, ${moved} moved, ${result.missing.length} missing, ` +
    `${result.unexpected.length} unexpected, ${result.linked.length} linked to ${linkedNamesText(names)}`
  );
}

/** One row a device: status, the handover's words for it, what was found, and why it fails. */
function rows(result: VerifyResult): string[][] {
  const out: string[][] = [];
  for (const m of result.matched) {
    const why = m.mismatches.map((x) => `${x.field}: expected ${x.expected}, found ${x.found ?? 'nothing'}`);
    out.push([
      m.status,
      `${expectedLabel(m.expected)}${m.expected.location ? ` (${m.expected.location})` : ''}`,
      `${foundLabel(m.found)} by ${m.matchedBy}`,
      [m.found.brand, m.found.model].filter(Boolean).join(' ') || '-',
      m.found.verdict,
      why.join('; ') || '-',
    ]);
  }
  for (const e of result.missing) {
    out.push(['missing', `${expectedLabel(e)}${e.location ? ` (${e.location})` : ''}`, 'not found', [e.brand, e.model].filter(Boolean).join(' ') || '-', '-', `handover line ${e.line}`]);
  }
  for (const f of result.unexpected) {
    out.push(['unexpected', 'not in the handover', foundLabel(f), [f.brand, f.model].filter(Boolean).join(' ') || '-', f.verdict, '-']);
  }
  return out;
}

const HEAD = ['Status', 'Handover', 'Found', 'Device', 'Linked to', 'Problem'];

export function verifyTable(result: VerifyResult, names: LinkedVendorNames): string {
  return (
    `${displaySafe(`Handover check of site ${result.site}, scan ${result.scanId}`)}\n${terminalTable(HEAD, rows(result))}\n${counts(result, names)}.\n` +
    `${result.ok ? 'PASS' : 'FAIL'}: ${result.ok ? 'the handover matches the network.' : 'the handover does not match the network, or names linked devices.'}\n`
  );
}

/** A self-contained page: inline style, no script, nothing fetched; every device string escaped. */
export function verifyHtml(result: VerifyResult, names: LinkedVendorNames): string {
  const body = rows(result)
    .map((row) => `<tr class="${escapeHtml(row[0] ?? '')}">${row.map((cell) => `<td>${escapeHtml(cell)}</td>`).join('')}</tr>`)
    .join('\n');
  const title = `Handover check: site ${result.site}`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #999;padding:.3em .6em;text-align:left}
tr.missing,tr.mismatched,tr.moved,tr.unexpected{background:#fde2e2}.pass{color:#146c2e}.fail{color:#a4161a}</style></head>
<body><h1>${escapeHtml(title)}</h1><p>Scan ${escapeHtml(result.scanId)}</p>
<p class="${result.ok ? 'pass' : 'fail'}"><strong>${result.ok ? 'PASS' : 'FAIL'}</strong>: ${escapeHtml(counts(result, names))}.</p>
<table><thead><tr>${HEAD.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>
${body}
</tbody></table></body></html>
`;
}
