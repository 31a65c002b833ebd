/**
 * Reads and validates the fingerprint database (fingerprints/ by default):
 *   fields.yaml     the observation-field vocabulary (+ which fields ARE identity values)
 *   vendors.yaml    vendor table: display name, link to Hikvision/Dahua, relation, OUI regexes
 *   oui.json        the whole IEEE registry, prefix → organisation (+ vendor key) (scripts/generate-oui.mjs)
 *   rules/*.yaml    one rule file per observed field (recog's habit)
 *
 * Every file is schema-checked; a bad file throws CCTV_ERR_FINGERPRINT_DATA naming the file and the
 * rule (or vendor / field / prefix). After reading, the structural half of verifyFingerprints runs
 * (known fields and vendors, unique ids, named groups…) and its first problem is thrown the same way.
 * Example checks are left to verifyFingerprints (the self-test; `cctv-agent fingerprints verify`).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { agentError } from '../errors.js';
import { EVIDENCE_SOURCES, IDENTITY_KEYS, type EvidenceSource, type IdentityKey, type LinkedVendor } from '../types.js';
import {
  CLAIMS,
  VENDOR_RELATIONS,
  type Claim,
  type FieldDef,
  type FingerprintDb,
  type IdentityValues,
  type OuiEntry,
  type OuiTable,
  type Rule,
  type RuleExample,
  type RuleFile,
  type Vendor,
  type VendorRelation,
} from './types.js';
import { ALLOWED_RULE_FLAGS } from './match.js';
import { FIELDS_FILE, OUI_FILE, OUI_FORMAT, RULES_DIR, VENDORS_FILE } from './paths.js';
import { checkStructure } from './verify.js';
import { packageRoot } from '../paths.js';

export { FIELDS_FILE, OUI_FILE, OUI_FORMAT, RULES_DIR, VENDORS_FILE };

// ---------------------------------------------------------------------------------------------
// Schemas (JSON Schema draft-07, checked with ajv). Shape only; meaning is checked in verify.ts.

const identityValuesSchema = {
  type: 'object',
  propertyNames: { enum: [...IDENTITY_KEYS] },
  additionalProperties: { type: 'string', minLength: 1 },
} as const;

const fieldsSchema = {
  type: 'object',
  required: ['fields'],
  additionalProperties: false,
  properties: {
    fields: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['name', 'meaning', 'example'],
        additionalProperties: false,
        dependencies: { identity: ['priority'], priority: ['identity'] },
        properties: {
          name: { type: 'string', pattern: '^[a-z][A-Za-z0-9_]*(?:\\.[A-Za-z0-9_]+)+$' },
          meaning: { type: 'string', minLength: 1 },
          example: { type: 'string' },
          identity: { enum: [...IDENTITY_KEYS] },
          priority: { type: 'number' },
        },
      },
    },
  },
} as const;

const vendorsSchema = {
  type: 'object',
  required: ['defaults', 'vendors'],
  additionalProperties: false,
  properties: {
    defaults: {
      type: 'object',
      required: ['ouiConfidence'],
      additionalProperties: false,
      properties: { ouiConfidence: { type: 'number', minimum: 0, maximum: 1 } },
    },
    vendors: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: '^[a-z0-9][a-z0-9-]*$' },
      additionalProperties: {
        type: 'object',
        required: ['name', 'linkedVendor', 'relation', 'organisations', 'source'],
        additionalProperties: false,
        properties: {
          name: { type: 'string', minLength: 1 },
          linkedVendor: { enum: ['hikvision', 'dahua', null] },
          relation: { enum: [...VENDOR_RELATIONS] },
          uncertain: { type: 'boolean' },
          organisations: { type: 'array', items: { type: 'string', minLength: 1 } },
          ouiConfidence: { type: 'number', minimum: 0, maximum: 1 },
          source: { type: 'string', minLength: 1 },
          note: { type: 'string' },
        },
      },
    },
  },
} as const;

/** Space-separated registry prefixes of one organisation (6, 7 or 9 upper-case hex digits each). */
const PREFIX_LIST = '^(?:[0-9A-F]{6}|[0-9A-F]{7}|[0-9A-F]{9})(?: (?:[0-9A-F]{6}|[0-9A-F]{7}|[0-9A-F]{9}))*$';

const ouiSchema = {
  type: 'object',
  required: ['format', 'registry', 'generated', 'coverage', 'placeholders', 'vendors', 'organisations'],
  additionalProperties: false,
  properties: {
    format: { const: OUI_FORMAT },
    registry: {
      type: 'object',
      required: ['package', 'version'],
      additionalProperties: false,
      properties: { package: { type: 'string', minLength: 1 }, version: { type: 'string', minLength: 1 } },
    },
    generated: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
    coverage: { const: 'registry' },
    note: { type: 'string' },
    placeholders: { type: 'array', items: { type: 'string', minLength: 1 } },
    vendors: { type: 'object', additionalProperties: { type: 'string', minLength: 1 } },
    organisations: { type: 'object', additionalProperties: { type: 'string', pattern: PREFIX_LIST } },
  },
} as const;

