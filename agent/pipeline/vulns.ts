/**
 * Offline CVE flags: a device's model and firmware against the advisories in fingerprints/cves.yaml.
 * Nothing is sent to the device; no exploit is tried. For each CVE of the device's linked vendor:
 *
 * - its model is in a family of the CVE: `affected` when the firmware is inside the family's
 *   boundary (`possibly-affected` when the record names only series, "certain models"),
 *   `not-affected` at or past it, `possibly-affected` when the firmware cannot be compared with it
 *   (only the family matches), `cannot-tell` when the device gave no firmware;
 * - its model is in no family, but its firmware is one of the CVE's `firmwareLines` (an OEM model
 *   name on the maker's firmware, a model the table leaves out): `possibly-affected` inside (only
 *   the build matches), `not-affected` past it, no entry when it cannot be compared;
 * - otherwise no entry: the CVE does not concern the device.
 *
 * OEM firmware that follows the maker's version/build scheme is judged against the maker's
 * boundaries, and the reason says so.
 *
 * Device firmware is read through the forms in cves.yaml `firmwareForms` (named-group regexes with
 * examples), like the boundaries themselves: this file gives the groups their meaning and compares.
 */
import type { Cve, CveFamily, CveTable, FirmwareBoundary, FirmwareForm, FirmwareForms, HikvisionFirmware, Severity } from '../knowledge/cves.js';
import { KeptAnswersPerTable } from '../kept-answers.js';
import type { LinkedVendor, Relation, Vulnerability, VulnerabilityStatus } from '../types.js';

