import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseCredentials, type CredentialStore } from '../../agent/credentials.js';
import { deviceServiceEndpoints, macForAddress, onvifDevice, xaddrForResponder } from '../../agent/discovery/onvif.js';
import type { ScanContext } from '../../agent/discovery/types.js';
import { parseTargets } from '../../agent/targets.js';
import type { Observation } from '../../agent/types.js';
import { verifyDigest, verifyUsernameToken } from '../lab/sim/auth.js';
import { parseSoap } from '../lab/sim/xml.js';
import { loopbackContext } from '../support/scan-context.js';
import { loadKnowledge } from '../../agent/knowledge/index.js';
import { createLogger } from '../../agent/log.js';
import { RefusalLedger } from '../../agent/credential-refusals.js';
import { checkedEmit } from '../support/declared-emits.js';
import { startClosingHttpServer } from '../support/closing-http-server.js';

// Loopback ONVIF device services (127.0.0.1 only) standing in for cameras. Credentials are checked
// by the lab simulators' own verifiers (tests/lab/sim/auth.ts), written apart from the agent's code.
const fixture = (name: string): string => readFileSync(new URL(`../fixtures/onvif/${name}`, import.meta.url), 'utf8');
const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

const USER = { username: 'operator', password: 'Op3rator-Secret' };

interface Device {
  /** How a call that needs credentials is refused. */
  refuse: 'digest' | 'fault';
  /** Calls answered without credentials (GetSystemDateAndTime always is). */
  open?: string[];
  credentials?: { username: string; password: string };
  clockOffsetSeconds?: number;
  digestAlgorithms?: Array<'MD5' | 'SHA-256'>;
}

interface Request {
  action: string;
  authorization: string | undefined;
  body: string;
}

function clockXml(deviceMs: number): string {
  const d = new Date(deviceMs);
  return (
    '<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema"><env:Body>' +
    '<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>Manual</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>' +
    `<tt:UTCDateTime><tt:Time><tt:Hour>${d.getUTCHours()}</tt:Hour><tt:Minute>${d.getUTCMinutes()}</tt:Minute><tt:Second>${d.getUTCSeconds()}</tt:Second></tt:Time>` +
    `<tt:Date><tt:Year>${d.getUTCFullYear()}</tt:Year><tt:Month>${d.getUTCMonth() + 1}</tt:Month><tt:Day>${d.getUTCDate()}</tt:Day></tt:Date></tt:UTCDateTime>` +
    '</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse></env:Body></env:Envelope>'
  );
}

const ANSWERS: Record<string, string> = {
  GetDeviceInformation: fixture('device-information.xml'),
  GetNetworkInterfaces: fixture('network-interfaces.xml'),
  GetScopes: fixture('scopes.xml'),
};

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => resolve(body));
  });
}

/** A device service enforcing `device`; returns its port, every request it received and how many TCP connections it accepted. */
async function camera(device: Device): Promise<{ port: number; requests: Request[]; connections: () => number }> {
  const requests: Request[] = [];
  let connections = 0;
  const nonces = new Set<string>();
  const server = createServer((req, res) => {
    void readBody(req).then((body) => {
      const action = /<tds:(\w+)\/>/.exec(body)?.[1] ?? 'unknown';
      const authorization = req.headers.authorization;
      requests.push({ action, authorization, body });
      const deviceNow = Date.now() + (device.clockOffsetSeconds ?? 0) * 1000;
      const headers = { 'Content-Type': 'application/soap+xml', Server: 'App-webs/' };
      if (action === 'GetSystemDateAndTime') return void res.writeHead(200, headers).end(clockXml(deviceNow));
      const header = parseSoap(body)?.header ?? {};
      const allowed =
        (device.open ?? []).includes(action) ||
        verifyUsernameToken(header, device.credentials, deviceNow) ||
        (device.refuse === 'digest' && verifyDigest(authorization, 'POST', 'IP Camera(C2143)', device.credentials, (n) => nonces.has(n)));
      if (allowed) return void res.writeHead(200, headers).end(ANSWERS[action] ?? '');
      if (device.refuse === 'fault') return void res.writeHead(400, headers).end(fixture('not-authorized-fault.xml'));
      const challenges = (device.digestAlgorithms ?? ['MD5']).map((alg) => {
        const nonce = `${alg}-${Math.random().toString(16).slice(2)}`;
        nonces.add(nonce);
        return `Digest qop="auth", realm="IP Camera(C2143)", nonce="${nonce}",${alg === 'MD5' ? '' : ` algorithm="${alg}",`} stale="FALSE"`;
      });
      res.writeHead(401, { ...headers, 'Content-Type': 'text/html', 'WWW-Authenticate': challenges }).end('<html>401</html>');
    });
  });
  server.on('connection', () => connections++);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, requests, connections: () => connections };
}

