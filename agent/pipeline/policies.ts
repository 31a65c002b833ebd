/**
 * Which public policies concern a device (fingerprints/policies.yaml): every policy naming the
 * device's linked vendor, whatever the relation (the texts cover subsidiaries, affiliates and
 * equipment produced for other labels). A device with no linked vendor carries none.
 */
import type { Policy } from '../knowledge/tables.js';
import type { Classification, PolicyRef } from '../types.js';

/** Linked vendor → the references of the policies naming it, frozen and shared by the devices, once per policy table. */
const referencesOf = new WeakMap<readonly Policy[], Map<string, readonly PolicyRef[]>>();

/** The policies that concern a device of this classification, in policies.yaml order. */
export function policiesFor(policies: readonly Policy[], classification: Pick<Classification, 'linkedVendor'>): PolicyRef[] {
  const vendor = classification.linkedVendor;
  if (vendor === null) return [];
  let byVendor = referencesOf.get(policies);
  if (!byVendor) {
    byVendor = new Map();
    referencesOf.set(policies, byVendor);
  }
  let references = byVendor.get(vendor);
  if (!references) {
    references = policies.filter((p) => p.vendors.includes(vendor)).map((p) => Object.freeze({ id: p.id, name: p.name }));
    byVendor.set(vendor, references);
  }
  return references.slice();
}
