/**
 * recog's self-test (spec/lib/fingerprint_self_test_spec.rb) for this database: every rule is
 * well-formed, and every example proves its rule. loadKnowledge runs the structural half and
 * refuses a database that fails it; the CLI (`cctv-agent fingerprints verify`) and the unit tests
 * run all of it.
 */
import { IDENTITY_KEYS } from '../types.js';
import { COMPARISON_FILE } from '../normalise.js';
import { CVES_FILE, type CveTable } from '../knowledge/cves.js';
import type { Knowledge } from '../knowledge/index.js';
import { declaresNoPublicSource, isCheckableCitation } from '../knowledge/citation.js';
import { HTTP_PROBES_FILE, POLICIES_FILE, PORTS_FILE } from '../knowledge/tables.js';
import { vulnerabilitiesOf } from '../pipeline/vulns.js';
import { FIELDS_FILE, OUI_FILE, VENDORS_FILE } from './paths.js';
import { checkMacCarrierExamples, MAC_CARRIERS_FILE } from './mac-carriers.js';
import { checkSerialCarrierExamples, SERIAL_CARRIERS_FILE } from './serial-carriers.js';
import { ALLOWED_RULE_FLAGS, capturesOf, namedGroups } from './match.js';
import { OUI_PREFIX, vendorsForOrganisation } from './oui.js';
import { OUI_RULE_ID, SERIAL_FRAGMENT_RULE_ID, SHARED_MAC_RULE_ID, type FingerprintDb, type FingerprintProblem, type IdentityValues, type Rule } from './types.js';

const IDENTITY_KEY_SET: ReadonlySet<string> = new Set(IDENTITY_KEYS);
export const MAX_EXAMPLES = 20;

function sameValues(a: IdentityValues, b: IdentityValues): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k as keyof IdentityValues] === b[k as keyof IdentityValues]);
}

function show(values: IdentityValues): string {
  return Object.keys(values).length ? JSON.stringify(values) : 'nothing';
}

/** Checks that need no examples: what loadKnowledge insists on. */
export function checkStructure(db: FingerprintDb): FingerprintProblem[] {
  const problems: FingerprintProblem[] = [];
  const add = (file: string, rule: string | null, message: string): void => {
    problems.push({ file, rule, message });
  };

  for (const field of db.fields.values()) {
    if (field.identity !== null && !IDENTITY_KEY_SET.has(field.identity)) {
      add(FIELDS_FILE, field.name, `identity "${field.identity}" is not an Identity key (${IDENTITY_KEYS.join(', ')})`);
    }
  }

  for (const v of db.vendors.values()) {
    if ((v.linkedVendor === null) !== (v.relation === 'none')) {
      add(VENDORS_FILE, v.key, 'relation must be "none" exactly when linkedVendor is null');
    }
    if (v.relation === 'direct' && v.key !== v.linkedVendor) {
      add(VENDORS_FILE, v.key, `relation "direct" is only for the linked vendor itself (key "${v.linkedVendor ?? 'null'}")`);
    }
    if (v.linkedVendor !== null) {
      const target = db.vendors.get(v.linkedVendor);
      if (!target || target.relation !== 'direct') {
        add(VENDORS_FILE, v.key, `linkedVendor "${v.linkedVendor}" needs its own entry with relation "direct"`);
      }
    }
    if (!(v.ouiConfidence >= 0 && v.ouiConfidence <= 1)) add(VENDORS_FILE, v.key, 'ouiConfidence must be in 0..1');
  }

  for (const [prefix, brand] of db.comparison.prefixBrands) {
    if (!db.vendors.has(brand)) add(COMPARISON_FILE, prefix, `brand "${brand}" is not a key in ${VENDORS_FILE}`);
  }

  const reported = new Set<string>();
  for (const [prefix, entry] of db.oui.entries) {
    if (!OUI_PREFIX.test(prefix)) add(OUI_FILE, prefix, 'prefix must be 6, 7 or 9 upper-case hex digits');
    if (entry.vendor !== null && !db.vendors.has(entry.vendor) && !reported.has(entry.organisation)) {
      reported.add(entry.organisation);
      add(OUI_FILE, entry.organisation, `vendor "${entry.vendor}" is not in ${VENDORS_FILE} (regenerate ${OUI_FILE})`);
    }
  }

  // A kind file's rule runs against each of its fields under one id; any other repeat is a clash.
  const seenIds = new Map<string, { file: string; fields: Set<string> }>();
  for (const file of db.files) {
    const def = db.fields.get(file.field);
    if (!def) add(file.file, null, `field "${file.field}" is not listed in ${FIELDS_FILE}`);
    else if (def.evidence !== null && def.evidence !== file.source) {
      add(file.file, null, `source "${file.source}" differs from the evidence "${def.evidence}" ${FIELDS_FILE} gives field "${file.field}"`);
    }
    for (const rule of file.rules) {
      const previous = seenIds.get(rule.id);
      if (previous === undefined) seenIds.set(rule.id, { file: file.file, fields: new Set([file.field]) });
      else if (previous.file !== file.file || previous.fields.has(file.field)) add(file.file, rule.id, `id is already used in ${previous.file}`);
      else previous.fields.add(file.field);
      if (rule.id === OUI_RULE_ID || rule.id === SHARED_MAC_RULE_ID || rule.id === SERIAL_FRAGMENT_RULE_ID) add(file.file, rule.id, `id "${rule.id}" is reserved for MAC and serial evidence`);
      if (rule.field !== file.field) add(file.file, rule.id, `field "${rule.field}" differs from its file's "${file.field}"`);
      checkRuleShape(rule, db, add);
    }
  }
  return problems;
}

