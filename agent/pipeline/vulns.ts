/**
 * Offline CVE flags: a device's model and firmware against the advisories in fingerprints/cves.yaml.
 * Nothing is sent to the device; no exploit is tried. A model family that matches with firmware
 * inside the published range is `affected` (`possibly-affected` on OEM firmware, which advisories
 * do not list); a family that matches with unknown or unreadable firmware is `cannot-tell`; known
 * firmware outside the range gives no entry. Devices not linked to the CVE's vendor are not checked.
 *
 * Device firmware forms read (the boundaries themselves are structured data in cves.yaml):
 *   Hikvision  `V5.4.0 build 160530`, `V5.6.2build 190701`, `V5.4.0 Build 160401` (version + build
 *              YYMMDD), or a bare version `V5.7.12` (then only a version strictly inside the range
 *              can be judged)
 *   Dahua      build date `…, Build Date: 2021-07-07`, `…,build:2020-11-17`, or a trailing
 *              `.YYYYMMDD` as in `V2.400.AC01.15.R.20170328`
 *   versions   `V2.3.8-8` (numbers separated by dots or dashes)
 */
import type { CveFamily, CveTable, FirmwareBoundary, HikvisionFirmware, Severity } from '../knowledge/cves.js';
import type { LinkedVendor, Relation, Vulnerability, VulnerabilityStatus } from '../types.js';

/** What the matcher reads of a device: its identity's model and firmware and its classification. */
export interface VulnerabilityInput {
  model: string | null;
  firmware: string | null;
  linkedVendor: LinkedVendor | null;
  relation: Relation | null;
}

export type VulnerabilityFlag = Required<Vulnerability> & { status: VulnerabilityStatus; severity: Severity | null };

// ---------------------------------------------------------------------------------------------
// Firmware parsing

export function isCalendarDate(year: number, month: number, day: number): boolean {
  const d = new Date(Date.UTC(year, month - 1, day));
  return d.getUTCFullYear() === year && d.getUTCMonth() === month - 1 && d.getUTCDate() === day;
}

/** `V5.4.0 build 160530` → { version: [5,4,0], build: '160530' }; null when it is not that form. */
export function parseHikvisionFirmware(text: string): HikvisionFirmware | null {
  const m = /^\s*V?(\d{1,3}(?:\.\d{1,4}){1,3})\s*(?:,?\s*build\s*(\d{6}))?\s*$/i.exec(text);
  if (!m?.[1]) return null;
  const build = m[2] ?? null;
  if (build !== null && !isCalendarDate(2000 + Number(build.slice(0, 2)), Number(build.slice(2, 4)), Number(build.slice(4, 6)))) {
    return null;
  }
  return { version: m[1].split('.').map(Number), build };
}

/** The build date (YYYY-MM-DD) a Dahua firmware string carries, or null when it shows none. */
export function parseDahuaBuildDate(text: string): string | null {
  const m =
    /\bbuild(?:\s*date)?\s*[:=]?\s*(\d{4})-(\d{2})-(\d{2})\b/i.exec(text) ??
    /^\s*V?\d+\.\d+\.[0-9A-Z]+\.\d+(?:\.[RT])?\.(\d{4})(\d{2})(\d{2})\s*$/i.exec(text);
  if (!m?.[1] || !m[2] || !m[3]) return null;
  if (!isCalendarDate(Number(m[1]), Number(m[2]), Number(m[3]))) return null;
  return `${m[1]}-${m[2]}-${m[3]}`;
}

/** The leading version numbers of `V2.3.8-8` → [2,3,8,8]; null when the string does not start with one. */
export function parseVersionNumbers(text: string): number[] | null {
  const m = /^\s*V?(\d{1,6}(?:[.-]\d{1,6})*)/i.exec(text);
  return m?.[1] ? m[1].split(/[.-]/).map(Number) : null;
}

/** Compares version number lists, missing trailing numbers counting as 0. */
export function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

export function compareHikvision(a: HikvisionFirmware, b: HikvisionFirmware): number {
  const ab = a.build ?? '';
  const bb = b.build ?? '';
  return compareVersions(a.version, b.version) || (ab < bb ? -1 : ab > bb ? 1 : 0);
}

// ---------------------------------------------------------------------------------------------
// Matching

