/**
 * Which public policies concern a device (fingerprints/policies.yaml): every policy naming the
 * device's linked vendor, whatever the relation (the texts cover subsidiaries, affiliates and
 * equipment produced for other labels). A device with no linked vendor carries none.
 */
import type { Policy } from '../knowledge/tables.js';
import type { Classification, PolicyRef } from '../types.js';
import { KeptAnswersPerTable } from '../kept-answers.js';

/** Linked vendors whose policies are kept: far more than vendors.yaml names, so never reached. */
const KEPT_VENDORS = 1024;
/**
 * Linked vendor → the references of the policies naming it, frozen and shared by the devices, per
 * policy table.
 */
const referencesOf = new KeptAnswersPerTable<readonly Policy[], readonly PolicyRef[]>(KEPT_VENDORS);

/** The policies that concern a device of this classification, in policies.yaml order. */
export function policiesFor(policies: readonly Policy[], classification: Pick<Classification, 'linkedVendor'>): PolicyRef[] {
  const vendor = classification.linkedVendor;
  if (vendor === null) return [];
  return referencesOf.of(policies, vendor, policiesNaming).slice();
}

function policiesNaming(vendor: string, policies: readonly Policy[]): readonly PolicyRef[] {
  return policies.filter((p) => p.vendors.includes(vendor)).map((p) => Object.freeze({ id: p.id, name: p.name }));
}
