/**
 * The CouchDB store against a real CouchDB-protocol server on 127.0.0.1 (tests/support/couch-server.ts:
 * express-pouchdb, or Apache CouchDB when COUCHDB_URL is set): the shared contract, then the
 * documents it keeps, outages and restarts, conflicts and auth. Each test uses its own database.
 */
import { recordScan, type ChangeEvent } from '../../agent/pipeline/changes.js';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../agent/log.js';
import { couchConfig, couchStore, deviceDocId, eventDocId, scanDocId, type CouchStoreConfig } from '../../agent/store/couchdb.js';
import { openStore, stores } from '../../agent/store/index.js';
import type { InventoryStore } from '../../agent/store/types.js';
import { silent, useCouchTests } from '../support/couch-tests.js';
import {
  dahuaCamera,
  expectedSecondScanChanges,
  firstScan,
  hikvisionCamera,
  hikvisionNvr,
  secondScan,
  SITE,
  storeContract,
} from './store-contract.js';

const couchdb = useCouchTests();
const { external } = couchdb;
const tempDir = (): Promise<string> => couchdb.tempDir('cctv-couch-store-');
const freshDatabase = (): string => couchdb.freshDatabase('cctv-test');
const spec = (database: string): CouchStoreConfig => couchdb.config(database);
const open = (database: string, stateDir: string, log?: Logger): Promise<InventoryStore> => couchdb.open(spec(database), stateDir, log);
const couchRequest = couchdb.request;

async function docsOfType(database: string, type: string): Promise<any[]> {
  const { json } = await couchRequest('GET', `/${database}/_all_docs?include_docs=true`);
  return (json.rows as Array<{ doc: { type?: string } }>).map((r) => r.doc).filter((d) => d.type === type);
}

/** Scan ids of the scan documents, in the order the database took them (its changes feed). */
async function scanOrder(database: string): Promise<string[]> {
  const { json } = await couchRequest('GET', `/${database}/_changes`);
  return (json.results as Array<{ id: string }>).map((r) => r.id).filter((id) => id.startsWith('scan:')).map((id) => id.split(':')[2] ?? '');
}

// ---- the shared contract ----------------------------------------------------------------------

storeContract('couchdb', async () => {
  const database = freshDatabase();
  const stateDir = join(await tempDir(), 'state');
  const absent = freshDatabase();
  return {
    // The string form, as --store takes it (an external server's credentials need the object form).
    store: await openStore(couchdb.spec(database), { log: silent, stateDir }),
    reopen: () => openStore(spec(database), { log: silent, stateDir }),
    delivered: () => scanOrder(database),
    events: async (site) => (await docsOfType(database, 'event')).filter((d) => d.site === site).map((d) => d.event as ChangeEvent),
    readsBack: true,
    readSpec: couchdb.spec(database),
    absent: { spec: spec(absent), exists: async () => (await couchRequest('GET', `/${absent}`)).status !== 404 },
    cleanup: couchdb.cleanup,
  };
});

// ---- specifics ---------------------------------------------------------------------------------

describe('couchdb store: registry and configuration', () => {
  it('takes couchdb+http(s)://host:port/database', () => {
    expect(stores).toContain(couchStore);
    expect(couchStore.accepts('couchdb+https://couch.example.org:6984/cctv')).toBe(true);
    expect(couchStore.accepts('https://couch.example.org:6984/cctv')).toBe(false);
    expect(couchConfig('couchdb+https://couch.example.org:6984/cctv_fleet')).toEqual({
      type: 'couchdb',
      url: 'https://couch.example.org:6984',
      database: 'cctv_fleet',
    });
  });

  it.each([
    ['credentials in the URL', 'couchdb+http://admin:secret@127.0.0.1:5984/cctv', /credentials must not be written/],
    ['no database', 'couchdb+http://127.0.0.1:5984', /couchdb\+https:\/\/host:port\/database/],
    ['a database name CouchDB refuses', 'couchdb+http://127.0.0.1:5984/CCTV', /database name/],
  ])('refuses %s with CCTV_ERR_STORE_SPEC', async (_what, text, message) => {
    const error = await openStore(text, { log: silent, stateDir: join(await tempDir(), 'state') }).then(
      () => new Error('expected a rejection'),
      (e: unknown) => e as Error,
    );
    expect(error).toMatchObject({ code: 'CCTV_ERR_STORE_SPEC' });
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain('secret');
  });
});

