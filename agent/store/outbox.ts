/**
 * The durable outbox shared by the push stores (http.ts, couchdb.ts): save() puts the document on
 * disk and returns; a background loop delivers the entries one at a time, oldest first, through the
 * store's `deliver` function, and removes each entry only once its destination acknowledged it.
 *
 *   STATE/.lock                          held while a store instance has the folder open (lock.ts)
 *   STATE/pending/<seq>-<id>.json        one outbox entry per saved document, delivered in <seq> order
 *   STATE/dead-letter/<seq>-<id>.json    entries the destination refused for good, with the reason
 *   STATE/sites/<site>/latest.json       the last document saved for the site (latest(): the change engine's base)
 *
 * Entries are written atomically and fsynced before save() resolves (fs-durable.ts), so a crash or a
 * restart loses nothing: a new instance on the same folder resumes delivery from the oldest entry.
 * An entry is removed after the destination acknowledged it; if the process dies between the two,
 * the entry is sent again with the same id, which the destination recognises (the HTTP push's
 * Idempotency-Key, CouchDB's fixed document ids). Delivery is strictly in order: a failing entry is
 * retried with capped exponential backoff and holds back the ones after it, except when the
 * destination refuses it for good, when it moves to dead-letter/ and the next one goes.
 *
 * A save writes the entry first and latest.json second: a crash between the two repeats change
 * events on the next save rather than losing them (the file store's rule). The entry holds the
 * change events it was given; the outbox computes none.
 *
 * Reading the destination back (listScans, loadScan, loadInventory) is the push store's own
 * `reader`: the outbox only delivers.
 */
import { randomUUID } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Alert } from '../alerts/alerts.js';
import type { ChangeEvent } from '../pipeline/changes.js';
import { AgentError, agentError } from '../errors.js';
import type { Logger } from '../log.js';
import { INVENTORY_SCHEMA_ID, type Inventory } from '../types.js';
import { inventoryProblem, readInventoryFile } from './file.js';
import { describeFsError, ensureDir, fsyncDir, TEMP_SUFFIX, writeFileAtomic } from './fs-durable.js';
import { acquireLock, type ReleaseLock } from './lock.js';
import { assertStoreName } from './names.js';
import type { InventoryStore, SaveResult, ScanReader, StoreStatus } from './types.js';

export const OUTBOX_ENTRY_SCHEMA = 'cctv-outbox/v1';

/** One saved document waiting for delivery, as stored in STATE/pending/. */
export interface OutboxEntry {
  schema: typeof OUTBOX_ENTRY_SCHEMA;
  /** Unique and stable: the HTTP push's Idempotency-Key, SaveResult.location. */
  id: string;
  /** Position in the delivery order. */
  seq: number;
  /** When save() was called (ISO 8601). */
  savedAt: string;
  inventory: Inventory;
  events: ChangeEvent[];
  /** The sweep's alerts (agent/alerts), in an alert sink's outbox only (saveAlerts). */
  alerts?: Alert[];
}

/** An outbox store, which can also queue a sweep's alerts (the webhook sink, agent/alerts/webhook.ts). */
export interface OutboxStore extends InventoryStore {
  /** Queues `alerts` of the sweep that produced `inventory`, delivered like a save. */
  saveAlerts(inventory: Inventory, alerts: readonly Alert[]): Promise<SaveResult>;
}

/** What one delivery attempt came to. */
export type DeliveryOutcome =
  | { result: 'delivered' }
  /** Try again later; `reachable` says whether the destination answered at all. */
  | { result: 'retry'; error: string; reachable: boolean; retryAfterMs?: number }
  /** The destination refused the document for good: it goes to dead-letter/. */
  | { result: 'rejected'; error: string };

/** Delivers one entry; resolves to the outcome (a throw counts as a retry). Must end soon after `signal` aborts. */
export type Deliver = (entry: OutboxEntry, signal: AbortSignal) => Promise<DeliveryOutcome>;

export interface OutboxStoreOptions {
  name: string;
  stateDir: string;
  log: Logger;
  deliver: Deliver;
  /** Reads back what the destination holds. */
  reader: ScanReader;
  /** First retry delay; doubles per failed attempt of one entry, up to maxBackoffMs. Default 1 s. */
  initialBackoffMs?: number;
  /** Default 5 min. */
  maxBackoffMs?: number;
  /** How long open() waits for another instance holding the folder. Default 10 s. */
  lockTimeoutMs?: number;
}

const SEQ_DIGITS = 12;
const ENTRY_FILE = /^(\d{12})-[0-9a-f-]{36}\.json$/;

