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

/** What one CVE must say of a device; `not-affected` = no entry for it. */
export interface CveExample {
  model: string;
  firmware: string | null;
  relation: 'direct' | 'subsidiary' | 'oem';
  status: 'affected' | 'possibly-affected' | 'cannot-tell' | 'not-affected';
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
  /** The record publishes no boundary. */
  | { kind: 'unpublished'; note: string };

export interface CveFamily {
  name: string;
  model: RegExp;
  interpretation: string;
  firmware: FirmwareBoundary;
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
  | { published: string; line: number; atMost: string };

interface RawFamily {
  name: string;
  model: string;
  interpretation: string;
  firmware: RawBoundary | null;
  firmwareNote?: string;
}
/** A cves.yaml entry as written: patterns and boundaries still text. */
type RawCve = Omit<Cve, 'note' | 'families' | 'examples'> & { note?: string; families: RawFamily[]; examples: (Omit<CveExample, 'relation' | 'note'> & { relation?: CveExample['relation']; note?: string })[] };
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
  if ('builtBefore' in raw) {
    const [y, m, d] = raw.builtBefore.split('-').map(Number);
    if (!isCalendarDate(y ?? 0, m ?? 0, d ?? 0)) fail('builtBefore', `"${raw.builtBefore}" is not a date`);
    return { kind: 'built-before', text, before: raw.builtBefore };
  }
  const atMost = raw.atMost.split(/[.-]/).map(Number);
  if (atMost[0] !== raw.line) fail('atMost', `${raw.atMost} is not on the V${raw.line}.X line`);
  return { kind: 'version-at-most', text, major: raw.line, atMost };
}

/** Checks cves.yaml beyond its schema: known vendors, unique ids, patterns compile, every boundary readable. */
export function readCves(file: CheckedFile<RawCves>, linkedVendors: readonly string[]): CveTable {
  const raw = file.value;
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
      return { name: f.name, model: compilePattern(file, [...at, 'model'], f.model, 'i'), interpretation: f.interpretation, firmware };
    });
    const examples = c.examples.map((e) => ({ ...e, relation: e.relation ?? 'direct', note: e.note ?? null }));
    return { ...c, note: c.note ?? null, families, examples };
  });
  return { firmwareForms, oemFirmware, cves: cves.sort((a, b) => compareCveIds(a.id, b.id)) };
}
