/**
 * Which public policies concern a device (fingerprints/policies.yaml): every policy naming the
 * device's linked vendor, whatever the relation (the texts cover subsidiaries, affiliates and
 * equipment produced for other labels). A device with no linked vendor carries none.
 */
import type { Policy } from '../knowledge/tables.js';
import type { Classification, PolicyRef } from '../types.js';

/** The policies that concern a device of this classification, in policies.yaml order. */
export function policiesFor(policies: readonly Policy[], classification: Pick<Classification, 'linkedVendor'>): PolicyRef[] {
  const vendor = classification.linkedVendor;
  if (vendor === null) return [];
  return policies.filter((p) => p.vendors.includes(vendor)).map((p) => ({ id: p.id, name: p.name }));
}
