/**
 * The generic matcher: runs a field's rules over a value, and turns a device's observations into
 * evidence and identity values. It knows no protocol: which fields exist, which of them ARE identity
 * values and which patterns point to which vendor all come from the data (fingerprints/).
 */
import { IDENTITY_KEYS, type Evidence, type Identity, type IdentityKey, type Observation } from '../types.js';
import { compareCodeUnits, sortSmall } from './small-sort.js';
import { lookupOui } from './oui.js';
import { normaliseMac } from '../net/mac.js';
import { comparableModel } from '../normalise.js';
import { isIdentityKey, ruleIndexOf, type IndexedRule, type RuleIndex } from './rule-index.js';
import { OUI_RULE_ID, SERIAL_FRAGMENT_RULE_ID, type Claim, type FieldDef, type FingerprintDb, type IdentityValues, type RuleMatch } from './types.js';

/** Flags a rule may carry: no `g`/`y` (they make a RegExp stateful between calls), no `d`/`v`. */
export const ALLOWED_RULE_FLAGS = /^[imsu]*$/;

/** Longest value quoted in an evidence detail; longer ones are cut with an ellipsis. */
export const MAX_DETAIL_VALUE_LENGTH = 200;
/** Longer values are not matched nor used for identity (bounds regex work on hostile input). */
export const MAX_MATCH_VALUE_LENGTH = 2048;

export { namedGroups } from './rule-index.js';

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

/** The claim an evidence item makes: OUI evidence and a serial piece that agrees are platform claims; rules say which. */
export function claimOf(db: FingerprintDb, evidence: Evidence): Claim | null {
  if (evidence.source === 'oui' || evidence.rule === OUI_RULE_ID || evidence.rule === SERIAL_FRAGMENT_RULE_ID) return 'platform';
  return db.rulesById.get(evidence.rule)?.claim ?? null;
}

interface Candidate {
  /** The identity key's place in IDENTITY_KEYS. */
  readonly slot: number;
  readonly weight: number;
  readonly value: string;
  /** How the value is told apart from others of its key (sameValueKey), worked out once per value. */
  readonly same: string;
}

/** How values of an identity key are told apart: models by their comparable form, others as they are. */
function sameValueKey(db: FingerprintDb, key: IdentityKey, value: string): string {
  return key === 'model' ? comparableModel(value, db.comparison) : value;
}

/**
 * Highest weight; then the value seen most often; then the lexically smallest (deterministic).
 * Values with one sameValueKey are one value (a model with and without its vendor prefix,
 * agent/normalise.ts), shown as its heaviest spelling. Each value is counted where it first
 * appears, by a scan of the list: a device has a handful of candidates per key (a list of
 * thousands costs milliseconds, less than matching its values did).
 */
function pick(candidates: Reused<Candidate>): string | null {
  if (candidates.size === 0) return null;
  if (candidates.size === 1) return candidates.at(0).value;
  let best: Candidate | null = null;
  let bestWeight = 0;
  let bestCount = 0;
  for (let i = 0; i < candidates.size; i++) {
    const first = candidates.at(i);
    if (appearsBefore(candidates, i, first.same)) continue;
    // This value's spellings: the raw value shown is the heaviest seen, then the lexically smallest.
    let shown = first;
    let weight = first.weight;
    let count = 0;
    for (let k = i; k < candidates.size; k++) {
      const c = candidates.at(k);
      if (c.same !== first.same) continue;
      weight = Math.max(weight, c.weight);
      count += 1;
      if (c.weight > shown.weight || (c.weight === shown.weight && c.value < shown.value)) shown = c;
    }
    if (!best || weight > bestWeight || (weight === bestWeight && (count > bestCount || (count === bestCount && shown.value < best.value)))) {
      best = shown;
      bestWeight = weight;
      bestCount = count;
    }
  }
  return best ? best.value : null;
}

function appearsBefore(candidates: Reused<Candidate>, i: number, same: string): boolean {
  for (let k = 0; k < i; k++) if (candidates.at(k).same === same) return true;
  return false;
}

