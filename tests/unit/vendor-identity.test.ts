import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseCredentials } from '../../agent/credentials.js';
import { RefusalLedger } from '../../agent/credential-refusals.js';
import { createVendorIdentityDiscoverer } from '../../agent/discovery/vendor-identity.js';
import { pino } from 'pino';
import { loadKnowledge } from '../../agent/knowledge/index.js';
import type { Observation } from '../../agent/types.js';
import { hikvisionNonce, verifyDigest } from '../lab/sim/auth.js';
import { checkedEmit } from '../support/declared-emits.js';
import { loopbackContext } from '../support/scan-context.js';

// Loopback device web servers (127.0.0.1 only) speaking ISAPI or the Dahua CGI. Digest answers are
// checked by the lab simulators' own verifier (tests/lab/sim/auth.ts), written apart from the agent's code.
const isapiFixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/isapi/${name}`, import.meta.url));
const dahuaFixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/dahua-cgi/${name}`, import.meta.url));
const USER_CHECK_401 = readFileSync(new URL('../fixtures/http/hikvision/isapi-usercheck-401.xml', import.meta.url));
const RIGHT = { username: 'inventory', password: 'Right-Secret-7f3a' };
const WRONG = { username: 'inventory', password: 'Wrong-Secret-19c2' };

const DAHUA_ANSWERS: Record<string, Buffer> = {
  getSystemInfo: dahuaFixture('ipc-hdw5831r-ze.getSystemInfo.txt'),
  getSoftwareVersion: dahuaFixture('getSoftwareVersion.build.txt'),
  getDeviceType: dahuaFixture('getDeviceType.txt'),
  getVendor: dahuaFixture('getVendor.txt'),
};

interface Seen {
  target: string;
  authorization: string | undefined;
}

