/**
 * What `cctv-agent fingerprints fields` and `fingerprints match FIELD VALUE` print: the field
 * vocabulary one line a field, and which rules fire on a value and why. Pure: the CLI writes the
 * strings; tests read them.
 */
import { agentError } from '../errors.js';
import { MAX_MATCH_VALUE_LENGTH, matchValue } from './match.js';
import { carriedMac, macVerdict, type MacCarrier } from './mac-carriers.js';
import { normaliseMac } from '../net/mac.js';
import type { FieldDef, FingerprintDb, IdentityValues, Rule, Vendor } from './types.js';

/** The fields, one line each: name, meaning, example (names padded into a column). */
export function fieldsText(fields: ReadonlyMap<string, FieldDef>): string {
  const defs = [...fields.values()];
  const width = Math.max(0, ...defs.map((f) => f.name.length));
  return defs.map((f) => `${f.name.padEnd(width)}  ${f.meaning} (example: ${f.example === '' ? '""' : f.example})\n`).join('');
}

/** One matching rule, as `fingerprints match --json` prints it. */
export interface MatchEntry {
  rule: string;
  supports: string | null;
  confidence: number;
  /** What the rule's named groups captured from the value. */
  identity: IdentityValues;
}

/** A MAC the value is or carries, with the verdict a scan gives it (registrant, vendor, confidence). */
export interface MacEntry {
  mac: string;
  /** The mac-carriers.yaml entry that found it inside the value, or null when the value is the MAC. */
  carrier: string | null;
  /** IEEE block (6, 7 or 9 hex digits) and its registrant; null when the registry has no block for it. */
  prefix: string | null;
  organisation: string | null;
  /** The vendor-table entry the registrant maps to (what the evidence supports), or null. */
  supports: string | null;
  confidence: number;
}

export interface MatchReport {
  field: string;
  value: string;
  matches: MatchEntry[];
  /** Present for `mac`, a field of kind mac (sadp.mac…) and values a MAC carrier reads (realms). */
  macs?: MacEntry[];
}

/** `fingerprints match mac VALUE`: not an observation field, the MAC a scan would look up. */
export const MAC_PSEUDO_FIELD = 'mac';
/** The kind fields.yaml gives fields whose value is a MAC address. */
export const MAC_KIND = 'mac';

function macEntry(db: FingerprintDb, mac: string, carrier: string | null): MacEntry {
  const verdict = macVerdict(db, mac);
  const supports = verdict && !verdict.placeholder ? verdict.vendor : null;
  return {
    mac,
    carrier,
    prefix: verdict?.prefix ?? null,
    organisation: verdict?.organisation ?? null,
    supports,
    confidence: supports && verdict ? verdict.confidence : 0,
  };
}

/** The MACs `value` of `field` is or carries (mac-carriers.yaml), each with its verdict. */
function macsOf(db: FingerprintDb, carriers: readonly MacCarrier[], field: string, value: string): MacEntry[] | undefined {
  if (field === MAC_PSEUDO_FIELD || db.fields.get(field)?.kinds.includes(MAC_KIND)) {
    const mac = normaliseMac(value);
    if (!mac) throw agentError('CCTV_ERR_NOT_A_MAC', value);
    return [macEntry(db, mac, null)];
  }
  const found = carriers.flatMap((c) => {
    const mac = c.fields.has(field) ? carriedMac(c, value) : null;
    return mac ? [macEntry(db, mac, c.id)] : [];
  });
  return found.length > 0 ? found : undefined;
}

/**
 * Every rule of `field` that fires on `value`, as the engine runs them on an observation: the value
 * trimmed, nothing matched over MAX_MATCH_VALUE_LENGTH characters. Throws CCTV_ERR_UNKNOWN_FIELD
 * for a field fields.yaml does not list.
 */