const ruleFileSchema = {
  type: 'object',
  required: ['field', 'source', 'rules'],
  additionalProperties: false,
  properties: {
    field: { type: 'string', minLength: 1 },
    source: { enum: [...EVIDENCE_SOURCES] },
    description: { type: 'string' },
    rules: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['id', 'description', 'pattern', 'supports', 'claim', 'confidence', 'source', 'examples'],
        additionalProperties: false,
        properties: {
          id: { type: 'string', pattern: '^[a-z0-9][a-z0-9.-]*$' },
          description: { type: 'string', minLength: 1 },
          pattern: { type: 'string', minLength: 1 },
          flags: { type: 'string', pattern: ALLOWED_RULE_FLAGS.source },
          supports: { type: ['string', 'null'] },
          claim: { enum: [...CLAIMS] },
          confidence: { type: 'number', minimum: 0, maximum: 1 },
          set: identityValuesSchema,
          source: { type: 'string', minLength: 1 },
          examples: {
            type: 'array',
            minItems: 1,
            maxItems: 20,
            items: {
              type: 'object',
              required: ['value'],
              additionalProperties: false,
              properties: {
                value: { type: 'string' },
                expect: identityValuesSchema,
                realistic: { type: 'boolean' },
                note: { type: 'string' },
              },
            },
          },
        },
      },
    },
  },
} as const;

let validators:
  | { fields: ValidateFunction; vendors: ValidateFunction; oui: ValidateFunction; rules: ValidateFunction }
  | undefined;

let sharedAjv: Ajv | undefined;

/** One ajv instance for every data-file schema (creating one is a large part of its cost). */
function dataAjv(): Ajv {
  sharedAjv ??= new Ajv({ allErrors: true, strict: true });
  return sharedAjv;
}

function getValidators(): NonNullable<typeof validators> {
  if (!validators) {
    const ajv = dataAjv();
    validators = {
      fields: ajv.compile(fieldsSchema),
      vendors: ajv.compile(vendorsSchema),
      oui: ajv.compile(ouiSchema),
      rules: ajv.compile(ruleFileSchema),
    };
  }
  return validators;
}

// ---------------------------------------------------------------------------------------------
// Raw file shapes (after the schema check).

