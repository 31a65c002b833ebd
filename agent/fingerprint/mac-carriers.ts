/**
 * MAC addresses carried inside other values (fingerprints/mac-carriers.yaml): an Axis realm
 * `AXIS_WS_ACCC8E3A0A8F` names the camera's MAC. Each carrier runs on every field of its kind
 * (fields.yaml `kinds`), and the MAC it captures gets the verdict a scan gives a device's own MAC:
 * its IEEE registrant (oui.json) and the vendor-table entry that registrant maps to.
 */
import { normaliseMac } from '../net/mac.js';
import type { Evidence, Observation } from '../types.js';
import { lookupOui } from './oui.js';
import { describeField } from './match.js';
import { holdsAnyCarriedField, holdsCarriedField, NO_CARRIED_EVIDENCE, readCarrierTable, valuesOf, type RawCarrier, type ReadCarrier } from './carried-values.js';
import { OUI_RULE_ID, type FieldDef, type FingerprintDb, type OuiMatch } from './types.js';

export const MAC_CARRIERS_FILE = 'mac-carriers.yaml';

export interface MacCarrierExample {
  readonly value: string;
  /** The MAC the carrier must capture, lower case with colons. */
  readonly mac: string;
}

interface RawMacCarrier extends RawCarrier {
  readonly examples: readonly MacCarrierExample[];
}

/** A mac-carriers.yaml entry as read: its pattern compiled, and every field fields.yaml gives its kind. */
export type MacCarrier = ReadCarrier<RawMacCarrier>;

/** Reads mac-carriers.yaml; a carrier whose kind no field carries, or without a `mac` group, is refused. */
export function readMacCarriers(dir: string, fields: ReadonlyMap<string, FieldDef>): readonly MacCarrier[] {
  return readCarrierTable<RawMacCarrier, MacCarrier>(dir, MAC_CARRIERS_FILE, 'mac-carriers.schema.json', fields, 'mac', (carrier) => carrier);
}

/** The MAC `carrier` captures from `value` (normalised), or null. */
export function carriedMac(carrier: MacCarrier, value: string): string | null {
  return normaliseMac(carrier.pattern.exec(value.trim())?.groups?.['mac']);
}

/** A MAC's verdict as a scan gives it: registrant and vendor, or null when the registry has no block for it. */
export function macVerdict(db: FingerprintDb, mac: string): (OuiMatch & { readonly confidence: number }) | null {
  const hit = lookupOui(db, mac);
  if (!hit) return null;
  const vendor = hit.vendor ? db.vendors.get(hit.vendor) : undefined;
  return { ...hit, confidence: vendor ? vendor.ouiConfidence : 0 };
}

/**
 * OUI evidence for every MAC a carrier finds in the device's observations and that is not one
 * of `ownMacs` (those already have their OUI evidence). Written with the carrying field's
 * evidence source and the OUI rule id, so it counts as a platform trait, once per source.
 */
export function carriedMacEvidence(db: FingerprintDb, carriers: readonly MacCarrier[], observations: readonly Observation[], ownMacs: readonly string[]): readonly Evidence[] {
  if (!holdsAnyCarriedField(carriers, observations)) return NO_CARRIED_EVIDENCE;
  const evidence: Evidence[] = [];
  let own: Set<string | null> | undefined;
  const seen = new Set<string>();
  for (const observation of observations) {
    if (!holdsCarriedField(carriers, observation)) continue;
    for (const carrier of carriers) {
      for (const { field, source, value } of valuesOf(carrier.fields, observation)) {
        const mac = carriedMac(carrier, value);
        own ??= new Set(ownMacs.map((m) => normaliseMac(m)));
        if (!mac || own.has(mac)) continue;
        const verdict = macVerdict(db, mac);
        if (!verdict) continue;
        const detail = `${describeField(field, value)} carries MAC ${mac} (${carrier.id}), registered to ${verdict.organisation} (IEEE ${verdict.prefix})`;
        if (seen.has(detail)) continue;
        seen.add(detail);
        const vendor = verdict.placeholder ? null : verdict.vendor;
        evidence.push({ source, detail, supports: vendor, rule: OUI_RULE_ID, confidence: vendor ? verdict.confidence : 0 });
      }
    }
  }
  return evidence;
}

/** Each carrier's examples: the pattern captures exactly the example's MAC. */
export function checkMacCarrierExamples(carriers: readonly MacCarrier[]): { rule: string; message: string }[] {
  const problems: { rule: string; message: string }[] = [];
  for (const carrier of carriers) {
    for (const e of carrier.examples) {
      const got = carriedMac(carrier, e.value);
      if (got !== e.mac) problems.push({ rule: carrier.id, message: `example ${JSON.stringify(e.value)} carries ${got ?? 'no MAC'}, expected ${e.mac}` });
    }
  }
  return problems;
}
