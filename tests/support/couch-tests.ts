/**
 * The setup every CouchDB store test file shares: one CouchDB-protocol server for the file
 * (couch-server.ts: express-pouchdb, or Apache CouchDB when COUCHDB_URL is set), a database of its
 * own for each test (deleted after it), temporary state folders, stores closed after the test, and
 * the local server's test switches (auth, concurrent writer, down) reset after each test.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { Logger } from '../../agent/log.js';
import type { CouchStoreConfig } from '../../agent/store/couchdb.js';
import { openStore } from '../../agent/store/index.js';
import type { InventoryStore, StoreSpec } from '../../agent/store/types.js';
import { couchFetch, EXTERNAL_COUCHDB, startCouchServer, type CouchServer } from './couch-server.js';

export const silent: Logger = pino({ level: 'silent' });

export interface CouchTests {
  /** The server, once the file's tests run. */
  readonly couch: CouchServer;
  /** Whether the tests run against COUCHDB_URL's server (no down/up, no header checks, no hooks). */
  readonly external: boolean;
  /** A direct request to the server, as a dashboard, an administrator or another writer would make it. */
  request(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>;
  /** A database name no other test uses (`<prefix>-<random>`), deleted after the test. */
  freshDatabase(prefix: string): string;
  /** The store's configuration for `database`, with the server's credentials when it needs them. */
  config(database: string): CouchStoreConfig;
  /** As `--store` takes it (`couchdb+URL/database`), or the configuration when credentials are needed. */
  spec(database: string): StoreSpec;
  /** A temporary folder, removed after the test. */
  tempDir(prefix: string): Promise<string>;
  /** A store on `database` keeping its state in `stateDir`, closed after the test. */
  open(spec: StoreSpec, stateDir: string, log?: Logger): Promise<InventoryStore>;
  /** Runs `fn` after the current test, before what was deferred earlier. */
  defer(fn: () => Promise<unknown>): void;
  /** Runs what was deferred, now. */
  cleanup(): Promise<void>;
}

/** Registers the file's hooks and returns its helpers. */
export function useCouchTests(): CouchTests {
  let server: CouchServer | undefined;
  const external = EXTERNAL_COUCHDB;
  const deferred: Array<() => Promise<unknown>> = [];
  const couch = (): CouchServer => {
    if (!server) throw new Error('the CouchDB test server is not started yet (use it inside a test)');
    return server;
  };

  const tests: CouchTests = {
    get couch() {
      return couch();
    },
    external,
    request: (method, path, body) => couchFetch(couch(), method, path, body),
    freshDatabase(prefix) {
      const name = `${prefix}-${randomBytes(6).toString('hex')}`;
      tests.defer(() => tests.request('DELETE', `/${name}`).catch(() => undefined));
      return name;
    },
    config(database) {
      const { url, auth } = couch();
      return auth ? { type: 'couchdb', url, database, auth } : { type: 'couchdb', url, database };
    },
    spec: (database) => (couch().auth ? tests.config(database) : `couchdb+${couch().url}/${database}`),
    async tempDir(prefix) {
      const dir = await mkdtemp(join(tmpdir(), prefix));
      tests.defer(() => rm(dir, { recursive: true, force: true }));
      return dir;
    },
    async open(spec, stateDir, log = silent) {
      const store = await openStore(spec, { log, stateDir });
      tests.defer(() => store.close());
      return store;
    },
    defer: (fn) => void deferred.push(fn),
    async cleanup() {
      for (const fn of deferred.splice(0).reverse()) await fn();
    },
  };

  beforeAll(async () => {
    server = await startCouchServer();
  });
  afterAll(async () => {
    await server?.close();
  });
  afterEach(async () => {
    await tests.cleanup();
    if (!server) return;
    server.requireAuthorization = undefined;
    server.beforeBulkDocs = undefined;
    if (!external) await server.up(); // in case a test left it down
  });
  return tests;
}