function context(seen: Observation[], credentials?: CredentialStore, refusals?: RefusalLedger): ScanContext {
  return loopbackContext({
    targets: parseTargets([]),
    ratePerSecond: 200,
    signal: AbortSignal.timeout(15_000),
    seen,
    ...(credentials ? { credentials } : {}),
    ...(refusals ? { refusals } : {}),
  });
}

async function probe(seen: Observation[], credentials?: CredentialStore, refusals?: RefusalLedger): Promise<Observation[]> {
  const emitted: Observation[] = [];
  await onvifDevice.run(context(seen, credentials, refusals), checkedEmit(onvifDevice, emitted));
  return emitted;
}

const heard = (ip: string, xaddrs: string[], scopes: string[] = []): Observation => ({
  source: 'ws-discovery', ip, at: new Date().toISOString(), status: 'ok', fields: { 'onvif.xaddr': xaddrs, ...(scopes.length > 0 ? { 'onvif.scope': scopes } : {}) },
});
const webPort = (port: number, probes = ['http']): Observation => ({
  source: 'tcp-connect', ip: '127.0.0.1', port, at: new Date().toISOString(), status: 'ok', fields: { 'port.state': 'open', 'port.service': 'http', 'port.probes': probes },
});
const service = (port: number): Observation => heard('127.0.0.1', [`http://127.0.0.1:${port}/onvif/device_service`]);
const credentialsFor = (ip: string, user = USER): CredentialStore => parseCredentials(JSON.stringify([{ ip, ...user }]), 'test');
const summary = (observations: Observation[]): unknown[] => observations.map((o) => [o.fields['onvif.call'], o.status]);

