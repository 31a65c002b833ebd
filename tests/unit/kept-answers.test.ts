import { describe, expect, it } from 'vitest';
import { KeptAnswers, KeptAnswersPerTable } from '../../agent/kept-answers.js';

describe('KeptAnswers', () => {
  it('works an answer out once per key, null answers included, and starts again when full', () => {
    const asked: string[] = [];
    const answer = (key: string, suffix: string): string | null => {
      asked.push(key);
      return key === 'none' ? null : `${key}${suffix}`;
    };
    const kept = new KeptAnswers<string | null>(3);
    expect([kept.of('a', answer, '!'), kept.of('a', answer, '?'), kept.of('none', answer, '!'), kept.of('none', answer, '!')]).toEqual(['a!', 'a!', null, null]);
    expect(asked).toEqual(['a', 'none']);
    kept.of('b', answer, '!');
    // Full (3 kept): the fourth key empties it, so 'a' is worked out again.
    kept.of('c', answer, '!');
    expect(kept.of('a', answer, '#')).toBe('a#');
    expect(asked).toEqual(['a', 'none', 'b', 'c', 'a']);
  });

  it('keeps each table its own answers, passing the table to the answer', () => {
    const tables = [{ name: 'one' }, { name: 'two' }];
    const perTable = new KeptAnswersPerTable<{ name: string }, string>(10);
    const answer = (key: string, table: { name: string }): string => `${table.name}:${key}`;
    expect(tables.map((t) => perTable.of(t, 'k', answer))).toEqual(['one:k', 'two:k']);
    expect(perTable.of(tables[0] as { name: string }, 'k', () => 'never asked')).toBe('one:k');
  });
});
