/**
 * fingerprints/cves.yaml: offline CVE flags, as model families and firmware boundaries, each
 * boundary as structured data beside the record's own words. The matching lives in agent/pipeline/vulns.ts;
 * this reads and checks the file. Each CVE carries examples (model, firmware, status) that
 * `cctv-agent fingerprints verify` runs: a new CVE is data only, and its examples are its tests.
 */
import { compareCveIds, compareHikvision, isCalendarDate, readFirmware } from '../pipeline/vulns.js';
import { compilePattern, type CheckedFile } from './read.js';

export const CVES_FILE = 'cves.yaml';
export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;
export type Severity = (typeof SEVERITIES)[number];

export type CveRelation = 'direct' | 'subsidiary' | 'oem';

/** What one CVE must say of a device; `none` = no entry for it (the CVE does not concern it). */
export interface CveExample {
  model: string;
  firmware: string | null;
  relation: CveRelation;
  status: 'affected' | 'possibly-affected' | 'cannot-tell' | 'not-affected' | 'none';
  note: string | null;
}

/** A Hikvision firmware version with its build date (YYMMDD), when the string gives one. */
export interface HikvisionFirmware {
  version: number[];
  build: string | null;
}

export type FirmwareBoundary =
  /** Inclusive range of version + build, as "V5.2.0 build 140721 to V5.4.0 build 160530". */
  | { kind: 'version-build-range'; text: string; from: HikvisionFirmware; to: HikvisionFirmware }
  /** Build date strictly before `before` (YYYY-MM-DD), as "Buildtime before June, 2021". */
  | { kind: 'built-before'; text: string; before: string }
  /** The `major` line up to and including `atMost`, as "V2.X, lessThanOrEqual V2.3.8-8". */
  | { kind: 'version-at-most'; text: string; major: number; atMost: number[] }
  /**
   * One fixed build per version line ("before 2.623.00AC004.0.R.200316, 2.420.AC00.18.R.20200217…"):
   * firmware of a listed line built before its fix is inside, at or after it outside; a line not
   * listed cannot be compared.
   */
  | { kind: 'fixed-per-line'; text: string; fixes: readonly LineFix[] }
  /** The record publishes no boundary. */
  | { kind: 'unpublished'; note: string };

/** A version line (the leading fields of its firmware, `2.623` or `2.800.00AC000`) and the build date (YYYY-MM-DD) of its first fixed build. */
export interface LineFix {
  line: string;
  fixedBuild: string;
}

export interface CveFamily {
  name: string;
  model: RegExp;
  interpretation: string;
  firmware: FirmwareBoundary;
  /**
   * `models`: the record lists these models, so a match inside the boundary is `affected`;
   * `series`: it names series of which only "certain models" are affected, so inside is `possibly-affected`.
   */
  scope: 'models' | 'series';
  /** Where this row comes from, when not the CVE's `source` (URL or owner/repo path@commit). */
  source: string | null;
}

/**
 * A firmware line of the CVE's maker judged by its firmware alone: a device linked to the maker by
 * one of `relations` whose model is in no family (an OEM model name, a model the table leaves
 * out) but whose firmware matches `firmware` is judged against `boundary`: inside is
 * `possibly-affected` (only the build matches), past it `not-affected`.
 */
export interface CveFirmwareLine {
  name: string;
  firmware: RegExp;
  relations: readonly CveRelation[];
  interpretation: string;
  boundary: FirmwareBoundary;
  source: string;
}

export interface Cve {
  id: string;
  /** A linked vendor (key of vendors.yaml). */
  vendor: string;
  title: string;
  severity: Severity | null;
  cvss: number | null;
  scoreSource: string;
  kev: string | null;
  source: string;
  record: string;
  affected: string;
  note: string | null;
  families: CveFamily[];
  /** Firmware lines judged when no family matches the model (empty when the CVE has none). */
  firmwareLines: CveFirmwareLine[];
  /** The maker's display name (vendors.yaml), for reasons: "judged against Hikvision's boundaries". */
  vendorName: string;
  /** The OEM brand whose own firmware the record is about (Amcrest), or null when it is the maker's. */
  brandRecord: string | null;
  /** Devices and the status this CVE must give them: its tests, run by the verifier. */
  examples: CveExample[];
}

