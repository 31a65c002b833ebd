/**
 * Reads one file of the knowledge base: parse (YAML, or JSON for the generated oui.json), check
 * against its JSON Schema in schema/knowledge/, and give the caller a way to report a problem of
 * meaning at a path. Every failure is CCTV_ERR_FINGERPRINT_DATA naming the file, the line and the key.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readBoundedTextFile } from '../bounded-file.js';
import { agentError } from '../errors.js';
import { repoPath } from '../paths.js';
import { dotted, parseDataDocument, schemaProblems, type DataPath } from './data-file.js';

/** Throws CCTV_ERR_FINGERPRINT_DATA for the data file `path`. */
export function failData(path: string, why: string): never {
  throw agentError('CCTV_ERR_FINGERPRINT_DATA', path, why);
}

/** At most five problems in one message, the rest counted. */
function joinProblems(problems: readonly string[]): string {
  return problems.slice(0, 5).join('; ') + (problems.length > 5 ? ` (and ${problems.length - 5} more)` : '');
}

/** The largest knowledge file, the whole IEEE registry (oui.json), is about 1.4 MiB; ten times that is no data file. */
const MAX_DATA_FILE_BYTES = 16 * 1024 * 1024;

function readText(path: string): string {
  const read = readBoundedTextFile(path, { maxBytes: MAX_DATA_FILE_BYTES });
  if (!read.ok) failData(path, `it cannot be read (${read.reason})`);
  return read.text;
}

const schemas = new Map<string, object>();

/** A schema of schema/knowledge/ (the same files editors use to check the YAML). */
export function knowledgeSchema(file: string): object {
  let schema = schemas.get(file);
  if (!schema) {
    schema = JSON.parse(readFileSync(repoPath('schema', 'knowledge', file), 'utf8')) as object;
    schemas.set(file, schema);
  }
  return schema;
}

/** A schema-checked data file, and a way to fail at a path in it. */
export interface CheckedFile<T> {
  readonly path: string;
  readonly value: T;
  /** Throws CCTV_ERR_FINGERPRINT_DATA: `line N: key: why`. */
  fail(at: DataPath, why: string): never;
}

/**
 * Reads `dir/file` and checks it against `schemaFile`. YAML files report the line of each problem;
 * the generated JSON registry (megabytes) is parsed with JSON.parse and reports the key only.
 */
export function readKnowledgeFile<T>(dir: string, file: string, schemaFile: string): CheckedFile<T> {
  const path = join(dir, file);
  const text = readText(path);
  if (file.endsWith('.json')) {
    let value: unknown;
    try {
      value = JSON.parse(text) as unknown;
    } catch (err) {
      failData(path, `it is not valid JSON (${(err as Error).message})`);
    }
    const problems = schemaProblems(value, knowledgeSchema(schemaFile));
    if (problems.length > 0) failData(path, joinProblems(problems));
    return { path, value: value as T, fail: (at, why) => failData(path, `${dotted(at)}: ${why}`) };
  }
  const doc = parseDataDocument(text);
  if (doc.syntaxErrors.length > 0) failData(path, joinProblems(doc.syntaxErrors));
  const problems = schemaProblems(doc.value, knowledgeSchema(schemaFile), (at) => `line ${doc.lineOf(at)}: `);
  if (problems.length > 0) failData(path, joinProblems(problems));
  return { path, value: doc.value as T, fail: (at, why) => failData(path, `line ${doc.lineOf(at)}: ${dotted(at)}: ${why}`) };
}

/** A data file's regex, or a failure at `at` saying why it does not compile. */
export function compilePattern(file: Pick<CheckedFile<unknown>, 'fail'>, at: DataPath, source: string, flags: string): RegExp {
  try {
    return new RegExp(source, flags);
  } catch (err) {
    return file.fail(at, `pattern ${JSON.stringify(source)} does not compile (${(err as Error).message})`);
  }
}
