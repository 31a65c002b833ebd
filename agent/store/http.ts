/**
 * The HTTP push store: every saved document is POSTed, from the durable outbox (outbox.ts), to one
 * URL, oldest first, as JSON (`Content-Type: application/json`):
 *
 *   { "schema": "cctv-push/v1",
 *     "id": "<outbox entry id>",          also the Idempotency-Key header, the same on every retry
 *     "savedAt": "<ISO 8601>",            when the agent saved the document
 *     "inventory": { …cctv-inventory/v1… },
 *     "events": [ …ChangeEvent… ] }       the site's change events of that scan (agent/pipeline/changes.ts)
 *
 * The receiver's answer decides (draft-ietf-httpapi-idempotency-key-header for the key):
 * - 2xx: delivered; 409: that key was already delivered, so delivered too;
 * - 408, 429, 5xx, 3xx (redirects are not followed), timeouts and network errors: retried with
 *   backoff (Retry-After, RFC 9110 §10.2.3, is honoured up to the outbox's cap);
 * - any other 4xx: the receiver refuses this document for good; it moves to the dead-letter folder
 *   and the next one goes.
 *
 * Auth: a bearer token or basic credentials from the environment or a private file (auth.ts).
 * TLS: the system CAs, or `caFile`; `certFile` + `keyFile` for mutual TLS. Certificates are always
 * verified.
 *
 * Write only: cctv-push/v1 defines how a document is sent, not how one is read back, and the
 * outbox drops each entry once the receiver acknowledged it (keeping only the site's last document,
 * as the change engine's base). So listScans, loadScan, loadInventory and openReader refuse with
 * CCTV_ERR_STORE_WRITE_ONLY rather than answer from a partial local copy that could pass for the
 * collector's record.
 */
import http from 'node:http';
import https from 'node:https';
import { agentError } from '../errors.js';
import { AUTH_SPEC_SCHEMA, authorizationHeader, HTTP_URL_SPEC_SCHEMA, readPrivateFile, readPublicFile, safeAddress } from './auth.js';
import { openOutboxStore, type Deliver, type DeliveryOutcome, type OutboxEntry, type OutboxStore } from './outbox.js';
import type { ObjectSpecSchema, ScanReader, StoreAuthConfig, StoreDefinition, StoreOpenContext, StoreSpec } from './types.js';

/** The object form: `{ type: http, url, auth?, caFile?, certFile?, keyFile?, timeoutMs? }`. */
export interface HttpStoreConfig {
  type: typeof STORE_NAME;
  url: string;
  auth?: StoreAuthConfig;
  /** PEM file of the CA(s) that sign the endpoint's certificate, instead of the system ones. */
  caFile?: string;
  /** PEM client certificate and key for mutual TLS; the key file must be private to its owner. */
  certFile?: string;
  keyFile?: string;
  /** Per-request time limit. Default 30 s. */
  timeoutMs?: number;
}

export const PUSH_SCHEMA_ID = 'cctv-push/v1';

const STORE_NAME = 'http';
const SPEC_SCHEMA: ObjectSpecSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'url'],
  properties: {
    type: { const: STORE_NAME },
    url: HTTP_URL_SPEC_SCHEMA,
    auth: AUTH_SPEC_SCHEMA,
    caFile: { type: 'string', minLength: 1 },
    certFile: { type: 'string', minLength: 1 },
    keyFile: { type: 'string', minLength: 1 },
    timeoutMs: { type: 'integer', minimum: 100, maximum: 600_000 },
  },
};
const DEFAULT_TIMEOUT_MS = 30_000;
/** Bytes of a response body kept for the log and the dead letter; the rest is discarded. */
const MAX_RESPONSE_BYTES = 4 * 1024;

