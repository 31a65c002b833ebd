/**
 * Offline CVE flags: a device's model and firmware against the advisories in fingerprints/cves.yaml.
 * Nothing is sent to the device; no exploit is tried. A model family that matches with firmware
 * inside the published range is `affected` (`possibly-affected` on OEM firmware, which advisories
 * do not list); a family that matches with unknown or unreadable firmware is `cannot-tell`; known
 * firmware outside the range gives no entry. Devices not linked to the CVE's vendor are not checked.
 *
 * Device firmware is read through the forms in cves.yaml `firmwareForms` (named-group regexes with
 * examples), like the boundaries themselves: this file gives the groups their meaning and compares.
 */
import type { CveFamily, CveTable, FirmwareBoundary, FirmwareForm, FirmwareForms, HikvisionFirmware, Severity } from '../knowledge/cves.js';
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

/** The named groups of the first of `patterns` that matches `text`, or null. */
function groupsOf(patterns: readonly RegExp[], text: string): Record<string, string | undefined> | null {
  for (const pattern of patterns) {
    const groups = pattern.exec(text)?.groups;
    if (groups) return groups;
  }
  return null;
}

/** `V5.4.0 build 160530` → { version: [5,4,0], build: '160530' } (form versionBuild); null when unreadable. */
export function parseHikvisionFirmware(forms: FirmwareForms, text: string): HikvisionFirmware | null {
  const groups = groupsOf(forms.versionBuild, text);
  if (!groups?.version) return null;
  const build = groups.build ?? null;
  if (build !== null && !isCalendarDate(2000 + Number(build.slice(0, 2)), Number(build.slice(2, 4)), Number(build.slice(4, 6)))) {
    return null;
  }
  return { version: groups.version.split('.').map(Number), build };
}

/** The build date (YYYY-MM-DD) a firmware string carries (form buildDate), or null when it shows none. */
export function parseDahuaBuildDate(forms: FirmwareForms, text: string): string | null {
  const groups = groupsOf(forms.buildDate, text);
  if (!groups?.year || !groups.month || !groups.day) return null;
  if (!isCalendarDate(Number(groups.year), Number(groups.month), Number(groups.day))) return null;
  return `${groups.year}-${groups.month}-${groups.day}`;
}

/** The leading version numbers of `V2.3.8-8` → [2,3,8,8] (form versionNumbers); null when it shows none. */
export function parseVersionNumbers(forms: FirmwareForms, text: string): number[] | null {
  const version = groupsOf(forms.versionNumbers, text)?.version;
  return version ? version.split(/[.-]/).map(Number) : null;
}

/** What `text` reads as in one form, as cves.yaml's form examples write it (null = unreadable). */
export function readFirmware(forms: FirmwareForms, form: FirmwareForm, text: string): string | null {
  switch (form) {
    case 'versionBuild': {
      const fw = parseHikvisionFirmware(forms, text);
      return fw && `${fw.version.join('.')}${fw.build === null ? '' : ` build ${fw.build}`}`;
    }
    case 'buildDate':
      return parseDahuaBuildDate(forms, text);
    case 'versionNumbers':
      return parseVersionNumbers(forms, text)?.join('.') ?? null;
  }
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

function judge(forms: FirmwareForms, boundary: FirmwareBoundary, firmware: string | null): Verdict {
  if (boundary.kind === 'unpublished') return { inside: false, outside: false, why: boundary.note };
  if (!firmware) return { inside: false, outside: false, why: `its firmware is not known, so it cannot be told whether it is within "${boundary.text}"` };
  const inside: Verdict = { inside: true, why: `firmware "${firmware}" is within "${boundary.text}"` };
  const outside: Verdict = { inside: false, outside: true };
  switch (boundary.kind) {
    case 'version-build-range': {
      const fw = parseHikvisionFirmware(forms, firmware);
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
      const built = parseDahuaBuildDate(forms, firmware);
      if (!built) return { inside: false, outside: false, why: `firmware "${firmware}" shows no build date, so it cannot be told whether it is within "${boundary.text}"` };
      return built < boundary.before ? { inside: true, why: `firmware "${firmware}" was built ${built}, within "${boundary.text}"` } : outside;
    }
    case 'version-at-most': {
      const version = parseVersionNumbers(forms, firmware);
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
      const verdict = judge(table.firmwareForms, family.firmware, firmware);
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
