/** Garbage-collector sizing for the sweeping commands (agent/heap-sizing.ts). */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { OLD_GENERATION_GROWTH_PERCENT, sizeHeapForSweeping, YOUNG_SEMI_SPACE_MB } from '../../agent/heap-sizing.js';
import { distModule } from '../support/kill-child.js';

/**
 * Runs sizeHeapForSweeping in a fresh Node process (its own heap, as a scan has), then allocates
 * objects that survive their first scavenges, as a sweep's exchanges in flight do; prints what was
 * set and every young-generation size seen.
 */
function youngGenerationUnderLoad(given: readonly string[]): { applied: string[]; semiSpaces: number[] } {
  const script = `
    const v8 = require('node:v8');
    import(process.argv[1]).then(async ({ sizeHeapForSweeping, semiSpaceMb }) => {
      const applied = sizeHeapForSweeping(JSON.parse(process.argv[2]));
      const semiSpaces = [semiSpaceMb()];
      const kept = [];
      for (let round = 0; round < 1500; round++) {
        for (let i = 0; i < 2000; i++) kept.push({ round, list: [i] });
        if (kept.length > 200000) kept.splice(0, 100000);
        await new Promise((resolve) => setImmediate(resolve));
        if (semiSpaces.at(-1) !== semiSpaceMb()) semiSpaces.push(semiSpaceMb());
      }
      process.stdout.write(JSON.stringify({ applied, semiSpaces }));
    });`;
  const run = spawnSync(process.execPath, ['--input-type=commonjs', '-e', script, distModule('heap-sizing.js'), JSON.stringify(given)], { encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as { applied: string[]; semiSpaces: number[] };
}

describe('heap sizing for sweeps', () => {
  it('grows the young generation to its semi-space size and holds it there under a load that would grow it further', () => {
    const { applied, semiSpaces } = youngGenerationUnderLoad([]);
    expect(applied).toEqual([`--heap-growing-percent=${OLD_GENERATION_GROWTH_PERCENT}`, `young generation grown to ${YOUNG_SEMI_SPACE_MB} MB semi-spaces, then held`]);
    expect(semiSpaces.at(-1)).toBe(YOUNG_SEMI_SPACE_MB);
    expect(Math.max(...semiSpaces)).toBe(YOUNG_SEMI_SPACE_MB);
  }, 30_000);

  it('leaves the young generation to V8 when the operator sized it (it then grows past the held size)', () => {
    const { applied, semiSpaces } = youngGenerationUnderLoad(['--semi_space_growth_factor=2', 'dist/agent/cli.js']);
    expect(applied).toEqual([`--heap-growing-percent=${OLD_GENERATION_GROWTH_PERCENT}`]);
    expect(Math.max(...semiSpaces)).toBeGreaterThan(YOUNG_SEMI_SPACE_MB);
  }, 30_000);

  it("leaves the old generation's growth as the operator set it (either spelling)", () => {
    expect(sizeHeapForSweeping(['--heap_growing_percent=20', '--min-semi-space-size=1'])).toEqual([]);
  });
});
