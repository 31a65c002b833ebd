/**
 * `kill -9` at random points of file store saves (seeded, bounded): after every kill the store
 * opens, its documents and change log load, the interrupted save's temporary files are gone, and
 * the site's inventory is one of the documents that were saved whole.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { openFileStore } from '../../agent/store/file.js';
import { seededRandom } from '../seeded-random.js';
import { distModule, runThenKill } from '../support/kill-child.js';
import { dahuaCamera, hikvisionCamera, inventory } from './store-contract.js';

const KILLS = 12;
const silent = pino({ level: 'silent' });
const work = await mkdtemp(join(tmpdir(), 'cctv-store-kill-'));
afterAll(() => rm(work, { recursive: true, force: true }));

const distStore = distModule('store/file.js');
const distChanges = distModule('pipeline/changes.js');

/** A child process that saves scans of one site without pause until it is killed. */
const SAVER = `
  const [storeModule, changesModule, dir, docsFile] = process.argv.slice(1);
  const { openFileStore } = await import(storeModule);
  const { recordScan } = await import(changesModule);
  const { pino } = await import('pino');
  const docs = JSON.parse(require('node:fs').readFileSync(docsFile, 'utf8'));
  const store = await openFileStore(dir, pino({ level: 'silent' }), { lockPollMs: 5 });
  process.stdout.write('ready\\n');
  for (let n = 0; ; n++) {
    const doc = structuredClone(docs[n % docs.length]);
    doc.scan.id = doc.scan.id.replace(/\\d{6}$/, String(n).padStart(6, '0'));
    await recordScan(store, doc);
  }
`;

function docs(): ReturnType<typeof inventory>[] {
  const big = Array.from({ length: 150 }, (_, i) => ({ ...hikvisionCamera(), id: `hik-${i}`, ip: `198.18.1.${i + 1}` }));
  return [
    inventory({ id: '20261205T100000Z-000000', startedAt: '2026-12-05T10:00:00.000Z', finishedAt: '2026-12-05T10:00:30.000Z', devices: big }),
    inventory({ id: '20261205T110000Z-000000', startedAt: '2026-12-05T11:00:00.000Z', finishedAt: '2026-12-05T11:00:30.000Z', devices: [dahuaCamera()] }),
  ];
}

async function runAndKill(dir: string, docsFile: string, afterMs: number): Promise<void> {
  const run = await runThenKill(`(async () => {${SAVER}})()`, [distStore, distChanges, dir, docsFile], 'ready', afterMs);
  expect(run.signal, `the saver exited before it was killed: ${run.stderr}`).toBe('SIGKILL');
}

describe('kill -9 during file store saves', () => {
  it(`after each of ${KILLS} kills at random points the store loads whole and no temporary file is left`, async () => {
    const dir = join(work, 'store');
    const docsFile = join(work, 'docs.json');
    const saved = docs();
    await writeFile(docsFile, JSON.stringify(saved));
    const random = seededRandom(0x9e37);
    const site = saved[0]!.scan.site;
    for (let kill = 0; kill < KILLS; kill++) {
      // The first run is given time to save whole at least once; then kills land anywhere.
      await runAndKill(dir, docsFile, kill === 0 ? 500 : 5 + Math.floor(random() * 60));
      const store = await openFileStore(dir, silent);
      const latest = await store.latest(site);
      expect(latest, `after kill ${kill + 1}`).not.toBeNull();
      expect([150, 1]).toContain(latest?.devices.length);
      const scans = await store.listScans(site);
      for (const scan of scans) expect((await store.loadScan(site, scan.id))?.scan.id).toBe(scan.id);
      await store.readChanges(site);
      await store.close();
      for (const folder of [dir, join(dir, 'sites', site), join(dir, 'scans', site)]) {
        expect((await readdir(folder)).filter((name) => name.endsWith('.tmp') || name.startsWith('.lock'))).toEqual([]);
      }
    }
  }, 120_000);
});
