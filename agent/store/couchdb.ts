/**
 * The CouchDB store: each saved document goes, from the durable outbox (outbox.ts), into one
 * CouchDB database through the official `nano` client, written with `_bulk_docs`:
 *
 *   scan:<site>:<scanId>          { type: "scan", site, scanId, startedAt, finishedAt, inventory }
 *   device:<site>:<deviceId>      { type: "device", site, deviceId, present, lastSeenAt, lastSeenScanId, device }
 *   event:<site>:<scanId>:<n>     { type: "event", site, scanId, n, at, event }   n = 000000, 000001, … in the scan's order
 *
 * Every id is fixed by its content, so a document delivered twice (a restart between CouchDB's
 * answer and the outbox removing the entry) overwrites itself: the upserts fetch the current
 * `_rev`s first (`_all_docs` with keys, nano's fetchRevs) and retry a conflicting document with
 * its new `_rev` (another writer got in between).
 *
 * A device missing from a scan is NOT deleted: its document keeps the device as last seen, with
 * `present: false` and `lastSeenAt`/`lastSeenScanId` of the scan that last saw it. Deleting would
 * lose what a central inventory is for (what was there, and when it was last seen); the
 * `device-removed` event says when it went.
 *
 * On the first delivery of a process the store creates the database if missing and a Mango index
 * on (type, site), which it uses to find a site's present devices and which dashboards can use to
 * list a site's devices, scans or events. latest(site) answers from the outbox folder, not from
 * CouchDB, so that the daemon can diff a sweep while CouchDB is down.
 *
 * The answer decides: 400 and 413 (CouchDB refuses the document itself) send the entry to the
 * dead-letter folder; anything else (down, 401/403 until the operator fixes the account, 5xx) is
 * retried. Server and database come from the operator; their answers are trusted JSON.
 */
import nano, { type RequestOptions, type ServerScope } from 'nano';
import { agentError } from '../errors.js';
import { signalScope } from '../net/abort.js';
import type { ChangeEvent } from '../changes.js';
import type { Device } from '../types.js';
import { authorizationHeader } from './auth.js';
import { openOutboxStore, type Deliver, type DeliveryOutcome, type OutboxEntry } from './outbox.js';
import type { CouchStoreConfig, StoreDefinition, StoreSpec } from './types.js';

const STORE_NAME = 'couchdb';
const REQUEST_TIMEOUT_MS = 30_000;
/** Rounds of re-fetching `_rev`s after conflicts before the entry is retried later. */
const CONFLICT_ROUNDS = 5;
const FIND_PAGE = 500;
/** CouchDB's rule for database names (docs.couchdb.org, API reference, PUT /{db}). */
const DATABASE_NAME = /^[a-z][a-z0-9_$()+/-]*$/;
const SPEC_URL = /^couchdb\+(https?:\/\/.+)\/([^/]+)\/?$/i;

const INDEX_NAME = 'type-site';
const INDEX_DDOC = 'cctv-agent';

export const couchStore: StoreDefinition = {
  name: STORE_NAME,
  description: 'CouchDB documents per device, scan and event: couchdb+http(s)://host:port/database, through a durable outbox',
  accepts(spec) {
    return /^couchdb\+https?:\/\//i.test(spec);
  },
  async open(spec, { log, stateDir }) {
    const config = couchConfig(spec);
    const label = `${config.url} database ${config.database}`;
    const authorization = await authorizationHeader(label, config.auth);
    const couch = nano({ url: config.url, headers: authorization ? { Authorization: authorization } : {} });
    return openOutboxStore({
      name: STORE_NAME,
      stateDir,
      log: log.child({ store: label }),
      deliver: couchDeliver(couch, config.database),
    });
  },
};