/** How a device's firmware is read for each boundary kind: regexes read through named groups. */
export interface FirmwareForms {
  /** Groups `version`, `build` (YYMMDD, optional): for version-build ranges. */
  versionBuild: readonly RegExp[];
  /** Groups `year`, `month`, `day`: for built-before boundaries. */
  buildDate: readonly RegExp[];
  /** Group `version` (numbers separated by dots or dashes): for version-at-most boundaries. */
  versionNumbers: readonly RegExp[];
}
export type FirmwareForm = keyof FirmwareForms;
const FIRMWARE_FORMS: readonly FirmwareForm[] = ['versionBuild', 'buildDate', 'versionNumbers'];

export interface CveTable {
  firmwareForms: FirmwareForms;
  /** Linked vendor → regex marking firmware built for a rebrand. */
  oemFirmware: ReadonlyMap<string, RegExp>;
  /** In id order. */
  cves: readonly Cve[];
}

/** A boundary as cves.yaml writes it (schema/knowledge/cves.schema.json, `firmware`). */
type RawBoundary =
  | { published: string; from: { version: string; build: string }; to: { version: string; build: string } }
  | { published: string; builtBefore: string }
  | { published: string; line: number; atMost: string }
  | { published: string; fixedPerLine: { line: string; fixedBuild: string }[] };

interface RawFamily {
  name: string;
  model: string;
  interpretation: string;
  firmware: RawBoundary | null;
  firmwareNote?: string;
  scope?: CveFamily['scope'];
  source?: string;
}
interface RawFirmwareLine {
  name: string;
  firmware: string;
  relations: CveRelation[];
  interpretation: string;
  boundary: RawBoundary;
  source: string;
}
/** A cves.yaml entry as written: patterns and boundaries still text. */
type RawCve = Omit<Cve, 'note' | 'families' | 'firmwareLines' | 'vendorName' | 'brandRecord' | 'examples'> & {
  note?: string;
  brandRecord?: string;
  families: RawFamily[];
  firmwareLines?: RawFirmwareLine[];
  examples: (Omit<CveExample, 'relation' | 'note'> & { relation?: CveRelation; note?: string })[];
};
interface RawCves {
  firmwareForms: Record<FirmwareForm, { patterns: string[]; source: string; examples: { firmware: string; reads: string | null }[] }>;
  oemFirmware: Record<string, { pattern: string; source: string }>;
  cves: RawCve[];
}

/** A structured boundary, checked: real dates, a range that does not run backwards, a version on its line. */
function readBoundary(raw: RawBoundary, fail: (at: string, why: string) => never): FirmwareBoundary {
  const text = raw.published;
  if ('from' in raw) {
    const end = (which: 'from' | 'to'): HikvisionFirmware => {
      const { version, build } = raw[which];
      if (!isCalendarDate(2000 + Number(build.slice(0, 2)), Number(build.slice(2, 4)), Number(build.slice(4, 6)))) fail(`${which}.build`, `"${build}" is not a date (YYMMDD)`);
      return { version: version.split('.').map(Number), build };
    };
    const from = end('from');
    const to = end('to');
    if (compareHikvision(from, to) > 0) fail('to', 'the range ends before it starts');
    return { kind: 'version-build-range', text, from, to };
  }
  const isDate = (date: string): boolean => {
    const [y, m, d] = date.split('-').map(Number);
    return isCalendarDate(y ?? 0, m ?? 0, d ?? 0);
  };
  if ('builtBefore' in raw) {
    if (!isDate(raw.builtBefore)) fail('builtBefore', `"${raw.builtBefore}" is not a date`);
    return { kind: 'built-before', text, before: raw.builtBefore };
  }
  if ('fixedPerLine' in raw) {
    const lines = new Set<string>();
    const fixes = raw.fixedPerLine.map((fix, i): LineFix => {
      if (!isDate(fix.fixedBuild)) fail(`fixedPerLine.${i}.fixedBuild`, `"${fix.fixedBuild}" is not a date`);
      if (lines.has(fix.line)) fail(`fixedPerLine.${i}.line`, `line ${fix.line} is listed twice`);
      lines.add(fix.line);
      return { line: fix.line, fixedBuild: fix.fixedBuild };
    });
    return { kind: 'fixed-per-line', text, fixes };
  }
  const atMost = raw.atMost.split(/[.-]/).map(Number);
  if (atMost[0] !== raw.line) fail('atMost', `${raw.atMost} is not on the V${raw.line}.X line`);
  return { kind: 'version-at-most', text, major: raw.line, atMost };
}

