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
import { activeRecorder, alreadyChecked, checkedDigest } from './checked-files.js';
import { dotted, parseDataDocument, schemaProblems, type DataDocument, type DataPath } from './data-file.js';

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

function readText(path: string): { text: string; bytes: Buffer } {
  const read = readBoundedTextFile(path, { maxBytes: MAX_DATA_FILE_BYTES });
  if (!read.ok) failData(path, `it cannot be read (${read.reason})`);
  return read;
}

const schemaTexts = new Map<string, string>();
const schemas = new Map<string, object>();

function knowledgeSchemaText(file: string): string {
  let text = schemaTexts.get(file);
  if (text === undefined) {
    text = readFileSync(repoPath('schema', 'knowledge', file), 'utf8');
    schemaTexts.set(file, text);
  }
  return text;
}

/** A schema of schema/knowledge/ (the same files editors use to check the YAML). */
export function knowledgeSchema(file: string): object {
  let schema = schemas.get(file);
  if (!schema) {
    schema = JSON.parse(knowledgeSchemaText(file)) as object;
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
  const { text, bytes } = readText(path);
  const isJson = file.endsWith('.json');
  const digest = checkedDigest(bytes, knowledgeSchemaText(schemaFile));
  const checked = alreadyChecked(digest, text);
  if (checked) {
    // The build checked these very bytes against this very schema (agent/knowledge/checked-files.ts).
    const { value } = checked;
    const fail = isJson ? failAtKey(path) : (at: DataPath, why: string) => failAtLine(path, parseDataDocument(text), at, why);
    return { path, value: value as T, fail };
  }
  if (isJson) {
    let value: unknown;
    try {
      value = JSON.parse(text) as unknown;
    } catch (err) {
      failData(path, `it is not valid JSON (${(err as Error).message})`);
    }
    const problems = schemaProblems(value, knowledgeSchema(schemaFile));
    if (problems.length > 0) failData(path, joinProblems(problems));
    activeRecorder()?.add(digest, true, value);
    return { path, value: value as T, fail: failAtKey(path) };
  }
  const doc = parseDataDocument(text);
  if (doc.syntaxErrors.length > 0) failData(path, joinProblems(doc.syntaxErrors));
  const problems = schemaProblems(doc.value, knowledgeSchema(schemaFile), (at) => `line ${doc.lineOf(at)}: `);
  if (problems.length > 0) failData(path, joinProblems(problems));
  activeRecorder()?.add(digest, false, doc.value);
  return { path, value: doc.value as T, fail: (at, why) => failAtLine(path, doc, at, why) };
}

/** The generated JSON registry (megabytes) reports the key of a problem only. */
function failAtKey(path: string): (at: DataPath, why: string) => never {
  return (at, why) => failData(path, `${dotted(at)}: ${why}`);
}

function failAtLine(path: string, doc: DataDocument, at: DataPath, why: string): never {
  return failData(path, `line ${doc.lineOf(at)}: ${dotted(at)}: ${why}`);
}

/** A data file's regex, or a failure at `at` saying why it does not compile. */
export function compilePattern(file: Pick<CheckedFile<unknown>, 'fail'>, at: DataPath, source: string, flags: string): RegExp {
  try {
    return new RegExp(source, flags);
  } catch (err) {
    return file.fail(at, `pattern ${JSON.stringify(source)} does not compile (${(err as Error).message})`);
  }
}
