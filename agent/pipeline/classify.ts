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
import { compareCodeUnits, sortSmall } from '../fingerprint/small-sort.js';

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
 * One term of a noisy-OR: evidence from the same source and rule supporting the same vendor counts
 * once, at its strongest. `name` is what the term counts toward (a maker group, or a vendor key).
 */
interface Term {
  readonly name: string;
  readonly source: string;
  readonly rule: string;
  readonly vendor: string;
  p: number;
}

/**
 * Adds `p` to the terms of `name`. Terms are few (one per rule that matched, and the OUI), so they
 * are kept in one list in the order they were first seen and found by a scan.
 */
function addTerm(terms: Term[], name: string, e: Evidence, vendor: string, p: number): void {
  const clamped = clamp01(p);
  for (const term of terms) {
    if (term.name === name && term.rule === e.rule && term.source === e.source && term.vendor === vendor) {
      term.p = Math.max(term.p, clamped);
      return;
    }
  }
  terms.push({ name, source: e.source, rule: e.rule, vendor, p: clamped });
}

/** 1 − ∏(1 − pᵢ) over the terms of `name`, in the order they were first seen. */
function noisyOr(terms: readonly Term[], name: string): number {
  let miss = 1;
  for (const term of terms) if (term.name === name) miss *= 1 - term.p;
  return 1 - miss;
}

/** The names the terms count toward, each once, in code-unit order. */
function namesOf(terms: readonly Term[]): string[] {
  const names: string[] = [];
  for (const term of terms) if (!names.includes(term.name)) names.push(term.name);
  return sortSmall(names, compareCodeUnits);
}

/** The noisy-OR terms of a device's evidence, gathered in one pass. */
interface Tally {
  /** Terms of S(G), by maker group. */
  own: Term[];
  /** Terms of R(G), by maker group. */
  rival: Term[];
  /** Terms of each vendor's brand claims (unweighted), by vendor key. */
  brand: Term[];
  /** Terms of each vendor's platform claims (weighted as in S(G)), by vendor key. */
  platform: Term[];
}

function tally(db: FingerprintDb, evidence: readonly Evidence[]): Tally {
  const t: Tally = { own: [], rival: [], brand: [], platform: [] };
  for (const e of evidence) {
    if (!e.supports) continue;
    const vendor = db.vendors.get(e.supports);
    if (!vendor) continue;
    // Evidence from a rule this database does not know is read as a label: the weaker reading.
    const claim = claimOf(db, e) ?? 'brand';
    const group = groupOf(vendor);
    const confidence = clamp01(e.confidence);
    const ownTerm = weight(db.weights, claim, vendor, false) * confidence;
    addTerm(t.own, group, e, vendor.key, ownTerm);
    addTerm(t.rival, group, e, vendor.key, weight(db.weights, claim, vendor, true) * confidence);
    if (claim === 'brand') addTerm(t.brand, vendor.key, e, vendor.key, confidence);
    else addTerm(t.platform, vendor.key, e, vendor.key, ownTerm);
  }
  return t;
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
  const t = tally(db, evidence);
  const own = new Map<string, number>();
  const rival = new Map<string, number>();
  for (const g of namesOf(t.own)) {
    own.set(g, noisyOr(t.own, g));
    rival.set(g, noisyOr(t.rival, g));
  }
  return { own, rival };
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

function best<T>(entries: readonly T[], better: (a: T, b: T) => boolean): T | null {
  let winner: T | null = null;
  for (const e of entries) if (winner === null || better(e, winner)) winner = e;
  return winner;
}

export function classify(db: FingerprintDb, evidence: readonly Evidence[], identityFromFingerprint: Identity): ClassifyResult {
  const fp = identityFromFingerprint;
  const terms = tally(db, evidence);
  // Maker groups in code-unit order, with S(G) and R(G) at the same index.
  const groups = namesOf(terms.own);
  const own = groups.map((g) => noisyOr(terms.own, g));
  const rival = groups.map((g) => noisyOr(terms.rival, g));
  const scoreOf = (group: string): number => own[groups.indexOf(group)] ?? 0;

  const conflictAgainst = (group: string): number => {
    let miss = 1;
    for (let i = 0; i < groups.length; i++) if (groups[i] !== group) miss *= 1 - (rival[i] ?? 0);
    return 1 - miss;
  };

  // Who made it.
  const stronger = (a: string, b: string): boolean => scoreOf(a) > scoreOf(b);
  const linked = best(
    db.linkedVendors.filter((g) => scoreOf(g) > 0),
    stronger,
  );
  const maker = linked ?? best(groups.filter((g) => scoreOf(g) > 0), stronger);
  const confidence = maker ? round3(scoreOf(maker) * (1 - conflictAgainst(maker))) : 0;

  // What it is sold as.
  const brandKey = best(namesOf(terms.brand), (a, b) => {
    const sa = noisyOr(terms.brand, a);
    const sb = noisyOr(terms.brand, b);
    if (sa !== sb) return sa > sb;
    return a !== maker && b === maker; // a relabelled name over the maker's own leaking through
  });
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
      const inGroup = namesOf(terms.platform).filter((key) => db.vendors.get(key)?.linkedVendor === linked);
      const pv = best(inGroup, (a, b) => noisyOr(terms.platform, a) > noisyOr(terms.platform, b));
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
