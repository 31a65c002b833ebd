import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { classify } from '../../agent/pipeline/classify.js';
import { createHttpDiscoverer, type HttpProbeData } from '../../agent/discovery/http.js';
import { fingerprintDevice } from '../../agent/fingerprint/index.js';
import { loadKnowledge } from '../../agent/knowledge/index.js';
import type { ScanContext } from '../../agent/discovery/types.js';
import type { Observation } from '../../agent/types.js';
import { loopbackContext } from '../support/scan-context.js';
import { checkedEmit } from '../support/declared-emits.js';

// Loopback web servers (127.0.0.1 only) standing in for camera web interfaces; the pages are the
// fixtures the lab serves (tests/fixtures/http/README.md), the HTTPS one uses the lab certificate.
const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/http/${name}`, import.meta.url));
const labCert = (name: string): Buffer => readFileSync(new URL(`../lab/certs/${name}`, import.meta.url));

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

interface Seen {
  path: string;
  method: string;
  headers: IncomingHttpHeaders;
}

type Page = (res: ServerResponse) => void;

/** A loopback web server answering `pages` by path (404 otherwise); records every request. */
async function webServer(pages: Record<string, Page>, tls = false): Promise<{ port: number; requests: Seen[] }> {
  const requests: Seen[] = [];
  const handler = (req: { url?: string; method?: string; headers: IncomingHttpHeaders }, res: ServerResponse): void => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push({ path, method: req.method ?? '', headers: req.headers });
    const page = pages[path];
    if (page) page(res);
    else res.writeHead(404).end('not here');
  };
  const server: Server = tls ? createHttpsServer({ key: labCert('hikvision-default.key'), cert: labCert('hikvision-default.crt') }, handler) : createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => {
    server.closeAllConnections();
    server.close();
  });
  return { port: (server.address() as AddressInfo).port, requests };
}

/** A raw TCP server running `onSocket` (for answers no HTTP server would give). */
async function rawServer(onSocket: (socket: import('node:net').Socket) => void): Promise<{ port: number; connections: () => number }> {
  let connections = 0;
  const sockets = new Set<import('node:net').Socket>();
  const server = createTcpServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { port: (server.address() as AddressInfo).port, connections: () => connections };
}

function portObservation(port: number, probes: string[] = ['http']): Observation {
  return { source: 'tcp-connect', ip: '127.0.0.1', port, at: new Date().toISOString(), status: 'ok', fields: { 'port.state': 'open', 'port.service': 'http', 'port.probes': probes } };
}

function context(seen: Observation[], over: Partial<ScanContext> = {}): ScanContext {
  return loopbackContext({ seen, ...over });
}

async function probe(seen: Observation[], options: Parameters<typeof createHttpDiscoverer>[0] = {}, over: Partial<ScanContext> = {}): Promise<Observation[]> {
  const observations: Observation[] = [];
  const discoverer = createHttpDiscoverer({ timeoutMs: 1000, ...options });
  await discoverer.run(context(seen, over), checkedEmit(discoverer, observations));
  return observations;
}

const html = (body: Buffer | string, headers: Record<string, string> = {}): Page => (res) => res.writeHead(200, { 'Content-Type': 'text/html', ...headers }).end(body);

const hikvisionPages: Record<string, Page> = {
  '/': html(fixture('hikvision/index.html'), { Server: 'App-webs/' }),
  '/favicon.ico': (res) => res.writeHead(200, { 'Content-Type': 'image/x-icon', Server: 'App-webs/' }).end(fixture('lab-favicon.ico')),
  '/ISAPI/System/deviceInfo': (res) =>
    res
      .writeHead(401, { Server: 'App-webs/', 'Content-Type': 'application/xml', 'WWW-Authenticate': 'Digest qop="auth", realm="IP Camera(FN636)", nonce="4e6a", stale="FALSE", domain="::"' })
      .end(fixture('hikvision/isapi-usercheck-401.xml')),
  '/doc/page/login.asp': html(fixture('hikvision/login.asp.html'), { Server: 'App-webs/' }),
};

describe('the HTTP discoverer', () => {
  it('asks each data path once, GET only, without credentials, and records what each answer says', async () => {
    const web = await webServer(hikvisionPages);
    const observations = await probe([portObservation(web.port)]);
    const paths = loadKnowledge().httpProbes.paths.map((p) => p.path);
    expect(web.requests.map((r) => r.path)).toEqual(paths);
    expect(web.requests.every((r) => r.method === 'GET' && r.headers.authorization === undefined)).toBe(true);
    expect(observations.map((o) => o.fields['http.path'])).toEqual(paths);
    const byPath = new Map(observations.map((o) => [o.fields['http.path'], o]));
    expect(byPath.get('/')).toMatchObject({ source: 'http-pages', ip: '127.0.0.1', port: web.port, status: 'ok', fields: { 'http.status': '200', 'http.header.server': 'App-webs/', 'http.marker': ['doc/page/login.asp'] } });
    expect(byPath.get('/ISAPI/System/deviceInfo')).toMatchObject({
      status: 'auth-required',
      fields: { 'http.status': '401', 'http.auth.scheme': ['Digest'], 'http.auth.realm': ['IP Camera(FN636)'], 'http.marker': ['<userCheck>'] },
    });
    expect(byPath.get('/favicon.ico')?.fields).toMatchObject({ 'http.favicon.md5': '583e989437e88ef7d05cf0c04a0c21fd', 'http.favicon.mmh3': '-1366637387' });
    expect(byPath.get('/doc/page/login.asp')?.status).toBe('ok');
  });

  it('reads the whole identity from old firmware that gives its ISAPI DeviceInfo away without a login', async () => {
    const deviceInfo = readFileSync(new URL('../fixtures/isapi/ds-7608ni-i2.deviceinfo.xml', import.meta.url));
    const web = await webServer({ ...hikvisionPages, '/ISAPI/System/deviceInfo': (res) => res.writeHead(200, { 'Content-Type': 'application/xml' }).end(deviceInfo) });
    const observations = await probe([portObservation(web.port)]);
    expect(web.requests.every((r) => r.headers.authorization === undefined)).toBe(true);
    const page = observations.find((o) => o.fields['http.path'] === '/ISAPI/System/deviceInfo');
    expect(page?.fields).toMatchObject({ 'isapi.model': 'DS-7608NI-I2', 'isapi.firmware': 'V4.31.108 build 210823', 'vendorapi.auth': 'open' });
    // The other pages are web pages, not DeviceInfo documents: no identity fields on them.
    expect(observations.filter((o) => o.fields['isapi.model'] !== undefined)).toHaveLength(1);
  });

  it('records a redirect to another host but never follows it', async () => {
    const elsewhere = await webServer({ '/': html('<title>elsewhere</title>') });
    const web = await webServer({ '/': (res) => res.writeHead(302, { Location: `http://127.0.0.1:${elsewhere.port}/` }).end() });
    const observations = await probe([portObservation(web.port)]);
    expect(elsewhere.requests).toEqual([]);
    expect(observations[0]?.fields).toMatchObject({ 'http.status': '302', 'http.header.location': `http://127.0.0.1:${elsewhere.port}/` });
    expect(observations[0]?.fields['http.title']).toBeUndefined();
  });

  it('cuts an endless body at the cap', async () => {
    const web = await webServer({
      '/': (res) => {
        res.writeHead(200, { 'Content-Type': 'text/html' });
        const timer = setInterval(() => res.write(Buffer.alloc(8192, 0x41)), 1);
        res.on('close', () => clearInterval(timer));
      },
    });
    const t0 = Date.now();
    const observations = await probe([portObservation(web.port)], { maxBodyBytes: 20_000, data: { paths: [{ path: '/', purpose: 'page', source: 'test' }], markers: [] } });
    expect(observations[0]).toMatchObject({ status: 'ok', fields: { 'http.body.bytes': '20000', 'http.body.truncated': 'true' } });
    expect(Date.now() - t0).toBeLessThan(900);
  });

  it('gives up on a port that accepts and never answers after one timeout, not one per path', async () => {
    const silent = await rawServer(() => undefined);
    const t0 = Date.now();
    const observations = await probe([portObservation(silent.port)], { timeoutMs: 300 });
    expect(observations).toEqual([expect.objectContaining({ status: 'timeout', fields: { 'http.path': '/' } })]);
    expect(silent.connections()).toBe(1);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('reports a header flood and non-HTTP bytes as protocol errors', async () => {
    const flood = await rawServer((socket) => socket.once('data', () => socket.end(`HTTP/1.1 200 OK\r\nX-Filler: ${'B'.repeat(64 * 1024)}\r\n\r\n`)));
    const garbage = await rawServer((socket) => socket.once('data', () => socket.end(Buffer.from([0, 0, 0, 0x10, 0, 0, 0, 0x1e, 0xff, 0xfe]))));
    const observations = await probe([portObservation(flood.port), portObservation(garbage.port)]);
    expect(observations.map((o) => o.status)).toEqual(['protocol-error', 'protocol-error']);
  });

  it('speaks HTTPS to a port whose probes include tls, without checking the certificate', async () => {
    const web = await webServer(hikvisionPages, true);
    const observations = await probe([portObservation(web.port, ['http', 'tls'])]);
    expect(observations[0]).toMatchObject({ status: 'ok', fields: { 'http.header.server': 'App-webs/' } });
    expect(web.requests.length).toBe(loadKnowledge().httpProbes.paths.length);
  });

  it('asks a TLS port only its first page when that page comes back as the plain port of the host gave it', async () => {
    const paths = loadKnowledge().httpProbes.paths.map((p) => p.path);
    const plain = await webServer(hikvisionPages);
    const same = await webServer(hikvisionPages, true);
    const observations = await probe([portObservation(same.port, ['http', 'tls']), portObservation(plain.port)]);
    expect(plain.requests.map((r) => r.path)).toEqual(paths);
    expect(same.requests.map((r) => r.path)).toEqual([paths[0]]);
    expect(observations.filter((o) => o.port === same.port).map((o) => o.fields['http.path'])).toEqual([paths[0]]);

    // Another Server header on the TLS port: another web server, every page asked.
    const other = await webServer({ ...hikvisionPages, '/': html(fixture('hikvision/index.html'), { Server: 'lighttpd' }) }, true);
    const plainAgain = await webServer(hikvisionPages);
    await probe([portObservation(other.port, ['http', 'tls']), portObservation(plainAgain.port)]);
    expect(other.requests.map((r) => r.path)).toEqual(paths);
  });

  it('asks only ports marked for http, and nothing with --no-active', async () => {
    const web = await webServer(hikvisionPages);
    expect(await probe([portObservation(web.port, ['rtsp'])])).toEqual([]);
    expect(await probe([portObservation(web.port)], {}, { active: false })).toEqual([]);
    expect(web.requests).toEqual([]);
  });

  it('stops a host at its deadline', async () => {
    const slow = await webServer({ '/': (res) => setTimeout(() => res.writeHead(200).end('late'), 2000) });
    const t0 = Date.now();
    const observations = await probe([portObservation(slow.port)], { timeoutMs: 5000, hostDeadlineMs: 200 });
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(observations).toEqual([expect.objectContaining({ status: 'timeout' })]);
  });

  it('paces its requests with the shared rate', async () => {
    const data: HttpProbeData = { paths: [1, 2, 3, 4, 5].map((n) => ({ path: `/p${n}`, purpose: 'page' as const, source: 'test' })), markers: [] };
    const web = await webServer({});
    const t0 = Date.now();
    await probe([portObservation(web.port)], { data }, { ratePerSecond: 10 });
    expect(web.requests).toHaveLength(5);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(390);
  });
});

