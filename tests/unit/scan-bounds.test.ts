/**
 * The scan pipeline's bounds, with stand-in discoverers that send nothing (no socket is opened):
 * named targets that are no single device never reach an active phase and are listed in the
 * document; a sender that is no single device is dropped; the listen phase keeps at most its
 * per-source cap; every cut is counted in scan.dropped.
 */
import { describe, expect, it } from 'vitest';
import { MAX_OBSERVATIONS_PER_SOURCE } from '../../agent/discovery/bounds.js';
import type { Discoverer, DiscoveryPhase, ScanContext } from '../../agent/discovery/types.js';
import { loadKnowledge } from '../../agent/knowledge/index.js';
import { createLogger } from '../../agent/log.js';
import { runScan } from '../../agent/pipeline/scan.js';
import { parseTargets } from '../../agent/targets.js';
import type { Observation } from '../../agent/types.js';
import { inventoryProblems } from '../support/inventory-schema.js';

const LAB_INTERFACE = { name: 'eth0', address: '198.18.0.1', cidr: '198.18.0.1/24' };

function standIn(name: 'sadp' | 'tcp-connect' | 'http-pages', phase: DiscoveryPhase, run: (ctx: ScanContext, emit: (o: Observation) => void) => void): Discoverer {
  return { name, phase, evidence: null, emits: ['sadp.serial'], description: 'a stand-in that sends nothing', run: async (ctx, emit) => run(ctx, emit) };
}

describe('runScan bounds', () => {
  it('probes no broadcast, multicast, unspecified or subnet-broadcast target or sender, caps a flooding sender, and says so in the document', async () => {
    const swept: string[][] = [];
    const probed: string[][] = [];
    const heard = (ip: string, serial: string): Observation => ({ source: 'sadp', ip, at: new Date().toISOString(), status: 'ok', fields: { 'sadp.serial': serial } });
    const inventory = await runScan({
      site: 'bounds',
      interfaces: [LAB_INTERFACE],
      targets: parseTargets(['255.255.255.255', '224.0.0.1', '239.255.255.250', '0.0.0.0', '198.18.0.5', '198.18.0.255']),
      timeoutMs: 100,
      knowledge: loadKnowledge(),
      log: createLogger('silent'),
      active: true,
      ratePerSecond: 100,
      discoverers: [
        standIn('sadp', 'listen', (_ctx, emit) => {
          for (let n = 0; n < MAX_OBSERVATIONS_PER_SOURCE + 6; n++) emit(heard('198.18.0.9', `FLOOD${n}`));
          emit(heard('0.0.0.0', 'FORGED1'));
          emit(heard('198.18.0.255', 'FORGED2'));
        }),
        standIn('tcp-connect', 'connect', (ctx) => void swept.push([...ctx.targets.addresses()])),
        standIn('http-pages', 'probe', (ctx) => void probed.push([...ctx.targets.addresses(), ...new Set(ctx.seen.map((o) => o.ip))])),
      ],
    });
    expect(swept).toEqual([['198.18.0.5'], []]);
    expect(probed).toEqual([['198.18.0.5', '198.18.0.9']]);
    expect(inventory.scan.targets).toEqual(['255.255.255.255', '224.0.0.1', '239.255.255.250', '0.0.0.0', '198.18.0.5', '198.18.0.255']);
    expect(inventory.scan.skippedTargets).toEqual([
      { addresses: '0.0.0.0', reason: 'unspecified' },
      { addresses: '198.18.0.255', reason: 'subnet-broadcast' },
      { addresses: '224.0.0.1', reason: 'multicast' },
      { addresses: '239.255.255.250', reason: 'multicast' },
      { addresses: '255.255.255.255', reason: 'broadcast' },
    ]);
    expect(inventory.scan.dropped).toEqual({ 'sadp.per-source': 6, 'sadp.unprobeable-source': 2 });
    expect(inventory.devices.map((d) => d.ip)).toEqual(['198.18.0.9']);
    expect(inventoryProblems(inventory)).toEqual([]);
  });
});
