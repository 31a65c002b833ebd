/**
 * The HTTP push store against a real loopback receiver (tests/support/http-receiver.ts): the shared
 * contract, then delivery through outages and restarts, auth, TLS, dead letters and retries.
 */
import { recordScan, type ChangeEvent } from '../../agent/pipeline/changes.js';
import { execFileSync } from 'node:child_process';
import { chmod, copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../agent/log.js';
import { httpStore, pushOutcome, retryAfterMs, type HttpStoreConfig } from '../../agent/store/http.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { openStore, STORE_SPEC_SCHEMA, stores, storeStateDir } from '../../agent/store/index.js';
import type { InventoryStore, StoreSpec } from '../../agent/store/types.js';
import { startHttpReceiver, type HttpReceiver } from '../support/http-receiver.js';
import { startClosingHttpServer } from '../support/closing-http-server.js';
import { expectedSecondScanChanges, firstScan, hikvisionCamera, inventory, secondScan, SITE, storeContract } from './store-contract.js';

const silent: Logger = pino({ level: 'silent' });

/** A debug-level logger whose raw NDJSON lines are kept, to grep for secrets. */
function captureLog(): { log: Logger; text: () => string; lines: () => Array<Record<string, unknown>> } {
  const raw: string[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void raw.push(s) });
  return { log, text: () => raw.join(''), lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cctv-http-store-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function receiver(options: Parameters<typeof startHttpReceiver>[0] = {}): Promise<HttpReceiver> {
  const r = await startHttpReceiver(options);
  cleanups.push(() => r.close());
  return r;
}

/** Opens a store and closes it after the test. */
async function open(spec: StoreSpec, stateDir: string, log: Logger = silent): Promise<InventoryStore> {
  const store = await openStore(spec, { log, stateDir });
  cleanups.push(() => store.close());
  return store;
}

function scanNumber(n: number) {
  const hik = hikvisionCamera();
  hik.identity.firmware = `V5.7.${n}`;
  const minute = String(n).padStart(2, '0');
  return inventory({
    id: `20260312T10${minute}00Z-${String(n).padStart(6, '0')}`,
    startedAt: `2026-03-12T10:${minute}:00.000Z`,
    finishedAt: `2026-03-12T10:${minute}:30.000Z`,
    devices: [hik],
  });
}

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const scanIds = (r: HttpReceiver) => r.received.map((p) => p.body.inventory.scan.id);

// ---- the shared contract ----------------------------------------------------------------------

storeContract('http', async () => {
  const r = await startHttpReceiver();
  const stateDir = join(await tempDir(), 'state');
  const spec: HttpStoreConfig = { type: 'http', url: r.url };
  return {
    store: await openStore(r.url, { log: silent, stateDir }),
    reopen: () => openStore(spec, { log: silent, stateDir }),
    delivered: () => Promise.resolve(scanIds(r)),
    events: async (site) => r.received.filter((p) => p.body.inventory.scan.site === site).flatMap((p) => p.body.events as unknown as ChangeEvent[]),
    // cctv-push/v1 only sends (agent/store/http.ts): reading refuses, and never reaches the collector.
    readsBack: false,
    readSpec: r.url,
    absent: { spec: `${r.url}no-such-collector`, exists: async () => r.requests.length > 0 },
    cleanup: () => r.close(),
  };
});

// ---- specifics ---------------------------------------------------------------------------------

describe('http store: registry and configuration', () => {
  it('takes http(s) URLs; the state folder name is stable per spec', () => {
    expect(stores).toContain(httpStore);
    expect(httpStore.accepts('https://inventory.example.org/push')).toBe(true);
    expect(httpStore.accepts('HTTP://127.0.0.1:8080/')).toBe(true);
    expect(httpStore.accepts('couchdb+https://couch.example.org/cctv')).toBe(false);
    expect(httpStore.accepts('/var/lib/cctv')).toBe(false);
    const a = storeStateDir('/var/lib/cctv-agent', 'https://a.example.org/push');
    expect(a).toMatch(/^\/var\/lib\/cctv-agent\/outbox\/http-[0-9a-f]{12}$/);
    expect(storeStateDir('/var/lib/cctv-agent', 'https://a.example.org/push')).toBe(a);
    expect(storeStateDir('/var/lib/cctv-agent', 'https://b.example.org/push')).not.toBe(a);
  });

  it('publishes STORE_SPEC_SCHEMA, which a strict draft 2020-12 validator compiles, for the daemon config to embed', () => {
    const validate = new Ajv2020({ strict: true }).compile({ type: 'object', properties: { stores: { type: 'array', items: STORE_SPEC_SCHEMA } } });
    const good = [
      './cctv-inventory',
      { type: 'file', dir: '/var/lib/cctv-agent/inventory' },
      { type: 'http', url: 'https://soc.example.org/cctv', auth: { bearerTokenFile: '/etc/cctv-agent/push-token' }, caFile: '/etc/ssl/soc-ca.pem', timeoutMs: 10_000 },
      { type: 'couchdb', url: 'https://couch.example.org:6984', database: 'cctv', auth: { basicUserEnv: 'COUCH_USER', basicPasswordEnv: 'COUCH_PASSWORD' } },
    ];
    expect(validate({ stores: good })).toBe(true);
    for (const bad of [{ type: 'http', url: 'https://x/', auth: { bearerToken: 'inline-secret' } }, { type: 'couchdb', url: 'https://x' }, { type: 'smtp' }, '']) {
      expect(validate({ stores: [bad] })).toBe(false);
    }
  });

  it.each([
    ['credentials in the URL', 'http://user:secret@127.0.0.1:9/push', /credentials must not be written in the URL/],
    ['an unknown key', { type: 'http', url: 'http://127.0.0.1:9/', token: 'abc' }, /additional properties/],
    ['a secret written inline', { type: 'http', url: 'http://127.0.0.1:9/', auth: { bearerToken: 'abc' } }, /additional properties/],
    ['TLS files for http://', { type: 'http', url: 'http://127.0.0.1:9/', caFile: '/etc/ssl/ca.pem' }, /need an https:\/\/ URL/],
    ['a cert without its key', { type: 'http', url: 'https://127.0.0.1:9/', certFile: '/etc/ssl/c.pem' }, /go together/],
    ['both bearer and basic', { type: 'http', url: 'http://127.0.0.1:9/', auth: { bearerTokenEnv: 'A', basicUserEnv: 'B' } }, /keep one/],
    ['an unknown type', { type: 'ftp', url: 'ftp://x/' }, /"type" is http, couchdb or file/],
  ])('refuses %s with CCTV_ERR_STORE_SPEC, before writing anything', async (_what, spec, message) => {
    const stateDir = join(await tempDir(), 'state');
    const error = await openStore(spec as StoreSpec, { log: silent, stateDir }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CCTV_ERR_STORE_SPEC', exitCode: 2 });
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('secret');
    await expect(readdir(stateDir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('maps answers: 2xx and 409 delivered, 408/429/5xx/3xx retried, other 4xx refused', () => {
    for (const s of [200, 201, 202, 204, 409]) expect(pushOutcome(s, undefined, '').result).toBe('delivered');
    for (const s of [301, 408, 429, 500, 502, 503]) expect(pushOutcome(s, undefined, '').result).toBe('retry');
    for (const s of [400, 401, 403, 404, 410, 413, 422]) expect(pushOutcome(s, undefined, 'no').result).toBe('rejected');
    expect(pushOutcome(503, '7', '')).toMatchObject({ result: 'retry', retryAfterMs: 7_000, reachable: true });
    expect(retryAfterMs('Wed, 21 Oct 2026 07:28:10 GMT', Date.parse('Wed, 21 Oct 2026 07:28:00 GMT'))).toBe(10_000);
    expect(retryAfterMs('soon')).toBeUndefined();
  });
});

describe('http store: delivery', () => {
  it('POSTs cctv-push/v1 JSON with the events and an Idempotency-Key equal to the save location', async () => {
    const r = await receiver();
    const store = await open(r.url, join(await tempDir(), 'state'));
    const first = await recordScan(store, firstScan());
    const second = await recordScan(store, secondScan());
    expect(await store.flush(5_000)).toBe(true);
    expect(r.received.map((p) => p.key)).toEqual([first.location, second.location]);
    const body = r.received[1]?.body;
    expect(body).toMatchObject({ schema: 'cctv-push/v1', id: second.location, inventory: secondScan(), events: expectedSecondScanChanges() });
    expect(Date.parse(body?.savedAt ?? '')).toBeGreaterThan(Date.now() - 60_000);
  });

  it('delivers each push on its own connection to a collector that answers HTTP/1.1 without Connection: close and then closes', async () => {
    // It lingers a moment before closing, as such servers do: long enough for a reused connection's request to go unanswered.
    const collector = await startClosingHttpServer(() => ({ status: 201, body: '' }), { lingerMs: 100 });
    cleanups.push(() => collector.close());
    const store = await open(`http://127.0.0.1:${collector.port}/inventory`, join(await tempDir(), 'state'));
    for (const n of [1, 2, 3]) await store.save(scanNumber(n), []);
    expect(await store.flush(5_000)).toBe(true);
    expect(collector.requests.map((r) => (JSON.parse(r.body) as { inventory: { scan: { id: string } } }).inventory.scan.id)).toEqual([1, 2, 3].map((n) => scanNumber(n).scan.id));
    expect(collector.unanswered).toBe(0);
    expect(collector.connections).toBe(3);
  });

  it('queues while the endpoint is down, across a restart, then delivers every document once, in order', async () => {
    const r = await receiver();
    const stateDir = join(await tempDir(), 'state');
    await r.down();
    const first = await open(r.url, stateDir);
    for (const n of [1, 2, 3]) await recordScan(first, scanNumber(n));
    await until(() => first.status().lastError !== null);
    expect(first.status()).toMatchObject({ outboxDepth: 3, reachable: false, lastDeliveryAt: null });
    expect(first.status().lastError).toMatch(/ECONNREFUSED/);
    expect(await first.flush(300)).toBe(false);
    await first.close();
    expect((await readdir(join(stateDir, 'pending'))).length).toBe(3);

    const second = await open(r.url, stateDir);
    expect(second.status().outboxDepth).toBe(3);
    expect(await second.latest(SITE)).toEqual(scanNumber(3));
    const fourth = await recordScan(second, scanNumber(4));
    expect(fourth.events).toEqual([expect.objectContaining({ type: 'firmware-changed', scanId: scanNumber(4).scan.id })]);
    await r.up();
    expect(await second.flush(10_000)).toBe(true);
    expect(scanIds(r)).toEqual([1, 2, 3, 4].map((n) => scanNumber(n).scan.id));
    expect(r.repeats).toEqual([]);
    expect(new Set(r.received.map((p) => p.key)).size).toBe(4);
    expect(second.status()).toMatchObject({ outboxDepth: 0, reachable: true, lastError: null });
    expect(await readdir(join(stateDir, 'pending'))).toEqual([]);
  });

  it('resends, with the same key, a document acknowledged just before a crash; the receiver answers 409 and it counts as delivered', async () => {
    const r = await receiver();
    const stateDir = join(await tempDir(), 'state');
    await r.down();
    const store = await open(r.url, stateDir);
    const saved = await recordScan(store, firstScan());
    const [entry] = await readdir(join(stateDir, 'pending'));
    const kept = join(await tempDir(), 'entry.json');
    await copyFile(join(stateDir, 'pending', entry ?? ''), kept);
    await r.up();
    expect(await store.flush(10_000)).toBe(true);
    await store.close();
    // The crash: the receiver acknowledged, but the entry was never removed.
    await copyFile(kept, join(stateDir, 'pending', entry ?? ''));

    const restarted = await open(r.url, stateDir);
    expect(await restarted.flush(10_000)).toBe(true);
    expect(r.received.map((p) => p.key)).toEqual([saved.location]);
    expect(r.repeats).toEqual([saved.location]);
    expect(restarted.status().lastError).toBeNull();
  });

  it('retries 503 and 429 with the same Idempotency-Key until accepted', async () => {
    const r = await receiver();
    const answers = [503, 429];
    r.override = () => answers.shift();
    const store = await open(r.url, join(await tempDir(), 'state'));
    const saved = await recordScan(store, firstScan());
    expect(await store.flush(15_000)).toBe(true);
    expect(r.requests).toEqual([
      [503, saved.location],
      [429, saved.location],
      [201, saved.location],
    ]);
  });

  it('moves a document the receiver refuses (400) to dead-letter/ and delivers the later ones', async () => {
    const r = await receiver();
    const stateDir = join(await tempDir(), 'state');
    const { log, lines } = captureLog();
    r.override = (body) => (body.inventory.scan.id === scanNumber(2).scan.id ? 400 : undefined);
    const store = await open(r.url, stateDir, log);
    for (const n of [1, 2, 3]) await recordScan(store, scanNumber(n));
    expect(await store.flush(10_000)).toBe(true);
    expect(scanIds(r)).toEqual([scanNumber(1).scan.id, scanNumber(3).scan.id]);
    const dead = await readdir(join(stateDir, 'dead-letter'));
    expect(dead).toHaveLength(1);
    const letter = JSON.parse(await readFile(join(stateDir, 'dead-letter', dead[0] ?? ''), 'utf8')) as {
      rejection: { error: string };
      entry: { inventory: unknown };
    };
    expect(letter.rejection.error).toMatch(/HTTP 400: forced 400/);
    expect(letter.entry.inventory).toEqual(scanNumber(2));
    expect(lines().some((l) => l.level === 50 && /dead-letter/.test(String(l.msg)))).toBe(true);
    // The dead letter's sequence number is not reused after a restart.
    await store.close();
    const again = await open(r.url, stateDir);
    await recordScan(again, scanNumber(4));
    expect(await again.flush(5_000)).toBe(true);
    expect(scanIds(r)).toHaveLength(3);
  });
});

describe('http store: auth, never logged', () => {
  it('sends a bearer token from the environment, and no log line holds it', async () => {
    const token = `tok-${Math.random().toString(36).slice(2)}AbC`;
    process.env.CCTV_TEST_PUSH_TOKEN = token;
    cleanups.push(async () => void delete process.env.CCTV_TEST_PUSH_TOKEN);
    const r = await receiver();
    r.requireAuthorization = `Bearer ${token}`;
    const { log, text } = captureLog();
    const spec: HttpStoreConfig = { type: 'http', url: r.url, auth: { bearerTokenEnv: 'CCTV_TEST_PUSH_TOKEN' } };
    const store = await open(spec, join(await tempDir(), 'state'), log);
    await recordScan(store, firstScan());
    expect(await store.flush(5_000)).toBe(true);
    expect(r.received.map((p) => p.authorization)).toEqual([`Bearer ${token}`]);
    expect(text()).toContain('delivered');
    expect(text()).not.toContain(token);
  });

  it('sends basic credentials (user from the environment, password from a private file), never logged, even on 401', async () => {
    const dir = await tempDir();
    const password = `pw-${Math.random().toString(36).slice(2)}`;
    const file = join(dir, 'push-password');
    await writeFile(file, `${password}\n`, { mode: 0o600 });
    process.env.CCTV_TEST_PUSH_USER = 'agent-town-hall';
    cleanups.push(async () => void delete process.env.CCTV_TEST_PUSH_USER);
    const expected = `Basic ${Buffer.from(`agent-town-hall:${password}`).toString('base64')}`;
    const r = await receiver();
    r.requireAuthorization = expected;
    const { log, text } = captureLog();
    const spec: HttpStoreConfig = { type: 'http', url: r.url, auth: { basicUserEnv: 'CCTV_TEST_PUSH_USER', basicPasswordFile: file } };
    const store = await open(spec, join(dir, 'state'), log);
    await recordScan(store, firstScan());
    expect(await store.flush(5_000)).toBe(true);
    expect(r.received[0]?.authorization).toBe(expected);

    r.requireAuthorization = 'Basic c29tZW9uZS1lbHNl';
    await recordScan(store, secondScan());
    expect(await store.flush(5_000)).toBe(true); // refused for good: dead-lettered
    expect(store.status().lastError).toMatch(/HTTP 401/);
    for (const secret of [password, expected, expected.slice('Basic '.length)]) expect(text()).not.toContain(secret);
  });

  it('refuses a secret file other users can read, and a missing variable, naming them but not the secret', async () => {
    const dir = await tempDir();
    const file = join(dir, 'token');
    await writeFile(file, 'not-for-others');
    await chmod(file, 0o644);
    const opening = (auth: object) => openStore({ type: 'http', url: 'http://127.0.0.1:9/', auth } as HttpStoreConfig, { log: silent, stateDir: join(dir, 'state') });
    const failure = (auth: object) => opening(auth).then(
      () => Promise.reject(new Error('expected a rejection')),
      (e: unknown) => e as Error & { code: string },
    );
    const exposed = await failure({ bearerTokenFile: file });
    expect(exposed).toMatchObject({ code: 'CCTV_ERR_STORE_SECRET_EXPOSED' });
    expect(exposed.message).toContain(file);
    expect(exposed.message).toContain('0644');
    expect(exposed.message).not.toContain('not-for-others');
    const missing = await failure({ bearerTokenEnv: 'CCTV_TEST_UNSET_VARIABLE' });
    expect(missing).toMatchObject({ code: 'CCTV_ERR_STORE_SECRET' });
    expect(missing.message).toContain('CCTV_TEST_UNSET_VARIABLE');
  });
});

describe('http store: TLS', () => {
  /** A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl. */
  async function pki(dir: string) {
    const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=cctv test CA');
    for (const [name, ext] of [
      ['server', 'subjectAltName=IP:127.0.0.1'],
      ['client', 'extendedKeyUsage=clientAuth'],
    ] as const) {
      run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=cctv-${name}`);
      await writeFile(join(dir, `${name}.ext`), `${ext}\n`);
      run('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
      await chmod(join(dir, `${name}.key`), 0o600);
    }
    const read = (f: string) => readFile(join(dir, f), 'utf8');
    return { ca: await read('ca.pem'), serverKey: await read('server.key'), serverCert: await read('server.pem') };
  }

  it('trusts the endpoint through caFile and presents a client certificate (mutual TLS)', async () => {
    const dir = await tempDir();
    const { ca, serverKey, serverCert } = await pki(dir);
    const r = await receiver({ tls: { key: serverKey, cert: serverCert, ca, requestCert: true, rejectUnauthorized: true } });
    const spec: HttpStoreConfig = { type: 'http', url: r.url, caFile: join(dir, 'ca.pem'), certFile: join(dir, 'client.pem'), keyFile: join(dir, 'client.key') };
    const store = await open(spec, join(dir, 'state'));
    await recordScan(store, firstScan());
    expect(await store.flush(5_000)).toBe(true);
    expect(r.received.map((p) => p.clientCn)).toEqual(['cctv-client']);
  });

  it('does not deliver to an endpoint whose certificate it cannot verify', async () => {
    const dir = await tempDir();
    const { ca, serverKey, serverCert } = await pki(dir);
    const r = await receiver({ tls: { key: serverKey, cert: serverCert, ca } });
    const store = await open(r.url, join(dir, 'state')); // system CAs only
    await recordScan(store, firstScan());
    expect(await store.flush(1_000)).toBe(false);
    expect(store.status().lastError).toMatch(/certificate/i);
    expect(r.received).toEqual([]);
  });
});