describe('ONVIF device-service discoverer, without credentials', () => {
  it('reads the clock offset, device information, the MAC and the scopes from an open device', async () => {
    const { port, connections } = await camera({ refuse: 'digest', open: ['GetDeviceInformation', 'GetNetworkInterfaces', 'GetScopes'], clockOffsetSeconds: -7325 });
    const observations = await probe([service(port)]);
    // The device keeps its connections: the four calls went over one.
    expect(connections()).toBe(1);
    expect(summary(observations)).toEqual([
      ['GetSystemDateAndTime', 'ok'],
      ['GetDeviceInformation', 'ok'],
      ['GetNetworkInterfaces', 'ok'],
      ['GetScopes', 'ok'],
    ]);
    expect(observations.every((o) => o.source === 'onvif-device-service' && o.ip === '127.0.0.1' && o.port === port)).toBe(true);
    const [clock, info, nics, scopes] = observations;
    expect(Math.abs(Number(clock?.fields['onvif.time.offsetSeconds']) + 7325)).toBeLessThanOrEqual(2);
    expect(clock?.fields['onvif.time.type']).toBe('Manual');
    expect(info?.fields['onvif.device.serial']).toBe('CMIP8242W-28M20200321AAWRE12345678');
    expect(info?.fields['onvif.http.server']).toBe('App-webs/');
    expect(nics?.fields['onvif.net.mac']).toEqual(['58:03:fb:76:a1:bc']);
    expect(nics?.mac).toBe('58:03:fb:76:a1:bc');
    expect(scopes?.fields).toMatchObject({ 'onvif.scope.name': ['HIKVISION DS-2CD2043G2-I'], 'onvif.scope.hardware': ['DS-2CD2043G2-I'] });
  });

  it('records auth-required for every refused call: with the realm for a 401, without for a NotAuthorized fault', async () => {
    const hik = await camera({ refuse: 'digest' });
    const other = await camera({ refuse: 'fault' });
    const hikObs = await probe([service(hik.port)]);
    expect(summary(hikObs).slice(1)).toEqual([
      ['GetDeviceInformation', 'auth-required'],
      ['GetNetworkInterfaces', 'auth-required'],
      ['GetScopes', 'auth-required'],
    ]);
    expect(hikObs[1]?.fields['onvif.auth.realm']).toBe('IP Camera(C2143)');
    expect(hikObs.some((o) => o.fields['onvif.auth.method'])).toBe(false);
    expect(hik.requests.every((r) => r.authorization === undefined && !r.body.includes('Security'))).toBe(true);
    const otherObs = await probe([service(other.port)]);
    expect(otherObs.slice(1).map((o) => o.status)).toEqual(['auth-required', 'auth-required', 'auth-required']);
    expect(otherObs[1]?.fields['onvif.auth.realm']).toBeUndefined();
  });

  it('calls garbage a protocol error and goes on', async () => {
    const server = createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html>not soap</html>'));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const observations = await probe([service((server.address() as AddressInfo).port)]);
    expect(observations.map((o) => o.status)).toEqual(['protocol-error', 'protocol-error', 'protocol-error', 'protocol-error']);
  });

  it('never follows an XAddr that points away from the device that answered', async () => {
    const { port, requests } = await camera({ refuse: 'digest' });
    // The "device" at 127.0.0.2 names a service on 127.0.0.1: the agent must not go there.
    expect(await probe([heard('127.0.0.2', [`http://127.0.0.1:${port}/onvif/device_service`])])).toEqual([]);
    expect(requests).toEqual([]);
    expect(xaddrForResponder('fe80::1', ['http://[fe80::1]/onvif/device_service'])?.hostname).toBe('[fe80::1]');
  });
  it('reads every call from a device that answers HTTP/1.1 without Connection: close and then closes', async () => {
    const device = await startClosingHttpServer(({ body }) => {
      const action = /<tds:(\w+)\/>/.exec(body)?.[1] ?? 'unknown';
      const answer = action === 'GetSystemDateAndTime' ? clockXml(Date.now()) : ANSWERS[action];
      return answer ? { status: 200, headers: { 'Content-Type': 'application/soap+xml', Server: 'App-webs/' }, body: answer } : { status: 400, body: '' };
    });
    const observations = await probe([service(device.port)]).finally(() => device.close());
    expect(summary(observations)).toEqual([
      ['GetSystemDateAndTime', 'ok'],
      ['GetDeviceInformation', 'ok'],
      ['GetNetworkInterfaces', 'ok'],
      ['GetScopes', 'ok'],
    ]);
    expect(observations[1]?.fields).toMatchObject({ 'onvif.device.model': 'CMIP8242W-28M', 'onvif.device.serial': 'CMIP8242W-28M20200321AAWRE12345678' });
    expect(device.connections).toBe(4);
  });
});

