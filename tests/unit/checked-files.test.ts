/**
 * Knowledge files the build checked (agent/knowledge/checked-files.ts, scripts/check-knowledge.mjs):
 * a file whose bytes and schema the build recorded is taken as it is, any other file is parsed and
 * checked in full, and the knowledge base that results is the same either way.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkingWith, type CheckedFilesRecord } from '../../agent/knowledge/checked-files.js';
import { loadKnowledge, type Knowledge } from '../../agent/knowledge/index.js';
import { knowledgeCopies } from '../support/knowledge-copy.js';

/** The knowledge files of `dir`: its YAML files, those of rules/ and kinds/, and oui.json. */
function knowledgeFiles(dir: string): string[] {
  const yaml = (sub: string): string[] => readdirSync(join(dir, sub)).filter((n) => n.endsWith('.yaml')).map((n) => join(sub, n));
  return [...yaml('.'), ...yaml('rules'), ...yaml('kinds'), 'oui.json'];
}

describe('knowledge files the build checked', () => {
  const copies = knowledgeCopies();
  afterAll(() => copies.removeAll());
  let original: string;
  let full: Knowledge | undefined;
  let record: CheckedFilesRecord;
  beforeAll(() => {
    original = copies.edited({});
    // What the build does: everything checked in full, and recorded.
    record = checkingWith(null, () => {
      full = loadKnowledge(original);
    });
    // A full load, as every test that loads a copy makes: the unit project's test timeout, not the hook's 10 s.
  }, 20_000);

  it('records every file a full load checks, takes recorded ones as they are, checks an edited one in full, and loads the same knowledge', () => {
    const files = knowledgeFiles(original);
    expect(Object.keys(record.files)).toHaveLength(files.length);
    // oui.json is recorded without its value (its own text is JSON); every YAML file with its value.
    expect(Object.values(record.files).filter((value) => value === null)).toHaveLength(1);

    // A comment changes the bytes of one file, not its meaning.
    const edited = copies.edited({ 'rules/http_title.yaml': (text) => `${text}# edited\n` });
    let fromRecord: Knowledge | undefined;
    const checkedAgain = checkingWith(record, () => {
      fromRecord = loadKnowledge(edited);
    });
    expect(Object.keys(checkedAgain.files)).toHaveLength(1);
    expect(isDeepStrictEqual({ ...fromRecord, dir: '' }, { ...full, dir: '' })).toBe(true);
  });

  it('still refuses an edited file that breaks its schema, naming the line, when the original is recorded', () => {
    const broken = copies.edited({ 'ports.yaml': (text) => text.replace(/port: \d+/, 'port: 70000') });
    let error: unknown;
    checkingWith(record, () => {
      try {
        loadKnowledge(broken);
      } catch (caught) {
        error = caught;
      }
    });
    expect(String(error)).toMatch(/ports\.yaml.*line \d+: ports\[\d+\]\.port: must be <= 65535/);
  });
});
