/**
 * Knowledge files the build checked (agent/knowledge/checked-files.ts, scripts/check-knowledge.mjs):
 * a file whose bytes and schema the build recorded is taken as it is, any other file is parsed and
 * checked in full, and the knowledge base that results is the same either way. The same holds for
 * the tables the build prepared (the OUI registry) and for the structural self-test of a base the
 * build checked as a whole.
 */
import { copyFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkingWith, type CheckedKnowledge } from '../../agent/knowledge/checked-files.js';
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
  let record: CheckedKnowledge;
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
    expect(Object.keys(record.record.files)).toHaveLength(files.length);
    // oui.json is recorded without its value (its own text is JSON); every YAML file with its value.
    expect(Object.values(record.record.files).filter((value) => value === null)).toHaveLength(1);

    // A comment changes the bytes of one file, not its meaning.
    const edited = copies.edited({ 'rules/http_title.yaml': (text) => `${text}# edited\n` });
    let fromRecord: Knowledge | undefined;
    const checkedAgain = checkingWith(record, () => {
      fromRecord = loadKnowledge(edited);
    });
    expect(Object.keys(checkedAgain.record.files)).toHaveLength(1);
    expect(isDeepStrictEqual({ ...fromRecord, dir: '' }, { ...full, dir: '' })).toBe(true);
  });

  it('keeps the OUI table prepared and reads it back for the same oui.json, building it afresh when the kept bytes are damaged', () => {
    // One prepared table: the OUI registry, named after its form and the digest of oui.json.
    const names = [...record.preparedFiles.keys()];
    expect(names).toEqual([expect.stringMatching(/^oui-table-v1-[0-9a-f]{64}\.bin$/)]);
    expect(Object.values(record.record.prepared ?? {})).toEqual(names);

    // The same folder under another name, so that loadKnowledge reads it again: the table is read back, not built.
    const same = copies.edited({ 'rules/http_title.yaml': (text) => `${text}# copy\n` });
    let fromImage: Knowledge | undefined;
    const readBack = checkingWith(record, () => {
      fromImage = loadKnowledge(same);
    });
    expect(readBack.record.prepared).toEqual({});
    expect(isDeepStrictEqual(fromImage?.oui, full?.oui)).toBe(true);
    expect(fromImage?.oui.entries.get('2857BE')).toEqual(full?.oui.entries.get('2857BE'));

    // Damaged bytes (a row count past the end) are not used: the table is built from oui.json again, the same.
    const damagedBytes = new Map([...record.preparedFiles].map(([name, bytes]) => [name, Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0x7f]), bytes.subarray(4)])]));
    const again = copies.edited({ 'rules/http_title.yaml': (text) => `${text}# again\n` });
    let rebuilt: Knowledge | undefined;
    const builtAgain = checkingWith({ ...record, preparedFiles: damagedBytes }, () => {
      rebuilt = loadKnowledge(again);
    });
    expect(Object.keys(builtAgain.record.prepared ?? {})).toHaveLength(1);
    expect(isDeepStrictEqual(rebuilt?.oui, full?.oui)).toBe(true);
  });

  it('skips the structural self-test for the very base the build checked, and runs it when a file is added', () => {
    expect(record.record.base).toMatch(/^[0-9a-f]{64}$/);
    // The same files with the same bytes: the self-test is not run again, so no base is recorded anew.
    const same = copies.edited({});
    const unchanged = checkingWith(record, () => loadKnowledge(same));
    expect(unchanged.record.base).toBeUndefined();
    expect(Object.keys(unchanged.record.files)).toHaveLength(0);

    // A copy of a rule file under a second name: each file is one the build recorded, but together
    // they repeat every rule id, which only the self-test across files sees.
    const added = copies.edited({});
    copyFileSync(join(added, 'rules', 'http_title.yaml'), join(added, 'rules', 'http_title_copy.yaml'));
    let error: unknown;
    checkingWith(record, () => {
      error = copies.loadError(added);
    });
    expect(String(error)).toMatch(/http_title_copy\.yaml.*id is already used in rules\/http_title\.yaml/);
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