/** The object form of a string or object spec, checked. */
export function couchConfig(spec: StoreSpec): CouchStoreConfig {
  let config: CouchStoreConfig;
  if (typeof spec === 'string') {
    const match = SPEC_URL.exec(spec);
    if (!match) throw agentError('CCTV_ERR_STORE_SPEC', spec, 'a CouchDB store is written couchdb+https://host:port/database');
    config = { type: 'couchdb', url: match[1] ?? '', database: decodeURIComponent(match[2] ?? '') };
  } else {
    if (spec.type !== STORE_NAME) throw new TypeError(`the couchdb store cannot open a "${spec.type}" spec`);
    config = spec;
  }
  let url: URL;
  try {
    url = new URL(config.url);
  } catch {
    throw agentError('CCTV_ERR_STORE_SPEC', config.url, 'it is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw agentError('CCTV_ERR_STORE_SPEC', config.url, 'the server URL must start with http:// or https://');
  if (url.username !== '' || url.password !== '') {
    throw agentError('CCTV_ERR_STORE_SPEC', `${url.protocol}//${url.host}${url.pathname}`, 'credentials must not be written in the URL; name them in auth (an environment variable or a private file)');
  }
  if (url.pathname !== '/' || url.search !== '') {
    throw agentError('CCTV_ERR_STORE_SPEC', config.url, 'give the CouchDB server URL without a path (the database is named apart)');
  }
  if (!DATABASE_NAME.test(config.database)) {
    throw agentError('CCTV_ERR_STORE_SPEC', config.database, 'a CouchDB database name starts with a lowercase letter and has only lowercase letters, digits and _$()+-/');
  }
  return config;
}

// ---- documents -----------------------------------------------------------------------------

interface CouchDoc {
  _id: string;
  _rev?: string;
  type: 'scan' | 'device' | 'event';
  site: string;
  [key: string]: unknown;
}

export const scanDocId = (site: string, scanId: string): string => `scan:${site}:${scanId}`;
export const deviceDocId = (site: string, deviceId: string): string => `device:${site}:${deviceId}`;
export const eventDocId = (site: string, scanId: string, n: number): string => `event:${site}:${scanId}:${String(n).padStart(6, '0')}`;

/** The scan, device and event documents of one outbox entry, without `_rev`s. */
export function entryDocuments(entry: OutboxEntry): CouchDoc[] {
  const { inventory, events } = entry;
  const { site, id: scanId, startedAt, finishedAt } = inventory.scan;
  const scan: CouchDoc = { _id: scanDocId(site, scanId), type: 'scan', site, scanId, startedAt, finishedAt, inventory };
  const devices = inventory.devices.map(
    (device: Device): CouchDoc => ({
      _id: deviceDocId(site, device.id),
      type: 'device',
      site,
      deviceId: device.id,
      present: true,
      lastSeenAt: finishedAt,
      lastSeenScanId: scanId,
      device,
    }),
  );
  const eventDocs = events.map(
    (event: ChangeEvent, n): CouchDoc => ({ _id: eventDocId(site, scanId, n), type: 'event', site, scanId, n, at: event.at, event }),
  );
  return [scan, ...devices, ...eventDocs];
}

// ---- delivery ------------------------------------------------------------------------------

interface BulkResult {
  id: string;
  rev?: string;
  error?: string;
  reason?: string;
}

function couchDeliver(couch: ServerScope, database: string): Deliver {
  let prepared = false;

  const request = async <T>(options: RequestOptions, signal: AbortSignal): Promise<T> => {
    const limit = signalScope(signal, REQUEST_TIMEOUT_MS);
    try {
      // nano passes `signal` on to fetch (nano.js relax()); its RequestOptions type leaves it out.
      const withSignal: RequestOptions & { signal: AbortSignal } = { ...options, signal: limit.signal };
      return (await couch.relax(withSignal)) as T;
    } finally {
      limit.dispose();
    }
  };

  async function prepare(signal: AbortSignal): Promise<void> {
    try {
      await request({ db: database, method: 'PUT' }, signal);
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode !== 412) throw error; // 412: it exists
    }
    await request(
      { db: database, path: '_index', method: 'POST', body: { index: { fields: ['type', 'site'] }, name: INDEX_NAME, ddoc: INDEX_DDOC, type: 'json' } },
      signal,
    );
    prepared = true;
  }

  /** The site's device documents still marked present, whole (with `_rev`). */
  async function presentDevices(site: string, signal: AbortSignal): Promise<CouchDoc[]> {
    const found: CouchDoc[] = [];
    for (let skip = 0; ; skip += FIND_PAGE) {
      const page = await request<{ docs: CouchDoc[] }>(
        {
          db: database,
          path: '_find',
          method: 'POST',
          body: { selector: { type: 'device', site, present: true }, use_index: [INDEX_DDOC, INDEX_NAME], limit: FIND_PAGE, skip },
        },
        signal,
      );
      found.push(...page.docs);
      if (page.docs.length < FIND_PAGE) return found;
    }
  }

  async function currentRevs(ids: string[], signal: AbortSignal): Promise<Map<string, string>> {
    const revs = new Map<string, string>();
    for (let i = 0; i < ids.length; i += FIND_PAGE) {
      const keys = ids.slice(i, i + FIND_PAGE);
      const answer = await request<{ rows: Array<{ id?: string; key: string; value?: { rev: string } }> }>(
        { db: database, path: '_all_docs', method: 'POST', body: { keys } },
        signal,
      );
      for (const row of answer.rows) if (row.id && row.value?.rev) revs.set(row.id, row.value.rev);
    }
    return revs;
  }

  async function write(entry: OutboxEntry, signal: AbortSignal): Promise<DeliveryOutcome> {
    const docs = entryDocuments(entry);
    const site = entry.inventory.scan.site;
    const seen = new Set(docs.map((d) => d._id));
    const gone = (await presentDevices(site, signal))
      .filter((d) => !seen.has(d._id))
      .map((d): CouchDoc => ({ ...d, present: false }));
    let todo: CouchDoc[] = [...docs, ...gone];
    for (let round = 1; ; round++) {
      // Devices that went keep the _rev read with them; everything else takes the current one.
      const revs = await currentRevs(todo.filter((d) => d._rev === undefined || round > 1).map((d) => d._id), signal);
      const batch = todo.map((d) => {
        const rev = revs.get(d._id) ?? (round === 1 ? d._rev : undefined);
        const { _rev: _old, ...rest } = d;
        return rev === undefined ? rest : { ...rest, _rev: rev };
      });
      const results = await request<BulkResult[]>({ db: database, path: '_bulk_docs', method: 'POST', body: { docs: batch } }, signal);
      const conflicted = new Set(results.filter((r) => r.error === 'conflict').map((r) => r.id));
      const refused = results.find((r) => r.error !== undefined && r.error !== 'conflict');
      if (refused) return { result: 'rejected', error: `CouchDB refused ${refused.id}: ${refused.error} ${refused.reason ?? ''}`.trim() };
      if (conflicted.size === 0) return { result: 'delivered' };
      if (round >= CONFLICT_ROUNDS) {
        return { result: 'retry', error: `CouchDB kept reporting conflicts on ${[...conflicted].join(', ')}`, reachable: true };
      }
      todo = todo.filter((d) => conflicted.has(d._id));
    }
  }

  return async (entry, signal) => {
    try {
      if (!prepared) await prepare(signal);
      return await write(entry, signal);
    } catch (error) {
      const status = (error as { statusCode?: number }).statusCode;
      const message = (error as Error).message;
      if (status === undefined) return { result: 'retry', error: `CouchDB cannot be reached: ${message}`, reachable: false };
      const said = `CouchDB answered HTTP ${status}: ${message}`;
      if (status === 400 || status === 413) return { result: 'rejected', error: said };
      return { result: 'retry', error: said, reachable: true };
    }
  };
}
