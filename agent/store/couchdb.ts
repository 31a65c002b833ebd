/**
 * The CouchDB store: each saved document goes, from the durable outbox (outbox.ts), into one
 * CouchDB database through the official `nano` client, written with `_bulk_docs`:
 *
 *   scan:<site>:<scanId>          { type: "scan", site, scanId, startedAt, finishedAt, inventory }
 *   device:<site>:<deviceId>      { type: "device", site, deviceId, present, lastSeenAt, lastSeenScanId, device }
 *   event:<site>:<scanId>:<n>     { type: "event", site, scanId, n, at, event }   n = 000000, 000001, … in the scan's order
 *
 * Every id is scoped by its site, so agents of different sites writing one database, or replicating
 * their own databases into one hub, never write the same document. Every document also carries
 * `agent: { id, host }`, the agent that wrote it (agent-identity.ts; documents of older agents have
 * none). The fleet design document (couchdb-views.ts) adds views for counts per site, vendor and
 * relation, each device's latest state, each site's writers and the documents in conflict.
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
 * On the first delivery of a process the store creates the database if missing, a Mango index
 * on (type, site), which it uses to find a site's present devices and which dashboards can use to
 * list a site's devices, scans or events, and the fleet design document (installed, or replaced
 * when its version differs).
 *
 * Two agents on one site: a device of the site written by another agent is not marked absent by
 * this one's sweep (each agent marks only what it wrote itself), and the first such document is
 * logged as a warning naming the other agent; `estate` reports the site (couchdb-views.ts). latest(site) answers from the outbox folder, not from
 * CouchDB, so that a sweep's changes can be computed while CouchDB is down.
 *
 * Reading back (listScans, loadScan, loadInventory; openReader for the read commands) reads the
 * scan documents: a site's scans are its `scan:<site>:…` documents (found with `_find` on the
 * (type, site) index, only their times fetched), its current inventory the one that started last.
 * openReader creates nothing: a database that does not exist is CCTV_ERR_STORE_NOT_FOUND.
 *
 * The answer decides: 400 and 413 (CouchDB refuses the document itself) send the entry to the
 * dead-letter folder; anything else (down, 401/403 until the operator fixes the account, 5xx) is
 * retried. Server and database come from the operator; their answers are trusted JSON.
 */
import type { RequestOptions, ServerScope } from 'nano';
import { agentError, type AgentError } from '../errors.js';
import { signalScope } from '../net/abort.js';
import type { ChangeEvent } from '../pipeline/changes.js';
import type { Device, Inventory } from '../types.js';
import { AUTH_SPEC_SCHEMA, authorizationHeader, HTTP_URL_SPEC_SCHEMA, safeAddress } from './auth.js';
import { inventoryProblem, sortScans } from './file.js';
import { describeFsError } from './fs-durable.js';
import { agentIdentity, type AgentIdentity } from './agent-identity.js';
import { FLEET_DDOC, FLEET_DDOC_ID, fleetDesignDoc, fleetRecords, type FleetDesignDoc, type FleetView } from './couchdb-views.js';
import { assertStoreName, isStoreName } from './names.js';
import { openOutboxStore, type Deliver, type DeliveryOutcome, type OutboxEntry } from './outbox.js';
import type { Logger } from '../log.js';
import type { ObjectSpecSchema, ScanReader, ScanSummary, StoreAuthConfig, StoreDefinition, StoreReader, StoreSpec } from './types.js';

/** The object form: `{ type: couchdb, url, database, auth? }`. */
export interface CouchStoreConfig {
  type: typeof STORE_NAME;
  /** The server, e.g. https://couch.example.org:6984 (no credentials in it). */
  url: string;
  database: string;
  auth?: StoreAuthConfig;
}

const STORE_NAME = 'couchdb';
const SPEC_SCHEMA: ObjectSpecSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'url', 'database'],
  properties: { type: { const: STORE_NAME }, url: HTTP_URL_SPEC_SCHEMA, database: { type: 'string', minLength: 1 }, auth: AUTH_SPEC_SCHEMA },
};
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
  form: 'couchdb+http(s)://host:port/database',
  readsBack: true,
  specSchema: SPEC_SCHEMA,
  accepts(spec) {
    return /^couchdb\+https?:\/\//i.test(spec);
  },
  label(spec) {
    return typeof spec === 'string' ? safeAddress(spec) : couchLabel(spec as CouchStoreConfig);
  },
  async open(spec, { log, stateDir }) {
    const { couch, config, label } = await connect(spec);
    const storeLog = log.child({ store: label });
    const agent = await agentIdentity(stateDir).catch((error: unknown) => {
      throw agentError('CCTV_ERR_STORE_UNWRITABLE', stateDir, describeFsError(error));
    });
    return openOutboxStore({
      name: STORE_NAME,
      stateDir,
      log: storeLog,
      deliver: couchDeliver(couch, config.database, agent, storeLog),
      reader: couchReader(couch, config.database, label),
    });
  },
  async openReader(spec) {
    const { couch, config, label } = await connect(spec);
    try {
      await couchRequest(couch, { db: config.database });
    } catch (error) {
      if (statusOf(error) === 404) throw agentError('CCTV_ERR_STORE_NOT_FOUND', label, `CouchDB has no database "${config.database}"`);
      throw readError(error, label);
    }
    return { name: STORE_NAME, ...couchReader(couch, config.database, label) };
  },
};