export const httpStore: StoreDefinition = {
  name: STORE_NAME,
  description: 'POSTs each document as JSON to an http(s):// URL, through a durable outbox',
  form: 'an http(s):// collector URL',
  readsBack: false,
  specSchema: SPEC_SCHEMA,
  accepts(spec) {
    return /^https?:\/\//i.test(spec);
  },
  label(spec) {
    return typeof spec === 'string' ? safeAddress(spec) : `${STORE_NAME}:${safeAddress(httpConfig(spec).url)}`;
  },
  openReader(spec) {
    return Promise.reject(writeOnly(httpConfig(spec).url));
  },
  open(spec, context) {
    return openHttpOutbox(httpConfig(spec), context, { name: STORE_NAME, body: pushBody });
  },
};

/** What an HTTP outbox POSTs for an entry; null: nothing to send (the entry counts as delivered). */
export type HttpBody = (entry: OutboxEntry) => string | null;

/** The cctv-push/v1 body of the push store (see the header comment). */
function pushBody(entry: OutboxEntry): string {
  return JSON.stringify({ schema: PUSH_SCHEMA_ID, id: entry.id, savedAt: entry.savedAt, inventory: entry.inventory, events: entry.events });
}

/**
 * An outbox that POSTs each entry as `body` makes it to `config.url`, with the push store's auth,
 * TLS, Idempotency-Key and answer rules: the push store, and the alerts' webhook (agent/alerts/webhook.ts).
 */
export async function openHttpOutbox(config: HttpStoreConfig, { log, stateDir }: StoreOpenContext, options: { name: string; body: HttpBody }): Promise<OutboxStore> {
  const url = new URL(config.url);
  const label = url.origin + url.pathname;
  const authorization = await authorizationHeader(label, config.auth);
  const tls = await tlsOptions(label, url, config);
  if (authorization && url.protocol === 'http:' && !isLoopback(url.hostname)) {
    log.warn({ store: label }, 'the push store sends credentials over plain http://; use https:// outside a test setup');
  }
  const deliver = httpDeliver(options.body, {
    url,
    authorization,
    // Never Node's keep-alive pool (whose global agent keeps sockets since Node 19): a collector
    // that closes after answering would leave a dead socket there and fail the next push.
    agent: url.protocol === 'https:' ? new https.Agent({ ...tls, keepAlive: false }) : new http.Agent({ keepAlive: false }),
    timeoutMs: config.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  });
  const refuse = (): Promise<never> => Promise.reject(writeOnly(config.url));
  const reader: ScanReader = { listScans: refuse, loadScan: refuse, loadInventory: refuse };
  return openOutboxStore({ name: options.name, stateDir, log: log.child({ store: label }), deliver, reader });
}

function writeOnly(url: string): Error {
  return agentError('CCTV_ERR_STORE_WRITE_ONLY', safeAddress(url), 'an http(s):// store only pushes documents to its collector (cctv-push/v1 has no way to read them back)');
}

