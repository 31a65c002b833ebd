/**
 * OEM-aware classification: evidence + the fingerprint's identity → who MADE the device (linked
 * vendor, maker) and what it is SOLD AS (brand), with the relation between the two. Pure.
 *
 * Two kinds of claim (the rule says which; OUI evidence is always `platform`):
 *   platform  a trait of who made it (OUI, serial/model/firmware shapes, SADP/DHIP answering…)
 *   brand     what the device says it is (ONVIF name scope, Manufacturer…)
 *
 * Every evidence item supporting a vendor-table entry v counts toward v's maker group
 *   group(v) = v.linkedVendor ?? v.key        (hikvision, dahua, or a non-linked maker like axis)
 * with weight
 *   w = relationWeight[claim][v.relation] × (v.uncertain ? uncertainWeight : 1)   (fingerprints/classification.yaml)
 * i.e. the maker's own traits and labels count fully; a subsidiary's traits count fully but its
 * label only 0.8 (it is the same group, but a label is only a label); an OEM brand's traits and
 * label count half (the OEM may also sell other makers' devices); an uncertain link halves again.
 *
 * Group score, noisy-OR over distinct (source, rule) pairs (a rule matching twice counts once, at
 * its strongest):
 *   S(G) = 1 − ∏ over (source, rule) of (1 − max(w·c))
 *
 * linkedVendor L = the higher of S(hikvision), S(dahua) when either is > 0 (ties: hikvision); else null.
 * Conflict: every OTHER group with evidence (the other linked vendor, or a non-linked maker such
 * as an Axis OUI) is a rival. Rival scores R(G) use the same formula, except that brand claims
 * count rivalBrandWeight (half): a label that differs from the platform maker is exactly what an
 * OEM rebrand looks like, so it only half-contradicts the platform traits.
 *   C = 1 − ∏ over rival groups of (1 − R(G))
 *   confidence = S(L) × (1 − C)                    (rounded to 3 decimals)
 * A non-linked device gets linkedVendor null, relation null, and the same formula applied to its
 * best non-linked group B (ties: key order): how sure we are of its actual maker. No evidence: 0.
 *
 * E.g. a Hikvision OUI alone: S = 0.5. OUI + name scope "HIKVISION …" (0.8) + DS-2 model (0.8):
 * 1 − 0.5·0.2·0.2 = 0.98. The same with an Axis OUI instead: 0.96 × (1 − 0.5) = 0.48.
 *
 * Relation (linked devices only), from the presented brand P = the vendor with the highest brand
 * score (noisy-OR of its brand claims; ties prefer a brand other than the maker, then key order),
 * else the fingerprint's label (identity.brand ?? identity.manufacturer) looked up by name:
 *   P is L itself                                → direct
 *   P is L's subsidiary / own brand               → subsidiary
 *   P is anything else, or a label the table does not know → oem
 *   a placeholder label that names no brand ("Private", "General": fingerprints/kinds/brand-label.yaml)
 *   is no brand: the brand its model's prefix names decides (DH-… → Dahua, direct), else → oem
 *   with the brand left empty (a white-label unit)
 *   no brand at all: the strongest platform vendor in L's group decides the same way
 *   (a Hikvision OUI alone → direct; an EZVIZ OUI alone → subsidiary; an Amcrest OUI → oem).
 *
 * Identity: manufacturer = display name of the maker (L, else B, else the fingerprint's value);
 * brand = display name of P, else the unknown label, else the fingerprint's brand unless a
 * placeholder. Model,
 * firmware, serial and deviceType are kept as fingerprinted.
 */
import { brandLabel, brandOfModel } from '../fingerprint/labels.js';
import { claimOf } from '../fingerprint/match.js';
import type { Claim, FingerprintDb, Vendor } from '../fingerprint/types.js';
import type { ClassificationWeights } from '../knowledge/tables.js';
import type { Classification, Evidence, Identity, LinkedVendor, Relation } from '../types.js';
import { compareCodeUnits } from '../fingerprint/small-sort.js';

