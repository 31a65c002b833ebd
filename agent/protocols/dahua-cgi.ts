/**
 * Dahua HTTP API `magicBox.cgi` identity answers (pure: no I/O). Each action answers plain text,
 * one `key=value` a line (CRLF), e.g. (rroller/dahua custom_components/dahua/client.py@c2b8b41c98856af457721f2523bd6a2f37588b15):
 *   getSystemInfo       appAutoStart=true / deviceType=IPC-HDW5831R-ZE / hardwareVersion=1.00 /
 *                       processor=S3LM / serialNumber=4X7C5A1ZAG21L3F / updateSerial=IPC-HDW5830R-Z …
 *   getSoftwareVersion  version=2.800.0000016.0.R,build:2020-06-05
 *                       (older firmware: version=2.420.AC00.15.R / BuildDate=2016-09-08,
 *                       tchellomello/python-amcrest README.rst@2e89af8b6c29b804fd3e2375c491c12eaf57caff)
 *   getDeviceType       type=IPC-HDW5831R-ZE   (some cameras: type=IP Camera)
 *   getVendor           vendor=Dahua           (OEM builds name their label)
 * Amcrest, Lorex and other OEM builds of the same firmware answer the same way
 * (tchellomello/python-amcrest src/amcrest/system.py@2e89af8b6c29b804fd3e2375c491c12eaf57caff).
 *
 * Bodies come off the wire: lines, keys and values are bounded, unknown keys are ignored, and a
 * body with no known key is not an answer.
 */
import { cleanDeviceFields } from '../safe-text.js';
import type { Fields } from '../types.js';

/** The CGI every Dahua HTTP API device serves its identity from. */
export const MAGICBOX_PATH = '/cgi-bin/magicBox.cgi';
/** The identity actions, asked in this order; getSystemInfo first, as it alone carries the serial. */
export const MAGICBOX_ACTIONS = ['getSystemInfo', 'getSoftwareVersion', 'getDeviceType', 'getVendor'] as const;
export type MagicBoxAction = (typeof MAGICBOX_ACTIONS)[number];
/** A getSystemInfo answer is a few hundred bytes; 16 KiB bounds a hostile one. */
export const MAGICBOX_MAX_RESPONSE_BYTES = 16 * 1024;
/** Lines read from one answer: the identity actions give at most about ten. */
const MAX_LINES = 64;
const MAX_KEY_LENGTH = 64;
const MAX_VALUE_LENGTH = 128;

/** Each action's keys → observation fields. */
const ACTION_FIELDS: Readonly<Record<MagicBoxAction, Readonly<Record<string, string>>>> = {
  getSystemInfo: { deviceType: 'dahua.cgi.model', serialNumber: 'dahua.cgi.serial', hardwareVersion: 'dahua.cgi.hardwareVersion', updateSerial: 'dahua.cgi.updateSerial' },
  getSoftwareVersion: { version: 'dahua.cgi.firmware', BuildDate: 'dahua.cgi.firmwareBuild' },
  getDeviceType: { type: 'dahua.cgi.type' },
  getVendor: { vendor: 'dahua.cgi.vendor' },
};

/** The request target of one action, e.g. `/cgi-bin/magicBox.cgi?action=getSystemInfo`. */
export function magicBoxTarget(action: MagicBoxAction): string {
  return `${MAGICBOX_PATH}?action=${action}`;
}

/** `key=value` lines (CR, LF or CRLF), first occurrence of a key wins; lines without `=` are skipped. */
export function parseKeyValueLines(text: string): Map<string, string> {
  const pairs = new Map<string, string>();
  const lines = text.split(/\r\n|\r|\n/, MAX_LINES);
  for (const line of lines) {
    const at = line.indexOf('=');
    if (at <= 0 || at > MAX_KEY_LENGTH) continue;
    const key = line.slice(0, at).trim();
    const value = line.slice(at + 1).trim();
    if (!/^[A-Za-z][\w.]*$/.test(key) || value === '' || value.length > MAX_VALUE_LENGTH || pairs.has(key)) continue;
    pairs.set(key, value);
  }
  return pairs;
}

/**
 * The fields of one action's answer, or null when the body holds none of the action's keys (an
 * error page, another server's answer). getSoftwareVersion's `version=X,build:DATE` is split into
 * the version and the build date. Values are cleaned of control characters (agent/safe-text.ts). Never throws.
 */
export function magicBoxFields(action: MagicBoxAction, body: Buffer | string): Fields | null {
  const text = typeof body === 'string' ? body : body.subarray(0, MAGICBOX_MAX_RESPONSE_BYTES).toString('utf8');
  const pairs = parseKeyValueLines(text);
  const fields: Fields = {};
  for (const [key, field] of Object.entries(ACTION_FIELDS[action])) {
    const value = pairs.get(key);
    if (value !== undefined) fields[field] = value;
  }
  const version = fields['dahua.cgi.firmware'];
  if (typeof version === 'string') {
    const build = /^(?<version>[^,]+),\s*build\s*:\s*(?<date>\S.*)$/i.exec(version)?.groups;
    if (build?.version && build.date) {
      fields['dahua.cgi.firmware'] = build.version.trim();
      fields['dahua.cgi.firmwareBuild'] = build.date.trim();
    }
  }
  // Device text reaches terminals and spreadsheets: control characters are cleaned here, and the fact recorded.
  return Object.keys(fields).length > 0 ? cleanDeviceFields(fields) : null;
}
