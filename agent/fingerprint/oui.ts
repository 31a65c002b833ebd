/**
 * MAC → IEEE registry organisation → vendor key, by longest prefix (MA-S 9 hex digits, then MA-M 7,
 * then MA-L 6), and the pure half of the OUI table generator (scripts/generate-oui.mjs feeds it the
 * `oui-data` registry; the package itself is never loaded at run time).
 */
import { normaliseMac } from '../net/mac.js';
import { OUI_FORMAT } from './paths.js';
import type { FingerprintDb, OuiMatch, OuiTable, Vendor } from './types.js';
import { KeptAnswersPerTable } from '../kept-answers.js';

/** MA-S, MA-M, MA-L prefix lengths in hex digits, longest first. */
export const OUI_PREFIX_LENGTHS = [9, 7, 6] as const;

/** A registry prefix: 6 (MA-L), 7 (MA-M) or 9 (MA-S) upper-case hex digits. */
export const OUI_PREFIX = /^(?:[0-9A-F]{6}|[0-9A-F]{7}|[0-9A-F]{9})$/;

/**
 * Organisation names under which the IEEE registry lists blocks that name no maker:
 * "IEEE Registration Authority" holds the MA-L blocks it divides into MA-M and MA-S assignments
 * (431 of its 435 MA-L blocks in oui-data 2.1.9 have MA-M/MA-S entries under them), and "Private"
 * is listed for assignments whose holder asked the IEEE RA not to publish its name.
 */
export const REGISTRY_PLACEHOLDERS = ['IEEE Registration Authority', 'Private'] as const;

/**
 * The canonical MAC's first 9 hex digits with their colons (`28:57:be:00:0`): the longest registry
 * prefix, so every MAC that starts with them has the same registry entry.
 */
const LONGEST_PREFIX_TEXT = 13;
/**
 * How many registry answers are kept per OUI table, by LONGEST_PREFIX_TEXT; when full it starts
 * again. An estate's devices come from a few blocks, so most MACs repeat a kept answer; at this
 * size it holds well under 1 MB (short keys, entries shared with the registry's names).
 */
const KEPT_ANSWERS = 4096;
const answers = new KeptAnswersPerTable<OuiTable, OuiMatch | null>(KEPT_ANSWERS);

/** The registry entry for `mac`, longest prefix first; null for an unlisted or malformed MAC. */
export function lookupOui(db: Pick<FingerprintDb, 'oui'>, mac: string): OuiMatch | null {
  const canonical = normaliseMac(mac);
  if (!canonical) return null;
  return answers.of(db.oui, canonical.slice(0, LONGEST_PREFIX_TEXT), registryEntry);
}

/** The registry entry of the MAC that starts with `longestPrefix` (LONGEST_PREFIX_TEXT: every registry prefix length fits in it). */
function registryEntry(longestPrefix: string, oui: OuiTable): OuiMatch | null {
  const hex = longestPrefix.replaceAll(':', '').toUpperCase();
  for (const length of OUI_PREFIX_LENGTHS) {
    const prefix = hex.slice(0, length);
    const entry = oui.entries.get(prefix);
    if (entry) return Object.freeze({ prefix, organisation: entry.organisation, vendor: entry.vendor, placeholder: oui.placeholders.has(entry.organisation) });
  }
  return null;
}

/**
 * The oui.json document (see fingerprints/README.md): every registry organisation once, with its
 * prefixes space-separated; the organisations vendors.yaml maps to a vendor key; the placeholders.
 */
export interface OuiFile {
  format: string;
  registry: { package: string; version: string };
  generated: string;
  coverage: 'registry';
  note: string;
  placeholders: string[];
  /** Organisation → vendor-table key, for the organisations vendors.yaml maps. */
  vendors: Record<string, string>;
  /** Organisation → its prefixes, sorted, space-separated. */
  organisations: Record<string, string>;
}

export interface OuiBuildResult {
  file: OuiFile;
  /** Organisations matched by more than one vendor's regexes (the table is ambiguous: fix vendors.yaml). */
  problems: string[];
}

/** The vendor keys whose organisation regexes match `organisation`, in table order. */
export function vendorsForOrganisation(vendors: ReadonlyMap<string, Vendor>, organisation: string): string[] {
  const keys: string[] = [];
  for (const vendor of vendors.values()) {
    if (vendor.organisations.some((re) => re.test(organisation))) keys.push(vendor.key);
  }
  return keys;
}

function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Builds oui.json from an IEEE registry in oui-data's shape (hex prefix of 6/7/9 digits → text
 * whose first line is the organisation, the address lines after it are dropped): every entry,
 * grouped by organisation; an organisation matching exactly one vendor's regexes gets that
 * vendor's key, one matching several is reported and left unmapped.
 */
export function buildOuiTable(
  registry: Readonly<Record<string, string>>,
  vendors: ReadonlyMap<string, Vendor>,
  meta: { package: string; version: string; generated: string },
): OuiBuildResult {
  const prefixesOf = new Map<string, string[]>();
  for (const prefix of Object.keys(registry).sort()) {
    const text = registry[prefix];
    if (typeof text !== 'string' || !OUI_PREFIX.test(prefix)) continue;
    const organisation = (text.split('\n')[0] ?? '').trim();
    if (!organisation) continue;
    const list = prefixesOf.get(organisation);
    if (list) list.push(prefix);
    else prefixesOf.set(organisation, [prefix]);
  }
  const problems: string[] = [];
  const mapped: Record<string, string> = {};
  const organisations: Record<string, string> = {};
  for (const organisation of [...prefixesOf.keys()].sort(compareCodeUnits)) {
    organisations[organisation] = (prefixesOf.get(organisation) ?? []).join(' ');
    const keys = vendorsForOrganisation(vendors, organisation);
    if (keys.length > 1) problems.push(`"${organisation}" matches vendors ${keys.join(', ')}`);
    else if (keys[0] !== undefined) mapped[organisation] = keys[0];
  }
  return {
    file: {
      format: OUI_FORMAT,
      registry: { package: meta.package, version: meta.version },
      generated: meta.generated,
      coverage: 'registry',
      note:
        'Generated by scripts/generate-oui.mjs from the whole IEEE MA-L/MA-M/MA-S registry (organisation names only); do not edit by hand. Longest prefix wins.',
      placeholders: REGISTRY_PLACEHOLDERS.filter((p) => p in organisations),
      vendors: mapped,
      organisations,
    },
    problems,
  };
}

/** oui.json text: header pretty-printed, then one organisation per line (reviewable diffs). */
export function serialiseOuiTable(file: OuiFile): string {
  const { vendors, organisations, placeholders, ...header } = file;
  const head = JSON.stringify(header, null, 2).replace(/\n}$/, '');
  const block = (record: Record<string, string>): string =>
    Object.keys(record)
      .sort(compareCodeUnits)
      .map((key) => `    ${JSON.stringify(key)}: ${JSON.stringify(record[key])}`)
      .join(',\n');
  return (
    `${head},\n  "placeholders": ${JSON.stringify(placeholders)},\n` +
    `  "vendors": {\n${block(vendors)}\n  },\n` +
    `  "organisations": {\n${block(organisations)}\n  }\n}\n`
  );
}
