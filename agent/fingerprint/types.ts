import type { ClassificationWeights } from '../knowledge/tables.js';
import type { ComparisonRules } from '../normalise.js';
/**
 * The in-memory shape of the fingerprint database (fingerprints/): the field vocabulary, the
 * vendor table, the OUI table and the rule files. Built by load.ts, read by match.ts, verify.ts
 * and classify.ts. The data files' formats are described in fingerprints/README.md.
 */
import type { EvidenceSource, IdentityKey, LinkedVendor } from '../types.js';

/** Identity values a rule yields: its named capture groups, or its constant `set`. */
export type IdentityValues = Partial<Record<IdentityKey, string>>;

/**
 * What a rule says about a device:
 * - `platform`: a trait of who MADE it (OUI, Hikvision serial format, DS-/DH- model families,
 *   firmware build shapes, answering SADP/DHIP…); survives OEM relabelling.
 * - `brand`: what it SAYS it is (ONVIF name/manufacturer, UPnP manufacturer…); an OEM changes it.
 */
export type Claim = 'platform' | 'brand';
export const CLAIMS: readonly Claim[] = ['platform', 'brand'];

/**
 * How a vendor-table entry relates to its linked vendor (fingerprints/vendors.yaml):
 * `direct` = it is Hikvision/Dahua itself; `subsidiary` = owned by, or an own brand of, the linked
 * vendor; `oem` = a third-party brand selling devices the linked vendor made; `none` = no link.
 */
export type VendorRelation = 'direct' | 'subsidiary' | 'oem' | 'none';
export const VENDOR_RELATIONS: readonly VendorRelation[] = ['direct', 'subsidiary', 'oem', 'none'];

/** One observation field name from fingerprints/fields.yaml. */
export interface FieldDef {
  readonly name: string;
  readonly meaning: string;
  readonly example: string;
  /** When the field's value directly IS an identity value (e.g. onvif.device.model → model). */
  readonly identity: IdentityKey | null;
  /** Among fields mapping to the same identity key, the highest priority wins. */
  readonly priority: number;
  /** The kinds of value the field carries: the rules of kinds/<kind>.yaml run against it. */
  readonly kinds: readonly string[];
  /** With kinds: the evidence source a kind rule writes for this field. */
  readonly evidence: EvidenceSource | null;
}

export interface Vendor {
  /** Lower-case table key: `hikvision`, `lts`, `axis`… */
  readonly key: string;
  /** Display name, e.g. `Hikvision`, `LTS`. */
  readonly name: string;
  readonly linkedVendor: LinkedVendor | null;
  readonly relation: VendorRelation;
  /** The link to the linked vendor has only weak public support (it weighs less). */
  readonly uncertain: boolean;
  /** Case-insensitive regexes over IEEE organisation names whose OUIs belong to this vendor. */
  readonly organisations: readonly RegExp[];
  /** Confidence of an OUI registered to this vendor (vendors.yaml `ouiConfidence`, else the default). */
  readonly ouiConfidence: number;
  /** Public source for the link (and for the OUI attribution). */
  readonly source: string;
  readonly note: string | null;
}

export interface RuleExample {
  readonly value: string;
  /** The identity values the rule's named groups must capture from `value`, exactly. */
  readonly expect: IdentityValues;
  /** True when the string is realistic but not copied from a public capture or source. */
  readonly realistic: boolean;
  readonly note: string | null;
}

