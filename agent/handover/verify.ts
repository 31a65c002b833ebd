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
import { escapeHtml, htmlPageHead } from '../report/html.js';
import { displaySafe } from '../safe-text.js';
import { terminalTable } from '../report/terminal-table.js';
import { evidenceSummary, linkedNamesText, type LinkedVendorNames } from '../report/summary.js';
import { REPORT_CSS } from '../report/html-assets.js';
import type { ScheduleFile } from './schedule.js';
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
  /** The strongest evidence the verdict rests on, in words (agent/report/summary.ts evidenceSummary). */
  evidence: string;
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
  scanStartedAt: string;
  scanFinishedAt: string;
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
  const { scan } = inventory;
  return { site: scan.site, scanId: scan.id, scanStartedAt: scan.startedAt, scanFinishedAt: scan.finishedAt, matched, missing, unexpected, linked, ok };
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
    evidence: evidenceSummary(d),
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

/** One line for a report of the scan: when the handover was verified, against which file, and how it came out. */
export function handoverLine(record: HandoverSignOff, names: LinkedVendorNames): string {
  return (
    `Handover verified ${record.verifiedAt} against ${record.schedule.name} (SHA-256 ${record.schedule.sha256}): ` +
    `${record.ok ? 'PASS' : 'FAIL'}, ${counts(record, names)}.`
  );
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

/**
 * What an installer signs: the verification with what it checked (the schedule file and its
 * SHA-256, the scan and its times), when, and by which agent version. `verify --format json`
 * prints it; `--format html` renders it; the store keeps it with the scan it checked.
 */
export interface HandoverSignOff extends VerifyResult {
  schedule: ScheduleFile;
  verifiedAt: string;
  agentVersion: string;
}

export function signOff(result: VerifyResult, schedule: ScheduleFile, verifiedAt: Date, agentVersion: string): HandoverSignOff {
  return { ...result, schedule, verifiedAt: verifiedAt.toISOString(), agentVersion };
}

/** The fields compared for one matched device: field, expected (raw), found (raw), agreed or not. */
function checkedRows(m: MatchedDevice): string {
  const differs = new Map(m.mismatches.map((x) => [x.field, x]));
  return m.checked
    .map((field) => {
      const miss = differs.get(field);
      const found = miss ? miss.found : foundCheckedValue(m, field);
      return `<li class="${miss ? 'differs' : 'agrees'}">${escapeHtml(field)}: expected <code>${escapeHtml(m.expected[field] ?? '')}</code>, found <code>${escapeHtml(found ?? 'nothing')}</code>${miss ? ' (differs)' : ''}</li>`;
    })
    .join('');
}

/** What the found device shows for a checked field that agreed (its address for `ip`). */
function foundCheckedValue(m: MatchedDevice, field: ComparedField): string | null {
  return field === 'ip' ? m.found.ip : m.found[field];
}

function signOffRow(status: string, handover: string, found: string, checks: string, verdict: string, evidence: string): string {
  return `<tr class="${escapeHtml(status)}"><td class="status">${escapeHtml(status)}</td><td>${escapeHtml(handover)}</td><td class="mono">${escapeHtml(found)}</td><td><ul>${checks}</ul></td><td>${escapeHtml(verdict)}</td><td>${escapeHtml(evidence) || '-'}</td></tr>`;
}

const SIGN_OFF_HEAD = ['Status', 'Handover', 'Found', 'Checked (expected, found: raw values)', 'Linked to', 'Evidence'];

const SIGN_OFF_CSS = `tr.missing td.status,tr.mismatched td.status,tr.moved td.status,tr.unexpected td.status{color:var(--hik);font-weight:600}
li.differs{color:var(--hik)}.pass{color:var(--ok)}.fail{color:var(--hik)}ul{margin:0;padding-left:1.1em}
.signature{margin-top:32px;display:grid;grid-template-columns:repeat(3,1fr);gap:24px}.signature div{border-top:1px solid var(--ink);padding-top:4px;color:var(--muted)}
@media print{.signature{break-inside:avoid}}`;

/**
 * A self-contained sign-off page: inline style, no script, nothing fetched (its Content-Security-
 * Policy forbids it); every value from the schedule or a device escaped (escapeHtml, which shows
 * control and bidirectional characters as escapes first).
 */
export function verifyHtml(result: HandoverSignOff, names: LinkedVendorNames): string {
  const body: string[] = [];
  for (const m of result.matched) {
    const where = m.expected.location ? ` (${m.expected.location})` : '';
    body.push(signOffRow(m.status, `${expectedLabel(m.expected)}${where}, line ${m.expected.line}`, [foundLabel(m.found), m.found.brand, m.found.model, `matched by ${m.matchedBy}`].filter(Boolean).join(', '), checkedRows(m), m.found.verdict, m.found.evidence));
  }
  for (const e of result.missing) {
    const wanted = [e.brand, e.model].filter(Boolean).join(' ');
    body.push(signOffRow('missing', `${expectedLabel(e)}${e.location ? ` (${e.location})` : ''}, line ${e.line}`, 'not found', wanted ? `<li>${escapeHtml(wanted)}</li>` : '', '-', ''));
  }
  for (const f of result.unexpected) {
    const device = [f.brand, f.model, f.serial].filter(Boolean).join(' ');
    body.push(signOffRow('unexpected', 'not in the handover', foundLabel(f), device ? `<li>${escapeHtml(device)}</li>` : '', f.verdict, f.evidence));
  }
  const title = `Handover sign-off: site ${result.site}`;
  const verdict = result.ok ? 'PASS: the handover matches the network.' : 'FAIL: the handover does not match the network, or names linked devices.';
  return `${htmlPageHead({ title, css: `${REPORT_CSS}\n${SIGN_OFF_CSS}` })}<body>
<h1>${escapeHtml(title)}</h1>
<table class="devices" id="facts"><tbody>
<tr><th scope="row">Site</th><td>${escapeHtml(result.site)}</td></tr>
<tr><th scope="row">Scan</th><td class="mono">${escapeHtml(result.scanId)}, from ${escapeHtml(result.scanStartedAt)} to ${escapeHtml(result.scanFinishedAt)}</td></tr>
<tr><th scope="row">Handover schedule</th><td>${escapeHtml(result.schedule.name)}</td></tr>
<tr><th scope="row">Schedule SHA-256</th><td class="mono" id="sha256">${escapeHtml(result.schedule.sha256)}</td></tr>
<tr><th scope="row">Verified</th><td>${escapeHtml(result.verifiedAt)} by cctv-agent ${escapeHtml(result.agentVersion)}</td></tr>
</tbody></table>
<h2>Summary</h2>
<p id="verdict" class="${result.ok ? 'pass' : 'fail'}"><strong>${escapeHtml(verdict)}</strong></p>
<p id="counts">${escapeHtml(counts(result, names))}.</p>
<h2>Devices</h2>
<table class="devices" id="devices">
<thead><tr>${SIGN_OFF_HEAD.map((h) => `<th scope="col">${escapeHtml(h)}</th>`).join('')}</tr></thead>
<tbody>
${body.join('\n')}
</tbody>
</table>
<p class="meta">Values are shown as the schedule and the devices wrote them; they were compared ignoring case, spaces, underscores, hyphens, MAC notation and vendor model prefixes (fingerprints/comparison.yaml).</p>
<div class="signature"><div>Installer: name, signature, date</div><div>Site representative: name, signature, date</div><div>Reference</div></div>
<footer>Made by cctv-agent ${escapeHtml(result.agentVersion)}. "Linked" means made by or for ${escapeHtml(linkedNamesText(names))}; each verdict lists the evidence it rests on.</footer>
</body>
</html>
`;
}
