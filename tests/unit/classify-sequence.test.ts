/**
 * The matcher and the classifier keep their per-device lists from one device to the next
 * (agent/fingerprint/match.ts Gathered, agent/pipeline/classify.ts Terms and Scores): a device's
 * result must not depend on the devices classified before it.
 */
import { describe, expect, it } from 'vitest';
import { buildDevice } from '../../agent/pipeline/assess.js';
import { identityFieldsOf, mergeObservations } from '../../agent/pipeline/merge.js';
import { loadKnowledge } from '../../agent/knowledge/index.js';
import type { Observation } from '../../agent/types.js';

const db = loadKnowledge();
const fields = identityFieldsOf(db.fields);
const at = '2026-12-06T07:00:00.000Z';

/** One device per rule file: every example of the file's rules as one list value, with a MAC of its own. */
function devices(): Observation[][] {
  return db.files.map((file, i) => [
    { source: 'neighbour-table', ip: `198.18.0.${i + 1}`, mac: `28:57:be:00:00:${(i + 1).toString(16).padStart(2, '0')}`, at, status: 'ok', fields: { 'neighbour.fresh': 'true' } },
    { source: 'http-pages', ip: `198.18.0.${i + 1}`, at, status: 'ok', fields: { [file.field]: file.rules.flatMap((r) => r.examples.map((e) => e.value)) } },
  ]);
}

const classified = (observations: Observation[]): string => JSON.stringify(mergeObservations(observations, fields).map((host) => buildDevice(db, host)));

describe('classification of one device after another', () => {
  it('gives each device the same result whatever devices were classified before it', () => {
    const all = devices();
    expect(all.length).toBeGreaterThan(10);
    const inOrder = all.map((observations) => classified(observations));
    const reversed = [...all].reverse().map((observations) => classified(observations)).reverse();
    expect(reversed).toEqual(inOrder);
    // The devices differ in what is classified, not only in address and id (the comparison above
    // would hold trivially if every device came out the same).
    const verdicts = all.map((observations) => JSON.stringify(mergeObservations(observations, fields).map((host) => {
      const { identity, classification } = buildDevice(db, host);
      return { identity, classification };
    })));
    // 31 different identities and classifications among the 80-odd devices when this was written.
    expect(new Set(verdicts).size).toBeGreaterThanOrEqual(10);
  });
});