/**
 * A list kept from one device to the next and overwritten: a device is fingerprinted synchronously,
 * and what it gathers is read before the next one starts, so no list is grown afresh per device.
 */
class Reused<T> {
  private readonly items: T[] = [];
  size = 0;

  at(i: number): T {
    return this.items[i] as T;
  }

  push(item: T): void {
    this.items[this.size++] = item;
  }

  clear(): void {
    this.size = 0;
  }
}

const SLOT_OF: ReadonlyMap<IdentityKey, number> = new Map(IDENTITY_KEYS.map((key, i) => [key, i]));

/** What fingerprintDevice gathers from one device's MACs and values. */
class Gathered {
  readonly evidence = new Reused<Evidence>();
  /** Each evidence item's place in the evidence order (IndexedRule rank, RuleIndex ouiRank), at the same index. */
  readonly ranks = new Reused<number>();
  /** Candidates by their identity key's place in IDENTITY_KEYS. */
  readonly fromFields = IDENTITY_KEYS.map(() => new Reused<Candidate>());
  readonly fromRules = IDENTITY_KEYS.map(() => new Reused<Candidate>());

  clear(): void {
    this.evidence.clear();
    this.ranks.clear();
    for (const list of this.fromFields) list.clear();
    for (const list of this.fromRules) list.clear();
  }

  addCandidate(lists: readonly Reused<Candidate>[], candidate: Candidate): void {
    (lists[candidate.slot] as Reused<Candidate>).push(candidate);
  }

  /**
   * The evidence sorted by source (registry order), then OUI evidence, then rule order in the
   * database, then detail and vendor; repeats (the same rule on the same detail) once. Repeats sort
   * next to each other, so each is dropped by comparing it with the item before it.
   */
  sortedEvidence(): Evidence[] {
    const evidence = this.evidence;
    const order = new Array<number>(evidence.size);
    for (let i = 0; i < evidence.size; i++) order[i] = i;
    // The sort is stable: items that compare equal keep their order, as when sorting the items themselves.
    sortSmall(order, this.byRank);
    // Repeats dropped by moving the indices kept to the front; the list is then built at its size (a device keeps it).
    let kept = 0;
    for (let k = 0; k < order.length; k++) {
      const e = evidence.at(order[k]!);
      const before = k > 0 ? evidence.at(order[k - 1]!) : undefined;
      if (
        !before ||
        e.rule !== before.rule ||
        e.detail !== before.detail ||
        e.supports !== before.supports ||
        e.source !== before.source ||
        e.confidence !== before.confidence
      ) {
        order[kept++] = order[k]!;
      }
    }
    const sorted = new Array<Evidence>(kept);
    for (let k = 0; k < kept; k++) sorted[k] = evidence.at(order[k]!);
    return sorted;
  }

  /** Orders two gathered evidence items, given by index: rank, then detail, then vendor. */
  private readonly byRank = (a: number, b: number): number => {
    const ea = this.evidence.at(a);
    const eb = this.evidence.at(b);
    return this.ranks.at(a) - this.ranks.at(b) || compareCodeUnits(ea.detail, eb.detail) || compareCodeUnits(ea.supports ?? '', eb.supports ?? '');
  };

  /** The value chosen for the identity key in `slot`: field mappings first, then rule captures and sets. */
  chosen(slot: number): string | null {
    return pick(this.fromFields[slot] as Reused<Candidate>) ?? pick(this.fromRules[slot] as Reused<Candidate>);
  }
}

/** The one Gathered, cleared for each device. */
const deviceGathered = new Gathered();

/** The device's MACs in canonical form, sorted, each once. */
function macsOf(input: FingerprintInput): string[] {
  const read = (input.macs ?? input.observations.map((o) => o.mac)).map((raw) => (raw ? normaliseMac(raw) : null));
  const macs = read.includes(null) ? read.filter((mac): mac is string => mac !== null) : (read as string[]);
  return macs.length > 1 ? sortedOnce(macs) : macs;
}