function couchLabel(config: CouchStoreConfig): string {
  return `${STORE_NAME}:${safeAddress(config.url).replace(/\/$/, '')}/${config.database}`;
}

/** A client for the spec's server, with its credentials, and the store's label. */
async function connect(spec: StoreSpec): Promise<{ couch: ServerScope; config: CouchStoreConfig; label: string }> {
  const config = couchConfig(spec);
  const label = couchLabel(config);
  const authorization = await authorizationHeader(label, config.auth);
  // The client is loaded by a CouchDB store when it connects, not by every start-up (issue 10).
  const { default: nano } = await import('nano');
  return { couch: nano({ url: config.url, headers: authorization ? { Authorization: authorization } : {} }), config, label };
}

/** One request through nano, ended by `signal` (when given) or after REQUEST_TIMEOUT_MS. */
async function couchRequest<T>(couch: ServerScope, options: RequestOptions, signal?: AbortSignal): Promise<T> {
  const limit = signalScope(signal, REQUEST_TIMEOUT_MS);
  try {
    // nano passes `signal` on to fetch (nano.js relax()); its RequestOptions type leaves it out.
    const withSignal: RequestOptions & { signal: AbortSignal } = { ...options, signal: limit.signal };
    return (await couch.relax(withSignal)) as T;
  } finally {
    limit.dispose();
  }
}

/** The HTTP status CouchDB answered, or undefined when it did not answer. */
function statusOf(error: unknown): number | undefined {
  return (error as { statusCode?: number }).statusCode;
}

function readError(error: unknown, label: string): AgentError {
  const status = statusOf(error);
  const message = (error as Error).message;
  return agentError('CCTV_ERR_STORE_UNREADABLE', label, status === undefined ? `CouchDB cannot be reached: ${message}` : `CouchDB answered HTTP ${status}: ${message}`);
}

