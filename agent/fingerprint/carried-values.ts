/**
 * What the carrier tables (mac-carriers.yaml, serial-carriers.yaml) share: the fields a carrier
 * runs on (every field fields.yaml gives its kind) and the values of those fields in a device's
 * observations.
 */
import type { EvidenceSource, Observation } from '../types.js';
import { MAX_MATCH_VALUE_LENGTH } from './match.js';
import type { FieldDef } from './types.js';

/** Field → the evidence source written for it, for every field that carries `kind`. */
export function fieldsOfKind(fields: ReadonlyMap<string, FieldDef>, kind: string): Map<string, EvidenceSource> {
  const carried = new Map<string, EvidenceSource>();
  for (const f of fields.values()) if (f.kinds.includes(kind) && f.evidence) carried.set(f.name, f.evidence);
  return carried;
}

/** Every string value of `fields` in `observation` (list fields value by value; over-long values skipped). */
export function* valuesOf(fields: ReadonlyMap<string, EvidenceSource>, observation: Observation): Generator<{ field: string; source: EvidenceSource; value: string }> {
  for (const [field, source] of fields) {
    const raw = observation.fields[field];
    for (const value of Array.isArray(raw) ? raw : [raw]) {
      if (typeof value === 'string' && value.length <= MAX_MATCH_VALUE_LENGTH) yield { field, source, value };
    }
  }
}