function gatherOui(db: FingerprintDb, index: RuleIndex, mac: string, into: Gathered): string | null {
  const hit = lookupOui(db, mac);
  if (!hit) return null;
  const vendor = hit.vendor ? db.vendors.get(hit.vendor) : undefined;
  into.evidence.push({
    source: 'oui',
    // Joined rather than a template, which V8 keeps as a chain of six strings until something reads
    // it whole: the device keeps this detail, in half the memory as one flat string.
    detail: ['MAC ', mac, ' is registered to ', hit.organisation, ' (IEEE ', hit.prefix, ')'].join(''),
    supports: vendor ? vendor.key : null,
    rule: OUI_RULE_ID,
    confidence: vendor ? vendor.ouiConfidence : 0,
  });
  into.ranks.push(index.ouiRank);
  return hit.placeholder ? null : hit.organisation;
}

/**
 * What one value of a field yields, the same on every device that shows it: the field's own
 * identity mapping, the evidence of every rule that matches it (frozen: devices share it), the
 * identity values those rules set or capture, in rule order.
 */
interface ValueOutcome {
  readonly fromField: Candidate | null;
  readonly evidence: readonly Evidence[];
  /** Each evidence item's place in the evidence order, at the same index. */
  readonly ranks: readonly number[];
  readonly fromRules: readonly Candidate[];
}

function outcomeOf(db: FingerprintDb, field: string, def: FieldDef, rules: readonly IndexedRule[], value: string): ValueOutcome {
  const candidate = (key: IdentityKey, weight: number, text: string): Candidate => ({ slot: SLOT_OF.get(key) ?? -1, weight, value: text, same: sameValueKey(db, key, text) });
  const evidence: Evidence[] = [];
  const ranks: number[] = [];
  const fromRules: Candidate[] = [];
  let detail: string | undefined;
  for (const { rule, captureKeys, sets, rank } of rules) {
    let groups: Record<string, string | undefined> | undefined;
    if (captureKeys.length === 0) {
      if (!rule.pattern.test(value)) continue;
    } else {
      const m = rule.pattern.exec(value);
      if (!m) continue;
      groups = m.groups;
    }
    detail ??= describeField(field, value);
    evidence.push(Object.freeze({ source: rule.source, detail, supports: rule.supports, rule: rule.id, confidence: rule.confidence }));
    ranks.push(rank);
    // What the rule sets, unless a capture of the same name overrides it; then the captures.
    for (const [key, set] of sets) if (!groups?.[key]) fromRules.push(candidate(key, rule.confidence, set));
    if (!groups) continue;
    for (const key of captureKeys) {
      const captured = groups[key]?.trim();
      if (captured) fromRules.push(candidate(key, rule.confidence, captured));
    }
  }
  return { fromField: def.identity ? candidate(def.identity, def.priority, value) : null, evidence, ranks, fromRules };
}

/**
 * How many values' outcomes are kept per database. An estate shows the same banners, names and
 * models on device after device, so most values are seen again; values unique to one device
 * (serials, UUIDs) would fill it without bound, so when it is full it starts again. At this size
 * it holds about 10 MB at the very most (2,000 values of MAX_MATCH_VALUE_LENGTH two-byte
 * characters, with their details), and far less for real values.
 */
const KEPT_OUTCOMES = 2000;

const NO_RULES: readonly IndexedRule[] = [];

/** A field of fields.yaml with its rules, and the outcomes of its values already matched. */
interface KnownField {
  readonly name: string;
  readonly def: FieldDef;
  readonly rules: readonly IndexedRule[];
  readonly outcomes: Map<string, ValueOutcome>;
}

/** The fields of one database, each found by one look-up per value, and the outcomes kept (KEPT_OUTCOMES in all). */
class KnownFields {
  private readonly byName = new Map<string, KnownField>();
  private size = 0;

  constructor(db: FingerprintDb, index: RuleIndex) {
    for (const [name, def] of db.fields) this.byName.set(name, { name, def, rules: index.byField.get(name) ?? NO_RULES, outcomes: new Map() });
  }

