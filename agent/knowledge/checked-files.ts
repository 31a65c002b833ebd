/**
 * Knowledge files the build has already checked (issue 10, start-up memory and time). Parsing the
 * YAML files and compiling their JSON Schemas with Ajv is most of what loading the knowledge base
 * costs: about 40 MB of resident memory before the first packet, nearly all of it garbage (the live
 * tables are about 10 MB). `npm run build` (scripts/check-knowledge.mjs) therefore loads the
 * package's own fingerprints/ the full way once and writes, for every file that passed its schema
 * check, the SHA-256 of the file and of its schema together with the value the check passed. At run
 * time a file whose bytes and schema give a recorded digest is taken as that value, with no YAML
 * parser and no schema compiled; any other file (edited data, a `--fingerprints` folder of one's
 * own, a changed schema) is parsed and checked in full, as before.
 *
 * The record is written only when the whole load passed, so it also proves what the meaning checks
 * found on those bytes, and keeps two more things for the start-up's time:
 * - a file's prepared form (`prepared`, each in a file of its own in dist/knowledge-prepared/): the
 *   table the loader builds from it once its own meaning checks passed (the OUI registry, sorted:
 *   building it from oui.json was more than half of the load), read back for a file with that digest;
 * - the digest of the whole knowledge base (`base`): every file's path and digest in the order the
 *   loader reads them. A folder that gives the same digest is the base the build checked as a whole,
 *   so the structural self-test (agent/fingerprint/verify.ts checkStructure), which looks across
 *   files, is not run again; one file added, removed, renamed or changed and it runs.
 * The record ships in dist/ with the program that wrote it; `npm run build` writes both together.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { repoPath } from '../paths.js';

/** Where the build writes the record, inside dist/ (it ships with the program it was built with). */
export const CHECKED_FILES_PATH = ['dist', 'knowledge-checked.json'] as const;
/** Where the build writes the prepared forms the record names, one file each. */
export const PREPARED_FORMS_PATH = ['dist', 'knowledge-prepared'] as const;
const CHECKED_FILES_FORMAT = 'cctv-agent/knowledge-checked/v1';

export interface CheckedFilesRecord {
  format: typeof CHECKED_FILES_FORMAT;
  /**
   * Digest of file and schema → the JSON text of the value a YAML file's check passed, or null for
   * a JSON file (its own text is that value). Kept as text, each load parses a fresh copy.
   */
  files: Record<string, string | null>;
  /** `<form>:<digest>` → the name of the file in PREPARED_FORMS_PATH holding that file's prepared form (PreparedForm in read.ts). */
  prepared?: Record<string, string>;
  /** The digest of the whole knowledge base the build loaded and checked (readingKnowledgeBase). */
  base?: string;
}

/** What a checking load found: the record, and the bytes of each prepared form it names, by file name. */
export interface CheckedKnowledge {
  record: CheckedFilesRecord;
  preparedFiles: ReadonlyMap<string, Buffer>;
}

/** SHA-256 over the data file's bytes and its schema's, each length-prefixed so no two pairs collide. */
export function checkedDigest(data: Buffer, schemaText: string): string {
  const hash = createHash('sha256');
  const schema = Buffer.from(schemaText, 'utf8');
  hash.update(`${data.length}:`).update(data).update(`${schema.length}:`).update(schema);
  return hash.digest('hex');
}

/** The record as the loader asks it. */
interface TrustedRecord {
  files: ReadonlyMap<string, string | null>;
  /** The bytes of the prepared form with this key, undefined when there is none or it cannot be read. */
  preparedBytes(key: string): Buffer | undefined;
  base: string | null;
}

function trustedRecord(parsed: Partial<CheckedFilesRecord> | null, readPrepared: (file: string) => Buffer | undefined): TrustedRecord {
  const usable = parsed?.format === CHECKED_FILES_FORMAT && parsed.files;
  const prepared = new Map(usable ? Object.entries(parsed.prepared ?? {}) : []);
  return {
    files: new Map(usable ? Object.entries(parsed.files ?? {}) : []),
    preparedBytes(key) {
      const file = prepared.get(key);
      return file === undefined ? undefined : readPrepared(file);
    },
    base: usable && typeof parsed.base === 'string' ? parsed.base : null,
  };
}

/** A prepared form's file in the package's dist/, undefined when it cannot be read. */
function readPreparedFile(file: string): Buffer | undefined {
  try {
    return readFileSync(repoPath(...PREPARED_FORMS_PATH, file));
  } catch {
    return undefined;
  }
}

let record: TrustedRecord | undefined;

/** The build's record, read once; empty when there is none (run from source before a build) or it is unreadable. */
function checkedFiles(): TrustedRecord {
  if (record) return record;
  try {
    record = trustedRecord(JSON.parse(readFileSync(repoPath(...CHECKED_FILES_PATH), 'utf8')) as Partial<CheckedFilesRecord>, readPreparedFile);
  } catch {
    record = trustedRecord(null, readPreparedFile);
  }
  return record;
}

