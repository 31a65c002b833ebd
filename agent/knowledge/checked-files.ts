/**
 * Knowledge files the build has already checked (issue 10, start-up memory). Parsing the YAML files
 * and compiling their JSON Schemas with Ajv is most of what loading the knowledge base costs: about
 * 40 MB of resident memory before the first packet, nearly all of it garbage (the live tables are
 * about 10 MB). `npm run build` (scripts/check-knowledge.mjs) therefore loads the package's own
 * fingerprints/ the full way once and writes, for every file that passed its schema check, the
 * SHA-256 of the file and of its schema together with the value the check passed. At run time a file
 * whose bytes and schema give a recorded digest is taken as that value, with no YAML parser and no
 * schema compiled; any other file (edited data, a `--fingerprints` folder of one's own, a changed
 * schema) is parsed and checked in full, as before. The meaning checks (rules, vendors, the OUI
 * registry, the structural self-test) run on every load either way.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { repoPath } from '../paths.js';

/** Where the build writes the record, inside dist/ (it ships with the program it was built with). */
export const CHECKED_FILES_PATH = ['dist', 'knowledge-checked.json'] as const;
const CHECKED_FILES_FORMAT = 'cctv-agent/knowledge-checked/v1';

export interface CheckedFilesRecord {
  format: typeof CHECKED_FILES_FORMAT;
  /**
   * Digest of file and schema → the JSON text of the value a YAML file's check passed, or null for
   * a JSON file (its own text is that value). Kept as text, each load parses a fresh copy.
   */
  files: Record<string, string | null>;
}

/** SHA-256 over the data file's bytes and its schema's, each length-prefixed so no two pairs collide. */
export function checkedDigest(data: Buffer, schemaText: string): string {
  const hash = createHash('sha256');
  const schema = Buffer.from(schemaText, 'utf8');
  hash.update(`${data.length}:`).update(data).update(`${schema.length}:`).update(schema);
  return hash.digest('hex');
}

let record: ReadonlyMap<string, string | null> | undefined;

/** The build's record, read once; empty when there is none (run from source before a build) or it is unreadable. */
function checkedFiles(): ReadonlyMap<string, string | null> {
  if (record) return record;
  try {
    const parsed = JSON.parse(readFileSync(repoPath(...CHECKED_FILES_PATH), 'utf8')) as Partial<CheckedFilesRecord>;
    record = parsed.format === CHECKED_FILES_FORMAT && parsed.files ? new Map(Object.entries(parsed.files)) : new Map();
  } catch {
    record = new Map();
  }
  return record;
}

/**
 * The value the build's check passed for the file with this digest, parsed from `text` (the file's
 * own, for a JSON file) or from the record (a YAML file); undefined when the file must be checked.
 */
export function alreadyChecked(digest: string, text: string): { value: unknown } | undefined {
  const entry = checkedFiles().get(digest);
  if (entry === undefined) return undefined;
  return { value: JSON.parse(entry ?? text) as unknown };
}

/** Records files as they pass their schema check (only while `checkingWith` runs; the agent never records). */
export interface CheckedFileRecorder {
  add(digest: string, isJson: boolean, value: unknown): void;
}

let recorder: CheckedFileRecorder | undefined;

/** The recorder the loader reports files it checked in full to, while `checkingWith` runs. */
export function activeRecorder(): CheckedFileRecorder | undefined {
  return recorder;
}

/**
 * Runs `load` taking only the files `trusted` records as checked (null: none, every file checked in
 * full, as the build does) and returns the record of every file it checked in full. A YAML value JSON
 * cannot carry unchanged is left out (that file is then checked at run time). `load` must read the
 * files: loadKnowledge keeps what it loaded per folder, so give it one not loaded before.
 */
export function checkingWith(trusted: CheckedFilesRecord | null, load: () => void): CheckedFilesRecord {
  const files: Record<string, string | null> = {};
  const previous = record;
  record = new Map(Object.entries(trusted?.files ?? {}));
  recorder = {
    add(digest, isJson, value) {
      if (isJson) files[digest] = null;
      else {
        const json = JSON.stringify(value);
        if (isDeepStrictEqual(JSON.parse(json) as unknown, value)) files[digest] = json;
      }
    },
  };
  try {
    load();
  } finally {
    recorder = undefined;
    record = previous;
  }
  return { format: CHECKED_FILES_FORMAT, files };
}
