/**
 * Alerts as ArcSight Common Event Format (CEF) lines, for a SIEM over syslog (syslog.ts).
 * Micro Focus "Implementing ArcSight Common Event Format (CEF)", version 25
 * (https://www.microfocus.com/documentation/arcsight/arcsight-smartconnectors-8.3/cef-implementation-standard/):
 *
 *   CEF:Version|Device Vendor|Device Product|Device Version|Device Event Class ID|Name|Severity|Extension
 *
 * Escaping, as the standard says: in the header, `\` and `|` are escaped with a backslash (a line
 * break cannot be written there, so it becomes a space); in extension values, `\` and `=` are
 * escaped with a backslash and a line break is written `\n` (or `\r`). Extension keys are the
 * standard's own (a fixed set, never device text).
 *
 * The mapping (README, "Alerts"): rt = the sweep's end (ms since the epoch), dst (IPv4) or
 * c6a3 (IPv6) = the device's address, dmac = its MAC, msg = alertSummary(), externalId = one id per
 * alert (the same on a resend), cs1 site, cs2 scan id, cs3 device id, cs4 linked vendor and
 * relation, cs5 the CVE (new-affected-cve) or the firmware before (firmware-changed), cs6 the
 * device's firmware now, flexString1 model, flexString2 maker or brand. A baseline-taken alert
 * (no device) carries rt, msg, externalId, cs1, cs2, cnt = devices, cn1 = devices linked to a
 * linked vendor (cn1Label linkedDevices), cn2 = CVEs that count (cn2Label flaggedCves).
 */
import { agentVersion } from '../paths.js';
import { alertSummary, type Alert, type AlertType, type BaselineAlert, type DeviceAlert } from './alerts.js';

export const CEF_VENDOR = 'cctv-agent';
export const CEF_PRODUCT = 'cctv-agent';

const NAMES: Record<AlertType, string> = {
  'linked-device-added': 'Linked CCTV device added',
  'device-removed': 'CCTV device removed',
  'firmware-changed': 'CCTV device firmware changed',
  'new-affected-cve': 'CCTV device affected by a CVE',
  'baseline-taken': 'CCTV site baseline taken',
};

/** CEF severity 0–10 of each alert (10 most severe). */
const CVE_SEVERITY: Record<string, number> = { critical: 9, high: 8, medium: 6, low: 4 };
const UNSCORED_CVE_SEVERITY = 6;
/** `possibly-affected` is one step of doubt below `affected`. */
const POSSIBLY_AFFECTED_DISCOUNT = 2;
const TYPE_SEVERITY: Record<Exclude<AlertType, 'new-affected-cve'>, number> = {
  'linked-device-added': 7,
  'device-removed': 3,
  'firmware-changed': 5,
  // Information: nothing changed, the agent started counting.
  'baseline-taken': 1,
};

export function cefSeverity(alert: Alert): number {
  if (alert.type !== 'new-affected-cve') return TYPE_SEVERITY[alert.type];
  const base = CVE_SEVERITY[alert.cve?.severity ?? ''] ?? UNSCORED_CVE_SEVERITY;
  return alert.cve?.status === 'possibly-affected' ? base - POSSIBLY_AFFECTED_DISCOUNT : base;
}

export function escapeHeader(value: string): string {
  return value.replace(/[\\|]/g, (c) => `\\${c}`).replace(/[\r\n]+/g, ' ');
}

