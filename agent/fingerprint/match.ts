/**
 * The generic matcher: runs a field's rules over a value, and turns a device's observations into
 * evidence and identity values. It knows no protocol: which fields exist, which of them ARE identity
 * values and which patterns point to which vendor all come from the data (fingerprints/).
 */
import { EVIDENCE_SOURCES, IDENTITY_KEYS, type Evidence, type Identity, type IdentityKey, type Observation } from '../types.js';
import { lookupOui } from './oui.js';
import { normaliseMac } from '../net/mac.js';
import { comparableModel } from '../normalise.js';
import { OUI_RULE_ID, type Claim, type FingerprintDb, type IdentityValues, type RuleMatch } from './types.js';

/** Flags a rule may carry: no `g`/`y` (they make a RegExp stateful between calls), no `d`/`v`. */
export const ALLOWED_RULE_FLAGS = /^[imsu]*$/;

/** Longest value quoted in an evidence detail; longer ones are cut with an ellipsis. */
export const MAX_DETAIL_VALUE_LENGTH = 200;
/** Longer values are not matched nor used for identity (bounds regex work on hostile input). */
export const MAX_MATCH_VALUE_LENGTH = 2048;

const IDENTITY_KEY_SET: ReadonlySet<string> = new Set(IDENTITY_KEYS);

function isIdentityKey(name: string): name is IdentityKey {
  return IDENTITY_KEY_SET.has(name);
}

/** Every named capture group of `re`, in pattern order (`(?:re)|` matches '' and lists them all). */
export function namedGroups(re: RegExp): string[] {
  const groups = new RegExp(`(?:${re.source})|`, re.flags).exec('')?.groups;
  return groups ? Object.keys(groups) : [];
}

/** The identity values a match captured: named groups that are Identity keys and took part. */
export function capturesOf(match: RegExpExecArray): IdentityValues {
  const captures: IdentityValues = {};
  if (!match.groups) return captures;
  for (const [name, value] of Object.entries(match.groups)) {
    if (isIdentityKey(name) && value !== undefined && value !== '') captures[name] = value;
  }
  return captures;
}

/** Every rule of `field` that matches `value`, in file order, with its captures. */
export function matchValue(db: FingerprintDb, field: string, value: string): RuleMatch[] {
  const matches: RuleMatch[] = [];
  for (const rule of db.rulesByField.get(field) ?? []) {
    const m = rule.pattern.exec(value);
    if (m) matches.push({ rule, captures: capturesOf(m) });
  }
  return matches;
}

export interface FingerprintInput {
  /**
   * The MACs of the device's own interfaces (any common notation), whose registrants are evidence;
   * when absent, the observations' own MACs are used. Empty: none (a MAC the device shares with
   * other devices is a router's, and says nothing of who made the device).
   */
  readonly macs?: readonly string[];
  readonly observations: readonly Observation[];
}

export interface DeviceFingerprint {
  /** De-duplicated, sorted by source (registry order), then rule order in the database, then detail. */
  readonly evidence: Evidence[];
  /** Field identity mappings by priority first, then rule captures and `set` values by confidence. */
  readonly identity: Identity;
  /** Vendor keys supported by platform claims (who made it) and by brand claims (what it says it is). */
  readonly claims: { readonly platform: string[]; readonly brand: string[] };
  /**
   * The IEEE organisation the device's MAC is registered to, unless the registry lists a
   * placeholder there ("Private"…): who made its network interface, whether vendors.yaml knows it
   * or not. With several MACs, the lowest one's.
   */
  readonly registrant: string | null;
}

/** `onvif.scope.name = "HIKVISION DS-2CD2143G2-I"` (long values cut). */
export function describeField(field: string, value: string): string {
  const shown = value.length > MAX_DETAIL_VALUE_LENGTH ? `${value.slice(0, MAX_DETAIL_VALUE_LENGTH)}…` : value;
  return `${field} = ${JSON.stringify(shown)}`;
}

/** The claim an evidence item makes: OUI evidence is a platform claim; rules say which. */
export function claimOf(db: FingerprintDb, evidence: Evidence): Claim | null {
  if (evidence.source === 'oui' || evidence.rule === OUI_RULE_ID) return 'platform';
  return db.rulesById.get(evidence.rule)?.claim ?? null;
}

interface Candidate {
  weight: number;
  value: string;
}

interface ValueStats {
  /** The raw value shown: the heaviest spelling seen, then the lexically smallest. */
  shown: Candidate;
  weight: number;
  count: number;
}

/**
 * Highest weight; then the value seen most often; then the lexically smallest (deterministic).
 * Values with one `sameAs` key are one value (a model with and without its vendor prefix,
 * agent/normalise.ts), shown as its heaviest spelling.
 */
function pick(candidates: readonly Candidate[] | undefined, sameAs: (value: string) => string): string | null {
  if (!candidates || candidates.length === 0) return null;
  const stats = new Map<string, ValueStats>();
  for (const c of candidates) {
    const key = sameAs(c.value);
    const s = stats.get(key);
    if (s) {
      s.weight = Math.max(s.weight, c.weight);
      s.count += 1;
      if (c.weight > s.shown.weight || (c.weight === s.shown.weight && c.value < s.shown.value)) s.shown = c;
    } else stats.set(key, { shown: c, weight: c.weight, count: 1 });
  }
  let best: ValueStats | null = null;
  for (const entry of stats.values()) {
    if (
      !best ||
      entry.weight > best.weight ||
      (entry.weight === best.weight && (entry.count > best.count || (entry.count === best.count && entry.shown.value < best.shown.value)))
    ) {
      best = entry;
    }
  }
  return best ? best.shown.value : null;
}