/**
 * The value the build's check passed for the file with this digest, parsed from `text` (the file's
 * own, for a JSON file) or from the record (a YAML file); undefined when the file must be checked.
 */
export function alreadyChecked(digest: string, text: string): { value: unknown } | undefined {
  const entry = checkedFiles().files.get(digest);
  if (entry === undefined) return undefined;
  return { value: JSON.parse(entry ?? text) as unknown };
}

/** The bytes of the prepared form `form` the build kept for the file with this digest, if it kept one. */
export function alreadyPrepared(form: string, digest: string): Buffer | undefined {
  return checkedFiles().preparedBytes(`${form}:${digest}`);
}

/** Records files as they pass their checks (only while `checkingWith` runs; the agent never records). */
export interface CheckedFileRecorder {
  add(digest: string, isJson: boolean, value: unknown): void;
  addPrepared(form: string, digest: string, bytes: Buffer): void;
  /** The whole base's digest, once every check of the load passed. */
  setBase(digest: string): void;
}

let recorder: CheckedFileRecorder | undefined;

/** The recorder the loader reports files it checked in full to, while `checkingWith` runs. */
export function activeRecorder(): CheckedFileRecorder | undefined {
  return recorder;
}

/** The files read since `readingKnowledgeBase` began: path (relative to the folder) and digest, in reading order. */
let filesRead: string[] | undefined;

/** Notes a knowledge file as read, for the base digest (nothing outside `readingKnowledgeBase`). */
export function noteFileRead(file: string, digest: string): void {
  filesRead?.push(`${file.split('\\').join('/')}\0${digest}`);
}

/**
 * Runs `read` (a whole load of one folder) and gives what it returned with the digest of every file
 * it read: their paths and digests in reading order, so that a file added, removed, renamed or
 * changed gives another digest.
 */
export function readingKnowledgeBase<T>(read: () => T): { value: T; base: string } {
  const outer = filesRead;
  filesRead = [];
  try {
    const value = read();
    return { value, base: createHash('sha256').update(filesRead.join('\n')).digest('hex') };
  } finally {
    filesRead = outer;
  }
}

/** Whether `base` is the digest of the knowledge base the build checked as a whole. */
export function isCheckedBase(base: string): boolean {
  return checkedFiles().base === base;
}

/** The name of a prepared form's file: the form (`oui-table/v1` → `oui-table-v1`) and the digest of the file it was prepared from. */
function preparedFileName(form: string, digest: string): string {
  return `${form.replace(/[^\w.-]/g, '-')}-${digest}.bin`;
}

/**
 * Runs `load` taking only the files `trusted` records as checked (null: none, every file checked in
 * full, as the build does) and returns the record of every file it checked in full, of the prepared
 * forms it built, and of the whole base when the structural self-test ran and passed. A YAML value
 * JSON cannot carry unchanged is left out (that file is then checked at run time). `load` must read
 * the files: loadKnowledge keeps what it loaded per folder, so give it one not loaded before.
 */
export function checkingWith(trusted: CheckedKnowledge | null, load: () => void): CheckedKnowledge {
  const files: Record<string, string | null> = {};
  const prepared: Record<string, string> = {};
  const preparedFiles = new Map<string, Buffer>();
  let base: string | undefined;
  const previous = record;
  record = trustedRecord(trusted?.record ?? null, (file) => trusted?.preparedFiles.get(file));
  recorder = {
    add(digest, isJson, value) {
      if (isJson) files[digest] = null;
      else {
        const json = JSON.stringify(value);
        if (isDeepStrictEqual(JSON.parse(json) as unknown, value)) files[digest] = json;
      }
    },
    addPrepared(form, digest, bytes) {
      const name = preparedFileName(form, digest);
      prepared[`${form}:${digest}`] = name;
      preparedFiles.set(name, bytes);
    },
    setBase(digest) {
      base = digest;
    },
  };
  try {
    load();
  } finally {
    recorder = undefined;
    record = previous;
  }
  return { record: { format: CHECKED_FILES_FORMAT, files, prepared, ...(base === undefined ? {} : { base }) }, preparedFiles };
}

/**
 * Writes what a checking load found into the package root `root` (the build's step): the record and
 * its prepared forms, replacing any written before.
 */
export function writeCheckedKnowledge(root: string, checked: CheckedKnowledge): void {
  removeCheckedKnowledge(root);
  const folder = join(root, ...PREPARED_FORMS_PATH);
  mkdirSync(folder, { recursive: true });
  for (const [name, bytes] of checked.preparedFiles) writeFileSync(join(folder, name), bytes);
  writeFileSync(join(root, ...CHECKED_FILES_PATH), `${JSON.stringify(checked.record)}\n`);
}

/** Removes the record and its prepared forms from the package root `root` (a build whose knowledge does not load). */
export function removeCheckedKnowledge(root: string): void {
  rmSync(join(root, ...CHECKED_FILES_PATH), { force: true });
  rmSync(join(root, ...PREPARED_FORMS_PATH), { recursive: true, force: true });
}
