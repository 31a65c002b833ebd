import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { deviceUrl, httpRequest, KeptConnection, type HttpResult } from '../../agent/net/http-client.js';
import { zoneOf } from '../../agent/net/ip-address.js';
import { startClosingHttpServer } from '../support/closing-http-server.js';

// Loopback only: these servers listen on 127.0.0.1 and are closed after each test.
const servers: { close(): void }[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

describe('httpRequest', () => {
  it('returns status, headers and body', async () => {
    const port = await listen(createServer((req, res) => res.writeHead(200, { Server: 'App-webs/' }).end(`hello ${req.method}`)));
    const result = await httpRequest({ url: new URL(`http://127.0.0.1:${port}/`), method: 'POST', body: 'x', timeoutMs: 2000, maxBodyBytes: 1000 });
    expect(result).toMatchObject({ ok: true, response: { status: 200, truncated: false } });
    if (!result.ok) return;
    expect(result.response.headers.server).toBe('App-webs/');
    expect(result.response.body.toString()).toBe('hello POST');
  });

  it('cuts an endless body at the cap and drops the connection', async () => {
    const port = await listen(
      createServer((_req, res) => {
        res.writeHead(200);
        const timer = setInterval(() => res.write(Buffer.alloc(16 * 1024, 0x41)), 1);
        res.on('close', () => clearInterval(timer));
      }),
    );
    const started = Date.now();
    const result = await httpRequest({ url: new URL(`http://127.0.0.1:${port}/`), method: 'GET', timeoutMs: 5000, maxBodyBytes: 100_000 });
    expect(result.ok && result.response.truncated).toBe(true);
    if (result.ok) expect(result.response.body.length).toBe(100_000);
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('times out on a server that accepts and never answers', async () => {
    const port = await listen(createTcpServer(() => undefined));
    const started = Date.now();
    const result = await httpRequest({ url: new URL(`http://127.0.0.1:${port}/`), method: 'GET', timeoutMs: 300, maxBodyBytes: 1000 });
    expect(result).toMatchObject({ ok: false, status: 'timeout' });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('reports a refused connection and garbage that is not HTTP', async () => {
    const closed = await listen(createTcpServer(() => undefined));
    servers.pop()?.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(await httpRequest({ url: new URL(`http://127.0.0.1:${closed}/`), method: 'GET', timeoutMs: 1000, maxBodyBytes: 10 })).toMatchObject({ ok: false, status: 'refused' });
    const port = await listen(createTcpServer((socket) => socket.end('\x00\x00\x00\x10garbage\r\n\r\n')));
    expect(await httpRequest({ url: new URL(`http://127.0.0.1:${port}/`), method: 'GET', timeoutMs: 1000, maxBodyBytes: 10 })).toMatchObject({ ok: false, status: 'protocol-error' });
  });
});

describe('httpRequest against a device that closes after each answer without saying so', () => {
  it('opens a new connection for every request, so none of a sequence fails', async () => {
    const device = await startClosingHttpServer((request) => ({ status: 200, headers: { Server: 'App-webs/' }, body: `page ${request.path}` }));
    servers.push({ close: () => void device.close() });
    const paths = ['/', '/doc/page/login.asp', '/ISAPI/System/deviceInfo', '/favicon.ico', '/', '/SDK/activateStatus'];
    const results = [];
    for (const path of paths) results.push(await httpRequest({ url: new URL(`http://127.0.0.1:${device.port}${path}`), method: 'GET', timeoutMs: 2000, maxBodyBytes: 1000 }));
    expect(results.map((r) => (r.ok ? r.response.body.toString() : r.reason))).toEqual(paths.map((p) => `page ${p}`));
    expect(device.connections).toBe(paths.length);
  });
});

const labCert = (name: string): Buffer => readFileSync(new URL(`../lab/certs/${name}`, import.meta.url));
const PAGES = ['/', '/favicon.ico', '/ISAPI/System/deviceInfo', '/doc/page/login.asp'];

/** The pages asked one after another over `connection`, as the HTTP probe asks a port's. */
async function askOver(connection: KeptConnection, scheme: 'http' | 'https', port: number, timeoutMs = 2000): Promise<string[]> {
  const results: HttpResult[] = [];
  for (const path of PAGES) results.push(await httpRequest({ url: deviceUrl(scheme, '127.0.0.1', port, path), method: 'GET', timeoutMs, maxBodyBytes: 1000, connection }));
  connection.close();
  return results.map((r) => (r.ok ? r.response.body.toString() : `failed: ${r.reason}`));
}

describe('a kept connection (HTTP/1.1 persistence, RFC 9112 §9.3)', () => {
  it('asks a port that keeps connections over one TCP connection', async () => {
    let connections = 0;
    const server = createServer((req, res) => res.writeHead(200).end(`page ${req.url}`));
    server.on('connection', () => connections++);
    const port = await listen(server);
    expect(await askOver(new KeptConnection(false), 'http', port)).toEqual(PAGES.map((p) => `page ${p}`));
    expect(connections).toBe(1);
  });

  it('asks an HTTPS port over one TLS handshake', async () => {
    let handshakes = 0;
    const server = createHttpsServer({ key: labCert('hikvision-default.key'), cert: labCert('hikvision-default.crt') }, (req, res) => res.writeHead(200).end(`page ${req.url}`));
    server.on('secureConnection', () => handshakes++);
    const port = await listen(server);
    expect(await askOver(new KeptConnection(true), 'https', port)).toEqual(PAGES.map((p) => `page ${p}`));
    expect(handshakes).toBe(1);
  });

  it('reads the pages of old firmware that speaks TLS 1.0 only, as the certificate read does (one shared device TLS context)', async () => {
    const server = createHttpsServer(
      { key: labCert('hikvision-default.key'), cert: labCert('hikvision-default.crt'), minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' },
      (req, res) => res.writeHead(200).end(`page ${req.url} over ${(req.socket as TLSSocket).getProtocol()}`),
    );
    const port = await listen(server);
    const result = await httpRequest({ url: deviceUrl('https', '127.0.0.1', port, '/'), method: 'GET', timeoutMs: 2000, maxBodyBytes: 100 });
    expect(result.ok && result.response.body.toString()).toBe('page / over TLSv1');
  });

  it('sends again on a new connection when the device closed the kept one, then stops keeping it', async () => {
    const device = await startClosingHttpServer((request) => ({ status: 200, body: `page ${request.path}` }));
    servers.push({ close: () => void device.close() });
    expect(await askOver(new KeptConnection(false), 'http', device.port)).toEqual(PAGES.map((p) => `page ${p}`));
    // Every request answered once; the second went out on the dead socket first, the rest on their own.
    expect(device.requests.map((r) => r.path)).toEqual(PAGES);
    expect(device.connections).toBe(PAGES.length);
  });

  it('sends again on a new connection when the device leaves the kept one open and never answers on it', async () => {
    const device = await startClosingHttpServer((request) => ({ status: 200, body: `page ${request.path}` }), { lingerMs: 5000 });
    servers.push({ close: () => void device.close() });
    const started = Date.now();
    expect(await askOver(new KeptConnection(false), 'http', device.port, 3000)).toEqual(PAGES.map((p) => `page ${p}`));
    // One wait for the silent kept socket (at least 500 ms), not the request's whole 3 s deadline.
    expect(device.unanswered).toBe(1);
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(500);
    expect(took).toBeLessThan(3000);
  });

  it('reports a timeout on the first request of a port as before: no second try on a new connection', async () => {
    let connections = 0;
    const silent = createTcpServer(() => connections++);
    const port = await listen(silent);
    const connection = new KeptConnection(false);
    const result = await httpRequest({ url: deviceUrl('http', '127.0.0.1', port, '/'), method: 'GET', timeoutMs: 300, maxBodyBytes: 10, connection });
    connection.close();
    expect(result).toMatchObject({ ok: false, status: 'timeout' });
    expect(connections).toBe(1);
  });
});

describe('IPv6 devices (issue 14)', () => {
  it('builds bracketed URLs, keeping a link-local zone apart', () => {
    expect(deviceUrl('http', '198.18.0.10', 80, '/').href).toBe('http://198.18.0.10/');
    expect(deviceUrl('https', 'fdcc:7a6e:1ab::10', 8443, '/onvif/device_service').href).toBe('https://[fdcc:7a6e:1ab::10]:8443/onvif/device_service');
    expect(deviceUrl('http', 'fe80::2a57:beff:fe6a:1c10%eth0', 8080, '/x').href).toBe('http://[fe80::2a57:beff:fe6a:1c10]:8080/x');
    expect([zoneOf('fe80::1%eth0'), zoneOf('fdcc::1'), zoneOf('198.18.0.1')]).toEqual(['eth0', undefined, undefined]);
  });

  it('connects through the zone and names the plain address as Host (an IPv6 loopback server)', async () => {
    let host: string | undefined;
    const server = createServer((req, res) => {
      host = req.headers.host;
      res.writeHead(200).end('six');
    });
    servers.push(server);
    // Loopback only: ::1 on `lo` (the zone is accepted and used for the connect; Linux checks a
    // scope only for link-local addresses, so this exercises the client's path without a link).
    await new Promise<void>((resolve) => server.listen(0, '::1', resolve));
    const port = (server.address() as AddressInfo).port;
    const result = await httpRequest({ url: deviceUrl('http', '::1%lo', port, '/'), zone: zoneOf('::1%lo'), method: 'GET', timeoutMs: 2000, maxBodyBytes: 100 });
    expect(result.ok && result.response.body.toString()).toBe('six');
    expect(host).toBe(`[::1]:${port}`);
  });
});