export interface ClassifyResult {
  classification: Classification;
  identity: Identity;
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function weight(weights: ClassificationWeights, claim: Claim, vendor: Vendor, asRival: boolean): number {
  let w = weights.relationWeight[claim][vendor.relation];
  if (vendor.uncertain) w *= weights.uncertainWeight;
  if (asRival && claim === 'brand') w *= weights.rivalBrandWeight;
  return w;
}

/**
 * One term of the noisy-ORs: evidence from the same source and rule supporting the same vendor
 * counts once, at its strongest. The same term counts toward its vendor's maker group, in S(G) and
 * R(G), and toward the vendor's brand score (brand claims) or its platform score (platform claims:
 * weighted as in S(G)); a rule's claim is the same on every piece of its evidence.
 */
interface Term {
  group: string;
  vendor: string;
  source: string;
  rule: string;
  claim: Claim;
  /** Its part in S(G). */
  own: number;
  /** Its part in R(G). */
  rival: number;
  /** Its part in the vendor's brand score (brand claims only). */
  label: number;
}

/**
 * The terms of the device being tallied, in the order first seen. Terms are few (one per rule that
 * matched, and the OUI), so a term is found by a scan. The list and its terms are kept from one
 * device to the next and overwritten (a device is tallied and scored synchronously, before the
 * next one), so tallying allocates nothing once the list has grown to a device's usual length.
 */
class Terms {
  private readonly terms: Term[] = [];
  size = 0;

  clear(): void {
    this.size = 0;
  }

  at(i: number): Term {
    return this.terms[i] as Term;
  }

  add(group: string, vendor: string, e: Evidence, claim: Claim, own: number, rival: number, label: number): void {
    for (let i = 0; i < this.size; i++) {
      const term = this.at(i);
      if (term.vendor !== vendor || term.rule !== e.rule || term.source !== e.source) continue;
      term.own = Math.max(term.own, own);
      term.rival = Math.max(term.rival, rival);
      term.label = Math.max(term.label, label);
      return;
    }
    const term = this.terms[this.size];
    if (!term) this.terms.push({ group, vendor, source: e.source, rule: e.rule, claim, own, rival, label });
    else {
      term.group = group;
      term.vendor = vendor;
      term.source = e.source;
      term.rule = e.rule;
      term.claim = claim;
      term.own = own;
      term.rival = rival;
      term.label = label;
    }
    this.size += 1;
  }
}

/** Which part of a term a score reads, and which terms it reads it from (by group or by vendor). */
type Part = 'own' | 'rival' | 'label';
type By = 'group' | 'vendor';

/** 1 − ∏(1 − pᵢ) over the terms whose `by` is `name`, in the order they were first seen. */
function noisyOr(terms: Terms, by: By, name: string, part: Part, claim?: Claim): number {
  let miss = 1;
  for (let i = 0; i < terms.size; i++) {
    const term = terms.at(i);
    if (term[by] === name && (claim === undefined || term.claim === claim)) miss *= 1 - term[part];
  }
  return 1 - miss;
}

/**
 * The groups or vendors of a device's terms, each once, in code-unit order: a list kept from one
 * device to the next and overwritten, like the terms it is read from.
 */
class SortedNames {
  private readonly names: string[] = [];
  size = 0;

  at(i: number): string {
    return this.names[i] as string;
  }

  /** The names `by` of the terms (of one claim, if given). */
  of(terms: Terms, by: By, claim?: Claim): this {
    this.size = 0;
    for (let i = 0; i < terms.size; i++) {
      const term = terms.at(i);
      if (claim === undefined || term.claim === claim) this.insert(term[by]);
    }
    return this;
  }

