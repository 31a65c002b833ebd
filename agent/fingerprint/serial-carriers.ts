/**
 * Serial numbers, or pieces of them, carried inside other values (fingerprints/serial-carriers.yaml):
 * a Hikvision realm `IP Camera(G4139)` carries the first five characters of the camera's
 * sub-serial, a Dahua realm `Login to 4K01FD2PAJ6E3FF` the whole serial. Each carrier runs on every
 * field of its kind (fields.yaml `kinds`), and the piece it captures is checked against the serials
 * the device gives in its fields of kind serial: agreement is evidence of the maker's firmware,
 * disagreement is written too (supporting nothing), never dropped.
 */
import type { Evidence, Observation } from '../types.js';
import { compilePattern } from '../knowledge/read.js';
import { describeField, MAX_MATCH_VALUE_LENGTH, namedGroups } from './match.js';
import { holdsAnyCarriedField, holdsCarriedField, NO_CARRIED_EVIDENCE, readCarrierTable, valuesOf, type RawCarrier, type ReadCarrier } from './carried-values.js';
import { SERIAL_FRAGMENT_RULE_ID, type FieldDef, type FingerprintDb } from './types.js';

export const SERIAL_CARRIERS_FILE = 'serial-carriers.yaml';
/** The kind of the fields whose values are the device's own serial (fields.yaml `kinds: [serial]`). */
export const SERIAL_KIND = 'serial';

export interface SerialCarrierExample {
  readonly value: string;
  readonly serial: string;
  readonly agrees: boolean;
}

interface RawSerialCarrier extends RawCarrier {
  /** Over the device's serial; its named group `fragment` is what the carried piece must equal. */
  readonly serial: string;
  readonly supports: string;
  readonly confidence: number;
  readonly examples: readonly SerialCarrierExample[];
}

/**
 * A serial-carriers.yaml entry as read: its pattern (over the carrying value; its named group
 * `fragment` is the piece of the serial it carries) and its serial pattern compiled, and every
 * field fields.yaml gives its kind.
 */
export type SerialCarrier = Omit<ReadCarrier<RawSerialCarrier>, 'serial'> & { readonly serial: RegExp };

/** Reads serial-carriers.yaml; a carrier whose kind no field carries, or a pattern without a `fragment` group, is refused. */
export function readSerialCarriers(dir: string, fields: ReadonlyMap<string, FieldDef>): readonly SerialCarrier[] {
  return readCarrierTable<RawSerialCarrier, SerialCarrier>(dir, SERIAL_CARRIERS_FILE, 'serial-carriers.schema.json', fields, 'fragment', (carrier, fail) => {
    const serial = compilePattern({ fail: (_at, why) => fail('serial', why) }, [], carrier.serial, carrier.flags ?? '');
    if (!namedGroups(serial).includes('fragment')) fail('serial', 'the pattern needs a named group `fragment`');
    return { ...carrier, serial };
  });
}

/** The piece of a serial `value` carries, or null. */
export function carriedFragment(carrier: SerialCarrier, value: string): string | null {
  return carrier.pattern.exec(value.trim())?.groups?.['fragment'] ?? null;
}

/** Whether the piece agrees with `serial`: the same characters where the carrier says it sits (case ignored). */
export function fragmentAgrees(carrier: SerialCarrier, fragment: string, serial: string): boolean {
  const expected = carrier.serial.exec(serial.trim())?.groups?.['fragment'];
  return expected !== undefined && expected.toUpperCase() === fragment.toUpperCase();
}

const serialFieldsOf = new WeakMap<ReadonlyMap<string, FieldDef>, ReadonlySet<string>>();

/** The fields of kind serial, once per field table. */
function serialFields(fields: ReadonlyMap<string, FieldDef>): ReadonlySet<string> {
  let serial = serialFieldsOf.get(fields);
  if (!serial) {
    serial = new Set([...fields.values()].filter((f) => f.kinds.includes(SERIAL_KIND)).map((f) => f.name));
    serialFieldsOf.set(fields, serial);
  }
  return serial;
}

/** Each distinct value of the device's fields of kind serial, with the field that gave it. */
function serialsOf(db: FingerprintDb, observations: readonly Observation[]): Map<string, string> {
  const serials = new Map<string, string>();
  const serialField = serialFields(db.fields);
  for (const { fields } of observations) {
    for (const field in fields) {
      if (!serialField.has(field)) continue;
      const raw = fields[field];
      for (const value of Array.isArray(raw) ? raw : [raw]) {
        const serial = typeof value === 'string' ? value.trim() : '';
        if (serial && serial.length <= MAX_MATCH_VALUE_LENGTH && !serials.has(serial)) serials.set(serial, field);
      }
    }
  }
  return serials;
}

/**
 * Evidence for every serial piece a carrier finds in the device's observations, checked against
 * the serials the device gives: agreement with one of them supports the carrier's maker;
 * disagreement with all of them is written with confidence 0 and no vendor. Nothing when the
 * device gives no serial. Once per detail.
 */
export function serialFragmentEvidence(db: FingerprintDb, carriers: readonly SerialCarrier[], observations: readonly Observation[]): readonly Evidence[] {
  if (!holdsAnyCarriedField(carriers, observations)) return NO_CARRIED_EVIDENCE;
  const serials = serialsOf(db, observations);
  if (serials.size === 0) return NO_CARRIED_EVIDENCE;
  const evidence: Evidence[] = [];
  const seen = new Set<string>();
  for (const observation of observations) {
    if (!holdsCarriedField(carriers, observation)) continue;
    for (const carrier of carriers) {
      for (const { field, source, value } of valuesOf(carrier.fields, observation)) {
        const fragment = carriedFragment(carrier, value);
        if (fragment === null) continue;
        const agreeing = [...serials].find(([serial]) => fragmentAgrees(carrier, fragment, serial));
        const carried = `${describeField(field, value)} carries serial piece "${fragment}" (${carrier.id})`;
        const detail = agreeing
          ? `${carried}, which agrees with ${describeField(agreeing[1], agreeing[0])}`
          : `${carried}, which agrees with no serial the device gives (${[...serials].map(([serial, from]) => describeField(from, serial)).join('; ')}): the value may come from another device, or a serial was changed`;
        if (seen.has(detail)) continue;
        seen.add(detail);
        evidence.push({ source, detail, supports: agreeing ? carrier.supports : null, rule: SERIAL_FRAGMENT_RULE_ID, confidence: agreeing ? carrier.confidence : 0 });
      }
    }
  }
  return evidence;
}

/** Each carrier's examples: the value carries a piece, and it agrees with the example's serial exactly when `agrees` says. */
export function checkSerialCarrierExamples(carriers: readonly SerialCarrier[]): { rule: string; message: string }[] {
  const problems: { rule: string; message: string }[] = [];
  for (const carrier of carriers) {
    for (const e of carrier.examples) {
      const fragment = carriedFragment(carrier, e.value);
      if (fragment === null) problems.push({ rule: carrier.id, message: `example ${JSON.stringify(e.value)} carries no serial piece` });
      else if (fragmentAgrees(carrier, fragment, e.serial) !== e.agrees) {
        problems.push({ rule: carrier.id, message: `example ${JSON.stringify(e.value)} ${e.agrees ? 'does not agree' : 'agrees'} with serial ${JSON.stringify(e.serial)}, expected the opposite` });
      }
    }
  }
  return problems;
}
