/**
 * The knowledge base: everything the agent knows that is not code, read from one folder
 * (fingerprints/ by default) and checked as a whole before any packet is sent.
 *
 *   fields.yaml          the observation-field vocabulary
 *   vendors.yaml         vendor table: display names, links to the linked vendors, relations
 *   oui.json             the whole IEEE registry (scripts/generate-oui.mjs)
 *   rules/*.yaml         one rule file per observed field
 *   kinds/*.yaml         rules about a kind of value, run on every field fields.yaml gives that kind
 *   classification.yaml  the classifier's weights
 *   cves.yaml            CVE families, firmware boundaries and their examples
 *   policies.yaml        public policies on linked vendors
 *   ports.yaml           the ports the connect phase tries
 *   http-probes.yaml     the pages the HTTP probe asks for
 *   mdns-services.yaml   the DNS-SD service types the mDNS discoverer browses
 *   lockout.yaml         failed-login lockout limits the credentialed reads must never reach
 *   comparison.yaml      vendor prefixes a model may carry or drop (agent/normalise.ts)
 *   mac-carriers.yaml    values that carry a MAC address (realms), checked against the registry
 *   serial-carriers.yaml values that carry a serial or a piece of one (realms), checked against the device's serial
 *
 * Each file has its JSON Schema in schema/knowledge/ (editors validate the YAML with it); a bad
 * file throws CCTV_ERR_FINGERPRINT_DATA naming the file, the line and the key. After reading, the
 * structural half of the self-test runs (agent/fingerprint/verify.ts) and its first problem is
 * thrown the same way, unless the folder is, file for file, the base the build checked
 * (agent/knowledge/checked-files.ts); the examples are run by `cctv-agent fingerprints verify`.
 */
import { join, resolve } from 'node:path';
import { defaultFingerprintDir, readFields, readOui, readRuleFiles, readVendors } from '../fingerprint/load.js';
import type { FingerprintDb, Rule, Vendor } from '../fingerprint/types.js';
import { checkStructure } from '../fingerprint/verify.js';
import { readComparisonRules } from '../normalise.js';
import { readMacCarriers, type MacCarrier } from '../fingerprint/mac-carriers.js';
import { readSerialCarriers, type SerialCarrier } from '../fingerprint/serial-carriers.js';
import { CVES_FILE, readCves, type CveTable } from './cves.js';
import { activeRecorder, isCheckedBase, readingKnowledgeBase } from './checked-files.js';
import { failData, readKnowledgeFile } from './read.js';
import {
  CLASSIFICATION_FILE,
  HTTP_PROBES_FILE,
  LOCKOUT_FILE,
  MDNS_SERVICES_FILE,
  POLICIES_FILE,
  PORTS_FILE,
  readHttpProbes,
  readLockout,
  readMdnsServices,
  readPolicies,
  readPorts,
  type ClassificationWeights,
  type HttpProbeData,
  type LockoutLimit,
  type Policy,
  type PortSpec,
  type ServiceType,
} from './tables.js';

export interface Knowledge extends FingerprintDb {
  readonly cves: CveTable;
  readonly policies: readonly Policy[];
  readonly ports: readonly PortSpec[];
  readonly httpProbes: HttpProbeData;
  readonly mdnsServices: readonly ServiceType[];
  /** Failed-login lockout limits by mechanism name. */
  readonly lockout: ReadonlyMap<string, LockoutLimit>;
  /** Values that carry a MAC address (realms…), fingerprints/mac-carriers.yaml. */
  readonly macCarriers: readonly MacCarrier[];
  /** Values that carry a serial or a piece of one (realms…), fingerprints/serial-carriers.yaml. */
  readonly serialCarriers: readonly SerialCarrier[];
}

/** Linked vendors: the vendor-table entries whose own linkedVendor is themselves, in table order. */
function linkedVendorsOf(vendors: ReadonlyMap<string, Vendor>): string[] {
  return [...vendors.values()].filter((v) => v.linkedVendor === v.key).map((v) => v.key);
}