function push(map: Map<IdentityKey, Candidate[]>, key: IdentityKey, candidate: Candidate): void {
  const list = map.get(key);
  if (list) list.push(candidate);
  else map.set(key, [candidate]);
}

function pushIdentity(map: Map<IdentityKey, Candidate[]>, key: string, value: string | undefined, weight: number): void {
  const trimmed = value?.trim();
  if (isIdentityKey(key) && trimmed) push(map, key, { weight, value: trimmed });
}

/**
 * Fingerprints one device: OUI of its MAC, then every known field of every observation (values
 * trimmed; list fields value by value) against the field's rules. Fields not in fields.yaml,
 * empty values and values over MAX_MATCH_VALUE_LENGTH characters are skipped. Pure and
 * deterministic: the result does not depend on observation order.
 */
export function fingerprintDevice(db: FingerprintDb, input: FingerprintInput): DeviceFingerprint {
  const evidence: Evidence[] = [];
  const fromFields = new Map<IdentityKey, Candidate[]>();
  const fromRules = new Map<IdentityKey, Candidate[]>();

  const macs = new Set<string>();
  for (const raw of input.macs ?? input.observations.map((o) => o.mac)) {
    const mac = raw ? normaliseMac(raw) : null;
    if (mac) macs.add(mac);
  }
  let registrant: string | null = null;
  for (const mac of [...macs].sort()) {
    const hit = lookupOui(db, mac);
    if (!hit) continue;
    if (!hit.placeholder) registrant ??= hit.organisation;
    const vendor = hit.vendor ? db.vendors.get(hit.vendor) : undefined;
    evidence.push({
      source: 'oui',
      detail: `MAC ${mac} is registered to ${hit.organisation} (IEEE ${hit.prefix})`,
      supports: vendor ? vendor.key : null,
      rule: OUI_RULE_ID,
      confidence: vendor ? vendor.ouiConfidence : 0,
    });
  }

  for (const observation of input.observations) {
    for (const [field, raw] of Object.entries(observation.fields)) {
      const def = db.fields.get(field);
      if (!def) continue;
      const values: readonly unknown[] = Array.isArray(raw) ? raw : [raw];
      for (const rawValue of values) {
        if (typeof rawValue !== 'string') continue;
        const value = rawValue.trim();
        if (!value || value.length > MAX_MATCH_VALUE_LENGTH) continue;
        if (def.identity) push(fromFields, def.identity, { weight: def.priority, value });
        let detail: string | undefined;
        for (const { rule, captures } of matchValue(db, field, value)) {
          detail ??= describeField(field, value);
          evidence.push({ source: rule.source, detail, supports: rule.supports, rule: rule.id, confidence: rule.confidence });
          // What the rule sets, unless a capture of the same name overrides it; then the captures.
          for (const key in rule.set) if (!(key in captures)) pushIdentity(fromRules, key, rule.set[key as IdentityKey], rule.confidence);
          for (const key in captures) pushIdentity(fromRules, key, captures[key as IdentityKey], rule.confidence);
        }
      }
    }
  }

  const identity = {} as Identity;
  const sameAs = (key: IdentityKey) => (key === 'model' ? (v: string) => comparableModel(v, db.comparison) : (v: string) => v);
  for (const key of IDENTITY_KEYS) identity[key] = pick(fromFields.get(key), sameAs(key)) ?? pick(fromRules.get(key), sameAs(key));

  const sorted = dedupe(evidence).sort((a, b) => compareEvidence(db, a, b));
  const platform = new Set<string>();
  const brand = new Set<string>();
  for (const e of sorted) {
    if (!e.supports) continue;
    const claim = claimOf(db, e);
    if (claim === 'platform') platform.add(e.supports);
    else if (claim === 'brand') brand.add(e.supports);
  }
  return { evidence: sorted, identity, claims: { platform: [...platform].sort(), brand: [...brand].sort() }, registrant };
}

function dedupe(evidence: readonly Evidence[]): Evidence[] {
  const seen = new Set<string>();
  const out: Evidence[] = [];
  for (const e of evidence) {
    // NUL never occurs in a detail (describeField quotes values with JSON.stringify), so the
    // joined key is as unambiguous as a JSON array, and several times cheaper to build.
    const key = `${e.source}\u0000${e.detail}\u0000${e.supports}\u0000${e.rule}\u0000${e.confidence}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(e);
  }
  return out;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** OUI evidence first, then rules by file and position, then unknown rule ids by name. */
function compareRules(db: FingerprintDb, a: string, b: string): number {
  if (a === b) return 0;
  if (a === OUI_RULE_ID) return -1;
  if (b === OUI_RULE_ID) return 1;
  const ra = db.rulesById.get(a);
  const rb = db.rulesById.get(b);
  if (ra && rb) return compareStrings(ra.file, rb.file) || ra.index - rb.index;
  if (ra) return -1;
  if (rb) return 1;
  return compareStrings(a, b);
}

const SOURCE_RANK: ReadonlyMap<string, number> = new Map(EVIDENCE_SOURCES.map((source, i) => [source, i]));

function compareEvidence(db: FingerprintDb, a: Evidence, b: Evidence): number {
  return (
    (SOURCE_RANK.get(a.source) ?? -1) - (SOURCE_RANK.get(b.source) ?? -1) ||
    compareRules(db, a.rule, b.rule) ||
    compareStrings(a.detail, b.detail) ||
    compareStrings(a.supports ?? '', b.supports ?? '')
  );
}