describe('couchdb store: documents', () => {
  it('creates the database and its type/site index, then keeps one up-to-date document per device, one per scan and one per event', async () => {
    const database = freshDatabase();
    const store = await open(database, join(await tempDir(), 'state'));
    const first = await recordScan(store, firstScan());
    const second = await recordScan(store, secondScan());
    expect(await store.flush(10_000)).toBe(true);

    const { json: indexes } = await couchRequest('GET', `/${database}/_index`);
    expect(indexes.indexes).toContainEqual(
      expect.objectContaining({ ddoc: '_design/cctv-agent', name: 'type-site', def: expect.objectContaining({ fields: [{ type: 'asc' }, { site: 'asc' }] }) }),
    );

    const devices = await docsOfType(database, 'device');
    expect(devices.map((d) => d._id).sort()).toEqual(
      ['mac:3c:ef:8c:a1:07:5d', 'mac:44:47:cc:0e:91:22', 'mac:ac:cc:8e:62:30:b4', 'mac:bc:ad:28:4f:12:9e'].map((id) => deviceDocId(SITE, id)),
    );
    const byId = new Map(devices.map((d) => [d.deviceId as string, d]));
    const secondScanId = secondScan().scan.id;
    // Present in the second scan: its data, as seen then.
    for (const device of secondScan().devices) {
      expect(byId.get(device.id)).toMatchObject({ type: 'device', site: SITE, present: true, lastSeenScanId: secondScanId, device });
    }
    // Gone in the second scan: kept as last seen, marked not present.
    expect(byId.get(dahuaCamera().id)).toMatchObject({
      present: false,
      lastSeenScanId: firstScan().scan.id,
      lastSeenAt: firstScan().scan.finishedAt,
      device: dahuaCamera(),
    });

    const scans = await docsOfType(database, 'scan');
    expect(scans.map((d) => d._id).sort()).toEqual([scanDocId(SITE, firstScan().scan.id), scanDocId(SITE, secondScanId)]);
    expect(scans.find((d) => d.scanId === secondScanId)?.inventory).toEqual(secondScan());

    const events = await docsOfType(database, 'event');
    expect(events.map((d) => d._id)).toEqual([
      ...first.events.map((_, n) => eventDocId(SITE, firstScan().scan.id, n)),
      ...second.events.map((_, n) => eventDocId(SITE, secondScanId, n)),
    ]);
    expect(events.filter((d) => d.scanId === secondScanId).map((d) => d.event)).toEqual(expectedSecondScanChanges());

    // The index answers a dashboard's query for the site's devices.
    const { json: found } = await couchRequest('POST', `/${database}/_find`, { selector: { type: 'device', site: SITE }, use_index: ['cctv-agent', 'type-site'] });
    expect(found.docs).toHaveLength(4);
  });

  // Skipped, and reported as skipped, against COUCHDB_URL's server: down/up needs the local server.

  it.skipIf(external)('queues while CouchDB is down, across a restart, then writes everything and ends up to date', async () => {
    const database = freshDatabase();
    const stateDir = join(await tempDir(), 'state');
    await couchdb.couch.down();
    const before = await open(database, stateDir);
    await recordScan(before, firstScan());
    await recordScan(before, secondScan());
    expect(await before.flush(300)).toBe(false);
    expect(before.status()).toMatchObject({ outboxDepth: 2, reachable: false });
    expect(before.status().lastError).toMatch(/CouchDB cannot be reached/);
    await before.close();

    const after = await open(database, stateDir);
    const third = secondScan();
    third.scan.id = '20260316T081500Z-5e5e5e';
    third.scan.finishedAt = '2026-03-16T08:15:31.000Z';
    third.devices = third.devices.filter((d) => d.id !== hikvisionNvr().id);
    await recordScan(after, third);
    await couchdb.couch.up();
    expect(await after.flush(10_000)).toBe(true);
    expect(await scanOrder(database)).toEqual([firstScan().scan.id, secondScan().scan.id, third.scan.id]);
    const devices = new Map((await docsOfType(database, 'device')).map((d) => [d.deviceId as string, d]));
    expect(devices.size).toBe(4);
    expect(devices.get(hikvisionNvr().id)).toMatchObject({ present: false, lastSeenScanId: secondScan().scan.id });
    expect(devices.get(hikvisionCamera().id)).toMatchObject({ present: true, lastSeenScanId: third.scan.id });
    expect(await docsOfType(database, 'event')).toHaveLength(3 + 4 + 1);
  });

  // Skipped, and reported as skipped, against COUCHDB_URL's server: the concurrent writer hooks into the local server.

  it.skipIf(external)('retries a document another writer changed between reading its _rev and writing it', async () => {
    const database = freshDatabase();
    const hikId = deviceDocId(SITE, hikvisionCamera().id);
    let interfered = 0;
    couchdb.couch.beforeBulkDocs = async (db) => {
      if (db !== database || interfered > 0) return;
      interfered += 1;
      // Another writer creates the device document first: the store's write, made without that
      // _rev, conflicts.
      const { status } = await couchRequest('PUT', `/${database}/${encodeURIComponent(hikId)}`, { type: 'device', site: SITE, note: 'other writer' });
      expect(status).toBe(201);
    };
    const store = await open(database, join(await tempDir(), 'state'));
    await recordScan(store, firstScan());
    expect(await store.flush(10_000)).toBe(true);
    expect(interfered).toBe(1);
    const { json: doc } = await couchRequest('GET', `/${database}/${encodeURIComponent(hikId)}`);
    expect(doc._rev).toMatch(/^2-/);
    expect(doc).toMatchObject({ present: true, device: hikvisionCamera() });
    expect(doc.note).toBeUndefined();
  });

  it('sends re-delivered documents as upserts: saving the same scan twice leaves one document each', async () => {
    const database = freshDatabase();
    const store = await open(database, join(await tempDir(), 'state'));
    await recordScan(store, firstScan());
    await store.save(firstScan(), []);
    expect(await store.flush(10_000)).toBe(true);
    expect(await docsOfType(database, 'scan')).toHaveLength(1);
    expect(await docsOfType(database, 'device')).toHaveLength(3);
    expect(store.status().lastError).toBeNull();
  });
});

