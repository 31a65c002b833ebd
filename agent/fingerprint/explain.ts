/**
 * What `cctv-agent fingerprints fields` and `fingerprints match FIELD VALUE` print: the field
 * vocabulary one line a field, and which rules fire on a value and why. Pure: the CLI writes the
 * strings; tests read them.
 */
import { agentError } from '../errors.js';
import { MAX_MATCH_VALUE_LENGTH, matchValue } from './match.js';
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

export interface MatchReport {
  field: string;
  value: string;
  matches: MatchEntry[];
}

/**
 * Every rule of `field` that fires on `value`, as the engine runs them on an observation: the value
 * trimmed, nothing matched over MAX_MATCH_VALUE_LENGTH characters. Throws CCTV_ERR_UNKNOWN_FIELD
 * for a field fields.yaml does not list.
 */
export function matchReport(db: FingerprintDb, field: string, value: string): MatchReport {
  if (!db.fields.has(field)) throw agentError('CCTV_ERR_UNKNOWN_FIELD', field);
  const trimmed = value.trim();
  const found = trimmed && trimmed.length <= MAX_MATCH_VALUE_LENGTH ? matchValue(db, field, trimmed) : [];
  return {
    field,
    value,
    matches: found.map(({ rule, captures }) => ({ rule: rule.id, supports: rule.supports, confidence: rule.confidence, identity: captures })),
  };
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
  if (trimmed.length > MAX_MATCH_VALUE_LENGTH) {
    lines.push(`longer than ${MAX_MATCH_VALUE_LENGTH} characters: a scan does not match such a value`);
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
