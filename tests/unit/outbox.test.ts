/**
 * The durable outbox on its own (agent/store/outbox.ts): what it keeps on disk, ordering, backoff,
 * dead letters, locking and closing. The destination here is an in-memory `deliver` function that
 * records what it gets and answers as scripted; the HTTP and CouchDB tests drive the same outbox
 * over real sockets.
 */
import { recordScan } from '../../agent/pipeline/changes.js';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../agent/log.js';
import { openOutboxStore, type DeliveryOutcome, type OutboxEntry, type OutboxStoreOptions } from '../../agent/store/outbox.js';
import type { InventoryStore, ScanReader } from '../../agent/store/types.js';
import { firstScan, hikvisionCamera, inventory, SITE } from './store-contract.js';

const silent: Logger = pino({ level: 'silent' });
/** The outbox only delivers; reading the destination back is the push store's (none here). */
const reader: ScanReader = { listScans: async () => [], loadScan: async () => null, loadInventory: async () => null };

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function stateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cctv-outbox-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'state');
}

/** An in-memory destination: records each attempt; `answer` decides the outcome (delivered by default). */
function destination(answer: (entry: OutboxEntry, attempt: number) => DeliveryOutcome | Promise<DeliveryOutcome> = () => ({ result: 'delivered' })) {
  const attempts: Array<{ scanId: string; at: number }> = [];
  const delivered: string[] = [];
  let n = 0;
  return {
    attempts,
    delivered,
    deliver: async (entry: OutboxEntry): Promise<DeliveryOutcome> => {
      attempts.push({ scanId: entry.inventory.scan.id, at: Date.now() });
      const outcome = await answer(entry, n++);
      if (outcome.result === 'delivered') delivered.push(entry.inventory.scan.id);
      return outcome;
    },
  };
}

async function open(options: Partial<OutboxStoreOptions> & Pick<OutboxStoreOptions, 'stateDir' | 'deliver'>): Promise<InventoryStore> {
  const store = await openOutboxStore({ name: 'test', log: silent, reader, initialBackoffMs: 10, maxBackoffMs: 50, ...options });
  cleanups.push(() => store.close());
  return store;
}

function scan(n: number) {
  const hik = hikvisionCamera();
  hik.identity.firmware = `V5.7.${n}`;
  const minute = String(n).padStart(2, '0');
  return inventory({
    id: `20260313T10${minute}00Z-${String(n).padStart(6, '0')}`,
    startedAt: `2026-03-13T10:${minute}:00.000Z`,
    finishedAt: `2026-03-13T10:${minute}:30.000Z`,
    devices: [hik],
  });
}

const fail = (error = 'down'): DeliveryOutcome => ({ result: 'retry', error, reachable: false });

describe('outbox: on disk', () => {
  it('has each saved document in pending/ (seq order, cctv-outbox/v1) and the site latest, before save() resolves', async () => {
    const dir = await stateDir();
    const store = await open({ stateDir: dir, deliver: destination(() => fail()).deliver });
    const results = [];
    for (const n of [1, 2, 3]) results.push(await recordScan(store, scan(n)));
    const files = await readdir(join(dir, 'pending'));
    expect(files).toEqual(results.map((r, i) => `${String(i + 1).padStart(12, '0')}-${r.location}.json`));
    const entry = JSON.parse(await readFile(join(dir, 'pending', files[2] ?? ''), 'utf8')) as OutboxEntry;
    expect(entry).toMatchObject({ schema: 'cctv-outbox/v1', id: results[2]?.location, seq: 3, inventory: scan(3), events: results[2]?.events });
    expect(JSON.parse(await readFile(join(dir, 'sites', SITE, 'latest.json'), 'utf8'))).toEqual(scan(3));
    expect(existsSync(join(dir, '.lock'))).toBe(true);
    await store.close();
    expect(existsSync(join(dir, '.lock'))).toBe(false);
    expect(await readdir(join(dir, 'pending'))).toHaveLength(3);
  });

  it('fails with CCTV_ERR_STORE_UNWRITABLE when the state folder cannot be created', async () => {
    // Under /proc nothing can be created, even by root.
    const dir = `/proc/cctv-agent-test-${process.pid}/state`;
    const error = await openOutboxStore({ name: 'test', log: silent, reader, stateDir: dir, deliver: destination().deliver }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CCTV_ERR_STORE_UNWRITABLE' });
    expect((error as Error).message).toContain(dir);
  });

  it('keeps a second instance off a folder in use (CCTV_ERR_STORE_LOCKED)', async () => {
    const dir = await stateDir();
    await open({ stateDir: dir, deliver: destination().deliver });
    const error = await openOutboxStore({ name: 'test', log: silent, reader, stateDir: dir, deliver: destination().deliver, lockTimeoutMs: 200 }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'CCTV_ERR_STORE_LOCKED' });
  });

  it('dead-letters an unreadable entry, removes leftover temp files, ignores strangers, and delivers the rest', async () => {
    const dir = await stateDir();
    const quiet = destination(() => fail());
    const first = await open({ stateDir: dir, deliver: quiet.deliver });
    await recordScan(first, scan(1));
    await recordScan(first, scan(2));
    await first.close();
    const [one] = await readdir(join(dir, 'pending'));
    await writeFile(join(dir, 'pending', one ?? ''), '{"schema":"cctv-outbox/v1","id":');
    await writeFile(join(dir, 'pending', '.000000000003-x.json.123.abcd.tmp'), 'half');
    await writeFile(join(dir, 'pending', 'notes.txt'), 'mine');
    const raw: string[] = [];
    const log = pino({ level: 'warn' }, { write: (s: string) => void raw.push(s) });
    const dest = destination();
    const second = await open({ stateDir: dir, deliver: dest.deliver, log });
    expect(await second.flush(2_000)).toBe(true); // notes.txt is not an entry: it stays, uncounted
    expect(dest.delivered).toEqual([scan(2).scan.id]);
    expect(await readdir(join(dir, 'pending'))).toEqual(['notes.txt']);
    expect(await readdir(join(dir, 'dead-letter'))).toEqual([one]);
    const letter = JSON.parse(await readFile(join(dir, 'dead-letter', one ?? ''), 'utf8')) as { rejection: { error: string }; entry: string };
    expect(letter.rejection.error).toMatch(/cannot be read/);
    expect(letter.entry).toBe('{"schema":"cctv-outbox/v1","id":');
    expect(raw.join('')).toMatch(/not an outbox entry/);
  });
});