describe('couchdb store: auth', () => {
  // Skipped, and reported as skipped, against COUCHDB_URL's server: the local server checks the header.
  it.skipIf(external)('sends basic credentials from the environment and a password file, never logged; a 401 is retried, not dropped', async () => {
    const database = freshDatabase();
    const dir = await tempDir();
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dir, 'couch-password'), password, { mode: 0o600 });
    process.env.CCTV_TEST_COUCH_AGENT = 'cctv-agent';
    couchdb.defer(async () => void delete process.env.CCTV_TEST_COUCH_AGENT);
    const header = `Basic ${Buffer.from(`cctv-agent:${password}`).toString('base64')}`;
    couchdb.couch.authorizations.length = 0;
    couchdb.couch.requireAuthorization = 'Basic d3Jvbmc6d3Jvbmc='; // the account is not set up yet
    const raw: string[] = [];
    const log = pino({ level: 'debug' }, { write: (s: string) => void raw.push(s) });
    const spec: CouchStoreConfig = { type: 'couchdb', url: couchdb.couch.url, database, auth: { basicUserEnv: 'CCTV_TEST_COUCH_AGENT', basicPasswordFile: join(dir, 'couch-password') } };
    const store = await openStore(spec, { log, stateDir: join(dir, 'state') });
    couchdb.defer(() => store.close());
    await recordScan(store, firstScan());
    expect(await store.flush(500)).toBe(false);
    expect(store.status()).toMatchObject({ outboxDepth: 1, reachable: true });
    expect(store.status().lastError).toMatch(/HTTP 401/);
    couchdb.couch.requireAuthorization = header; // the operator fixes the account
    expect(await store.flush(10_000)).toBe(true);
    expect(new Set(couchdb.couch.authorizations)).toEqual(new Set([header]));
    expect(await docsOfType(database, 'device')).toHaveLength(3);
    const text = raw.join('');
    for (const secret of [password, header.slice('Basic '.length)]) expect(text).not.toContain(secret);
  });
});
