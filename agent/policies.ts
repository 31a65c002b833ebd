/**
 * Which public policies concern a device (fingerprints/policies.yaml): every policy naming the
 * device's linked vendor, whatever the relation (the texts cover subsidiaries, affiliates and
 * equipment produced for other labels). A device with no linked vendor carries none.
 */
import { join, resolve } from 'node:path';
import { POLICIES_FILE } from './fingerprint/paths.js';
import { defaultFingerprintDir, failData, readCheckedYaml } from './fingerprint/load.js';
import type { Classification, LinkedVendor, PolicyRef } from './types.js';

export interface Policy {
  id: string;
  name: string;
  vendors: readonly LinkedVendor[];
  scope: string;
  source: string;
}

/** The policies that concern a device of this classification, in policies.yaml order. */
export function policiesFor(policies: readonly Policy[], classification: Pick<Classification, 'linkedVendor'>): PolicyRef[] {
  const vendor = classification.linkedVendor;
  if (vendor === null) return [];
  return policies.filter((p) => p.vendors.includes(vendor)).map((p) => ({ id: p.id, name: p.name }));
}

const policiesSchema = {
  type: 'object',
  required: ['policies'],
  additionalProperties: false,
  properties: {
    policies: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['id', 'name', 'vendors', 'scope', 'source'],
        additionalProperties: false,
        properties: {
          id: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]*$' },
          name: { type: 'string', minLength: 1 },
          vendors: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['hikvision', 'dahua'] } },
          scope: { type: 'string', minLength: 1 },
          source: { type: 'string', minLength: 1 },
        },
      },
    },
  },
} as const;

/** Reads and checks a policies.yaml: shape and unique ids. */
export function readPolicies(path: string): Policy[] {
  const raw = readCheckedYaml(path, policiesSchema) as { policies: Policy[] };
  const seen = new Set<string>();
  for (const p of raw.policies) {
    if (seen.has(p.id)) failData(path, `policy "${p.id}" is listed twice`);
    seen.add(p.id);
  }
  return raw.policies;
}

const cache = new Map<string, Policy[]>();

/** fingerprints/policies.yaml of the database in `dir` (default: the repository's), cached per directory. */
export function loadPolicies(dir?: string): readonly Policy[] {
  const root = resolve(dir ?? defaultFingerprintDir());
  let policies = cache.get(root);
  if (!policies) {
    policies = readPolicies(join(root, POLICIES_FILE));
    cache.set(root, policies);
  }
  return policies;
}