type Verdict = { inside: true; why: string } | { inside: false; outside: true } | { inside: false; outside: false; why: string };

function judge(boundary: FirmwareBoundary, firmware: string | null): Verdict {
  if (boundary.kind === 'unpublished') return { inside: false, outside: false, why: boundary.note };
  if (!firmware) return { inside: false, outside: false, why: `its firmware is not known, so it cannot be told whether it is within "${boundary.text}"` };
  const inside: Verdict = { inside: true, why: `firmware "${firmware}" is within "${boundary.text}"` };
  const outside: Verdict = { inside: false, outside: true };
  switch (boundary.kind) {
    case 'version-build-range': {
      const fw = parseHikvisionFirmware(firmware);
      if (!fw) break;
      if (fw.build !== null) return compareHikvision(fw, boundary.from) >= 0 && compareHikvision(fw, boundary.to) <= 0 ? inside : outside;
      const low = compareVersions(fw.version, boundary.from.version);
      const high = compareVersions(fw.version, boundary.to.version);
      if (low < 0 || high > 0) return outside;
      if (low > 0 && high < 0) return inside;
      // Same version as a boundary: only the build date could tell.
      return {
        inside: false,
        outside: false,
        why: `firmware "${firmware}" has the version of an end of "${boundary.text}" but no build date, so it cannot be told whether it is within`,
      };
    }
    case 'built-before': {
      const built = parseDahuaBuildDate(firmware);
      if (!built) return { inside: false, outside: false, why: `firmware "${firmware}" shows no build date, so it cannot be told whether it is within "${boundary.text}"` };
      return built < boundary.before ? { inside: true, why: `firmware "${firmware}" was built ${built}, within "${boundary.text}"` } : outside;
    }
    case 'version-at-most': {
      const version = parseVersionNumbers(firmware);
      if (!version) break;
      if (version[0] !== boundary.major) return outside;
      return compareVersions(version, boundary.atMost) <= 0 ? inside : outside;
    }
  }
  return { inside: false, outside: false, why: `firmware "${firmware}" is not in a form that can be compared with "${boundary.text}"` };
}

export function compareCveIds(a: string, b: string): number {
  const [, ya = '0', na = '0'] = a.split('-');
  const [, yb = '0', nb = '0'] = b.split('-');
  return Number(ya) - Number(yb) || Number(na) - Number(nb) || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * The CVEs of `table` that concern a device, in id order: see the file comment for the statuses.
 * OEM: a device whose relation is `oem`, or whose firmware matches the vendor's `oemFirmware`
 * pattern, gets `possibly-affected` where a direct one would get `affected`.
 */
export function vulnerabilitiesOf(table: CveTable, input: VulnerabilityInput): VulnerabilityFlag[] {
  const model = input.model?.trim();
  if (!input.linkedVendor || !model) return [];
  const firmware = input.firmware?.trim() || null;
  const oemCode = firmware !== null && (table.oemFirmware.get(input.linkedVendor)?.test(firmware) ?? false);
  const flags: VulnerabilityFlag[] = [];
  for (const cve of table.cves) {
    if (cve.vendor !== input.linkedVendor) continue;
    let unknown: { family: CveFamily; why: string } | null = null;
    let hit: { family: CveFamily; why: string } | null = null;
    for (const family of cve.families) {
      if (!family.model.test(model)) continue;
      const verdict = judge(family.firmware, firmware);
      if (verdict.inside) {
        hit = { family, why: verdict.why };
        break;
      }
      if (!verdict.outside) unknown ??= { family, why: verdict.why };
    }
    const found = hit ?? unknown;
    if (!found) continue;
    let status: VulnerabilityStatus = hit ? 'affected' : 'cannot-tell';
    let reason = `model ${model} is in "${found.family.name}"; ${found.why}`;
    if (hit && (oemCode || input.relation === 'oem')) {
      status = 'possibly-affected';
      reason += oemCode
        ? `; but this firmware carries an OEM build code, and the advisory does not list OEM firmware`
        : `; but the device is an OEM rebrand, whose firmware the advisory does not list`;
    }
    flags.push({ id: cve.id, status, severity: cve.severity, kev: cve.kev, reason, source: cve.source });
  }
  return flags.sort((a, b) => compareCveIds(a.id, b.id));
}
