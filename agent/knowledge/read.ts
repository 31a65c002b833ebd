/**
 * Reads one file of the knowledge base: parse (YAML, or JSON for the generated oui.json), check
 * against its JSON Schema in schema/knowledge/, and give the caller a way to report a problem of
 * meaning at a path. Every failure is CCTV_ERR_FINGERPRINT_DATA naming the file, the line and the key.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readBoundedFile } from '../bounded-file.js';
import { agentError } from '../errors.js';
import { repoPath } from '../paths.js';
import { activeRecorder, alreadyChecked, alreadyPrepared, checkedDigest, noteFileRead } from './checked-files.js';
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

function readBytes(path: string): Buffer {
  const read = readBoundedFile(path, { maxBytes: MAX_DATA_FILE_BYTES });
  if (!read.ok) failData(path, `it cannot be read (${read.reason})`);
  return read.bytes;
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

/** A knowledge file as read: its path, bytes and the digest of its bytes with its schema's. */
interface FileRead {
  readonly path: string;
  readonly bytes: Buffer;
  readonly digest: string;
}

function readWithDigest(dir: string, file: string, schemaFile: string): FileRead {
  const path = join(dir, file);
  const bytes = readBytes(path);
  const digest = checkedDigest(bytes, knowledgeSchemaText(schemaFile));
  noteFileRead(file, digest);
  return { path, bytes, digest };
}

/**
 * Reads `dir/file` and checks it against `schemaFile`. YAML files report the line of each problem;
 * the generated JSON registry (megabytes) is parsed with JSON.parse and reports the key only.
 */
export function readKnowledgeFile<T>(dir: string, file: string, schemaFile: string): CheckedFile<T> {
  return checkedFileOf<T>(readWithDigest(dir, file, schemaFile), schemaFile);
}

function checkedFileOf<T>({ path, bytes, digest }: FileRead, schemaFile: string): CheckedFile<T> {
  const text = bytes.toString('utf8');
  const isJson = path.endsWith('.json');
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

/**
 * A table built from one file once its own meaning checks passed, which the build keeps in a file
 * (agent/knowledge/checked-files.ts) because building it costs more than reading it back.
 */
export interface PreparedForm<T, P> {
  /** Names the form and its layout: a new layout is a new name, so a record of the old one is not read. */
  readonly name: string;
  /** Builds the table from the checked file; throws CCTV_ERR_FINGERPRINT_DATA (file.fail, failData) as the file's meaning checks find. */
  prepare(file: CheckedFile<T>): P;
  write(prepared: P): Buffer;
  /** The table back from what `write` gave; undefined when the bytes are not usable here (then it is built afresh). */
  read(bytes: Buffer): P | undefined;
}

/** The table `kept` holds, or undefined when there is none or it is unusable (a damaged record): then it is built afresh. */
function restoredForm<P>(form: PreparedForm<unknown, P>, kept: Buffer | undefined): P | undefined {
  if (kept === undefined) return undefined;
  try {
    return form.read(kept);
  } catch {
    return undefined;
  }
}

/**
 * Reads `dir/file` as readKnowledgeFile does and gives `form`'s table: read back from the build's
 * record when it holds one for these very bytes and schema, built from the checked file otherwise.
 */
export function readPreparedKnowledgeFile<T, P>(dir: string, file: string, schemaFile: string, form: PreparedForm<T, P>): P {
  const read = readWithDigest(dir, file, schemaFile);
  const restored = restoredForm(form, alreadyPrepared(form.name, read.digest));
  if (restored !== undefined) return restored;
  const prepared = form.prepare(checkedFileOf<T>(read, schemaFile));
  activeRecorder()?.addPrepared(form.name, read.digest, form.write(prepared));
  return prepared;
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