/** The object form of a string or object spec, checked. */
export function couchConfig(spec: StoreSpec): CouchStoreConfig {
  let config: CouchStoreConfig;
  if (typeof spec === 'string') {
    const match = SPEC_URL.exec(spec);
    if (!match) throw agentError('CCTV_ERR_STORE_SPEC', spec, 'a CouchDB store is written couchdb+https://host:port/database');
    config = { type: 'couchdb', url: match[1] ?? '', database: decodeURIComponent(match[2] ?? '') };
  } else {
    if (spec.type !== STORE_NAME) throw new TypeError(`the couchdb store cannot open a "${spec.type}" spec`);
    config = spec as CouchStoreConfig;
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
  /** The agent that wrote it; absent on documents of agents older than agent ids. */
  agent?: AgentIdentity;
  [key: string]: unknown;
}

export const scanDocId = (site: string, scanId: string): string => `scan:${site}:${scanId}`;
export const deviceDocId = (site: string, deviceId: string): string => `device:${site}:${deviceId}`;
export const eventDocId = (site: string, scanId: string, n: number): string => `event:${site}:${scanId}:${String(n).padStart(6, '0')}`;

/** The scan, device and event documents of one outbox entry, written by `agent`, without `_rev`s. */
export function entryDocuments(entry: OutboxEntry, agent: AgentIdentity): CouchDoc[] {
  const { inventory, events } = entry;
  const { site, id: scanId, startedAt, finishedAt } = inventory.scan;
  const scan: CouchDoc = { _id: scanDocId(site, scanId), type: 'scan', site, agent, scanId, startedAt, finishedAt, inventory };
  const devices = inventory.devices.map(
    (device: Device): CouchDoc => ({
      _id: deviceDocId(site, device.id),
      type: 'device',
      site,
      agent,
      deviceId: device.id,
      present: true,
      lastSeenAt: finishedAt,
      lastSeenScanId: scanId,
      device,
    }),
  );
  const eventDocs = events.map(
    (event: ChangeEvent, n): CouchDoc => ({ _id: eventDocId(site, scanId, n), type: 'event', site, agent, scanId, n, at: event.at, event }),
  );
  return [scan, ...devices, ...eventDocs];
}

// ---- reading back ----------------------------------------------------------------------------

/** Reads the scan documents of `database` (see the header comment), and the fleet views. */
function couchReader(couch: ServerScope, database: string, label: string): ScanReader & Pick<StoreReader, 'fleet'> {
  const read = async <T>(options: RequestOptions): Promise<T | null> => {
    try {
      return await couchRequest<T>(couch, options);
    } catch (error) {
      if (statusOf(error) === 404) return null; // no such document, or no database yet
      throw readError(error, label);
    }
  };

  async function listScans(site?: string): Promise<ScanSummary[]> {
    if (site !== undefined) assertStoreName('site name', site);
    const selector = site === undefined ? { type: 'scan' } : { type: 'scan', site };
    const found: ScanSummary[] = [];
    for (let skip = 0; ; skip += FIND_PAGE) {
      const page = await read<{ docs: Array<Record<string, unknown>> }>({
        db: database,
        path: '_find',
        method: 'POST',
        body: { selector, fields: ['site', 'scanId', 'startedAt', 'finishedAt'], limit: FIND_PAGE, skip },
      });
      const docs = page?.docs ?? [];
      for (const { site: s, scanId, startedAt, finishedAt } of docs) {
        // Another writer's document that is not one of ours is skipped, not trusted.
        if (typeof s !== 'string' || typeof scanId !== 'string' || !isStoreName(s) || !isStoreName(scanId)) continue;
        if (typeof startedAt !== 'string' || typeof finishedAt !== 'string') continue;
        found.push({ site: s, id: scanId, startedAt, finishedAt });
      }
      if (docs.length < FIND_PAGE) return sortScans(found);
    }
  }

  async function loadScan(site: string, scanId: string): Promise<Inventory | null> {
    assertStoreName('site name', site);
    assertStoreName('scan id', scanId);
    const id = scanDocId(site, scanId);
    const doc = await read<{ inventory?: unknown }>({ db: database, doc: id });
    if (!doc) return null;
    const why = inventoryProblem(doc.inventory, site) ?? ((doc.inventory as Inventory).scan.id === scanId ? null : 'it holds another scan');
    if (why) throw agentError('CCTV_ERR_STORE_CORRUPT', `${label} document ${id}`, why);
    return doc.inventory as Inventory;
  }

  const viewQuery = <K, V>(view: FleetView, params: Record<string, string>): Promise<Array<{ key: K; value: V }> | null> =>
    read<{ rows: Array<{ key: K; value: V }> }>({ db: database, path: `_design/${FLEET_DDOC}/_view/${view}`, qs: params }).then((answer) => answer?.rows ?? null);

  return {
    listScans,
    loadScan,
    fleet: fleetRecords(viewQuery),
    async loadInventory(site) {
      const last = (await listScans(site)).at(-1);
      return last ? loadScan(site, last.id) : null;
    },
  };
}

// ---- delivery ------------------------------------------------------------------------------

interface BulkResult {
  id: string;
  rev?: string;
  error?: string;
  reason?: string;
}

function couchDeliver(couch: ServerScope, database: string, agent: AgentIdentity, log: Logger): Deliver {
  let prepared = false;
  /** Other agents already logged as writing one of this agent's sites: `site agentId`. */
  const reportedWriters = new Set<string>();

  const request = <T>(options: RequestOptions, signal: AbortSignal): Promise<T> => couchRequest<T>(couch, options, signal);

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
    await installDesignDoc(signal);
    prepared = true;
  }

  /** Installs the fleet design document, or replaces one of another version (a conflict: the next delivery tries again). */
  async function installDesignDoc(signal: AbortSignal): Promise<void> {
    const wanted = fleetDesignDoc();
    let current: FleetDesignDoc | null = null;
    try {
      current = await request<FleetDesignDoc>({ db: database, doc: FLEET_DDOC_ID }, signal);
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
    if (current?.cctvAgent?.version === wanted.cctvAgent.version) return;
    await request({ db: database, doc: FLEET_DDOC_ID, method: 'PUT', body: current?._rev ? { ...wanted, _rev: current._rev } : wanted }, signal);
    log.info({ database, designDoc: FLEET_DDOC_ID, version: wanted.cctvAgent.version }, current ? 'fleet design document updated' : 'fleet design document installed');
  }

  /** Of the site's present devices, those this agent wrote (or an older agent, naming none); another agent's are logged once and left alone. */
  function ownDevices(site: string, present: CouchDoc[]): CouchDoc[] {
    return present.filter((d) => {
      const writer = d.agent?.id;
      if (writer === undefined || writer === agent.id) return true;
      const key = `${site} ${writer}`;
      if (!reportedWriters.has(key)) {
        reportedWriters.add(key);
        log.warn(
          { site, database, otherAgent: d.agent, document: d._id },
          'another agent also writes this site: give each agent its own site name (two agents on one site make its device documents flip between their sweeps)',
        );
      }
      return false;
    });
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
    const docs = entryDocuments(entry, agent);
    const site = entry.inventory.scan.site;
    const seen = new Set(docs.map((d) => d._id));
    const gone = ownDevices(site, await presentDevices(site, signal))
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
      const status = statusOf(error);
      const message = (error as Error).message;
      if (status === undefined) return { result: 'retry', error: `CouchDB cannot be reached: ${message}`, reachable: false };
      const said = `CouchDB answered HTTP ${status}: ${message}`;
      if (status === 400 || status === 413) return { result: 'rejected', error: said };
      return { result: 'retry', error: said, reachable: true };
    }
  };
}