describe('outbox: delivery', () => {
  it('delivers strictly in order: a failing entry holds back the later ones until it goes', async () => {
    const dir = await stateDir();
    const dest = destination((entry, attempt) => (entry.inventory.scan.id === scan(1).scan.id && attempt < 3 ? fail() : { result: 'delivered' }));
    const store = await open({ stateDir: dir, deliver: dest.deliver });
    for (const n of [1, 2, 3]) await recordScan(store, scan(n));
    expect(await store.flush(5_000)).toBe(true);
    expect(dest.attempts.map((a) => a.scanId)).toEqual([1, 1, 1, 1, 2, 3].map((n) => scan(n).scan.id));
    expect(dest.delivered).toEqual([1, 2, 3].map((n) => scan(n).scan.id));
  });

  it('backs off exponentially between retries, capped', async () => {
    const dir = await stateDir();
    const dest = destination((_entry, attempt) => (attempt < 7 ? fail() : { result: 'delivered' }));
    const store = await open({ stateDir: dir, deliver: dest.deliver, initialBackoffMs: 20, maxBackoffMs: 120 });
    await recordScan(store, scan(1));
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (dest.delivered.length === 1) {
          clearInterval(timer);
          resolve();
        }
      }, 5);
    });
    const gaps = dest.attempts.slice(1).map((a, i) => a.at - (dest.attempts[i]?.at ?? 0));
    gaps.forEach((gap, i) => {
      const backoff = Math.min(120, 20 * 2 ** i);
      expect(gap).toBeGreaterThanOrEqual(backoff / 2 - 5);
      expect(gap).toBeLessThanOrEqual(backoff + 150);
    });
    expect(gaps.slice(-2).every((g) => g >= 55)).toBe(true); // at the cap, not back at the start
  });

  it('treats a deliver function that throws as a retry, and records the error', async () => {
    const dir = await stateDir();
    const dest = destination((_entry, attempt) => {
      if (attempt === 0) throw new Error('socket exploded');
      return { result: 'delivered' };
    });
    const store = await open({ stateDir: dir, deliver: dest.deliver });
    await recordScan(store, firstScan());
    expect(await store.flush(5_000)).toBe(true);
    expect(dest.attempts).toHaveLength(2);
  });

  it('flush() gives up after its time when the destination keeps failing, and reports why', async () => {
    const dir = await stateDir();
    const store = await open({ stateDir: dir, deliver: destination(() => fail('HTTP 503')).deliver });
    await recordScan(store, firstScan());
    const t0 = Date.now();
    expect(await store.flush(200)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(store.status()).toMatchObject({ outboxDepth: 1, lastError: 'HTTP 503', reachable: false, lastDeliveryAt: null });
  });

  it('close() cuts a hanging delivery short, keeps the entry, and the next instance delivers it', async () => {
    const dir = await stateDir();
    let aborted = false;
    const hanging = {
      deliver: (_entry: OutboxEntry, signal: AbortSignal) =>
        new Promise<DeliveryOutcome>((resolve) =>
          signal.addEventListener('abort', () => {
            aborted = true;
            resolve(fail('the store was closed during the attempt'));
          }),
        ),
    };
    const store = await openOutboxStore({ name: 'test', log: silent, reader, stateDir: dir, deliver: hanging.deliver });
    await recordScan(store, firstScan());
    const t0 = Date.now();
    await store.close();
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(aborted).toBe(true);
    expect(store.status().lastError).toBeNull(); // closing is not a failure of the destination
    const dest = destination();
    const next = await open({ stateDir: dir, deliver: dest.deliver });
    expect(await next.flush(5_000)).toBe(true);
    expect(dest.delivered).toEqual([firstScan().scan.id]);
  });
});