  get(name: string): KnownField | undefined {
    return this.byName.get(name);
  }

  keep(field: KnownField, value: string, outcome: ValueOutcome): void {
    if (this.size >= KEPT_OUTCOMES) {
      for (const known of this.byName.values()) known.outcomes.clear();
      this.size = 0;
    }
    field.outcomes.set(value, outcome);
    this.size += 1;
  }
}

const knownFields = new WeakMap<FingerprintDb, KnownFields>();

function knownFieldsOf(db: FingerprintDb): KnownFields {
  let known = knownFields.get(db);
  if (!known) {
    known = new KnownFields(db, ruleIndexOf(db));
    knownFields.set(db, known);
  }
  return known;
}

/** One value of `field`: its identity mapping, and every rule of the field that matches it. */
function gatherValue(db: FingerprintDb, known: KnownFields, field: KnownField, rawValue: unknown, into: Gathered): void {
  if (typeof rawValue !== 'string') return;
  const value = rawValue.trim();
  if (!value || value.length > MAX_MATCH_VALUE_LENGTH) return;
  let outcome = field.outcomes.get(value);
  if (!outcome) {
    outcome = outcomeOf(db, field.name, field.def, field.rules, value);
    known.keep(field, value, outcome);
  }
  if (outcome.fromField) into.addCandidate(into.fromFields, outcome.fromField);
  for (let i = 0; i < outcome.evidence.length; i++) {
    into.evidence.push(outcome.evidence[i]!);
    into.ranks.push(outcome.ranks[i]!);
  }
  for (const candidate of outcome.fromRules) into.addCandidate(into.fromRules, candidate);
}


/**
 * Fingerprints one device: OUI of its MAC, then every known field of every observation (values
 * trimmed; list fields value by value) against the field's rules. Fields not in fields.yaml,
 * empty values and values over MAX_MATCH_VALUE_LENGTH characters are skipped. Pure and
 * deterministic: the result does not depend on observation order.
 */
export function fingerprintDevice(db: FingerprintDb, input: FingerprintInput): DeviceFingerprint {
  const index = ruleIndexOf(db);
  const known = knownFieldsOf(db);
  const into = deviceGathered;
  into.clear();

  let registrant: string | null = null;
  for (const mac of macsOf(input)) {
    const organisation = gatherOui(db, index, mac, into);
    registrant ??= organisation;
  }

  for (const { fields } of input.observations) {
    for (const name in fields) {
      const field = known.get(name);
      if (!field) continue;
      const raw = fields[name];
      if (Array.isArray(raw)) for (const value of raw) gatherValue(db, known, field, value, into);
      else gatherValue(db, known, field, raw, into);
    }
  }

  // Written out (not a loop over IDENTITY_KEYS) so the object is built with its final shape at once.
  const identity: Identity = {
    manufacturer: into.chosen(MANUFACTURER_SLOT),
    brand: into.chosen(BRAND_SLOT),
    model: into.chosen(MODEL_SLOT),
    firmware: into.chosen(FIRMWARE_SLOT),
    serial: into.chosen(SERIAL_SLOT),
    deviceType: into.chosen(DEVICE_TYPE_SLOT),
  };
  return {
    evidence: into.sortedEvidence(),
    identity,
    registrant,
  };
}

const slotOf = (key: IdentityKey): number => SLOT_OF.get(key) ?? -1;
const [MANUFACTURER_SLOT, BRAND_SLOT, MODEL_SLOT, FIRMWARE_SLOT, SERIAL_SLOT, DEVICE_TYPE_SLOT] = [
  slotOf('manufacturer'),
  slotOf('brand'),
  slotOf('model'),
  slotOf('firmware'),
  slotOf('serial'),
  slotOf('deviceType'),
];

/** `list` sorted (code-unit order), repeats dropped; sorts `list` in place. */
function sortedOnce(list: string[]): string[] {
  if (list.length < 2) return list;
  sortSmall(list, compareCodeUnits);
  return list.filter((item, i) => i === 0 || item !== list[i - 1]);
}