function checkRuleShape(
  rule: Rule,
  db: FingerprintDb,
  add: (file: string, rule: string | null, message: string) => void,
): void {
  const f = rule.file;
  if (!ALLOWED_RULE_FLAGS.test(rule.pattern.flags)) {
    add(f, rule.id, `flags "${rule.pattern.flags}" are not allowed (use only i, m, s, u)`);
  }
  try {
    new RegExp(rule.pattern.source, rule.pattern.flags);
  } catch (err) {
    add(f, rule.id, `pattern does not compile (${(err as Error).message})`);
  }
  const groups = namedGroups(rule.pattern);
  for (const g of groups) {
    if (!IDENTITY_KEY_SET.has(g)) {
      add(f, rule.id, `named group "${g}" is not an Identity key (${IDENTITY_KEYS.join(', ')}); use (?:…) for grouping`);
    }
  }
  for (const key of Object.keys(rule.set)) {
    if (!IDENTITY_KEY_SET.has(key)) add(f, rule.id, `set key "${key}" is not an Identity key`);
    if (groups.includes(key)) add(f, rule.id, `"${key}" is both captured and set; keep one`);
  }
  if (rule.supports !== null && !db.vendors.has(rule.supports)) {
    add(f, rule.id, `supports "${rule.supports}", which is not a key in ${VENDORS_FILE}`);
  }
  if (!(rule.confidence >= 0 && rule.confidence <= 1)) add(f, rule.id, `confidence ${rule.confidence} is not in 0..1`);
  if (rule.examples.length < 1 || rule.examples.length > MAX_EXAMPLES) {
    add(f, rule.id, `has ${rule.examples.length} examples; it needs 1 to ${MAX_EXAMPLES}`);
  }
  const values = new Set<string>();
  for (const e of rule.examples) {
    if (values.has(e.value)) add(f, rule.id, `example ${JSON.stringify(e.value)} is listed twice`);
    values.add(e.value);
    for (const key of Object.keys(e.expect)) {
      if (!IDENTITY_KEY_SET.has(key)) add(f, rule.id, `example ${JSON.stringify(e.value)}: expect key "${key}" is not an Identity key`);
    }
  }
}

/** Each rule once: a kind file's rule stands for itself on every field it runs against. */
function firstOfEachId(db: FingerprintDb): Rule[] {
  return db.rules.filter((rule) => db.rulesById.get(rule.id) === rule);
}

/** One example of one rule: does it match, yield exactly `expect`, and not match an earlier rule? */
export function checkExample(db: FingerprintDb, rule: Rule, exampleIndex: number): string[] {
  const example = rule.examples[exampleIndex];
  if (!example) return [`has no example #${exampleIndex + 1}`];
  const problems: string[] = [];
  const m = rule.pattern.exec(example.value);
  if (!m) {
    problems.push(`example ${JSON.stringify(example.value)} does not match the pattern`);
  } else {
    const got = capturesOf(m);
    if (!sameValues(got, example.expect)) {
      problems.push(`example ${JSON.stringify(example.value)} yields ${show(got)}, expected ${show(example.expect)}`);
    }
  }
  const file = db.files.find((f) => f.file === rule.file);
  for (const earlier of file?.rules.slice(0, rule.index) ?? []) {
    if (earlier.pattern.exec(example.value)) {
      problems.push(`example ${JSON.stringify(example.value)} is matched first by the earlier rule "${earlier.id}"`);
    }
  }
  return problems;
}

/** The OUI table against the vendor table: each organisation maps to exactly its vendor (once per organisation). */
export function checkOuiTable(db: FingerprintDb): FingerprintProblem[] {
  const problems: FingerprintProblem[] = [];
  const recorded = new Map<string, { vendor: string | null; prefixes: number }>();
  for (const entry of db.oui.entries.values()) {
    const seen = recorded.get(entry.organisation);
    if (seen) seen.prefixes += 1;
    else recorded.set(entry.organisation, { vendor: entry.vendor, prefixes: 1 });
  }
  for (const [organisation, { vendor, prefixes }] of recorded) {
    const keys = vendorsForOrganisation(db.vendors, organisation);
    const expected = keys.length === 1 ? (keys[0] ?? null) : null;
    if (keys.length > 1) {
      problems.push({ file: OUI_FILE, rule: organisation, message: `matches several vendors (${keys.join(', ')}) in ${VENDORS_FILE}` });
    } else if (expected !== vendor) {
      problems.push({
        file: OUI_FILE,
        rule: organisation,
        message: `is recorded as ${JSON.stringify(vendor)} (${prefixes} prefix${prefixes === 1 ? '' : 'es'}) but ${VENDORS_FILE} maps it to ${JSON.stringify(expected)}: rerun scripts/generate-oui.mjs`,
      });
    }
  }
  return problems;
}