/** Checks cves.yaml beyond its schema: known vendors, unique ids, patterns compile, every boundary readable. */
export function readCves(file: CheckedFile<RawCves>, vendorNames: ReadonlyMap<string, string>): CveTable {
  const raw = file.value;
  const linkedVendors = [...vendorNames.keys()];
  const linked = (vendor: string, at: (string | number)[]): void => {
    if (!linkedVendors.includes(vendor)) file.fail(at, `"${vendor}" is not a linked vendor of vendors.yaml (${linkedVendors.join(', ')})`);
  };
  const compiled = (form: FirmwareForm): RegExp[] =>
    raw.firmwareForms[form].patterns.map((pattern, i) => compilePattern(file, ['firmwareForms', form, 'patterns', i], pattern, 'i'));
  const firmwareForms: FirmwareForms = { versionBuild: compiled('versionBuild'), buildDate: compiled('buildDate'), versionNumbers: compiled('versionNumbers') };
  for (const form of FIRMWARE_FORMS) {
    raw.firmwareForms[form].examples.forEach((e, i) => {
      const reads = readFirmware(firmwareForms, form, e.firmware);
      if (reads !== e.reads) file.fail(['firmwareForms', form, 'examples', i, 'reads'], `"${e.firmware}" reads as ${JSON.stringify(reads)}, not ${JSON.stringify(e.reads)}`);
    });
  }
  const oemFirmware = new Map<string, RegExp>();
  for (const [vendor, entry] of Object.entries(raw.oemFirmware)) {
    linked(vendor, ['oemFirmware', vendor]);
    oemFirmware.set(vendor, compilePattern(file, ['oemFirmware', vendor, 'pattern'], entry.pattern, 'i'));
  }
  const seen = new Set<string>();
  const cves = raw.cves.map((c, i): Cve => {
    if (seen.has(c.id)) file.fail(['cves', i, 'id'], `${c.id} is listed twice`);
    seen.add(c.id);
    linked(c.vendor, ['cves', i, 'vendor']);
    if ((c.severity === null) !== (c.cvss === null)) file.fail(['cves', i, 'severity'], `${c.id}: give severity and cvss together, or neither`);
    const families = c.families.map((f, j): CveFamily => {
      const at = ['cves', i, 'families', j];
      let firmware: FirmwareBoundary;
      if (f.firmware === null) {
        if (!f.firmwareNote) file.fail([...at, 'firmware'], `firmware is null, so firmwareNote must say why`);
        firmware = { kind: 'unpublished', note: f.firmwareNote };
      } else {
        firmware = readBoundary(f.firmware, (key, why) => file.fail([...at, 'firmware', ...key.split('.')], why));
      }
      return {
        name: f.name,
        model: compilePattern(file, [...at, 'model'], f.model, 'i'),
        interpretation: f.interpretation,
        firmware,
        scope: f.scope ?? 'models',
        source: f.source ?? null,
      };
    });
    const firmwareLines = (c.firmwareLines ?? []).map((l, j): CveFirmwareLine => {
      const at = ['cves', i, 'firmwareLines', j];
      return {
        ...l,
        firmware: compilePattern(file, [...at, 'firmware'], l.firmware, 'i'),
        boundary: readBoundary(l.boundary, (key, why) => file.fail([...at, 'boundary', ...key.split('.')], why)),
      };
    });
    const examples = c.examples.map((e) => ({ ...e, relation: e.relation ?? 'direct', note: e.note ?? null }));
    return { ...c, note: c.note ?? null, brandRecord: c.brandRecord ?? null, families, firmwareLines, vendorName: vendorNames.get(c.vendor) ?? c.vendor, examples };
  });
  return { firmwareForms, oemFirmware, cves: cves.sort((a, b) => compareCveIds(a.id, b.id)) };
}
