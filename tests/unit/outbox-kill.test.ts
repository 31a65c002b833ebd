/**
 * `kill -9` at random points of an HTTP push store's saving and delivery (seeded, bounded): a
 * process saves documents into the durable outbox and delivers them to a loopback collector, and is
 * killed again and again; a last run delivers what is left. Every document whose save returned is
 * accepted by the collector exactly once (a resend after a kill carries the same Idempotency-Key, and
 * the collector answers it 409), in the order saved, and the outbox loads after every kill.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../seeded-random.js';
import { startHttpReceiver } from '../support/http-receiver.js';
import { distModule, runThenKill } from '../support/kill-child.js';
import { hikvisionCamera, inventory } from './store-contract.js';

const KILLS = 8;
const PER_RUN = 4;
const work = await mkdtemp(join(tmpdir(), 'cctv-outbox-kill-'));
const receiver = await startHttpReceiver();
afterAll(async () => {
  await receiver.close();
  await rm(work, { recursive: true, force: true });
});

const distStores = distModule('store/index.js');

/** Saves documents [from, to) of the file through the push store, then delivers until drained. */
const PUSHER = `(async () => {
  const [storesModule, url, stateDir, docsFile, from, to] = process.argv.slice(1);
  const { openStore } = await import(storesModule);
  const { pino } = await import('pino');
  const docs = JSON.parse(require('node:fs').readFileSync(docsFile, 'utf8'));
  const store = await openStore(url, { log: pino({ level: 'silent' }), stateDir });
  process.stdout.write('opened\\n');
  for (let n = Number(from); n < Number(to); n++) {
    await store.save(docs[n], []);
    process.stdout.write('saved ' + n + '\\n');
  }
  const drained = await store.flush(30000);
  process.stdout.write(drained ? 'drained\\n' : 'pending\\n');
  await store.close();
})()`;

function docs(count: number): ReturnType<typeof inventory>[] {
  return Array.from({ length: count }, (_, n) => {
    const minute = String(n % 60).padStart(2, '0');
    return inventory({ id: `20261205T13${minute}00Z-${String(n).padStart(6, '0')}`, startedAt: `2026-12-05T13:${minute}:00.000Z`, finishedAt: `2026-12-05T13:${minute}:30.000Z`, devices: [hikvisionCamera()] });
  });
}

/**
 * Runs the pusher; kills it `killAfterMs` after it printed `killFrom` (it opened the store, or
 * returned from a save), unless null. Resolves to the documents whose save returned, and whether it drained.
 */
async function push(docsFile: string, from: number, to: number, killFrom: string, killAfterMs: number | null): Promise<{ saved: number[]; drained: boolean }> {
  const run = await runThenKill(PUSHER, [distStores, `${receiver.url}/inventory`, join(work, 'state'), docsFile, String(from), String(to)], killFrom, killAfterMs);
  if (run.signal === null) expect(run.code, run.stderr).toBe(0);
  const saved = [...run.stdout.matchAll(/^saved (\d+)$/gm)].map((m) => Number(m[1]));
  return { saved, drained: run.stdout.includes('drained') };
}

describe('kill -9 during push store saves and deliveries', () => {
  it(`after ${KILLS} kills at random points every saved document is accepted exactly once, in order`, async () => {
    const all = docs(KILLS * PER_RUN);
    const docsFile = join(work, 'docs.json');
    await writeFile(docsFile, JSON.stringify(all));
    const random = seededRandom(0x0b0c);
    const saved: number[] = [];
    for (let run = 0; run < KILLS; run++) {
      // Half the kills are timed from the opening, half from the run's first returned save: on a
      // loaded machine a kill timed from the opening alone can land before any save returns, every time.
      const first = run * PER_RUN;
      const result = await push(docsFile, first, first + PER_RUN, run % 2 === 0 ? 'opened' : `saved ${first}\n`, Math.floor(random() * 120));
      saved.push(...result.saved);
    }
    const last = await push(docsFile, 0, 0, 'opened', null);
    expect(last.drained).toBe(true);

    const accepted = receiver.received.map((r) => r.body.inventory.scan.id);
    expect(new Set(accepted).size).toBe(accepted.length);
    const savedIds = saved.map((n) => all[n]!.scan.id);
    // Every save that returned arrived; a save the kill cut short may have arrived too (its entry was
    // on disk), never out of order.
    for (const id of savedIds) expect(accepted).toContain(id);
    expect(accepted).toEqual([...accepted].sort());
    expect(saved.length).toBeGreaterThanOrEqual(KILLS / 2);
  }, 120_000);
});