function indexRules(rules: readonly Rule[]): Pick<FingerprintDb, 'rulesById' | 'rulesByField'> {
  const rulesById = new Map<string, Rule>();
  const rulesByField = new Map<string, Rule[]>();
  for (const rule of rules) {
    if (!rulesById.has(rule.id)) rulesById.set(rule.id, rule);
    const list = rulesByField.get(rule.field);
    if (list) list.push(rule);
    else rulesByField.set(rule.field, [rule]);
  }
  return { rulesById, rulesByField };
}

const cache = new Map<string, Knowledge>();

/**
 * Reads and checks the knowledge base in `dir` (default: the package's fingerprints/). Cached per
 * directory. Throws CCTV_ERR_FINGERPRINT_DATA naming the file, line and key of the first problem.
 */
export function loadKnowledge(dir?: string): Knowledge {
  const root = resolve(dir ?? defaultFingerprintDir());
  const cached = cache.get(root);
  if (cached) return cached;
  const { value: knowledge, base } = readingKnowledgeBase(() => readKnowledge(root));
  // A base the build checked as a whole passed this self-test then (agent/knowledge/checked-files.ts).
  if (!isCheckedBase(base)) {
    const problems = checkStructure(knowledge);
    const first = problems[0];
    if (first) {
      const same = problems.filter((p) => p.file === first.file);
      const text = same.map((p) => (p.rule ? `${p.rule}: ${p.message}` : p.message));
      failData(join(root, first.file), text.slice(0, 5).join('; ') + (text.length > 5 ? ` (and ${text.length - 5} more)` : ''));
    }
    activeRecorder()?.setBase(base);
  }
  cache.set(root, knowledge);
  return knowledge;
}

/** Every table of the knowledge base in `root`, each file checked on its own. */
function readKnowledge(root: string): Knowledge {
  const vendors = readVendors(root);
  const linkedVendors = linkedVendorsOf(vendors);
  const fields = readFields(root);
  const files = readRuleFiles(root, fields);
  const rules = files.flatMap((f) => f.rules);
  return {
    dir: root,
    fields,
    vendors,
    linkedVendors,
    files,
    rules,
    ...indexRules(rules),
    oui: readOui(root),
    weights: readKnowledgeFile<ClassificationWeights>(root, CLASSIFICATION_FILE, 'classification.schema.json').value,
    cves: readCves(readKnowledgeFile(root, CVES_FILE, 'cves.schema.json'), namesOfLinkedVendors(vendors)),
    policies: readPolicies(readKnowledgeFile(root, POLICIES_FILE, 'policies.schema.json'), linkedVendors),
    ports: readPorts(readKnowledgeFile(root, PORTS_FILE, 'ports.schema.json')),
    httpProbes: readHttpProbes(readKnowledgeFile(root, HTTP_PROBES_FILE, 'http-probes.schema.json')),
    mdnsServices: readMdnsServices(readKnowledgeFile(root, MDNS_SERVICES_FILE, 'mdns-services.schema.json')),
    lockout: readLockout(readKnowledgeFile(root, LOCKOUT_FILE, 'lockout.schema.json')),
    comparison: readComparisonRules(root),
    macCarriers: readMacCarriers(root, fields),
    serialCarriers: readSerialCarriers(root, fields),
  };
}

/**
 * Linked vendor key → display name ("hikvision" → "Hikvision"), in vendors.yaml order: what the
 * reports print. Reads vendors.yaml alone (cheap), from `dir` or the package's fingerprints/.
 */
export function linkedVendorNames(dir?: string): ReadonlyMap<string, string> {
  return namesOfLinkedVendors(readVendors(resolve(dir ?? defaultFingerprintDir())));
}

/** The same names, from a vendor table already read (a loaded knowledge base's `vendors`). */
export function namesOfLinkedVendors(vendors: ReadonlyMap<string, Vendor>): ReadonlyMap<string, string> {
  return new Map(linkedVendorsOf(vendors).map((key) => [key, vendors.get(key)?.name ?? key]));
}
