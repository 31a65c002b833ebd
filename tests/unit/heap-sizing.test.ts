/** Garbage-collector sizing for the sweeping commands (agent/heap-sizing.ts). */
import { describe, expect, it } from 'vitest';
import { applyHeapFlags, OLD_GENERATION_GROWTH_PERCENT, scanHeapFlags } from '../../agent/heap-sizing.js';

describe('heap sizing for sweeps', () => {
  it('sets how far the old generation grows past the live heap and keeps the young generation small, with no heap ceiling', () => {
    expect(scanHeapFlags()).toEqual([`--heap-growing-percent=${OLD_GENERATION_GROWTH_PERCENT}`, '--semi-space-growth-factor=1']);
    expect(scanHeapFlags().some((flag) => /max-old-space|max-heap-size|max-semi-space/.test(flag))).toBe(false);
  });

  it("leaves a flag the operator gave Node as the operator set it (either spelling)", () => {
    // Both given: nothing is set in this process.
    expect(applyHeapFlags(scanHeapFlags(), ['--heap_growing_percent=20', '--semi-space-growth-factor=2', 'dist/agent/cli.js'])).toEqual([]);
  });
});
