/**
 * runScanThen (agent/pipeline/scan.ts): the scan command's save gets the inventory as soon as it is
 * built, before the scan's end steps (neighbour entries given back, the `ip` readers ended) are
 * done, and the scan waits for both. A stand-in discoverer sends nothing, and without active probes
 * the scan reads no neighbour table.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Discoverer } from '../../agent/discovery/types.js';
import { loadKnowledge } from '../../agent/knowledge/index.js';
import { runScanThen, type ScanOptions } from '../../agent/pipeline/scan.js';
import { parseTargets } from '../../agent/targets.js';

const END_STEPS_DONE = 'neighbour table reads done';

/** A scan of one stand-in SADP device, logging at debug level into `lines`. */
function scanOptions(lines: string[]): ScanOptions {
  const sadp: Discoverer = {
    name: 'sadp',
    phase: 'listen',
    evidence: null,
    emits: ['sadp.serial'],
    description: 'a stand-in that sends nothing',
    run: async (_ctx, emit) => emit({ source: 'sadp', ip: '198.18.0.9', at: new Date().toISOString(), status: 'ok', fields: { 'sadp.serial': 'DS-2CD2143G2-I20230101AAWRJ00000001' } }),
  };
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter((line) => line !== ''));
      done();
    },
  });
  return {
    site: 'then',
    interfaces: [{ name: 'eth0', address: '198.18.0.1', cidr: '198.18.0.1/24' }],
    targets: parseTargets([]),
    timeoutMs: 50,
    knowledge: loadKnowledge(),
    log: pino({ level: 'debug' }, sink),
    active: false,
    ratePerSecond: 100,
    discoverers: [sadp],
  };
}

const logged = (lines: readonly string[], message: string): boolean => lines.some((line) => (JSON.parse(line) as { msg?: string }).msg === message);

describe('runScanThen', () => {
  it('hands the inventory to the save before the end steps are done, and resolves with what the save gave once both are', async () => {
    const lines: string[] = [];
    let endStepsDoneAtSave: boolean | undefined;
    const result = await runScanThen(scanOptions(lines), async (inventory) => {
      endStepsDoneAtSave = logged(lines, END_STEPS_DONE);
      return inventory.devices.map((d) => d.ip);
    });
    expect(result).toEqual(['198.18.0.9']);
    expect(endStepsDoneAtSave).toBe(false);
    expect(logged(lines, END_STEPS_DONE)).toBe(true);
  });

  it("rejects with the save's failure, after the end steps", async () => {
    const lines: string[] = [];
    await expect(
      runScanThen(scanOptions(lines), async () => {
        throw new Error('the store is full');
      }),
    ).rejects.toThrow('the store is full');
    expect(logged(lines, END_STEPS_DONE)).toBe(true);
  });
});