interface RawFields {
  fields: { name: string; meaning: string; example: string; identity?: IdentityKey; priority?: number }[];
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
interface RawRuleFile {
  field: string;
  source: EvidenceSource;
  rules: RawRule[];
}

// ---------------------------------------------------------------------------------------------

/** Throws CCTV_ERR_FINGERPRINT_DATA for the data file `path`. */
export function failData(path: string, why: string): never {
  throw agentError('CCTV_ERR_FINGERPRINT_DATA', path, why);
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    failData(path, `it cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

function readYaml(path: string): unknown {
  const text = readText(path);
  try {
    return parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    failData(path, `it is not valid YAML (${(err as Error).message.split('\n')[0]})`);
  }
}

function readJson(path: string): unknown {
  const text = readText(path);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    failData(path, `it is not valid JSON (${(err as Error).message})`);
  }
}

/** Names what an ajv instancePath points at: `rule "id" (rules[3])`, `vendor "lts"`, `field #2`. */
function describeLocation(data: unknown, instancePath: string): string {
  const parts = instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (parts[0] === 'rules' && parts[1] !== undefined) {
    const rules = (data as { rules?: unknown[] }).rules;
    const rule = Array.isArray(rules) ? (rules[Number(parts[1])] as { id?: unknown } | undefined) : undefined;
    const id = typeof rule?.id === 'string' ? `rule "${rule.id}"` : 'rule';
    const rest = parts.slice(2).join('/');
    return `${id} (rules[${parts[1]}])${rest ? ` ${rest}` : ''}`;
  }
  if (parts[0] === 'vendors' && parts[1] !== undefined) {
    const rest = parts.slice(2).join('/');
    return `vendor "${parts[1]}"${rest ? ` ${rest}` : ''}`;
  }
  if (parts[0] === 'fields' && parts[1] !== undefined) {
    const fields = (data as { fields?: unknown[] }).fields;
    const field = Array.isArray(fields) ? (fields[Number(parts[1])] as { name?: unknown } | undefined) : undefined;
    const name = typeof field?.name === 'string' ? `field "${field.name}"` : `field #${Number(parts[1]) + 1}`;
    const rest = parts.slice(2).join('/');
    return `${name}${rest ? ` ${rest}` : ''}`;
  }
  if (parts[0] === 'organisations' && parts[1] !== undefined) return `organisation "${parts[1]}"`;
  const list = parts[0] !== undefined && typeof data === 'object' && data !== null ? (data as Record<string, unknown>)[parts[0]] : undefined;
  if (Array.isArray(list) && parts[1] !== undefined) {
    const item = list[Number(parts[1])] as { id?: unknown } | undefined;
    const rest = parts.slice(2).join('/');
    return `${typeof item?.id === 'string' ? `"${item.id}"` : 'entry'} (${parts[0]}[${parts[1]}])${rest ? ` ${rest}` : ''}`;
  }
  return parts.length ? parts.join('/') : 'the top level';
}

function describeAjvError(data: unknown, e: ErrorObject): string {
  const where = describeLocation(data, e.instancePath);
  const params = e.params as Record<string, unknown>;
  if (e.keyword === 'additionalProperties') return `${where}: unknown key "${String(params['additionalProperty'])}"`;
  if (e.keyword === 'required') return `${where}: missing key "${String(params['missingProperty'])}"`;
  if (e.keyword === 'enum') {
    const allowed = (params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ');
    return `${where}: must be one of ${allowed}`;
  }
  if (e.keyword === 'propertyNames') return `${where}: key "${String(params['propertyName'])}" is not allowed`;
  return `${where}: ${e.message ?? e.keyword}`;
}

function checkSchema(path: string, data: unknown, validate: ValidateFunction): void {
  if (validate(data)) return;
  const messages = [...new Set((validate.errors ?? []).map((e) => describeAjvError(data, e)))];
  // Identical messages (ajv repeats some per sub-schema) are reported once; at most five are shown.
  failData(path, messages.slice(0, 5).join('; ') + (messages.length > 5 ? ` (and ${messages.length - 5} more)` : ''));
}

const compiledSchemas = new WeakMap<object, ValidateFunction>();

/**
 * Reads one YAML data file of the database (cves.yaml, policies.yaml…) and checks it against
 * `schema` (JSON Schema draft-07, shape only); throws CCTV_ERR_FINGERPRINT_DATA naming the file.
 */
export function readCheckedYaml(path: string, schema: object): unknown {
  let validate = compiledSchemas.get(schema);
  if (!validate) {
    validate = dataAjv().compile(schema);
    compiledSchemas.set(schema, validate);
  }
  const raw = readYaml(path);
  checkSchema(path, raw, validate);
  return raw;
}

/** A data file's regex, or CCTV_ERR_FINGERPRINT_DATA naming the file and `what`. */
export function compilePattern(path: string, what: string, source: string, flags: string): RegExp {
  try {
    return new RegExp(source, flags);
  } catch (err) {
    failData(path, `${what}: pattern ${JSON.stringify(source)} does not compile (${(err as Error).message})`);
  }
}

// ---------------------------------------------------------------------------------------------

export function readFields(dir: string): Map<string, FieldDef> {
  const path = join(dir, FIELDS_FILE);
  const raw = readYaml(path);
  checkSchema(path, raw, getValidators().fields);
  const fields = new Map<string, FieldDef>();
  for (const f of (raw as RawFields).fields) {
    if (fields.has(f.name)) failData(path, `field "${f.name}" is listed twice`);
    fields.set(f.name, {
      name: f.name,
      meaning: f.meaning,
      example: f.example,
      identity: f.identity ?? null,
      priority: f.priority ?? 0,
    });
  }
  return fields;
}

/** Reads vendors.yaml alone (the OUI generator needs it before oui.json exists). */
export function readVendors(dir: string): Map<string, Vendor> {
  const path = join(dir, VENDORS_FILE);
  const raw = readYaml(path);
  checkSchema(path, raw, getValidators().vendors);
  const { defaults, vendors: table } = raw as RawVendors;
  const vendors = new Map<string, Vendor>();
  for (const [key, v] of Object.entries(table)) {
    vendors.set(key, {
      key,
      name: v.name,
      linkedVendor: v.linkedVendor,
      relation: v.relation,
      uncertain: v.uncertain ?? false,
      organisations: v.organisations.map((o, i) => compilePattern(path, `vendor "${key}" organisations[${i}]`, o, 'i')),
      ouiConfidence: v.ouiConfidence ?? defaults.ouiConfidence,
      source: v.source,
      note: v.note ?? null,
    });
  }
  return vendors;
}

/** `prefix X is listed under both "A" and "B"`, for every prefix listed twice. */
function duplicatePrefixes(organisations: Record<string, string>): string[] {
  const owner = new Map<string, string>();
  const found: string[] = [];
  for (const [organisation, prefixes] of Object.entries(organisations)) {
    for (const prefix of prefixes.split(' ')) {
      const earlier = owner.get(prefix);
      if (earlier !== undefined) found.push(`prefix ${prefix} is listed under both "${earlier}" and "${organisation}"`);
      else owner.set(prefix, organisation);
    }
  }
  return found;
}

export function readOui(dir: string): OuiTable {
  const path = join(dir, OUI_FILE);
  const raw = readJson(path);
  checkSchema(path, raw, getValidators().oui);
  const r = raw as RawOui;
  // ~54,000 prefixes: this loop is the loader's hot path, so a prefix listed twice is looked for
  // only when the map ends up smaller than the number of prefixes read.
  const entries = new Map<string, OuiEntry>();
  let listed = 0;
  for (const organisation in r.organisations) {
    const entry: OuiEntry = { organisation, vendor: r.vendors[organisation] ?? null };
    for (const prefix of (r.organisations[organisation] ?? '').split(' ')) {
      entries.set(prefix, entry);
      listed += 1;
    }
  }
  if (entries.size !== listed) failData(path, `${duplicatePrefixes(r.organisations).join('; ')}`);
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

export function readRuleFiles(dir: string): RuleFile[] {
  const rulesDir = join(dir, RULES_DIR);
  let names: string[];
  try {
    names = readdirSync(rulesDir).filter((n) => n.endsWith('.yaml') || n.endsWith('.yml'));
  } catch (err) {
    failData(rulesDir, `the rules folder cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  names.sort();
  return names.map((name) => readRuleFile(dir, join(rulesDir, name)));
}

function readRuleFile(dir: string, path: string): RuleFile {
  const raw = readYaml(path);
  checkSchema(path, raw, getValidators().rules);
  const r = raw as RawRuleFile;
  const file = relative(dir, path).split('\\').join('/');
  const rules: Rule[] = r.rules.map((rule, index) => {
    const examples: RuleExample[] = rule.examples.map((e) => ({
      value: e.value,
      expect: e.expect ?? {},
      realistic: e.realistic ?? false,
      note: e.note ?? null,
    }));
    return {
      id: rule.id,
      file,
      index,
      field: r.field,
      source: r.source,
      description: rule.description,
      pattern: compilePattern(path, `rule "${rule.id}" (rules[${index}])`, rule.pattern, rule.flags ?? ''),
      supports: rule.supports,
      claim: rule.claim,
      confidence: rule.confidence,
      set: rule.set ?? {},
      citation: rule.source,
      examples,
    };
  });
  return { file, field: r.field, source: r.source, rules };
}

/** Assembles a database from its parts (also used by tests to build small databases). */
export function buildDb(parts: {
  dir: string;
  fields: ReadonlyMap<string, FieldDef>;
  vendors: ReadonlyMap<string, Vendor>;
  files: readonly RuleFile[];
  oui: OuiTable;
}): FingerprintDb {
  const rules = parts.files.flatMap((f) => f.rules);
  const rulesById = new Map<string, Rule>();
  const rulesByField = new Map<string, Rule[]>();
  for (const rule of rules) {
    if (!rulesById.has(rule.id)) rulesById.set(rule.id, rule);
    const list = rulesByField.get(rule.field);
    if (list) list.push(rule);
    else rulesByField.set(rule.field, [rule]);
  }
  return { ...parts, rules, rulesById, rulesByField };
}

/** The package's fingerprints/ folder (it ships beside dist/). */
export function defaultFingerprintDir(): string {
  const root = packageRoot();
  const dir = root === null ? null : join(root, 'fingerprints');
  if (dir !== null && existsSync(join(dir, VENDORS_FILE))) return dir;
  return failData(dir ?? 'fingerprints', 'the fingerprints folder was not found next to the program (it ships beside dist/)');
}

const cache = new Map<string, FingerprintDb>();

/**
 * Reads, schema-checks and structurally verifies the database in `dir` (default: the repository's
 * fingerprints/). Cached per directory. Throws CCTV_ERR_FINGERPRINT_DATA naming the file and rule.
 */
export function loadFingerprints(dir?: string): FingerprintDb {
  const root = resolve(dir ?? defaultFingerprintDir());
  const cached = cache.get(root);
  if (cached) return cached;
  const db = buildDb({
    dir: root,
    fields: readFields(root),
    vendors: readVendors(root),
    files: readRuleFiles(root),
    oui: readOui(root),
  });
  const problems = checkStructure(db);
  const first = problems[0];
  if (first) {
    const same = problems.filter((p) => p.file === first.file);
    const text = same.map((p) => (p.rule ? `${p.rule}: ${p.message}` : p.message));
    failData(join(root, first.file), text.slice(0, 5).join('; ') + (text.length > 5 ? ` (and ${text.length - 5} more)` : ''));
  }
  cache.set(root, db);
  return db;
}

/** Forgets cached databases (tests that edit data in place). */
export function clearFingerprintCache(): void {
  cache.clear();
}
