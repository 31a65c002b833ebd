/**
 * What the carrier tables (mac-carriers.yaml, serial-carriers.yaml) share: the fields a carrier
 * runs on (every field fields.yaml gives its kind) and the values of those fields in a device's
 * observations.
 */
import type { Evidence, EvidenceSource, Observation } from '../types.js';
import { compilePattern, readKnowledgeFile } from '../knowledge/read.js';
import { MAX_MATCH_VALUE_LENGTH, namedGroups } from './match.js';
import type { FieldDef } from './types.js';

/** What every carrier entry has: an id, the kind of value it runs on, its pattern, what it is and its public source. */
export interface RawCarrier {
  readonly id: string;
  readonly kind: string;
  readonly description: string;
  readonly pattern: string;
  readonly flags?: string;
  readonly source: string;
}

/** A carrier entry as read: its pattern compiled and the fields it runs on. */
export type ReadCarrier<R extends RawCarrier> = Omit<R, 'pattern'> & { readonly pattern: RegExp; readonly fields: ReadonlyMap<string, EvidenceSource> };

/**
 * Reads a carrier table (`carriers:` in `fileName`, checked against `schemaFile`) with the checks
 * every one makes: each id listed once, each pattern compiling with the named group `group`, and
 * some field of fields.yaml carrying each kind. `more` adds a table's own checks and values.
 */
export function readCarrierTable<R extends RawCarrier, T>(
  dir: string,
  fileName: string,
  schemaFile: string,
  fields: ReadonlyMap<string, FieldDef>,
  group: string,
  more: (carrier: ReadCarrier<R>, fail: (key: string, message: string) => never) => T,
): readonly T[] {
  const file = readKnowledgeFile<{ carriers: R[] }>(dir, fileName, schemaFile);
  const ids = new Set<string>();
  return file.value.carriers.map((c, i) => {
    const fail = (key: string, message: string): never => file.fail(['carriers', i, key], message);
    if (ids.has(c.id)) fail('id', `id "${c.id}" is listed twice`);
    ids.add(c.id);
    const pattern = compilePattern(file, ['carriers', i, 'pattern'], c.pattern, c.flags ?? '');
    if (!namedGroups(pattern).includes(group)) fail('pattern', `the pattern needs a named group \`${group}\``);
    const carried = fieldsOfKind(fields, c.kind);
    if (carried.size === 0) fail('kind', `no field carries kind "${c.kind}"`);
    return more({ ...c, pattern, fields: carried }, fail);
  });
}

/** Field → the evidence source written for it, for every field that carries `kind`. */
export function fieldsOfKind(fields: ReadonlyMap<string, FieldDef>, kind: string): Map<string, EvidenceSource> {
  const carried = new Map<string, EvidenceSource>();
  for (const f of fields.values()) if (f.kinds.includes(kind) && f.evidence) carried.set(f.name, f.evidence);
  return carried;
}

const carriedFieldsOf = new WeakMap<readonly { readonly fields: ReadonlyMap<string, EvidenceSource> }[], ReadonlySet<string>>();

/** Whether `observation` has a field some carrier of `carriers` runs on: most observations have none, and are passed over. */
export function holdsCarriedField(carriers: readonly { readonly fields: ReadonlyMap<string, EvidenceSource> }[], observation: Observation): boolean {
  let carried = carriedFieldsOf.get(carriers);
  if (!carried) {
    carried = new Set(carriers.flatMap((c) => [...c.fields.keys()]));
    carriedFieldsOf.set(carriers, carried);
  }
  for (const field in observation.fields) if (carried.has(field)) return true;
  return false;
}

/** Whether any of `observations` has a field some carrier of `carriers` runs on. */
export function holdsAnyCarriedField(carriers: readonly { readonly fields: ReadonlyMap<string, EvidenceSource> }[], observations: readonly Observation[]): boolean {
  for (const observation of observations) if (holdsCarriedField(carriers, observation)) return true;
  return false;
}

/** What a carrier table finds in a device that holds none of its fields (nearly every device): one list, shared. */
export const NO_CARRIED_EVIDENCE: readonly Evidence[] = Object.freeze([]);

/** Every string value of `fields` in `observation` (list fields value by value; over-long values skipped). */
export function* valuesOf(fields: ReadonlyMap<string, EvidenceSource>, observation: Observation): Generator<{ field: string; source: EvidenceSource; value: string }> {
  for (const [field, source] of fields) {
    const raw = observation.fields[field];
    for (const value of Array.isArray(raw) ? raw : [raw]) {
      if (typeof value === 'string' && value.length <= MAX_MATCH_VALUE_LENGTH) yield { field, source, value };
    }
  }
}