export function escapeExtension(value: string): string {
  return value.replace(/[\\=]/g, (c) => `\\${c}`).replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

/** The extension fields of an alert, in order; absent values are left out. */
export function cefExtension(alert: Alert): Array<[string, string]> {
  return alert.type === 'baseline-taken' ? baselineExtension(alert) : deviceExtension(alert);
}

function sweepFields(alert: Alert): Array<[string, string]> {
  return [
    ['cs1Label', 'site'],
    ['cs1', alert.site],
    ['cs2Label', 'scanId'],
    ['cs2', alert.scanId],
  ];
}

function baselineExtension(alert: BaselineAlert): Array<[string, string]> {
  const { devices, linked, flaggedCves } = alert.baseline;
  return [
    ['rt', String(Date.parse(alert.at))],
    ['msg', alertSummary(alert)],
    ['externalId', `${alert.scanId}/${alert.type}`],
    ...sweepFields(alert),
    ['cnt', String(devices)],
    ['cn1Label', 'linkedDevices'],
    ['cn1', String(Object.values(linked).reduce((a, b) => a + b, 0))],
    ['cn2Label', 'flaggedCves'],
    ['cn2', String(flaggedCves)],
  ];
}

function deviceExtension(alert: DeviceAlert): Array<[string, string]> {
  const d = alert.device;
  const fields: Array<[string, string | null | undefined]> = [
    ['rt', String(Date.parse(alert.at))],
    // dst takes an IPv4 address only; an IPv6 one goes in the custom IPv6 field, labelled.
    ...(alert.ip.includes(':') ? ([['c6a3', alert.ip], ['c6a3Label', 'deviceAddress']] as Array<[string, string]>) : ([['dst', alert.ip]] as Array<[string, string]>)),
    ['dmac', d.mac],
    ['msg', alertSummary(alert)],
    ['externalId', [alert.scanId, alert.deviceId, alert.type, alert.cve?.id].filter(Boolean).join('/')],
    ...sweepFields(alert),
    ['cs3Label', 'deviceId'],
    ['cs3', alert.deviceId],
    ['cs4Label', 'linkedVendor'],
    ['cs4', d.linkedVendor ? `${d.linkedVendor}/${d.relation ?? 'direct'}` : 'none'],
    ...(alert.cve ? ([['cs5Label', 'cve'], ['cs5', `${alert.cve.id} ${alert.cve.status ?? 'flagged'}`]] as Array<[string, string]>) : []),
    ...(alert.firmware ? ([['cs5Label', 'firmwareBefore'], ['cs5', alert.firmware.before]] as Array<[string, string | null]>) : []),
    ['cs6Label', 'firmware'],
    ['cs6', alert.firmware ? alert.firmware.after : d.firmware],
    ['flexString1Label', 'model'],
    ['flexString1', d.model],
    ['flexString2Label', 'maker'],
    ['flexString2', d.manufacturer ?? d.brand],
  ];
  return fields.filter((f): f is [string, string] => typeof f[1] === 'string' && f[1] !== '');
}

/**
 * Extension values that may be shortened, then left out (with their label), when a line must fit a
 * size (a UDP datagram, syslog.ts), most expendable first: the person's summary repeats the other
 * fields; the texts a device chose come next. Identifiers (site, scan, device, address, CVE) are never cut.
 */
const SHORTENABLE = ['msg', 'flexString2', 'flexString1', 'cs6', 'cs4'] as const;
const CUT_MARK = '...';

const octets = (text: string): number => Buffer.byteLength(text, 'utf8');

/** The longest start of `value` whose escaped form, with CUT_MARK, fits `budget` octets ('' when none does). */
function shortened(value: string, budget: number): string {
  let used = octets(CUT_MARK);
  let kept = '';
  for (const ch of value) {
    used += octets(escapeExtension(ch));
    if (used > budget) break;
    kept += ch;
  }
  return kept === '' ? '' : `${kept}${CUT_MARK}`;
}

/**
 * One alert as one CEF line (no line break in it), of at most `maxOctets` UTF-8 octets when the
 * SHORTENABLE values can be cut that far (a line of identifiers only is returned whole).
 */
export function cefLine(alert: Alert, maxOctets = Number.POSITIVE_INFINITY): string {
  const header = ['CEF:0', CEF_VENDOR, CEF_PRODUCT, agentVersion(), alert.type, NAMES[alert.type], String(cefSeverity(alert))].map((v, i) => (i === 0 ? v : escapeHeader(v)));
  let fields = cefExtension(alert);
  const render = (): string => `${header.join('|')}|${fields.map(([key, value]) => `${key}=${escapeExtension(value)}`).join(' ')}`;
  let line = render();
  for (const key of SHORTENABLE) {
    const over = octets(line) - maxOctets;
    if (over <= 0) break;
    const value = fields.find(([k]) => k === key)?.[1];
    if (value === undefined) continue;
    const cut = shortened(value, octets(escapeExtension(value)) - over);
    fields = cut === '' ? fields.filter(([k]) => k !== key && k !== `${key}Label`) : fields.map(([k, v]) => [k, k === key ? cut : v]);
    line = render();
  }
  return line;
}
