/**
 * The fingerprint matcher runs every rule of fingerprints/ over values a device chose. Each rule's
 * pattern must stay fast on the longest value it is ever given (MAX_MATCH_VALUE_LENGTH), including
 * values built to make a backtracking engine work hard (V8's Irregexp backtracks: a nested
 * quantifier such as `(a+)+$` takes exponential time on `aaaa…!`); longer values (100 KB) are never
 * matched at all.
 */
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_MATCH_VALUE_LENGTH, fingerprintDevice, matchValue } from '../../agent/fingerprint/match.js';
import type { Rule } from '../../agent/fingerprint/types.js';
import { loadKnowledge } from '../../agent/knowledge/index.js';
import type { Observation } from '../../agent/types.js';
import { fuzz, withinHangBound } from './fuzz-support.js';

const knowledge = loadKnowledge();
const rules: Rule[] = [...knowledge.rulesByField.values()].flat();

/**
 * Slowest single match allowed at MAX_MATCH_VALUE_LENGTH characters. A linear pattern takes
 * microseconds there; a catastrophically backtracking one takes seconds or never ends.
 */
const RULE_BOUND_MS = 250;

function fill(piece: string, length = MAX_MATCH_VALUE_LENGTH): string {
  if (piece.length === 0) return '';
  return piece.repeat(Math.ceil(length / piece.length)).slice(0, length);
}

/** Values shaped to make a backtracking matcher of this rule work hardest, all at the length cap. */
function backtrackingBait(rule: Rule): string[] {
  const bait = new Set<string>();
  const endings = ['!', '\u0000', ' ', '-', '_', '/'];
  for (const { value } of rule.examples) {
    const chars = new Set(value);
    for (const c of chars) for (const end of endings) bait.add(fill(c, MAX_MATCH_VALUE_LENGTH - 1) + end);
    for (const end of endings) {
      bait.add(fill(value, MAX_MATCH_VALUE_LENGTH - 1) + end);
      bait.add(fill(value.slice(0, -1), MAX_MATCH_VALUE_LENGTH - 1) + end);
      bait.add(value.slice(0, Math.ceil(value.length / 2)) + fill(' ', MAX_MATCH_VALUE_LENGTH - value.length) + end);
    }
  }
  for (const c of 'a0A- ._/:') for (const end of endings) bait.add(fill(c, MAX_MATCH_VALUE_LENGTH - 1) + end);
  return [...bait].map((b) => b.slice(0, MAX_MATCH_VALUE_LENGTH));
}

function slowestMatchMs(rule: Rule, values: readonly string[]): { ms: number; value: string } {
  let slowest = { ms: 0, value: '' };
  for (const value of values) {
    const started = performance.now();
    rule.pattern.exec(value);
    const ms = performance.now() - started;
    if (ms > slowest.ms) slowest = { ms, value };
  }
  return slowest;
}

describe('fingerprint rules on hostile values', () => {
  it(`every rule stays under ${RULE_BOUND_MS} ms on backtracking bait at the ${MAX_MATCH_VALUE_LENGTH}-character cap`, () => {
    expect(rules.length).toBeGreaterThan(50);
    const slow = rules
      .map((rule) => ({ rule: rule.id, pattern: rule.pattern.source, ...slowestMatchMs(rule, backtrackingBait(rule)) }))
      .filter((r) => r.ms >= RULE_BOUND_MS)
      .map((r) => `${r.rule} /${r.pattern}/ took ${r.ms.toFixed(0)} ms on ${JSON.stringify(r.value.slice(0, 40))}…`);
    expect(slow).toEqual([]);
  });

  it('random values assembled from a rule\'s own examples match within the bound', () => {
    const ruleWithValue = fc.constantFrom(...rules).chain((rule) => {
      const pieces = rule.examples.flatMap(({ value }) => [value, ...value.split(/(?=[\s_-])/)]).filter((p) => p.length > 0);
      const value = fc
        .array(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...pieces) }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) }), { maxLength: 400 })
        .map((parts) => parts.join('').slice(0, MAX_MATCH_VALUE_LENGTH));
      return fc.tuple(fc.constant(rule), value);
    });
    fuzz(ruleWithValue, 300, ([rule, value]) => {
      const matches = matchValue(knowledge, rule.field, value);
      for (const m of matches) expect(m.rule.field).toBe(rule.field);
    });
  });

  it('a device whose every field carries 100 KB is fingerprinted quickly, and no such value is matched or kept', () => {
    const huge = fill('DS-2CD2385G1-I HIKVISION ', 100 * 1024);
    const fields = Object.fromEntries([...knowledge.fields.keys()].map((name) => [name, huge]));
    const observation: Observation = { source: 'onvif-device-service', ip: '198.18.0.10', at: '2026-12-05T00:00:00.000Z', status: 'ok', fields };
    const print = withinHangBound(() => fingerprintDevice(knowledge, { observations: [observation], mac: null }));
    expect(print.evidence.filter((e) => e.source !== 'oui')).toEqual([]);
    expect(Object.values(print.identity).filter((v) => v !== null)).toEqual([]);
  });
});
