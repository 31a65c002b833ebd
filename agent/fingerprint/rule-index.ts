/**
 * The rules of a fingerprint database made ready for the per-device loop (match.ts), once per
 * database: what each rule sets and captures resolved to identity keys, and each rule's place in the
 * evidence order. Built on first use and kept as long as the database object lives.
 */
import { EVIDENCE_SOURCES, IDENTITY_KEYS, type IdentityKey } from '../types.js';
import { OUI_RULE_ID, type FingerprintDb, type Rule } from './types.js';

const IDENTITY_KEY_SET: ReadonlySet<string> = new Set(IDENTITY_KEYS);

export function isIdentityKey(name: string): name is IdentityKey {
  return IDENTITY_KEY_SET.has(name);
}

/** Every named capture group of `re`, in pattern order (`(?:re)|` matches '' and lists them all). */
export function namedGroups(re: RegExp): string[] {
  const groups = new RegExp(`(?:${re.source})|`, re.flags).exec('')?.groups;
  return groups ? Object.keys(groups) : [];
}

export interface IndexedRule {
  readonly rule: Rule;
  /** Its named groups that are identity keys, in pattern order; none: the pattern is only tested. */
  readonly captureKeys: readonly IdentityKey[];
  /** Its `set` entries that are identity keys, in file order, values trimmed (empty ones left out). */
  readonly sets: readonly (readonly [IdentityKey, string])[];
  /** Its place in the evidence order (evidenceRanks, by its id). */
  readonly rank: number;
}

export interface RuleIndex {
  /** Field name → its rules in file order. */
  readonly byField: ReadonlyMap<string, readonly IndexedRule[]>;
  /** The place of OUI evidence (OUI_RULE_ID) in the evidence order (see evidenceRanks). */
  readonly ouiRank: number;
}

const SOURCE_RANK: ReadonlyMap<string, number> = new Map(EVIDENCE_SOURCES.map((source, i) => [source, i]));

function indexRule(rule: Rule, evidenceRank: ReadonlyMap<string, number>): IndexedRule {
  const sets: [IdentityKey, string][] = [];
  for (const [key, value] of Object.entries(rule.set)) {
    const trimmed = value?.trim();
    if (isIdentityKey(key) && trimmed) sets.push([key, trimmed]);
  }
  return { rule, captureKeys: namedGroups(rule.pattern).filter(isIdentityKey), sets, rank: evidenceRank.get(rule.id) ?? -1 };
}

/**
 * Rule id (and OUI_RULE_ID) → its place in the evidence order: by evidence source (registry
 * order), then OUI evidence, then rule files by name and rules by position.
 */
function evidenceRanks(db: FingerprintDb): Map<string, number> {
  // The first rule of an id is the one evidence names (db.rulesById); the files are in name order.
  const known = [...db.rulesById.values()].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.index - b.index));
  const slots = known.length + 1;
  const evidenceRank = new Map<string, number>([[OUI_RULE_ID, (SOURCE_RANK.get('oui') ?? -1) * slots]]);
  known.forEach((rule, i) => evidenceRank.set(rule.id, (SOURCE_RANK.get(rule.source) ?? -1) * slots + 1 + i));
  return evidenceRank;
}

function buildIndex(db: FingerprintDb): RuleIndex {
  const evidenceRank = evidenceRanks(db);
  const byField = new Map<string, IndexedRule[]>();
  for (const [field, rules] of db.rulesByField) byField.set(field, rules.map((rule) => indexRule(rule, evidenceRank)));
  return { byField, ouiRank: evidenceRank.get(OUI_RULE_ID) ?? -1 };
}

const indexes = new WeakMap<FingerprintDb, RuleIndex>();

export function ruleIndexOf(db: FingerprintDb): RuleIndex {
  let index = indexes.get(db);
  if (!index) {
    index = buildIndex(db);
    indexes.set(db, index);
  }
  return index;
}
