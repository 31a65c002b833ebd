/**
 * One normalisation for comparing identity values whose formatting may differ while the device is
 * the same: a handover schedule against a scan (agent/handover/verify.ts), the fingerprint
 * matcher's model candidates (agent/fingerprint/match.ts) and the merge's model veto
 * (agent/pipeline/merge.ts). Reports always show the raw values: these forms are only compared.
 *
 * - case does not count;
 * - spaces, underscores and hyphens do not count (an ONVIF scope writes `MODEL_IP_4000i` for
 *   `MODEL IP 4000i`: ONVIF Core 7.3.2.2 scope values are URIs, which carry no space);
 * - a vendor prefix firmware adds or drops (`DS-`, `DH-`, `DHI-`: fingerprints/comparison.yaml)
 *   does not count in a model;
 * - a MAC compares in its one stored form (agent/net/mac.ts), whatever its notation;
 * - firmware `V5.5.0 build 170725` and `V5.5.0_build170725` are one version (separators again).
 */
import { join } from 'node:path';
import { defaultFingerprintDir } from './fingerprint/load.js';
import { readKnowledgeFile } from './knowledge/read.js';
import { normaliseMac } from './net/mac.js';
import { KeptAnswersPerTable } from './kept-answers.js';

/** fingerprints/comparison.yaml. */
export const COMPARISON_FILE = 'comparison.yaml';

export interface ComparisonRules {
  /** Vendor prefixes with their hyphen (`DS-`), as comparison.yaml lists them. */
  readonly modelPrefixes: readonly string[];
  /** Upper-case prefix with its hyphen → the vendors.yaml key of the brand it names (comparison.yaml `brand`). */
  readonly prefixBrands: ReadonlyMap<string, string>;
}

const cache = new Map<string, ComparisonRules>();

/** Reads fingerprints/comparison.yaml from `dir` (default: the package's fingerprints/). Cached per directory. */
export function readComparisonRules(dir: string = defaultFingerprintDir()): ComparisonRules {
  const key = join(dir, COMPARISON_FILE);
  const cached = cache.get(key);
  if (cached) return cached;
  const file = readKnowledgeFile<{ modelPrefixes: { prefix: string; brand?: string }[] }>(dir, COMPARISON_FILE, 'comparison.schema.json');
  const rules: ComparisonRules = {
    modelPrefixes: file.value.modelPrefixes.map((p) => p.prefix),
    prefixBrands: new Map(file.value.modelPrefixes.flatMap((p) => (p.brand ? [[p.prefix.toUpperCase(), p.brand] as const] : []))),
  };
  cache.set(key, rules);
  return rules;
}

const SEPARATORS = /[\s_-]+/gu;

/** Text as compared: trimmed, lower case, without spaces, underscores or hyphens. */
export function comparableText(value: string): string {
  return value.trim().toLowerCase().replace(SEPARATORS, '');
}

/** Drops the longest vendor prefix the model starts with, when a separator follows it and something is left. */
function withoutVendorPrefix(model: string, rules: ComparisonRules): string {
  const trimmed = model.trim();
  let rest = trimmed;
  for (const prefix of rules.modelPrefixes) {
    const stem = prefix.slice(0, -1).toLowerCase();
    const head = trimmed.slice(0, stem.length).toLowerCase();
    const after = trimmed.slice(stem.length);
    const match = /^[\s_-]+/u.exec(after);
    if (head !== stem || !match || match[0].length === after.length) continue;
    const candidate = after.slice(match[0].length);
    if (candidate.length < rest.length) rest = candidate;
  }
  return rest;
}

/**
 * How many models' comparable forms are kept per set of rules; when full it starts again. An
 * estate shows the same few hundred models device after device (the merge and the matcher ask for
 * each). Model names are a few dozen characters: longer text is worked out each time, so that the
 * kept forms stay under 2 MB (2,000 × 2 × 256 two-byte characters) whatever devices send.
 */
const KEPT_MODELS = 2000;
const LONGEST_KEPT_MODEL = 256;
const comparableModels = new KeptAnswersPerTable<ComparisonRules, string>(KEPT_MODELS);

/** A model as compared: without its vendor prefix, then as comparableText. */
export function comparableModel(value: string, rules: ComparisonRules): string {
  return value.length > LONGEST_KEPT_MODEL ? comparableModelOf(value, rules) : comparableModels.of(rules, value, comparableModelOf);
}

function comparableModelOf(value: string, rules: ComparisonRules): string {
  return comparableText(withoutVendorPrefix(value, rules));
}

/** A MAC as compared: its stored form when it is one, else its comparableText. */
export function comparableMac(value: string): string {
  return normaliseMac(value) ?? comparableText(value);
}
