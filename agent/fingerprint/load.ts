/**
 * Readers of the fingerprint half of the knowledge base (agent/knowledge/index.ts assembles the whole):
 *   fields.yaml     the observation-field vocabulary (+ which fields ARE identity values)
 *   vendors.yaml    vendor table: display name, link to a linked vendor, relation, OUI regexes
 *   oui.json        the whole IEEE registry, prefix → organisation (+ vendor key) (scripts/generate-oui.mjs)
 *   rules/*.yaml    one rule file per observed field (recog's habit)
 *   kinds/*.yaml    rules about a kind of value (a model number, a realm…), declared once and
 *                   applied to every field that carries that kind (issue 11)
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { compilePattern, failData, readKnowledgeFile, readPreparedKnowledgeFile, type CheckedFile, type PreparedForm } from '../knowledge/read.js';
import type { EvidenceSource, IdentityKey, LinkedVendor } from '../types.js';
import type { Claim, FieldDef, IdentityValues, OuiTable, Rule, RuleFile, Vendor, VendorRelation } from './types.js';
import { OuiRegistry } from './oui-registry.js';
import { FIELDS_FILE, KINDS_DIR, OUI_FILE, OUI_FORMAT, RULES_DIR, VENDORS_FILE } from './paths.js';
import { packageRoot } from '../paths.js';

export { FIELDS_FILE, KINDS_DIR, OUI_FILE, OUI_FORMAT, RULES_DIR, VENDORS_FILE };

// ---------------------------------------------------------------------------------------------
// Raw file shapes (after the schema check).

interface RawFields {
  fields: { name: string; meaning: string; example: string; identity?: IdentityKey; priority?: number; kinds?: string[]; evidence?: EvidenceSource }[];
}
interface RawVendor {
  name: string;
  linkedVendor: LinkedVendor | null;
  relation: VendorRelation;
  uncertain?: boolean;
  organisations: string[];
  ouiConfidence?: number;
  source: string;
  note?: string;
}
interface RawVendors {
  defaults: { ouiConfidence: number };
  vendors: Record<string, RawVendor>;
}
interface RawOui {
  format: string;
  registry: { package: string; version: string };
  generated: string;
  coverage: 'registry';
  placeholders: string[];
  vendors: Record<string, string>;
  organisations: Record<string, string>;
}
interface RawRule {
  id: string;
  description: string;
  pattern: string;
  flags?: string;
  supports: string | null;
  claim: Claim;
  confidence: number;
  set?: IdentityValues;
  source: string;
  examples: { value: string; expect?: IdentityValues; realistic?: boolean; note?: string }[];
}
/** A rule file (one field) or a kind file (one kind of value, run on every field of that kind). */
type RawRuleFile = { rules: RawRule[] } & ({ field: string; source: EvidenceSource; kind?: undefined } | { kind: string; field?: undefined });

// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------

export function readFields(dir: string): Map<string, FieldDef> {
  const file = readKnowledgeFile<RawFields>(dir, FIELDS_FILE, 'fields.schema.json');
  const fields = new Map<string, FieldDef>();
  for (const [i, f] of file.value.fields.entries()) {
    if (fields.has(f.name)) file.fail(['fields', i, 'name'], `field "${f.name}" is listed twice`);
    fields.set(f.name, {
      name: f.name,
      meaning: f.meaning,
      example: f.example,
      identity: f.identity ?? null,
      priority: f.priority ?? 0,
      kinds: f.kinds ?? [],
      evidence: f.evidence ?? null,
    });
  }
  return fields;
}

/** Reads vendors.yaml alone (the OUI generator needs it before oui.json exists). */
export function readVendors(dir: string): Map<string, Vendor> {
  const file = readKnowledgeFile<RawVendors>(dir, VENDORS_FILE, 'vendors.schema.json');
  const { defaults, vendors: table } = file.value;
  const vendors = new Map<string, Vendor>();
  for (const [key, v] of Object.entries(table)) {
    vendors.set(key, {
      key,
      name: v.name,
      linkedVendor: v.linkedVendor,
      relation: v.relation,
      uncertain: v.uncertain ?? false,
      organisations: v.organisations.map((o, i) => compilePattern(file, ['vendors', key, 'organisations', i], o, 'i')),
      ouiConfidence: v.ouiConfidence ?? defaults.ouiConfidence,
      source: v.source,
      note: v.note ?? null,
    });
  }
  return vendors;
}

/** An OUI table whose entries are the compact registry (what readOui builds). */
type OuiTableWithRegistry = OuiTable & { readonly entries: OuiRegistry };

