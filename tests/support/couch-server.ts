/**
 * A real CouchDB-protocol server on 127.0.0.1 for the CouchDB store's tests: express-pouchdb 4 on
 * express 4 over PouchDB 9 with the in-memory adapter (measured here with nano 11: it starts in
 * well under a second and writes no files; under an express 5 app `_changes` answers 500, "Cannot
 * set property query of #<IncomingMessage> which has only a getter"). With
 * COUCHDB_URL set (e.g. http://admin:secret@127.0.0.1:5984), the tests use that Apache CouchDB
 * instead; its credentials move to environment variables, as the store wants them.
 *
 * The local server can be taken down and brought back on the same port with its data (down/up),
 * records the Authorization headers it receives, can insist on one (401 otherwise), and runs an
 * optional hook before each `_bulk_docs` request (to play a concurrent writer).
 */
import { createRequire } from 'node:module';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { StoreAuthConfig } from '../../agent/store/types.js';
import { switchableServer } from './switchable-server.js';

const require = createRequire(import.meta.url);

type Handler = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;
interface ExpressApp {
  (req: IncomingMessage, res: ServerResponse): void;
  use(path: string, handler: Handler): void;
  post(path: string, handler: Handler): void;
}

export interface CouchServer {
  /** The server URL, without credentials. */
  url: string;
  /** Auth to give the store (COUCHDB_URL's credentials, as environment variable names), if any. */
  auth: StoreAuthConfig | undefined;
  /** Authorization header values received, in order (local server only). */
  authorizations: string[];
  /** When set, requests without exactly this Authorization header get 401 (local server only). */
  requireAuthorization: string | undefined;
  /** Runs before each `_bulk_docs` request reaches the server, with the database name (local server only). */
  beforeBulkDocs: ((db: string) => Promise<void>) | undefined;
  /** Stops answering (connections are refused) / answers again on the same port, with the same data. */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

/** Whether the tests run against the Apache CouchDB that COUCHDB_URL names instead of the local test server. */
export const EXTERNAL_COUCHDB = process.env.COUCHDB_URL !== undefined;

export async function startCouchServer(): Promise<CouchServer> {
  const external = process.env.COUCHDB_URL;
  if (external) return externalServer(external);

  const express = require('express') as () => ExpressApp;
  const expressPouchDb = require('express-pouchdb') as (pouch: unknown, options: object) => Handler;
  type PouchStatic = { plugin(p: unknown): PouchStatic; preferredAdapters: string[] };
  const PouchDB = (require('pouchdb') as PouchStatic).plugin(require('pouchdb-adapter-memory'));
  // Every database in memory, by making memory the adapter PouchDB picks for a plain name, not by
  // defaults({ adapter: 'memory' }): that would also open the http(s) URLs of a `_replicator`
  // document as memory databases, so replication would copy nothing (pouchdb parseAdapter).
  PouchDB.preferredAdapters.splice(0, PouchDB.preferredAdapters.length, 'memory');

  const app = express();
  const couch: CouchServer = {
    url: '',
    auth: undefined,
    authorizations: [],
    requireAuthorization: undefined,
    beforeBulkDocs: undefined,
    down: () => stop(),
    up: () => (lifecycle.running ? Promise.resolve() : listen()),
    close: () => stop(),
  };
  app.use('/', (req, res, next) => {
    const given = req.headers.authorization;
    if (given !== undefined) couch.authorizations.push(given);
    if (couch.requireAuthorization !== undefined && given !== couch.requireAuthorization) {
      res.writeHead(401, { 'Content-Type': 'application/json' });
      res.end('{"error":"unauthorized","reason":"Name or password is incorrect."}');
      return;
    }
    // The check is this server's; express-pouchdb would look the user up in its own _users.
    delete req.headers.authorization;
    next();
  });
  app.post('/:db/_bulk_docs', (req, _res, next) => {
    const db = decodeURIComponent((req.url ?? '').split('/')[1] ?? '');
    if (!couch.beforeBulkDocs) return next();
    couch.beforeBulkDocs(db).then(() => next(), next);
  });
  app.use('/', expressPouchDb(PouchDB, { inMemoryConfig: true, logPath: '/dev/null' }));

  const lifecycle = switchableServer(() => createServer(app));
  async function listen(): Promise<void> {
    const port = await lifecycle.start();
    couch.url = `http://127.0.0.1:${port}`;
  }
  const stop = (): Promise<void> => lifecycle.stop();
  await listen();
  return couch;
}

function externalServer(raw: string): CouchServer {
  const url = new URL(raw);
  let auth: StoreAuthConfig | undefined;
  if (url.username !== '') {
    process.env.CCTV_TEST_COUCH_USER = decodeURIComponent(url.username);
    process.env.CCTV_TEST_COUCH_PASSWORD = decodeURIComponent(url.password);
    auth = { basicUserEnv: 'CCTV_TEST_COUCH_USER', basicPasswordEnv: 'CCTV_TEST_COUCH_PASSWORD' };
  }
  const unsupported = (): Promise<void> => Promise.reject(new Error('down/up needs the local test server (unset COUCHDB_URL)'));
  return {
    url: url.origin,
    auth,
    authorizations: [],
    requireAuthorization: undefined,
    beforeBulkDocs: undefined,
    down: unsupported,
    up: unsupported,
    close: () => Promise.resolve(),
  };
}

/**
 * A direct request to the server, as a dashboard, an administrator's curl or another writer would
 * make it: JSON in and out, with the server's credentials when it needs them.
 */
export async function couchFetch(couch: CouchServer, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (couch.auth) {
    const user = process.env.CCTV_TEST_COUCH_USER ?? '';
    const password = process.env.CCTV_TEST_COUCH_PASSWORD ?? '';
    headers.Authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  } else if (couch.requireAuthorization) {
    headers.Authorization = couch.requireAuthorization;
  }
  const response = await fetch(`${couch.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: response.status, json: await response.json() };
}
