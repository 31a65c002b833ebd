/**
 * agent/fingerprint/small-sort.ts: insertion sort for short lists gives the order
 * Array.prototype.sort gives (both stable), below and above the length it hands over at.
 */
import { describe, expect, it } from 'vitest';
import { compareCodeUnits, sortSmall } from '../../agent/fingerprint/small-sort.js';

/** A fixed pseudo-random sequence in [0, 1) (a linear congruential generator). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

describe('sortSmall', () => {
  it('orders lists of 0 to 40 items as Array.prototype.sort does, equal keys kept in their order', () => {
    const next = lcg(10);
    for (let length = 0; length <= 40; length++) {
      for (let round = 0; round < 20; round++) {
        // Few distinct keys, so that many items compare equal and stability shows.
        const items = Array.from({ length }, (_, i) => ({ key: Math.floor(next() * 4), at: i }));
        const byKey = (a: { key: number }, b: { key: number }): number => a.key - b.key;
        expect(sortSmall([...items], byKey)).toEqual([...items].sort(byKey));
      }
    }
  });

  it('compareCodeUnits gives the order of Array.prototype.sort without a comparison function', () => {
    const words = ['dahua', 'Dahua', 'hikvision', 'ezviz', '', 'é', 'z', 'DS-2', 'ds-2', 'a b', 'a'];
    expect(sortSmall([...words], compareCodeUnits)).toEqual([...words].sort());
  });
});