/** oui.json as a table: the registry built, its repeats and unlisted organisations refused. */
function ouiTableOf(file: CheckedFile<RawOui>): OuiTableWithRegistry {
  const { path, value: r } = file;
  const entries = new OuiRegistry(
    Object.keys(r.organisations).map((organisation) => ({
      organisation,
      vendor: r.vendors[organisation] ?? null,
      prefixes: r.organisations[organisation] ?? '',
    })),
  );
  if (entries.repeats.length > 0) {
    failData(path, entries.repeats.map(([prefix, earlier, later]) => `prefix ${prefix} is listed under both "${earlier}" and "${later}"`).join('; '));
  }
  for (const organisation of [...Object.keys(r.vendors), ...r.placeholders]) {
    if (!Object.hasOwn(r.organisations, organisation)) failData(path, `"${organisation}" is named but has no prefixes under "organisations"`);
  }
  return {
    format: r.format,
    registry: r.registry,
    generated: r.generated,
    coverage: r.coverage,
    placeholders: new Set(r.placeholders),
    entries,
  };
}

/** The OUI table's fields beside its registry, as the build keeps them. */
type OuiTableHeader = Omit<OuiTable, 'placeholders' | 'entries'> & { placeholders: string[] };

/**
 * Parsing oui.json (a 30,000-key object) and sorting its 54,000 prefixes was more than half of the
 * knowledge base's load (issue 10, start-up time): the build keeps the sorted registry instead.
 */
const OUI_TABLE_FORM: PreparedForm<RawOui, OuiTableWithRegistry> = {
  name: 'oui-table/v1',
  prepare: ouiTableOf,
  write({ entries, placeholders, ...rest }) {
    const header: OuiTableHeader = { ...rest, placeholders: [...placeholders] };
    return entries.image(header);
  },
  read(bytes) {
    const image = OuiRegistry.fromImage(bytes);
    if (!image) return undefined;
    const header = image.header as OuiTableHeader;
    return { ...header, placeholders: new Set(header.placeholders), entries: image.registry };
  },
};

export function readOui(dir: string): OuiTable {
  return readPreparedKnowledgeFile(dir, OUI_FILE, 'oui.schema.json', OUI_TABLE_FORM);
}

/** The YAML files of `dir/sub`, sorted by name ([] when the folder does not exist and is optional). */
function yamlFiles(dir: string, sub: string, optional: boolean): string[] {
  const folder = join(dir, sub);
  if (optional && !existsSync(folder)) return [];
  let names: string[];
  try {
    names = readdirSync(folder).filter((n) => n.endsWith('.yaml') || n.endsWith('.yml'));
  } catch (err) {
    failData(folder, `the ${sub} folder cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  return names.sort().map((name) => join(folder, name));
}

/**
 * Every rule file (rules/*.yaml, one field each), then every kind file (kinds/*.yaml) once per
 * field that fields.yaml gives its kind: a kind rule is one rule (one id, one set of examples)
 * that runs against each of those fields, writing that field's evidence source.
 */
export function readRuleFiles(dir: string, fields: ReadonlyMap<string, FieldDef>): RuleFile[] {
  const paths = [...yamlFiles(dir, RULES_DIR, false), ...yamlFiles(dir, KINDS_DIR, true)];
  return paths.flatMap((path) => readRuleFile(dir, path, fields));
}

function readRuleFile(dir: string, path: string, fields: ReadonlyMap<string, FieldDef>): RuleFile[] {
  const checked = readKnowledgeFile<RawRuleFile>(dir, relative(dir, path), 'rules.schema.json');
  const r = checked.value;
  const file = relative(dir, path).split('\\').join('/');
  const kind = r.kind;
  const targets =
    kind === undefined
      ? [{ field: r.field, source: r.source }]
      : [...fields.values()].flatMap((f) => (f.kinds.includes(kind) && f.evidence ? [{ field: f.name, source: f.evidence }] : []));
  if (targets.length === 0) checked.fail(['kind'], `no field in ${FIELDS_FILE} carries kind "${String(kind)}" (give a field \`kinds: [${String(kind)}]\`)`);
  const patterns = r.rules.map((rule, index) => compilePattern(checked, ['rules', index, 'pattern'], rule.pattern, rule.flags ?? ''));
  return targets.map(({ field, source }) => ({
    file,
    field,
    source,
    rules: r.rules.map((rule, index): Rule => ({
      id: rule.id,
      file,
      index,
      field,
      kind: kind ?? null,
      source,
      description: rule.description,
      pattern: patterns[index] as RegExp,
      supports: rule.supports,
      claim: rule.claim,
      confidence: rule.confidence,
      set: rule.set ?? {},
      citation: rule.source,
      examples: rule.examples.map((e) => ({ value: e.value, expect: e.expect ?? {}, realistic: e.realistic ?? false, note: e.note ?? null })),
    })),
  }));
}

/** The package's fingerprints/ folder (it ships beside dist/). */
export function defaultFingerprintDir(): string {
  const root = packageRoot();
  const dir = root === null ? null : join(root, 'fingerprints');
  if (dir !== null && existsSync(join(dir, VENDORS_FILE))) return dir;
  return failData(dir ?? 'fingerprints', 'the fingerprints folder was not found next to the program (it ships beside dist/)');
}