export function matchReport(db: FingerprintDb, field: string, value: string, carriers: readonly MacCarrier[] = []): MatchReport {
  if (field !== MAC_PSEUDO_FIELD && !db.fields.has(field)) throw agentError('CCTV_ERR_UNKNOWN_FIELD', field);
  const trimmed = value.trim();
  const matchable = trimmed !== '' && trimmed.length <= MAX_MATCH_VALUE_LENGTH;
  const found = matchable ? matchValue(db, field, trimmed) : [];
  const macs = matchable ? macsOf(db, carriers, field, trimmed) : undefined;
  return {
    field,
    value,
    matches: found.map(({ rule, captures }) => ({ rule: rule.id, supports: rule.supports, confidence: rule.confidence, identity: captures })),
    ...(macs ? { macs } : {}),
  };
}

function macLine(db: FingerprintDb, m: MacEntry): string {
  const found = m.carrier ? ` (carried in the value, ${m.carrier})` : '';
  if (m.prefix === null) return `MAC ${m.mac}${found} is in no IEEE block (locally administered or unassigned): it says nothing of the maker`;
  const vendor = m.supports ? db.vendors.get(m.supports) : undefined;
  const verdict = vendor
    ? `points to ${vendor.name} (${vendor.key}: ${relationText(vendor)}); platform claim, confidence ${m.confidence}`
    : `no vendor-table entry: the evidence names the registrant and weighs nothing (confidence 0)`;
  return `MAC ${m.mac}${found} is registered to ${m.organisation ?? '?'} (IEEE ${m.prefix}): ${verdict}`;
}

function shownValues(values: IdentityValues): string {
  return Object.entries(values)
    .map(([key, v]) => `${key} = ${JSON.stringify(v)}`)
    .join(', ');
}

/** A vendor's link in words: `oem of hikvision (uncertain)`, `dahua itself`, `not linked`. */
export function relationText(v: Vendor): string {
  if (!v.linkedVendor) return 'not linked';
  if (v.relation === 'direct') return `${v.linkedVendor} itself`;
  return `${v.relation} of ${v.linkedVendor}${v.uncertain ? ' (uncertain)' : ''}`;
}

function ruleLines(db: FingerprintDb, rule: Rule, captured: IdentityValues): string[] {
  const vendor = rule.supports === null ? null : db.vendors.get(rule.supports);
  const points = vendor ? `points to ${vendor.name} (${vendor.key}: ${relationText(vendor)})` : 'recognised, but points to no vendor';
  const lines = [
    `${rule.id} (${rule.file}, rule ${rule.index + 1}): ${rule.description}`,
    `  pattern /${rule.pattern.source}/${rule.pattern.flags} matched`,
    `  ${points}; ${rule.claim} claim, confidence ${rule.confidence}`,
  ];
  if (Object.keys(captured).length > 0) lines.push(`  captures ${shownValues(captured)}`);
  if (Object.keys(rule.set).length > 0) lines.push(`  sets ${shownValues(rule.set)}`);
  lines.push(`  source: ${rule.citation}`);
  return lines;
}

/** The report in words: each rule that fires, what it points to, what it captures, its source. */
export function matchText(db: FingerprintDb, report: MatchReport): string {
  const trimmed = report.value.trim();
  const def = db.fields.get(report.field);
  const lines = [`${report.field} = ${JSON.stringify(report.value)}`];
  for (const m of report.macs ?? []) lines.push(macLine(db, m));
  if (trimmed.length > MAX_MATCH_VALUE_LENGTH) {
    lines.push(`longer than ${MAX_MATCH_VALUE_LENGTH} characters: a scan does not match such a value`);
  } else if (report.field === MAC_PSEUDO_FIELD || (report.macs && report.matches.length === 0 && !db.rulesByField.has(report.field))) {
    // A MAC with no rules of its own: the registry is its whole verdict.
  } else if (report.matches.length === 0) {
    const count = db.rulesByField.get(report.field)?.length ?? 0;
    lines.push(`no rule fires (${count} rule${count === 1 ? '' : 's'} for this field)`);
  } else {
    lines.push(`${report.matches.length} rule${report.matches.length === 1 ? ' fires' : 's fire'}:`);
    for (const m of report.matches) {
      const rule = db.rulesById.get(m.rule);
      if (rule) lines.push(...ruleLines(db, rule, m.identity));
    }
  }
  if (def?.identity && trimmed) lines.push(`the value itself is identity.${def.identity} (field priority ${def.priority})`);
  return `${lines.join('\n')}\n`;
}