describe('ONVIF device-service discoverer, with operator credentials', () => {
  it('answers a 401 Digest challenge (MD5) and fills device information; every call says which mechanism answered', async () => {
    const { port, requests, connections } = await camera({ refuse: 'digest', credentials: USER });
    const observations = await probe([service(port)], credentialsFor('127.0.0.1'));
    // The calls without credentials share one kept connection; each credentialed one has its own.
    // A stall of this process longer than the kept connection's patience (the camera is served from
    // it too; the CI machine runs the lab beside these tests) makes every call take a connection of
    // its own instead, which is the client's fallback, not a fault.
    expect([4, 7]).toContain(connections());
    expect(summary(observations)).toEqual([
      ['GetSystemDateAndTime', 'ok'],
      ['GetDeviceInformation', 'ok'],
      ['GetNetworkInterfaces', 'ok'],
      ['GetScopes', 'ok'],
    ]);
    expect(observations.slice(1).map((o) => o.fields['onvif.auth.method'])).toEqual(['http-digest', 'http-digest', 'http-digest']);
    expect(observations[1]?.fields).toMatchObject({ 'onvif.device.model': 'CMIP8242W-28M', 'onvif.auth.realm': 'IP Camera(C2143)' });
    // Each call: once openly, refused with a fresh challenge, once answering it.
    expect(requests.map((r) => [r.action, r.authorization ? 'digest' : 'none'])).toEqual([
      ['GetSystemDateAndTime', 'none'],
      ['GetDeviceInformation', 'none'],
      ['GetDeviceInformation', 'digest'],
      ['GetNetworkInterfaces', 'none'],
      ['GetNetworkInterfaces', 'digest'],
      ['GetScopes', 'none'],
      ['GetScopes', 'digest'],
    ]);
    expect(JSON.stringify(requests)).not.toContain(USER.password);
    expect(JSON.stringify(observations)).not.toMatch(new RegExp(`${USER.password}|${USER.username}`));
  });

  it('answers the SHA-256 challenge when the device offers SHA-256 and MD5', async () => {
    const { port, requests } = await camera({ refuse: 'digest', credentials: USER, digestAlgorithms: ['SHA-256', 'MD5'] });
    const observations = await probe([service(port)], credentialsFor('127.0.0.1'));
    expect(observations[1]?.status).toBe('ok');
    expect(requests[2]?.authorization).toMatch(/algorithm=SHA-256/);
  });

  it('signs a UsernameToken with the camera’s clock, four hours ahead, after a NotAuthorized fault, then sends it straight away', async () => {
    const { port, requests } = await camera({ refuse: 'fault', credentials: USER, clockOffsetSeconds: 4 * 3600 });
    const observations = await probe([service(port)], credentialsFor('127.0.0.1'));
    expect(summary(observations).slice(1)).toEqual([
      ['GetDeviceInformation', 'ok'],
      ['GetNetworkInterfaces', 'ok'],
      ['GetScopes', 'ok'],
    ]);
    expect(observations[1]?.fields['onvif.auth.method']).toBe('ws-usernametoken');
    expect(requests.map((r) => [r.action, r.body.includes('UsernameToken') ? 'token' : 'none'])).toEqual([
      ['GetSystemDateAndTime', 'none'],
      ['GetDeviceInformation', 'none'],
      ['GetDeviceInformation', 'token'],
      ['GetNetworkInterfaces', 'token'],
      ['GetScopes', 'token'],
    ]);
    const created = Date.parse(/<wsu:Created>([^<]+)<\/wsu:Created>/.exec(requests[2]!.body)?.[1] ?? '');
    expect(Math.abs(created - (Date.now() + 4 * 3600_000))).toBeLessThan(10_000);
    expect(requests.map((r) => r.body).join('')).not.toContain(USER.password);
  });

  it('tries wrong credentials once per device, then never again, and does not guess others', async () => {
    const { port, requests } = await camera({ refuse: 'digest', credentials: USER });
    const observations = await probe([service(port)], credentialsFor('127.0.0.1', { username: 'operator', password: 'wrong' }));
    expect(observations.slice(1).map((o) => o.status)).toEqual(['auth-required', 'auth-required', 'auth-required']);
    expect(requests.filter((r) => r.authorization || r.body.includes('UsernameToken'))).toHaveLength(1);
    expect(new Set(requests.filter((r) => r.authorization).map((r) => /username="([^"]*)"/.exec(r.authorization!)?.[1]))).toEqual(new Set(['operator']));
  });

  it('records the refusal, and sends nothing credentialed to the device while its back-off runs (the next scan)', async () => {
    const { port, requests } = await camera({ refuse: 'digest', credentials: USER });
    const wrong = credentialsFor('127.0.0.1', { username: 'operator', password: 'wrong' });
    const refusals = new RefusalLedger([], loadKnowledge().lockout);
    await probe([service(port)], wrong, refusals);
    expect(refusals.entries()).toEqual([expect.objectContaining({ ip: '127.0.0.1', mechanism: 'onvif', port, refusals: 1 })]);
    const next = new RefusalLedger(refusals.entries(), loadKnowledge().lockout);
    const before = requests.length;
    await probe([service(port)], wrong, next);
    expect(requests.slice(before).filter((r) => r.authorization || r.body.includes('UsernameToken'))).toEqual([]);
  });

  it('clears the record once the credentials work', async () => {
    const { port } = await camera({ refuse: 'digest', credentials: USER });
    const earlier = { ip: '127.0.0.1', mechanism: 'onvif', port, at: new Date(Date.now() - 3600_000).toISOString(), refusals: 1, retryAfter: new Date(Date.now() - 1800_000).toISOString() };
    const refusals = new RefusalLedger([earlier], loadKnowledge().lockout);
    await probe([service(port)], credentialsFor('127.0.0.1', USER), refusals);
    expect(refusals.entries()).toEqual([]);
  });

  it('sends nothing to a device the credentials file does not cover', async () => {
    const { port, requests } = await camera({ refuse: 'fault', credentials: USER });
    const observations = await probe([service(port)], credentialsFor('198.18.0.10'));
    expect(observations.slice(1).map((o) => o.status)).toEqual(['auth-required', 'auth-required', 'auth-required']);
    expect(requests.every((r) => r.authorization === undefined && !r.body.includes('Security'))).toBe(true);
  });
});

describe('ONVIF device service on open web ports, when no XAddr was announced', () => {
  it('tries /onvif/device_service on each web port in order, and reports only where ONVIF answers', async () => {
    const web = createServer((_req, res) => res.writeHead(404, { 'Content-Type': 'text/html' }).end('<html>Not Found</html>'));
    servers.push(web);
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    const webPortNumber = (web.address() as AddressInfo).port;
    const { port } = await camera({ refuse: 'fault', open: ['GetDeviceInformation'] });
    const [low, high] = webPortNumber < port ? [webPortNumber, port] : [port, webPortNumber];
    const observations = await probe([webPort(high), webPort(low), webPort(9, ['rtsp'])]);
    expect(new Set(observations.map((o) => o.port))).toEqual(new Set([port]));
    expect(summary(observations)).toEqual([
      ['GetSystemDateAndTime', 'ok'],
      ['GetDeviceInformation', 'ok'],
      ['GetNetworkInterfaces', 'auth-required'],
      ['GetScopes', 'auth-required'],
    ]);
  });

  it('does not take a web server that asks for a password everywhere for an ONVIF service', async () => {
    const router = createServer((_req, res) => res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="router"' }).end());
    servers.push(router);
    await new Promise<void>((resolve) => router.listen(0, '127.0.0.1', resolve));
    expect(await probe([webPort((router.address() as AddressInfo).port)], credentialsFor('127.0.0.1'))).toEqual([]);
  });

  it('chooses HTTPS for a TLS port, and leaves web ports alone on a device that announced an XAddr', () => {
    const log = createLogger('silent');
    expect(deviceServiceEndpoints(context([webPort(8443, ['http', 'tls']), webPort(80)]), log)).toEqual([
      { ip: '127.0.0.1', urls: [new URL('http://127.0.0.1:80/onvif/device_service'), new URL('https://127.0.0.1:8443/onvif/device_service')], announced: false, scopesAnnounced: false },
    ]);
    expect(deviceServiceEndpoints(context([service(8080), webPort(80)]), log)).toEqual([
      { ip: '127.0.0.1', urls: [new URL('http://127.0.0.1:8080/onvif/device_service')], announced: true, scopesAnnounced: false },
    ]);
  });

  it('does not ask GetScopes of a device whose WS-Discovery reply listed its scopes', async () => {
    const { port, requests } = await camera({ refuse: 'digest', open: ['GetDeviceInformation', 'GetNetworkInterfaces', 'GetScopes'] });
    const announced = heard('127.0.0.1', [`http://127.0.0.1:${port}/onvif/device_service`], ['onvif://www.onvif.org/hardware/DS-2CD2143G2-I']);
    const observations = await probe([announced]);
    expect(summary(observations)).toEqual([
      ['GetSystemDateAndTime', 'ok'],
      ['GetDeviceInformation', 'ok'],
      ['GetNetworkInterfaces', 'ok'],
    ]);
    expect(requests.map((r) => r.action)).toEqual(['GetSystemDateAndTime', 'GetDeviceInformation', 'GetNetworkInterfaces']);
  });

  it('takes the MAC of the interface it reached, else of the only interface', () => {
    const nic = (mac: string | null, ipv4: string[]) => ({ token: null, enabled: true, mac, ipv4 });
    expect(macForAddress([nic('00:00:00:00:00:01', ['10.0.0.1']), nic('00:00:00:00:00:02', ['10.0.0.2'])], '10.0.0.2')).toBe('00:00:00:00:00:02');
    expect(macForAddress([nic('00:00:00:00:00:01', ['10.0.0.1']), nic('00:00:00:00:00:02', ['10.0.0.2'])], '10.9.9.9')).toBeNull();
    expect(macForAddress([nic('00:00:00:00:00:01', ['192.168.1.64']), nic(null, [])], '10.9.9.9')).toBe('00:00:00:00:00:01');
  });
});