describe('what the HTTP probe records, through the fingerprint database', () => {
  async function verdict(pages: Record<string, Page>): Promise<{ linkedVendor: string | null; maker: string | null; rules: string[] }> {
    const web = await webServer(pages);
    const observations = await probe([portObservation(web.port)]);
    const db = loadKnowledge();
    const fingerprint = fingerprintDevice(db, { observations });
    const { classification, identity } = classify(db, fingerprint.evidence, fingerprint.identity);
    return { linkedVendor: classification.linkedVendor, maker: identity.manufacturer, rules: fingerprint.evidence.map((e) => e.rule) };
  }

  it('links a Hikvision-like web interface to Hikvision', async () => {
    const v = await verdict(hikvisionPages);
    expect(v.linkedVendor).toBe('hikvision');
    expect(v.rules).toEqual(expect.arrayContaining(['http-server-hikvision-app-webs', 'realm-hikvision-ip-camera', 'http-marker-hikvision-isapi-usercheck']));
  });

  it('links a Dahua-like web interface (no Server header) to Dahua', async () => {
    const v = await verdict({ '/': html(fixture('dahua/index.html'), { P3P: 'CP=CAO PSA OUR' }) });
    expect(v).toMatchObject({ linkedVendor: 'dahua', maker: 'Dahua' });
  });

  it('does NOT link the Xiongmai look-alike (uc-httpd, NETSurveillance WEB), nor Uniview, Hanwha or Axis pages', async () => {
    expect(await verdict({ '/': html(fixture('xiongmai/index.html'), { Server: 'uc-httpd 1.0.0' }) })).toMatchObject({ linkedVendor: null, maker: 'Xiongmai' });
    for (const name of ['uniview', 'hanwha', 'axis']) {
      expect((await verdict({ '/': html(fixture(`${name}/index.html`)) })).linkedVendor, name).toBeNull();
    }
    expect(await verdict({ '/': html('<title>DVR Components Download</title>', { Server: 'Cross Web Server' }) })).toMatchObject({ linkedVendor: null });
  });
});
