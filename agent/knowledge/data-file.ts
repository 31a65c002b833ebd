/**
 * Reading a YAML (or JSON) file that people edit: the knowledge base in fingerprints/ and the
 * daemon configuration. One Ajv instance checks every such file against its JSON Schema
 * (draft 2020-12), and every problem names the file, the line and the key:
 * `ports.yaml line 12: ports[3].port: must be <= 65535`.
 */
import { createRequire } from 'node:module';
import type { Ajv2020, ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import type { Document, LineCounter, Node as YamlNode } from 'yaml';

/**
 * The YAML parser and Ajv are loaded on first use (both are CommonJS, so `require` gives them
 * synchronously): a scan whose knowledge files the build checked (checked-files.ts) and whose store
 * is a folder needs neither, and loading the two costs about 10 MB of resident memory (issue 10).
 */
const requireModule = createRequire(import.meta.url);
let yamlLibrary: typeof import('yaml') | undefined;
const yaml = (): typeof import('yaml') => (yamlLibrary ??= requireModule('yaml') as typeof import('yaml'));

/** Where a value sits in a document: keys and list indexes from the top. */
export type DataPath = readonly (string | number)[];

/** A parsed document, with the line of any path in it. */
export interface DataDocument {
  /** The document as plain data (null for an empty file). */
  readonly value: unknown;
  /** `line N: not valid YAML or JSON: …`, one per syntax error; empty when the text parsed. */
  readonly syntaxErrors: readonly string[];
  /** The 1-based line of the key at `path` (for a missing key, of its parent). */
  lineOf(path: DataPath): number;
}

/**
 * Parses YAML (JSON is YAML): duplicate keys are errors, and aliases are limited to yaml's
 * default `maxAliasCount` (100), so a "billion laughs" alias bomb fails instead of expanding.
 */
export function parseDataDocument(text: string): DataDocument {
  const { LineCounter: Counter, parseDocument } = yaml();
  const lineCounter = new Counter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const syntaxErrors = doc.errors.map((e) => `line ${lineCounter.linePos(e.pos[0]).line}: not valid YAML or JSON: ${e.message.split('\n')[0]}`);
  let value: unknown = null;
  if (syntaxErrors.length === 0) {
    try {
      value = doc.toJS();
    } catch (error) {
      // toJS throws for an alias count over the limit ("Excessive alias count…").
      syntaxErrors.push(`line 1: not valid YAML or JSON: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  return { value, syntaxErrors, lineOf: (path) => lineOf(doc, lineCounter, path) };
}

let ajv: Ajv2020 | undefined;

/** The one Ajv instance (compiling is a large part of its cost, so schemas are compiled once each). */
export function sharedAjv(): Ajv2020 {
  if (!ajv) {
    const { Ajv2020: Ajv } = requireModule('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
    ajv = new Ajv({ allErrors: true, strict: true });
  }
  return ajv;
}

const compiled = new WeakMap<object, ValidateFunction>();

/** The validator of `schema`, compiled once. */
export function validatorFor(schema: object): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = sharedAjv().compile(schema);
    compiled.set(schema, validate);
  }
  return validate;
}

export interface SchemaProblem {
  path: (string | number)[];
  message: string;
}

/** What an Ajv error is about and what is wrong there, in words; `unknownKey` words an unknown key. */
export function schemaProblem(error: ErrorObject, unknownKey = 'is not a known key (check the spelling)'): SchemaProblem {
  const path = error.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return { path, message: `"${String(params.missingProperty)}" is missing` };
    case 'additionalProperties':
      return { path: [...path, String(params.additionalProperty)], message: unknownKey };
    case 'propertyNames':
      return { path: [...path, String(params.propertyName)], message: 'is not an allowed key' };
    case 'enum':
      return { path, message: `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
    case 'const':
      return { path, message: `must be ${JSON.stringify(params.allowedValue)}` };
    default:
      return { path, message: error.message ?? 'is not valid' };
  }
}

/** `sites[1].schedule`; `(top level)` for the empty path. */
export function dotted(path: DataPath): string {
  if (path.length === 0) return '(top level)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/**
 * Checks `value` against `schema`; each problem as `path: message`, prefixed by `where(path)` (say
 * `line 12: `), identical ones once. Empty when the value is valid.
 */
export function schemaProblems(value: unknown, schema: object, where: (path: DataPath) => string = () => ''): string[] {
  const validate = validatorFor(schema);
  if (validate(value)) return [];
  const problems = (validate.errors ?? []).map((error) => {
    const { path, message } = schemaProblem(error);
    return `${where(path)}${dotted(path)}: ${message}`;
  });
  return [...new Set(problems)];
}

function lineOf(doc: Document, lineCounter: LineCounter, path: DataPath): number {
  for (let depth = path.length; depth >= 0; depth -= 1) {
    const parentPath = path.slice(0, Math.max(0, depth - 1));
    const parent = depth === 0 ? doc.contents : doc.getIn(parentPath, true);
    const last = path[depth - 1];
    if (depth > 0 && yaml().isMap(parent)) {
      const pair = parent.items.find((p) => (p.key as { value?: unknown } | null)?.value === last);
      const keyNode = pair?.key as YamlNode | undefined;
      if (keyNode?.range) return lineCounter.linePos(keyNode.range[0]).line;
    }
    const node = (depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true)) as YamlNode | null | undefined;
    if (node?.range) return lineCounter.linePos(node.range[0]).line;
  }
  return 1;
}
