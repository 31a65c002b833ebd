import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { onvifDevice, xaddrForResponder } from '../../agent/discovery/onvif.js';
import type { ScanContext } from '../../agent/discovery/types.js';
import { createLogger } from '../../agent/log.js';
import { parseTargets } from '../../agent/targets.js';
import type { Observation } from '../../agent/types.js';

// A loopback ONVIF device service (127.0.0.1 only) standing in for a camera's web server.
const fixture = (name: string): string => readFileSync(new URL(`../fixtures/onvif/${name}`, import.meta.url), 'utf8');
const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function camera(answer: (action: string) => { status: number; headers?: Record<string, string>; body: string }): Promise<number> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const action = /<tds:(\w+)\/>/.exec(body)?.[1] ?? 'unknown';
      const reply = answer(action);
      res.writeHead(reply.status, { 'Content-Type': 'application/soap+xml', Server: 'App-webs/', ...reply.headers }).end(reply.body);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function probe(seen: Observation[]): Promise<Observation[]> {
  const emitted: Observation[] = [];
  const ctx: ScanContext = {
    interfaces: [],
    targets: parseTargets([]),
    startedAtMs: Date.now(),
    active: true,
    ratePerSecond: 100,
    timeoutMs: 1000,
    signal: AbortSignal.timeout(10_000),
    log: createLogger('silent'),
    seen,
  };
  await onvifDevice.run(ctx, (o) => emitted.push(o));
  return emitted;
}

const heard = (ip: string, xaddrs: string[]): Observation => ({
  source: 'wsdiscovery', ip, at: new Date().toISOString(), status: 'ok', fields: { 'onvif.xaddr': xaddrs },
});

describe('ONVIF device-service discoverer', () => {
  it('reads the clock offset and device information from an open device', async () => {
    const port = await camera((action) =>
      action === 'GetSystemDateAndTime'
        ? { status: 200, body: fixture('system-date-and-time.xml') }
        : { status: 200, body: fixture('device-information.xml') },
    );
    const observations = await probe([heard('127.0.0.1', [`http://127.0.0.1:${port}/onvif/device_service`])]);
    expect(observations.map((o) => [o.fields['onvif.call'], o.status, o.port])).toEqual([
      ['GetSystemDateAndTime', 'ok', port],
      ['GetDeviceInformation', 'ok', port],
    ]);
    const clock = observations[0]!;
    expect(clock.fields['onvif.time.utc']).toBe('2026-11-28T07:05:09.000Z');
    const expectedOffset = Math.round((Date.UTC(2026, 10, 28, 7, 5, 9) - Date.now()) / 1000);
    expect(Math.abs(Number(clock.fields['onvif.time.offsetSeconds']) - expectedOffset)).toBeLessThanOrEqual(2);
    expect(observations[1]!.fields['onvif.device.serial']).toBe('CMIP8242W-28M20200321AAWRE12345678');
    expect(observations[1]!.fields['onvif.http.server']).toBe('App-webs/');
  });

  it('records auth-required with the realm for a 401, and for a NotAuthorized fault', async () => {
    const hik = await camera((action) =>
      action === 'GetSystemDateAndTime'
        ? { status: 200, body: fixture('system-date-and-time.xml') }
        : { status: 401, headers: { 'WWW-Authenticate': 'Digest qop="auth", realm="IP Camera(C2143)", nonce="4e6a", stale="FALSE"' }, body: '' },
    );
    const other = await camera((action) =>
      action === 'GetSystemDateAndTime' ? { status: 200, body: fixture('system-date-and-time.xml') } : { status: 400, body: fixture('not-authorized-fault.xml') },
    );
    const hikObs = await probe([heard('127.0.0.1', [`http://127.0.0.1:${hik}/onvif/device_service`])]);
    expect(hikObs[1]).toMatchObject({ status: 'auth-required', fields: { 'onvif.auth.realm': 'IP Camera(C2143)' } });
    const otherObs = await probe([heard('127.0.0.1', [`http://127.0.0.1:${other}/onvif/device_service`])]);
    expect(otherObs[1]?.status).toBe('auth-required');
    expect(otherObs[1]?.fields['onvif.auth.realm']).toBeUndefined();
  });

  it('calls garbage a protocol error and goes on', async () => {
    const port = await camera(() => ({ status: 200, body: '<html>not soap</html>' }));
    const observations = await probe([heard('127.0.0.1', [`http://127.0.0.1:${port}/onvif/device_service`])]);
    expect(observations.map((o) => o.status)).toEqual(['protocol-error', 'protocol-error']);
  });

  it('never follows an XAddr that points away from the device that answered', async () => {
    const port = await camera(() => ({ status: 200, body: fixture('device-information.xml') }));
    // The "device" at 127.0.0.2 names a service on 127.0.0.1: the agent must not go there.
    expect(await probe([heard('127.0.0.2', [`http://127.0.0.1:${port}/onvif/device_service`])])).toEqual([]);
    expect(xaddrForResponder('fe80::1', ['http://[fe80::1]/onvif/device_service'])?.hostname).toBe('[fe80::1]');
  });
});