/** The object form of a string or object spec, checked. */
export function httpConfig(spec: StoreSpec): HttpStoreConfig {
  const config: HttpStoreConfig = typeof spec === 'string' ? { type: 'http', url: spec } : (spec as HttpStoreConfig);
  if (config.type !== STORE_NAME) throw new TypeError(`the http store cannot open a "${config.type}" spec`);
  let url: URL;
  try {
    url = new URL(config.url);
  } catch {
    throw agentError('CCTV_ERR_STORE_SPEC', config.url, 'it is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw agentError('CCTV_ERR_STORE_SPEC', config.url, 'the URL must start with http:// or https://');
  if (url.username !== '' || url.password !== '') {
    throw agentError('CCTV_ERR_STORE_SPEC', `${url.protocol}//${url.host}${url.pathname}`, 'credentials must not be written in the URL; name them in auth (an environment variable or a private file)');
  }
  return config;
}

interface TlsOptions {
  ca?: string;
  cert?: string;
  key?: string;
}

async function tlsOptions(label: string, url: URL, config: HttpStoreConfig): Promise<TlsOptions> {
  const { caFile, certFile, keyFile } = config;
  if (caFile === undefined && certFile === undefined && keyFile === undefined) return {};
  if (url.protocol !== 'https:') throw agentError('CCTV_ERR_STORE_SPEC', label, 'caFile, certFile and keyFile need an https:// URL');
  if ((certFile === undefined) !== (keyFile === undefined)) throw agentError('CCTV_ERR_STORE_SPEC', label, 'certFile and keyFile go together');
  const options: TlsOptions = {};
  if (caFile !== undefined) options.ca = await readPublicFile(caFile);
  if (certFile !== undefined) options.cert = await readPublicFile(certFile);
  if (keyFile !== undefined) options.key = await readPrivateFile(keyFile);
  return options;
}

interface PushTarget {
  url: URL;
  authorization: string | undefined;
  agent: http.Agent;
  timeoutMs: number;
}

function httpDeliver(makeBody: HttpBody, target: PushTarget): Deliver {
  return async (entry, signal) => {
    const body = makeBody(entry);
    if (body === null) return { result: 'delivered' };
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(body)),
      'Idempotency-Key': entry.id,
      'User-Agent': 'cctv-agent',
    };
    if (target.authorization) headers.Authorization = target.authorization;
    const answer = await post(target, headers, body, signal);
    if ('error' in answer) return { result: 'retry', error: answer.error, reachable: false };
    return pushOutcome(answer.status, answer.retryAfter, answer.excerpt);
  };
}

/** What a receiver's status code means for the document (see the header comment). */
export function pushOutcome(status: number, retryAfter: string | undefined, excerpt: string): DeliveryOutcome {
  if (status >= 200 && status < 300) return { result: 'delivered' };
  if (status === 409) return { result: 'delivered' };
  const said = `the receiver answered HTTP ${status}${excerpt ? `: ${excerpt}` : ''}`;
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) return { result: 'rejected', error: said };
  const outcome: DeliveryOutcome = { result: 'retry', error: said, reachable: true };
  const wait = retryAfterMs(retryAfter);
  if (wait !== undefined) outcome.retryAfterMs = wait;
  return outcome;
}

/** Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3), in ms; undefined when absent or unreadable. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d{1,9}$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

type PostAnswer = { status: number; retryAfter: string | undefined; excerpt: string } | { error: string };

function post(target: PushTarget, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<PostAnswer> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (answer: PostAnswer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(answer);
    };
    const transport = target.url.protocol === 'https:' ? https : http;
    const req = transport.request(target.url, { method: 'POST', headers, agent: target.agent, maxHeaderSize: 16 * 1024 });
    const timer = setTimeout(() => {
      req.destroy();
      finish({ error: `no answer within ${target.timeoutMs} ms` });
    }, target.timeoutMs);
    const onAbort = (): void => {
      req.destroy();
      finish({ error: 'the store was closed during the attempt' });
    };
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    req.on('error', (error: NodeJS.ErrnoException) => finish({ error: error.code ? `${error.code}: ${error.message}` : error.message }));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const done = (): void => {
        const text = Buffer.concat(chunks).toString('utf8');
        // Printable characters only: this text goes into logs.
        const excerpt = text.replace(/[^\x20-\x7e]+/g, ' ').trim().slice(0, 200);
        const retryAfter = res.headers['retry-after'];
        finish({ status: res.statusCode ?? 0, retryAfter, excerpt });
      };
      res.on('data', (chunk: Buffer) => {
        if (size >= MAX_RESPONSE_BYTES) return;
        chunks.push(chunk.subarray(0, MAX_RESPONSE_BYTES - size));
        size += chunk.length;
        if (size >= MAX_RESPONSE_BYTES) {
          done();
          res.destroy();
        }
      });
      res.on('end', done);
      res.on('error', done);
    });
    req.end(body);
  });
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\./.test(hostname);
}