/**
 * The full self-test: structure (known field, unique ids, patterns compile, named groups are
 * Identity keys, supports is a vendor, 1–20 unique examples, confidence in 0..1), the OUI table
 * against vendors.yaml, and every example (matches, yields exactly its expect, is not matched
 * first by an earlier rule of the same file). Returns every problem found; [] means clean.
 */
/**
 * Runs every CVE's examples (cves.yaml `examples`): each device must get exactly the status the
 * example names from that CVE (`none`: no entry at all, the CVE does not concern it).
 */
export function checkCveExamples(table: CveTable): FingerprintProblem[] {
  const problems: FingerprintProblem[] = [];
  for (const cve of table.cves) {
    const only: CveTable = { ...table, cves: [cve] };
    cve.examples.forEach((e, i) => {
      const flags = vulnerabilitiesOf(only, { model: e.model, firmware: e.firmware, linkedVendor: cve.vendor, relation: e.relation });
      const got = flags[0]?.status ?? 'none';
      if (got !== e.status) {
        problems.push({
          file: CVES_FILE,
          rule: cve.id,
          message: `examples[${i}] (${e.model}, firmware ${e.firmware === null ? 'unknown' : JSON.stringify(e.firmware)}, ${e.relation}) should be ${e.status} but is ${got}${flags[0] ? `: ${flags[0].reason}` : ''}`,
        });
      }
    });
  }
  return problems;
}

/** Every `source` the knowledge base keeps, with the file and entry it belongs to. */
export function citationsOf(db: Knowledge): { file: string; entry: string; source: string }[] {
  return [
    ...[...db.vendors.values()].map((v) => ({ file: VENDORS_FILE, entry: v.key, source: v.source })),
    ...firstOfEachId(db).map((r) => ({ file: r.file, entry: r.id, source: r.citation })),
    ...db.cves.cves.flatMap((c) => [
      { file: CVES_FILE, entry: c.id, source: c.source },
      ...c.families.flatMap((f) => (f.source ? [{ file: CVES_FILE, entry: `${c.id} family ${f.name}`, source: f.source }] : [])),
      ...c.firmwareLines.map((l) => ({ file: CVES_FILE, entry: `${c.id} firmware line ${l.name}`, source: l.source })),
    ]),
    ...db.policies.map((p) => ({ file: POLICIES_FILE, entry: p.id, source: p.source })),
    ...db.macCarriers.map((c) => ({ file: MAC_CARRIERS_FILE, entry: c.id, source: c.source })),
    ...db.serialCarriers.map((c) => ({ file: SERIAL_CARRIERS_FILE, entry: c.id, source: c.source })),
    ...db.ports.map((p) => ({ file: PORTS_FILE, entry: `port ${p.port}`, source: p.source })),
    ...db.httpProbes.paths.map((p) => ({ file: HTTP_PROBES_FILE, entry: p.path, source: p.source })),
    ...db.httpProbes.markers.map((m) => ({ file: HTTP_PROBES_FILE, entry: `marker ${JSON.stringify(m.text)}`, source: m.source })),
  ];
}

/**
 * Provenance a clone can check: every source is a URL or `owner/repo path@commit`
 * (agent/knowledge/citation.ts), or says in so many words that no public source was found.
 */
export function checkCitations(db: Knowledge): FingerprintProblem[] {
  return citationsOf(db)
    .filter((c) => !isCheckableCitation(c.source) && !declaresNoPublicSource(c.source))
    .map((c) => ({
      file: c.file,
      rule: c.entry,
      message: `source ${JSON.stringify(c.source)} names no public source: give its URL or owner/repo path@commit (or say "no public source found")`,
    }));
}

/** The whole self-test: structure, the OUI table, every rule's and CVE's examples, and every citation. */
export function verifyFingerprints(db: Knowledge): FingerprintProblem[] {
  const problems = checkStructure(db);
  problems.push(...checkOuiTable(db));
  for (const rule of firstOfEachId(db)) {
    for (let i = 0; i < rule.examples.length; i++) {
      for (const message of checkExample(db, rule, i)) problems.push({ file: rule.file, rule: rule.id, message });
    }
  }
  problems.push(...checkCveExamples(db.cves));
  problems.push(...checkMacCarrierExamples(db.macCarriers).map((p) => ({ file: MAC_CARRIERS_FILE, ...p })));
  problems.push(...checkSerialCarrierExamples(db.serialCarriers).map((p) => ({ file: SERIAL_CARRIERS_FILE, ...p })));
  problems.push(...checkCitations(db));
  return problems;
}