/** What the matcher reads of a device: its identity's model, firmware and brand, and its classification. */
export interface VulnerabilityInput {
  model: string | null;
  firmware: string | null;
  linkedVendor: LinkedVendor | null;
  relation: Relation | null;
  /** The label it is sold under, named in the reason of an OEM unit. */
  brand?: string | null;
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

/** Two-digit years in build codes (Hikvision `build 210625`, Amcrest `….R.200316`) are of this century. */
const BUILD_CODE_CENTURY = 2000;

/**
 * The build date (YYYY-MM-DD) a firmware string carries (form buildDate: Dahua `Build Date:
 * 2021-07-07`, Hikvision `build 210625`), or null when it shows none.
 */
export function parseBuildDate(forms: FirmwareForms, text: string): string | null {
  const groups = groupsOf(forms.buildDate, text);
  if (!groups?.year || !groups.month || !groups.day) return null;
  const year = groups.year.length === 2 ? BUILD_CODE_CENTURY + Number(groups.year) : Number(groups.year);
  if (!isCalendarDate(year, Number(groups.month), Number(groups.day))) return null;
  return `${year}-${groups.month}-${groups.day}`;
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
      return parseBuildDate(forms, text);
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

/** Where a firmware stands against one boundary, and why in words. */
type Verdict = { where: 'inside' | 'outside' | 'unknown'; why: string };

function judge(forms: FirmwareForms, boundary: FirmwareBoundary, firmware: string): Verdict {
  if (boundary.kind === 'unpublished') return { where: 'unknown', why: boundary.note };
  const inside = (why = `firmware "${firmware}" is within "${boundary.text}"`): Verdict => ({ where: 'inside', why });
  const outside = (why = `firmware "${firmware}" is outside "${boundary.text}"`): Verdict => ({ where: 'outside', why });
  const unknown = (why: string): Verdict => ({ where: 'unknown', why });
  switch (boundary.kind) {
    case 'version-build-range': {
      const fw = parseHikvisionFirmware(forms, firmware);
      if (!fw) break;
      if (fw.build !== null) {
        if (compareHikvision(fw, boundary.from) < 0) return outside(`firmware "${firmware}" is older than "${boundary.text}"`);
        if (compareHikvision(fw, boundary.to) > 0) return outside(`firmware "${firmware}" is past "${boundary.text}"`);
        return inside();
      }
      const low = compareVersions(fw.version, boundary.from.version);
      const high = compareVersions(fw.version, boundary.to.version);
      if (low < 0) return outside(`firmware "${firmware}" is older than "${boundary.text}"`);
      if (high > 0) return outside(`firmware "${firmware}" is past "${boundary.text}"`);
      if (low > 0 && high < 0) return inside();
      // Same version as a boundary: only the build date could tell.
      return unknown(`firmware "${firmware}" has the version of an end of "${boundary.text}" but no build date, so it cannot be told whether it is within`);
    }
    case 'built-before': {
      const built = parseBuildDate(forms, firmware);
      if (!built) return unknown(`firmware "${firmware}" shows no build date, so it cannot be told whether it is within "${boundary.text}"`);
      return built < boundary.before
        ? inside(`firmware "${firmware}" was built ${built}, within "${boundary.text}"`)
        : outside(`firmware "${firmware}" was built ${built}, at or past the fix ("${boundary.text}")`);
    }
    case 'version-at-most': {
      const version = parseVersionNumbers(forms, firmware);
      if (!version) break;
      if (version[0] !== boundary.major) return outside(`firmware "${firmware}" is not on the line of "${boundary.text}"`);
      return compareVersions(version, boundary.atMost) <= 0 ? inside() : outside(`firmware "${firmware}" is past "${boundary.text}"`);
    }
    case 'fixed-per-line': {
      const text = firmware.replace(/^v/i, '').toLowerCase();
      const fix = boundary.fixes.find((f) => text === f.line.toLowerCase() || text.startsWith(`${f.line.toLowerCase()}.`));
      if (!fix) return unknown(`firmware "${firmware}" is on a line for which "${boundary.text}" names no fixed build`);
      const built = parseBuildDate(forms, firmware);
      const fixed = `line ${fix.line} is fixed from the build of ${fix.fixedBuild} ("${boundary.text}")`;
      if (!built) return unknown(`firmware "${firmware}" shows no build date; ${fixed}`);
      return built < fix.fixedBuild ? inside(`firmware "${firmware}" was built ${built}; ${fixed}`) : outside(`firmware "${firmware}" was built ${built}; ${fixed}`);
    }
  }
  return unknown(`firmware "${firmware}" is not in a form that can be compared with "${boundary.text}"`);
}

export function compareCveIds(a: string, b: string): number {
  const [, ya = '0', na = '0'] = a.split('-');
  const [, yb = '0', nb = '0'] = b.split('-');
  return Number(ya) - Number(yb) || Number(na) - Number(nb) || (a < b ? -1 : a > b ? 1 : 0);
}

/** Which verdict speaks for a CVE when several families match: inside, then unknown, then outside. */
const VERDICT_RANK: Record<Verdict['where'], number> = { inside: 0, unknown: 1, outside: 2 };

/**
 * How many models' family matches are kept per CVE table; when full it starts again. An estate
 * shows a few hundred models at most, and each entry is a few short lists (well under 1 MB in all).
 */
const KEPT_MODELS = 2000;
const familiesByModel = new KeptAnswersPerTable<CveTable, readonly (readonly CveFamily[])[]>(KEPT_MODELS);

/**
 * For each CVE of `table` (at its index), the families whose model pattern matches `model`, in
 * order: an estate repeats its models device after device, so each model is tested once.
 */
function familiesOf(table: CveTable, model: string): readonly (readonly CveFamily[])[] {
  return familiesByModel.of(table, model, familiesMatching);
}

function familiesMatching(model: string, table: CveTable): readonly (readonly CveFamily[])[] {
  return table.cves.map((cve) => cve.families.filter((family) => family.model.test(model)));
}

/** The family verdict of one CVE for a device whose model is in `families` (the CVE's families that match it), or null when there are none. */
function familyFlag(table: CveTable, families: readonly CveFamily[], model: string, firmware: string | null): FamilyVerdict | null {
  let best: { family: CveFamily; verdict: Verdict } | null = null;
  for (const family of families) {
    if (firmware === null) {
      const why = `its firmware is not known, so it cannot be told whether it is within "${family.firmware.kind === 'unpublished' ? 'the advisory' : family.firmware.text}"`;
      return { status: 'cannot-tell', reason: `model ${model} is in "${family.name}"; ${why}` };
    }
    const verdict = judge(table.firmwareForms, family.firmware, firmware);
    if (!best || VERDICT_RANK[verdict.where] < VERDICT_RANK[best.verdict.where]) best = { family, verdict };
    if (verdict.where === 'inside') break;
  }
  if (!best) return null;
  const { family, verdict } = best;
  const row = `model ${model} is in "${family.name}"${family.source ? ` (${family.source})` : ''}`;
  switch (verdict.where) {
    case 'inside':
      return family.scope === 'series'
        ? { status: 'possibly-affected', reason: `${row}; ${verdict.why}; but the advisory says only certain models of the series are affected` }
        : { status: 'affected', reason: `${row}; ${verdict.why}` };
    case 'outside':
      return { status: 'not-affected', reason: `${row}; ${verdict.why}` };
    case 'unknown':
      return { status: 'possibly-affected', reason: `${row}; ${verdict.why}` };
  }
}

type FamilyVerdict = { status: VulnerabilityStatus; reason: string };

/**
 * The family verdicts of devices whose firmware is not known, kept with the list of families
 * (familiesOf's, one per model and CVE) and by model: such a verdict depends on the families and
 * the model alone (its reason names the model), so the devices of one model share it instead of
 * each building its own, even where two models come to share one list.
 */
const unknownFirmwareVerdicts = new WeakMap<readonly CveFamily[], Map<string, FamilyVerdict | null>>();

function familyFlagOf(table: CveTable, families: readonly CveFamily[], model: string, firmware: string | null): FamilyVerdict | null {
  if (firmware !== null) return familyFlag(table, families, model, firmware);
  let byModel = unknownFirmwareVerdicts.get(families);
  if (!byModel) {
    byModel = new Map();
    unknownFirmwareVerdicts.set(families, byModel);
  }
  let verdict = byModel.get(model);
  if (verdict === undefined) {
    verdict = familyFlag(table, families, model, null);
    byModel.set(model, verdict);
  }
  return verdict;
}

/** The firmware-line verdict of one CVE for a device no family matches, or null when none concerns it. */
function firmwareLineFlag(table: CveTable, cve: Cve, input: VulnerabilityInput, firmware: string): { status: VulnerabilityStatus; reason: string } | null {
  for (const line of cve.firmwareLines) {
    if (!input.relation || !line.relations.includes(input.relation) || !line.firmware.test(firmware)) continue;
    const verdict = judge(table.firmwareForms, line.boundary, firmware);
    if (verdict.where === 'unknown') continue;
    const model = input.model ? `model ${input.model} is in no row of the advisory, but its` : 'its';
    const reason = `${model} firmware is ${line.name} (${line.source}); ${verdict.why}`;
    return verdict.where === 'inside'
      ? { status: 'possibly-affected', reason: `${reason}; only the build matches, not the model` }
      : { status: 'not-affected', reason };
  }
  return null;
}

/**
 * The CVEs of `table` that concern a device, in id order: see the file comment for the statuses.
 * An OEM unit (relation `oem`, or firmware with the vendor's `oemFirmware` build code) is judged
 * against the maker's boundaries like the maker's own, and its reason says so.
 */
export function vulnerabilitiesOf(table: CveTable, input: VulnerabilityInput): VulnerabilityFlag[] {
  if (!input.linkedVendor) return [];
  const model = input.model?.trim() || null;
  const firmware = input.firmware?.trim() || null;
  const oemCode = firmware !== null && (table.oemFirmware.get(input.linkedVendor)?.test(firmware) ?? false);
  const flags: VulnerabilityFlag[] = [];
  const families = model ? familiesOf(table, model) : null;
  for (const i of cvesInIdOrder(table)) {
    const cve = table.cves[i]!;
    if (cve.vendor !== input.linkedVendor) continue;
    const matching = families?.[i];
    const found = (model && matching?.length && familyFlagOf(table, matching, model, firmware)) || (firmware && firmwareLineFlag(table, cve, input, firmware)) || null;
    if (!found) continue;
    let { reason } = found;
    if ((input.relation === 'oem' || oemCode) && cve.brandRecord === null) {
      const unit = input.relation === 'oem' ? `an OEM unit${input.brand ? ` sold as ${input.brand}` : ''}` : 'firmware with an OEM build code';
      reason += found.status === 'cannot-tell' ? `; ${unit}` : `; ${unit}, judged against ${cve.vendorName}'s boundaries (its firmware follows ${cve.vendorName}'s version/build scheme)`;
    }
    flags.push({ id: cve.id, status: found.status, severity: cve.severity, kev: cve.kev, reason, source: cve.source });
  }
  return flags;
}

const idOrders = new WeakMap<CveTable, readonly number[]>();

/**
 * The indexes of the table's CVEs in id order (compareCveIds; table order among equal ids), worked
 * out once per table: a device's flags are listed in this order without being sorted.
 */
function cvesInIdOrder(table: CveTable): readonly number[] {
  let order = idOrders.get(table);
  if (!order) {
    order = table.cves.map((_, i) => i).sort((a, b) => compareCveIds(table.cves[a]!.id, table.cves[b]!.id));
    idOrders.set(table, order);
  }
  return order;
}
