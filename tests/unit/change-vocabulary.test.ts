/**
 * One change engine: `cctv-agent scan` (recordScan) and the daemon (computeSiteChanges over its
 * presence state) write the same events, in the same vocabulary, to `changes.ndjson` when the
 * daemon's debounce is the CLI's (removeAfterMissedSweeps: 1). The daemon runs in-process with an
 * injected sweep (nothing is sent on any network), restarted between sweeps as in daemon.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { CHANGE_TYPES, recordScan } from '../../agent/pipeline/changes.js';
import { loadDaemonConfig } from '../../agent/daemon/config.js';
import { Daemon } from '../../agent/daemon/daemon.js';
import { createLogger } from '../../agent/log.js';
import { openFileStore } from '../../agent/store/file.js';
import type { Inventory } from '../../agent/types.js';
import { firstScan, hikvisionCamera, inventory, secondScan } from './store-contract.js';
import { loadKnowledge } from '../../agent/knowledge/index.js';

const INTERFACES = [{ name: 'eth0', address: '198.18.0.1', cidr: '198.18.0.1/24' }];
const log = createLogger('silent');
const dir = mkdtempSync(join(tmpdir(), 'cctv-vocabulary-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Three scans of site `north` that between them raise every kind of event. */
function scans(): Inventory[] {
  const third = secondScan('north');
  third.scan.id = '20260316T081500Z-3c3c3c';
  third.scan.startedAt = '2026-03-16T08:15:00.000Z';
  third.scan.finishedAt = '2026-03-16T08:15:31.000Z';
  const hik = third.devices.find((d) => d.id === hikvisionCamera().id)!;
  hik.identity.brand = 'LTS';
  hik.classification = { linkedVendor: 'hikvision', relation: 'oem', confidence: 0.9 };
  hik.services.push({ port: 443, protocol: 'https', banner: null });
  return [firstScan('north'), secondScan('north'), inventory({ ...third.scan, devices: third.devices })];
}

/** Runs the daemon once with a sweep that returns `scan`, and waits for the sweep to be filed. */
async function daemonSweep(configFile: string, stateDir: string, scan: Inventory): Promise<void> {
  const config = loadDaemonConfig(configFile, { availableInterfaces: INTERFACES });
  const daemon = await Daemon.start({ config, stateDir, log, sweep: async () => structuredClone(scan), linkedVendors: loadKnowledge().linkedVendors, availableInterfaces: () => INTERFACES });
  try {
    const end = Date.now() + 5_000;
    while ((daemon.healthz() as { sites: Array<{ lastSweep: unknown }> }).sites[0]?.lastSweep == null) {
      if (Date.now() > end) throw new Error('the sweep was not filed in time');
      await sleep(10);
    }
  } finally {
    await daemon.stop();
  }
}

describe('one change vocabulary', () => {
  it('the CLI and the daemon (removeAfterMissedSweeps: 1) log the same events for the same scans', async () => {
    const configFile = join(dir, 'daemon.yaml');
    writeFileSync(configFile, 'health: false\nremoveAfterMissedSweeps: 1\nsites:\n  - name: north\n    interfaces: [eth0]\n    schedule: "0 0 1 1 *"\n    runAtStart: true\n');
    const stateDir = join(dir, 'state');
    for (const scan of scans()) await daemonSweep(configFile, stateDir, scan);

    const cli = await openFileStore(join(dir, 'cli-store'), log);
    for (const scan of scans()) await recordScan(cli, scan);

    const daemonLog = await (await openFileStore(join(stateDir, 'inventory'), log)).readChanges('north');
    const cliLog = await cli.readChanges('north');
    expect(daemonLog).toEqual(cliLog);
    // Every kind of the vocabulary appears, and nothing outside it.
    expect(new Set(cliLog.map((e) => e.type))).toEqual(new Set(CHANGE_TYPES));
  });
});