  private insert(name: string): void {
    for (let k = 0; k < this.size; k++) if (this.at(k) === name) return;
    let k = this.size;
    for (; k > 0 && compareCodeUnits(this.at(k - 1), name) > 0; k--) this.names[k] = this.at(k - 1);
    this.names[k] = name;
    this.size += 1;
  }
}

const deviceTerms = new Terms();

/** The noisy-OR terms of a device's evidence, gathered in one pass (into deviceTerms: read them before the next tally). */
function tally(db: FingerprintDb, evidence: readonly Evidence[]): Terms {
  const terms = deviceTerms;
  terms.clear();
  for (const e of evidence) {
    if (!e.supports) continue;
    const vendor = db.vendors.get(e.supports);
    if (!vendor) continue;
    // Evidence from a rule this database does not know is read as a label: the weaker reading.
    const claim = claimOf(db, e) ?? 'brand';
    const confidence = clamp01(e.confidence);
    const own = clamp01(weight(db.weights, claim, vendor, false) * confidence);
    const rival = clamp01(weight(db.weights, claim, vendor, true) * confidence);
    terms.add(groupOf(vendor), vendor.key, e, claim, own, rival, claim === 'brand' ? confidence : 0);
  }
  return terms;
}

/** The maker group a vendor counts toward: its linked vendor, else itself. */
function groupOf(vendor: Vendor): string {
  return vendor.linkedVendor ?? vendor.key;
}

export interface GroupScores {
  /** Maker group → S(G). */
  own: Map<string, number>;
  /** Maker group → R(G), its weight as a rival. */
  rival: Map<string, number>;
}

/** Per maker group (hikvision, dahua, or a non-linked vendor key): S(G) and R(G) as documented above. */
export function scoreGroups(db: FingerprintDb, evidence: readonly Evidence[]): GroupScores {
  const scores = deviceScores.of(tally(db, evidence));
  const result: GroupScores = { own: new Map(), rival: new Map() };
  for (let i = 0; i < scores.groups.size; i++) {
    result.own.set(scores.groups.at(i), scores.ownAt(i));
    result.rival.set(scores.groups.at(i), scores.rivalAt(i));
  }
  return result;
}

function normaliseName(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/** A label (`HIKVISION`, `CP PLUS`) → the vendor whose key or display name it spells, if any. */
export function vendorForLabel(db: FingerprintDb, label: string): Vendor | null {
  const wanted = normaliseName(label);
  if (!wanted) return null;
  for (const v of db.vendors.values()) {
    if (normaliseName(v.key) === wanted || normaliseName(v.name) === wanted) return v;
  }
  return null;
}

/**
 * Maker groups in code-unit order, with S(G) and R(G) at the same index: kept from one device to
 * the next and overwritten, like the terms they are read from.
 */
class Scores {
  readonly groups = new SortedNames();
  private readonly own: number[] = [];
  private readonly rival: number[] = [];

  of(terms: Terms): this {
    this.groups.of(terms, 'group');
    for (let i = 0; i < this.groups.size; i++) {
      this.own[i] = noisyOr(terms, 'group', this.groups.at(i), 'own');
      this.rival[i] = noisyOr(terms, 'group', this.groups.at(i), 'rival');
    }
    return this;
  }

  ownAt(i: number): number {
    return this.own[i] as number;
  }

  rivalAt(i: number): number {
    return this.rival[i] as number;
  }

  /** S(G) of `group`, 0 when no evidence supports it. */
  scoreOf(group: string): number {
    for (let i = 0; i < this.groups.size; i++) if (this.groups.at(i) === group) return this.ownAt(i);
    return 0;
  }

  /** C against `group`: 1 − ∏ over every other group (in code-unit order) of (1 − R(G)). */
  conflictAgainst(group: string): number {
    let miss = 1;
    for (let i = 0; i < this.groups.size; i++) if (this.groups.at(i) !== group) miss *= 1 - this.rivalAt(i);
    return 1 - miss;
  }

  /** The first of `groups` with the highest S(G) above 0, or null. */
  strongestOf<G extends string>(groups: readonly G[]): G | null {
    let winner: G | null = null;
    let score = 0;
    for (const g of groups) {
      const s = this.scoreOf(g);
      if (s > score) {
        winner = g;
        score = s;
      }
    }
    return winner;
  }

  /** The first group (in code-unit order) with the highest S(G) above 0, or null. */
  strongest(): string | null {
    let winner: string | null = null;
    let score = 0;
    for (let i = 0; i < this.groups.size; i++) {
      if (this.ownAt(i) > score) {
        winner = this.groups.at(i);
        score = this.ownAt(i);
      }
    }
    return winner;
  }
}

const deviceScores = new Scores();
const vendorNames = new SortedNames();

/**
 * The vendor whose `claim` terms give the highest noisy-OR of `part`, the first in code-unit order
 * on a tie, except that a vendor other than `maker` wins a tie with `maker` (a relabelled name over
 * the maker's own leaking through); only vendors of `group`'s maker group when it is given. Null when
 * no vendor has such terms.
 */
function strongestVendor(db: FingerprintDb, terms: Terms, claim: Claim, part: Part, maker: string | null, group: LinkedVendor | null): string | null {
  const names = vendorNames.of(terms, 'vendor', claim);
  let winner: string | null = null;
  let winnerScore = 0;
  for (let i = 0; i < names.size; i++) {
    const name = names.at(i);
    if (group !== null && db.vendors.get(name)?.linkedVendor !== group) continue;
    const score = noisyOr(terms, 'vendor', name, part, claim);
    if (winner === null || score > winnerScore || (score === winnerScore && name !== maker && winner === maker)) {
      winner = name;
      winnerScore = score;
    }
  }
  return winner;
}

export function classify(db: FingerprintDb, evidence: readonly Evidence[], identityFromFingerprint: Identity): ClassifyResult {
  const fp = identityFromFingerprint;
  const terms = tally(db, evidence);
  const scores = deviceScores.of(terms);
  // Who made it: the linked vendor with the highest S(G), else the non-linked group with the highest.
  const linked = scores.strongestOf(db.linkedVendors);
  const maker = linked ?? scores.strongest();
  const confidence = maker ? round3(scores.scoreOf(maker) * (1 - scores.conflictAgainst(maker))) : 0;

  // What it is sold as.
  const brandKey = strongestVendor(db, terms, 'brand', 'label', maker, null);
  let presented: Vendor | null = brandKey ? (db.vendors.get(brandKey) ?? null) : null;
  let unknownLabel: string | null = null;
  let whiteLabel = false;
  if (!presented) {
    const label = brandLabel(db, fp.brand) ?? brandLabel(db, fp.manufacturer);
    if (label) {
      presented = vendorForLabel(db, label);
      if (!presented) unknownLabel = label;
    } else if (fp.brand ?? fp.manufacturer) {
      // A placeholder label ("Private", "General") names no brand; the model's own prefix may.
      presented = brandOfModel(db, fp.model);
      whiteLabel = !presented;
    }
  }

  let relation: Relation | null = null;
  if (linked) {
    if (presented) relation = relationOf(presented, linked);
    else if (unknownLabel || whiteLabel) relation = 'oem';
    else {
      const pv = strongestVendor(db, terms, 'platform', 'own', null, linked);
      const vendor = pv ? db.vendors.get(pv) : undefined;
      relation = vendor ? relationOf(vendor, linked) : 'direct';
    }
  }

  const makerVendor = maker ? db.vendors.get(maker) : undefined;
  const identity: Identity = {
    manufacturer: makerVendor ? makerVendor.name : fp.manufacturer,
    brand: presented ? presented.name : (unknownLabel ?? brandLabel(db, fp.brand)),
    model: fp.model,
    firmware: fp.firmware,
    serial: fp.serial,
    deviceType: fp.deviceType,
  };
  return { classification: { linkedVendor: linked, relation, confidence }, identity };
}

/** How a presented brand relates to the maker L. */
function relationOf(brand: Vendor, linked: LinkedVendor): Relation {
  if (brand.key === linked) return 'direct';
  if (brand.linkedVendor === linked && brand.relation === 'subsidiary') return 'subsidiary';
  return 'oem';
}