interface Device {
  api: 'isapi' | 'dahua';
  /** The identity page answers without credentials (old firmware). */
  open?: boolean;
  /** Challenges offered: Digest (default) or Basic only. */
  scheme?: 'Digest' | 'Basic';
  /** Answer the first Digest response with a fresh nonce and stale=true. */
  staleOnce?: boolean;
}

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function startDevice(device: Device): Promise<{ port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const nonces = new Set<string>();
  const realm = device.api === 'isapi' ? 'IP Camera(F5111)' : 'Login to 4X7C5A1ZAG21L3F';
  let staleSent = false;
  const server = createServer((req, res) => {
    const target = req.url ?? '/';
    seen.push({ target, authorization: req.headers.authorization });
    const url = new URL(target, 'http://device');
    const action = url.searchParams.get('action') ?? '';
    const isIsapi = url.pathname === '/ISAPI/System/deviceInfo';
    const isDahua = url.pathname === '/cgi-bin/magicBox.cgi' && action in DAHUA_ANSWERS;
    if ((device.api === 'isapi' && !isIsapi) || (device.api === 'dahua' && !isDahua)) return void res.writeHead(404).end('<html>404</html>');
    const body = device.api === 'isapi' ? isapiFixture('ds-2cd2366g2-isu-sl.deviceinfo.xml') : (DAHUA_ANSWERS[action] as Buffer);
    const valid = verifyDigest(req.headers.authorization, 'GET', realm, RIGHT, (n) => nonces.has(n));
    if (device.open || valid) {
      if (device.staleOnce && !staleSent) {
        staleSent = true;
      } else {
        return void res.writeHead(200, { 'Content-Type': device.api === 'isapi' ? 'application/xml' : 'text/plain' }).end(body);
      }
    }
    const nonce = hikvisionNonce();
    nonces.add(nonce);
    const stale = device.staleOnce && staleSent && req.headers.authorization !== undefined && seen.filter((s) => s.authorization).length === 1;
    const challenge = device.scheme === 'Basic' ? `Basic realm="${realm}"` : `Digest qop="auth", realm="${realm}", nonce="${nonce}", stale="${stale ? 'TRUE' : 'FALSE'}"`;
    res.writeHead(401, { 'WWW-Authenticate': challenge, 'Content-Type': 'application/xml' }).end(device.api === 'isapi' ? USER_CHECK_401 : 'Error\r\nUnauthorized\r\n');
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, seen };
}

function openWebPort(port: number): Observation {
  return { source: 'tcp-connect', ip: '127.0.0.1', port, at: new Date().toISOString(), status: 'ok', fields: { 'port.state': 'open', 'port.probes': ['http'] } };
}

interface Run {
  observations: Observation[];
  ledger: RefusalLedger;
  logs: string;
}

async function run(ports: number[], credentials: { username: string; password: string } | null, ledger = new RefusalLedger([], loadKnowledge().lockout)): Promise<Run> {
  const discoverer = createVendorIdentityDiscoverer({ timeoutMs: 2000 });
  const observations: Observation[] = [];
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
  const ctx = loopbackContext({
    seen: ports.map(openWebPort),
    log,
    refusals: ledger,
    ...(credentials ? { credentials: parseCredentials(JSON.stringify([{ ip: '127.0.0.1', ...credentials }]), 'test') } : {}),
  });
  await discoverer.run(ctx, checkedEmit(discoverer, observations));
  return { observations, ledger, logs: lines.join('') };
}

describe('vendor identity reads', () => {
  it('without credentials sends nothing at all', async () => {
    const device = await startDevice({ api: 'isapi' });
    const { observations } = await run([device.port], null);
    expect(observations).toEqual([]);
    expect(device.seen).toEqual([]);
  });

  it('ISAPI on a web port moved to another number: one GET to learn the challenge, one with Digest; model, serial, firmware, MAC', async () => {
    const device = await startDevice({ api: 'isapi' });
    const { observations, ledger } = await run([device.port], RIGHT);
    expect(device.seen.map((s) => [s.target, s.authorization !== undefined])).toEqual([
      ['/ISAPI/System/deviceInfo', false],
      ['/ISAPI/System/deviceInfo', true],
    ]);
    expect(observations).toEqual([
      expect.objectContaining({
        port: device.port,
        status: 'ok',
        mac: '44:a6:42:46:67:24',
        fields: expect.objectContaining({
          'vendorapi.name': 'hikvision-isapi',
          'vendorapi.auth': 'digest',
          'isapi.model': 'DS-2CD2366G2-ISU/SL',
          'isapi.serial': 'DS-2CD2366G2-ISU/SL20210726AAWRG41390691',
          'isapi.firmware': 'V5.7.13 build 230504',
        }),
      }),
    ]);
    expect(ledger.entries()).toEqual([]);
  });

  it('Dahua CGI: every identity action with Digest after ISAPI found nothing on the port', async () => {
    const device = await startDevice({ api: 'dahua' });
    const { observations } = await run([device.port], RIGHT);
    expect(device.seen.map((s) => [s.target, s.authorization !== undefined])).toEqual([
      ['/ISAPI/System/deviceInfo', false],
      ['/cgi-bin/magicBox.cgi?action=getSystemInfo', false],
      ['/cgi-bin/magicBox.cgi?action=getSystemInfo', true],
      ['/cgi-bin/magicBox.cgi?action=getSoftwareVersion', true],
      ['/cgi-bin/magicBox.cgi?action=getDeviceType', true],
      ['/cgi-bin/magicBox.cgi?action=getVendor', true],
    ]);
    expect(observations[0]?.fields).toEqual({
      'vendorapi.name': 'dahua-cgi',
      'vendorapi.auth': 'digest',
      'dahua.cgi.model': 'IPC-HDW5831R-ZE',
      'dahua.cgi.serial': '4X7C5A1ZAG21L3F',
      'dahua.cgi.hardwareVersion': '1.00',
      'dahua.cgi.updateSerial': 'IPC-HDW5830R-Z',
      'dahua.cgi.firmware': '2.800.0000016.0.R',
      'dahua.cgi.firmwareBuild': '2020-06-05',
      'dahua.cgi.type': 'IPC-HDW5831R-ZE',
      'dahua.cgi.vendor': 'Dahua',
    });
  });

  it('wrong credentials: one attempt, the refusal recorded and logged without them, nothing more asked of the host', async () => {
    // Two web ports of one host: the lower one is asked first, and its refusal ends the host.
    const devices = [await startDevice({ api: 'isapi' }), await startDevice({ api: 'dahua' })].sort((a, b) => a.port - b.port);
    const [first, second] = devices as [Awaited<ReturnType<typeof startDevice>>, Awaited<ReturnType<typeof startDevice>>];
    const { observations, ledger, logs } = await run([first.port, second.port], WRONG);
    expect(first.seen.filter((s) => s.authorization !== undefined)).toHaveLength(1);
    expect(second.seen).toEqual([]);
    const api = first.seen.some((s) => s.target.startsWith('/cgi-bin/')) ? 'dahua-cgi' : 'hikvision-isapi';
    expect(observations).toEqual([expect.objectContaining({ port: first.port, status: 'auth-required', fields: { 'vendorapi.name': api, 'vendorapi.auth': 'refused' } })]);
    expect(ledger.entries()).toEqual([expect.objectContaining({ ip: '127.0.0.1', mechanism: api, port: first.port, refusals: 1 })]);
    expect(logs).toMatch(/refused the credentials/);
    expect(logs).not.toContain(WRONG.password);
    expect(logs).not.toContain(WRONG.username);

    // The next scan, within the back-off: the credentials are not sent at all.
    const again = await run([first.port], WRONG, new RefusalLedger(ledger.entries(), loadKnowledge().lockout));
    expect(first.seen.filter((s) => s.authorization !== undefined)).toHaveLength(1);
    expect(again.observations[0]?.fields['vendorapi.auth']).toBe('backed-off');
  });

  it('a stale nonce is no refusal: answered once more with the fresh one', async () => {
    const device = await startDevice({ api: 'isapi', staleOnce: true });
    const { observations, ledger } = await run([device.port], RIGHT);
    expect(device.seen.filter((s) => s.authorization !== undefined)).toHaveLength(2);
    expect(observations[0]?.fields['vendorapi.auth']).toBe('digest');
    expect(ledger.entries()).toEqual([]);
  });

  it('Basic only: the password is never sent in clear', async () => {
    const device = await startDevice({ api: 'dahua', scheme: 'Basic' });
    const { observations } = await run([device.port], RIGHT);
    expect(device.seen.every((s) => s.authorization === undefined)).toBe(true);
    expect(observations[0]?.fields['vendorapi.auth']).toBe('no-digest');
  });

  it('old firmware that answers without a login is read without sending the credentials', async () => {
    const device = await startDevice({ api: 'isapi', open: true });
    const { observations } = await run([device.port], RIGHT);
    expect(device.seen).toEqual([{ target: '/ISAPI/System/deviceInfo', authorization: undefined }]);
    expect(observations[0]?.fields).toMatchObject({ 'vendorapi.auth': 'open', 'isapi.model': 'DS-2CD2366G2-ISU/SL' });
  });
});