/** Opens (creating if needed) the outbox folder and starts delivering what it holds. */
export async function openOutboxStore(options: OutboxStoreOptions): Promise<OutboxStore> {
  const { name, stateDir, deliver } = options;
  const log = options.log.child({ module: `store/${name}` });
  const initialBackoffMs = options.initialBackoffMs ?? 1_000;
  const maxBackoffMs = options.maxBackoffMs ?? 300_000;
  const paths = {
    pending: join(stateDir, 'pending'),
    deadLetter: join(stateDir, 'dead-letter'),
    latest: (site: string) => join(stateDir, 'sites', site, 'latest.json'),
    site: (site: string) => join(stateDir, 'sites', site),
  };

  let release: ReleaseLock;
  let pending: string[];
  let nextSeq: number;
  try {
    await ensureDir(paths.pending);
    await ensureDir(paths.deadLetter);
    release = await acquireLock(stateDir, { timeoutMs: options.lockTimeoutMs ?? 10_000, pollMs: 100, log });
  } catch (error) {
    if (error instanceof AgentError) throw error;
    throw agentError('CCTV_ERR_STORE_UNWRITABLE', stateDir, describeFsError(error));
  }
  try {
    pending = await entryFiles(paths.pending, log);
    const dead = await entryFiles(paths.deadLetter, log);
    nextSeq = Math.max(0, ...[...pending, ...dead].map(seqOf)) + 1;
  } catch (error) {
    await release();
    throw agentError('CCTV_ERR_STORE_UNWRITABLE', stateDir, describeFsError(error));
  }
  if (pending.length > 0) log.info({ stateDir, pending: pending.length }, 'resuming delivery of the outbox');

  const state: StoreStatus = { outboxDepth: pending.length, lastDeliveryAt: null, lastError: null, reachable: null };
  let closed = false;
  let queue: Promise<unknown> = Promise.resolve();
  const stop = new AbortController();
  /** Wakes the loop from waiting for work or from a backoff pause. */
  let wake: () => void = () => undefined;
  let drained: Array<() => void> = [];

  const notifyIfDrained = (): void => {
    state.outboxDepth = pending.length;
    if (pending.length > 0) return;
    for (const resolve of drained.splice(0)) resolve();
  };

  function pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        wake = () => undefined;
        resolve();
      }
      wake = done;
    });
  }

  async function readEntry(file: string): Promise<OutboxEntry> {
    const doc = JSON.parse(await readFile(join(paths.pending, file), 'utf8')) as Partial<OutboxEntry> | null;
    if (doc?.schema !== OUTBOX_ENTRY_SCHEMA || typeof doc.id !== 'string' || !Array.isArray(doc.events)) {
      throw new Error(`not a ${OUTBOX_ENTRY_SCHEMA} entry`);
    }
    const why = inventoryProblem(doc.inventory, doc.inventory?.scan?.site ?? '');
    if (why) throw new Error(why);
    return doc as OutboxEntry;
  }

  async function commit(inventory: Inventory, events: ChangeEvent[], alerts?: Alert[]): Promise<SaveResult> {
    const { site } = inventory.scan;
    const entry: OutboxEntry = {
      schema: OUTBOX_ENTRY_SCHEMA,
      id: randomUUID(),
      seq: nextSeq++,
      savedAt: new Date().toISOString(),
      inventory,
      events,
      ...(alerts ? { alerts } : {}),
    };
    const file = `${String(entry.seq).padStart(SEQ_DIGITS, '0')}-${entry.id}.json`;
    try {
      await writeFileAtomic(join(paths.pending, file), `${JSON.stringify(entry)}\n`);
      pending.push(file);
      state.outboxDepth = pending.length;
      wake();
      await ensureDir(paths.site(site));
      await writeFileAtomic(paths.latest(site), `${JSON.stringify(inventory)}\n`);
    } catch (error) {
      throw agentError('CCTV_ERR_STORE_UNWRITABLE', stateDir, describeFsError(error));
    }
    log.debug({ id: entry.id, site, scanId: inventory.scan.id, events: events.length }, 'queued the inventory for delivery');
    return { location: entry.id };
  }

  async function removePending(file: string): Promise<void> {
    await rm(join(paths.pending, file), { force: true });
    await fsyncDir(paths.pending);
    pending = pending.filter((f) => f !== file);
    notifyIfDrained();
  }

  async function deadLetter(file: string, entry: OutboxEntry | null, error: string): Promise<void> {
    const raw = entry ?? (await readFile(join(paths.pending, file), 'utf8').catch(() => null));
    const rejection = { at: new Date().toISOString(), error };
    await writeFileAtomic(join(paths.deadLetter, file), `${JSON.stringify({ rejection, entry: raw })}\n`);
    await removePending(file);
    log.error(
      { id: entry?.id, file: join(paths.deadLetter, file), error },
      'the destination refused a document for good; it is kept in the dead-letter folder and delivery goes on',
    );
  }

  /** The delivery loop: runs until close(). */
  async function run(): Promise<void> {
    let failures = 0;
    while (!closed) {
      const file = pending[0];
      if (file === undefined) {
        await pause(maxBackoffMs);
        continue;
      }
      try {
        let entry: OutboxEntry;
        try {
          entry = await readEntry(file);
        } catch (error) {
          await deadLetter(file, null, `the outbox entry cannot be read: ${(error as Error).message}`);
          continue;
        }
        let outcome: DeliveryOutcome;
        try {
          outcome = await deliver(entry, stop.signal);
        } catch (error) {
          outcome = { result: 'retry', error: (error as Error).message, reachable: false };
        }
        if (outcome.result === 'delivered') {
          await removePending(file);
          failures = 0;
          Object.assign(state, { lastDeliveryAt: new Date().toISOString(), lastError: null, reachable: true });
          log.debug({ id: entry.id, site: entry.inventory.scan.site, scanId: entry.inventory.scan.id }, 'delivered');
          continue;
        }
        if (outcome.result === 'rejected') {
          Object.assign(state, { lastError: outcome.error, reachable: true });
          await deadLetter(file, entry, outcome.error);
          failures = 0;
          continue;
        }
        if (closed) {
          // Cut short by close() (shutdown, a reload): not a failure of the destination. The
          // destination may have stored it already; the next send carries the same id, and the
          // destination's answer to a repeat says so (at-least-once, made exactly-once by the id).
          log.info({ id: entry.id }, 'delivery cut short by closing the store: it stays in the outbox and is sent again');
          break;
        }
        Object.assign(state, { lastError: outcome.error, reachable: outcome.reachable });
        const backoff = Math.min(maxBackoffMs, initialBackoffMs * 2 ** Math.min(failures, 30));
        // Full jitter between half and all of the backoff, so agents restarted together do not retry in step.
        const delay = outcome.retryAfterMs ?? Math.round(backoff * (0.5 + Math.random() / 2));
        failures += 1;
        log.warn({ id: entry.id, error: outcome.error, attempt: failures, retryInMs: delay }, 'delivery failed; will retry');
        await pause(Math.min(delay, maxBackoffMs));
      } catch (error) {
        // The state folder itself failed (disk full, permissions): keep the entry and try again later.
        state.lastError = `the outbox folder cannot be written: ${describeFsError(error)}`;
        log.error({ stateDir, error: state.lastError }, 'outbox error; will retry');
        await pause(maxBackoffMs);
      }
    }
  }

  const loop = run();

  function enqueue(inventory: Inventory, events: readonly ChangeEvent[], alerts?: readonly Alert[]): Promise<SaveResult> {
    try {
      assertOpen();
      if (inventory.schema !== INVENTORY_SCHEMA_ID) {
        throw new TypeError(`the ${name} store saves ${INVENTORY_SCHEMA_ID} documents, not "${String(inventory.schema)}"`);
      }
      assertStoreName('site name', inventory.scan.site);
      assertStoreName('scan id', inventory.scan.id);
      if (!Array.isArray(events)) throw new TypeError('the change events must be an array');
    } catch (error) {
      return Promise.reject(error);
    }
    // Copied now, so that changes the caller makes after save() returns are not stored.
    const snapshot = structuredClone(inventory);
    const given = structuredClone([...events]);
    const result = queue.then(() => commit(snapshot, given, alerts ? structuredClone([...alerts]) : undefined));
    queue = result.catch(() => undefined);
    return result;
  }

  const assertOpen = (): void => {
    if (closed) throw new Error(`the ${name} store's outbox "${stateDir}" is closed`);
  };

  return {
    name,

    save(inventory, events) {
      return enqueue(inventory, events);
    },

    saveAlerts(inventory, alerts) {
      return enqueue(inventory, [], alerts);
    },

    async latest(site) {
      assertOpen();
      assertStoreName('site name', site);
      await queue;
      return readInventoryFile(paths.latest(site), site);
    },

    listScans: (site) => options.reader.listScans(site),
    loadScan: (site, scanId) => options.reader.loadScan(site, scanId),
    loadInventory: (site) => options.reader.loadInventory(site),

    async flush(timeoutMs) {
      await queue;
      if (pending.length === 0) return true;
      if (closed) return false;
      let timer: NodeJS.Timeout | undefined;
      const emptied = new Promise<boolean>((resolve) => drained.push(() => resolve(true)));
      const timedOut = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      wake(); // retry now rather than at the end of the current backoff
      const done = await Promise.race([emptied, timedOut]);
      clearTimeout(timer);
      return done;
    },

    status() {
      return { ...state };
    },

    async close() {
      if (closed) return;
      closed = true;
      await queue;
      stop.abort();
      wake();
      await loop;
      drained = [];
      await release();
      log.debug({ stateDir, pending: pending.length }, 'closed the outbox');
    },
  };
}

/** The entry files in `dir`, oldest first; leftover temp files of an interrupted write are removed. */
async function entryFiles(dir: string, log: Logger): Promise<string[]> {
  const files: string[] = [];
  for (const name of await readdir(dir)) {
    if (ENTRY_FILE.test(name)) files.push(name);
    else if (name.startsWith('.') && name.endsWith(TEMP_SUFFIX)) await rm(join(dir, name), { force: true });
    else log.warn({ file: join(dir, name) }, 'ignoring a file that is not an outbox entry');
  }
  return files.sort();
}

function seqOf(file: string): number {
  return Number(file.slice(0, SEQ_DIGITS));
}