export interface Rule {
  /** Unique across the whole database. */
  readonly id: string;
  /** Data file the rule came from, relative to the database directory (`rules/onvif_scope_name.yaml`). */
  readonly file: string;
  /** Position in its file (0-based); earlier rules are tried first. */
  readonly index: number;
  /** Observation field the rule runs against. */
  readonly field: string;
  /** For a rule of a kind file (kinds/<kind>.yaml), its kind: it runs on every field of that kind. */
  readonly kind: string | null;
  /** Evidence source written in the inventory (`onvif`, `http`…), from the file header. */
  readonly source: EvidenceSource;
  readonly description: string;
  readonly pattern: RegExp;
  /** Vendor-table key this rule's matches point to, or null (recognised, but says nothing). */
  readonly supports: string | null;
  readonly claim: Claim;
  readonly confidence: number;
  /** Constant identity values the rule yields on a match. */
  readonly set: IdentityValues;
  /** Public source the rule rests on. */
  readonly citation: string;
  readonly examples: readonly RuleExample[];
}

export interface RuleFile {
  /** Relative to the database directory. */
  readonly file: string;
  readonly field: string;
  readonly source: EvidenceSource;
  readonly rules: readonly Rule[];
}

export interface OuiEntry {
  /** IEEE organisation name (first line of the registry entry). */
  readonly organisation: string;
  /** Vendor-table key the organisation maps to, or null (kept for a whole-registry table). */
  readonly vendor: string | null;
}

export interface OuiTable {
  readonly format: string;
  /** The registry package the table was generated from. */
  readonly registry: { readonly package: string; readonly version: string };
  /** YYYY-MM-DD. */
  readonly generated: string;
  /** Every registry entry is listed (organisations vendors.yaml does not map carry vendor null). */
  readonly coverage: 'registry';
  /** Organisation names the registry uses for blocks that name no maker ("Private"…). */
  readonly placeholders: ReadonlySet<string>;
  /** Upper-case hex prefix of 6 (MA-L), 7 (MA-M) or 9 (MA-S) digits → entry. */
  readonly entries: ReadonlyMap<string, OuiEntry>;
}

export interface FingerprintDb {
  /** Absolute path of the database directory. */
  readonly dir: string;
  readonly fields: ReadonlyMap<string, FieldDef>;
  readonly vendors: ReadonlyMap<string, Vendor>;
  /** Rule files in file-name order. */
  readonly files: readonly RuleFile[];
  /** Every rule, file by file, in file order. */
  readonly rules: readonly Rule[];
  readonly rulesById: ReadonlyMap<string, Rule>;
  /** Field name → its rules in file order. */
  readonly rulesByField: ReadonlyMap<string, readonly Rule[]>;
  readonly oui: OuiTable;
  /** The linked vendors (vendors whose own linkedVendor is themselves), in vendors.yaml order. */
  readonly linkedVendors: readonly string[];
  /** fingerprints/classification.yaml. */
  readonly weights: ClassificationWeights;
  /** fingerprints/comparison.yaml: how models compare when only their formatting differs. */
  readonly comparison: ComparisonRules;
}

/** One rule that matched a value, with what its named groups captured. */
export interface RuleMatch {
  readonly rule: Rule;
  readonly captures: IdentityValues;
}

export interface OuiMatch {
  /** Upper-case hex registry prefix (`2857BE`, `B0B3536`). */
  readonly prefix: string;
  readonly organisation: string;
  readonly vendor: string | null;
  /** The organisation is a registry placeholder, not a maker's name. */
  readonly placeholder: boolean;
}

/** Rule id written on OUI evidence (reserved: no rule file may use it). */
export const OUI_RULE_ID = 'oui-registry';
/** Rule id written on the evidence that a device's MAC is shared with other devices (reserved too). */
export const SHARED_MAC_RULE_ID = 'mac-shared';
/** Rule id written on a serial piece a value carries, checked against the device's serial (reserved too; fingerprints/serial-carriers.yaml). */
export const SERIAL_FRAGMENT_RULE_ID = 'serial-fragment';

/** One problem found by verifyFingerprints (recog's self-test). */
export interface FingerprintProblem {
  /** Data file, relative to the database directory. */
  readonly file: string;
  /** Rule id (or vendor key / field name / OUI prefix) the problem is about, when there is one. */
  readonly rule: string | null;
  readonly message: string;
}
