import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { rtspProbe, rtspTargets } from '../../agent/discovery/rtsp.js';
import type { ScanContext } from '../../agent/discovery/types.js';
import { RTSP_MAX_RESPONSE_BYTES } from '../../agent/protocols/rtsp.js';
import { parseTargets } from '../../agent/targets.js';
import type { Observation } from '../../agent/types.js';
import { loopbackContext } from '../support/scan-context.js';
import { checkedEmit } from '../support/declared-emits.js';

// Loopback RTSP servers (127.0.0.1 only) standing in for cameras.
const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/rtsp/${name}`, import.meta.url));
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

interface Seen {
  requests: string[];
  connections: number;
}

/** A server that answers each request (split at the blank line) with `answer(request)`; null: stay silent. */
async function camera(answer: (request: string, socket: Socket) => Buffer | null): Promise<{ port: number; seen: Seen }> {
  const seen: Seen = { requests: [], connections: 0 };
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    seen.connections++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      for (let end = buffered.indexOf('\r\n\r\n'); end !== -1; end = buffered.indexOf('\r\n\r\n')) {
        const request = buffered.slice(0, end + 4);
        buffered = buffered.slice(end + 4);
        seen.requests.push(request);
        const reply = answer(request, socket);
        if (reply && !socket.destroyed) socket.write(reply);
      }
    });
  });
  server.on('close', () => sockets.forEach((s) => s.destroy()));
  const close = server.close.bind(server);
  server.close = ((cb?: (err?: Error) => void) => {
    sockets.forEach((s) => s.destroy());
    return close(cb);
  }) as typeof server.close;
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, seen };
}

const withCseq = (reply: Buffer, request: string): Buffer =>
  Buffer.from(reply.toString('latin1').replace(/CSeq: \d+/, `CSeq: ${/CSeq: (\d+)/.exec(request)?.[1] ?? '0'}`), 'latin1');

function openPort(port: number, ip = '127.0.0.1', probes: string[] = ['rtsp']): Observation {
  return { source: 'tcp-connect', ip, port, at: new Date().toISOString(), status: 'ok', fields: { 'port.state': 'open', 'port.service': 'rtsp', 'port.probes': probes } };
}

function context(seen: Observation[], targets = ['127.0.0.1']): ScanContext {
  return loopbackContext({ targets: parseTargets(targets), signal: AbortSignal.timeout(15_000), seen, ratePerSecond: 200 });
}

async function probe(seen: Observation[], targets?: string[]): Promise<Observation[]> {
  const emitted: Observation[] = [];
  await rtspProbe.run(context(seen, targets), checkedEmit(rtspProbe, emitted));
  return emitted;
}

describe('RTSP discoverer on loopback', () => {
  it('sends OPTIONS then DESCRIBE on one connection, without credentials, and records both answers', async () => {
    const { port, seen } = await camera((request) =>
      withCseq(fixture(request.startsWith('OPTIONS') ? 'hikvision-options.rtsp' : 'hikvision-describe-401.rtsp'), request),
    );
    const observations = await probe([openPort(port)]);
    expect(seen.connections).toBe(1);
    expect(seen.requests.map((r) => r.split('\r\n')[0])).toEqual([`OPTIONS rtsp://127.0.0.1:${port}/ RTSP/1.0`, `DESCRIBE rtsp://127.0.0.1:${port}/ RTSP/1.0`]);
    expect(seen.requests.join('')).not.toMatch(/authorization/i);
    expect(seen.requests[1]).toContain('Accept: application/sdp');
    expect(observations.map((o) => [o.source, o.ip, o.port, o.status, o.fields['rtsp.method']])).toEqual([
      ['rtsp', '127.0.0.1', port, 'ok', 'OPTIONS'],
      ['rtsp', '127.0.0.1', port, 'auth-required', 'DESCRIBE'],
    ]);
    expect(observations[1]?.fields).toMatchObject({ 'rtsp.status': '401', 'rtsp.auth.realm': ['Hikvision', '/'], 'rtsp.auth.scheme': ['Digest', 'Basic'] });
  });

  it('opens a fresh connection when the server closed after its first answer', async () => {
    const { port, seen } = await camera((request, socket) => {
      const reply = withCseq(fixture(request.startsWith('OPTIONS') ? 'live555-options.rtsp' : 'dahua-describe-401.rtsp'), request);
      socket.end(reply);
      return null;
    });
    const observations = await probe([openPort(port)]);
    expect(seen.connections).toBe(2);
    expect(observations.map((o) => o.status)).toEqual(['ok', 'auth-required']);
    expect(observations[1]?.fields['rtsp.server']).toBe('Dahua Rtsp Server');
  });

  it('reports refused, and goes no further', async () => {
    const { port } = await camera(() => null);
    await new Promise((resolve) => servers.pop()!.close(resolve));
    const observations = await probe([openPort(port)]);
    expect(observations.map((o) => [o.status, o.fields['rtsp.method']])).toEqual([['refused', 'OPTIONS']]);
  });

  it('reports a silent server as a timeout after the exchange deadline', async () => {
    const { port } = await camera(() => null);
    const started = Date.now();
    const observations = await probe([openPort(port)]);
    expect(observations.map((o) => o.status)).toEqual(['timeout']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2900);
    expect(Date.now() - started).toBeLessThan(6000);
  });

  it('calls a web server on the port a protocol error, from its first bytes', async () => {
    const { port } = await camera(() => Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'));
    const observations = await probe([openPort(port)]);
    expect(observations.map((o) => [o.status, o.fields])).toEqual([['protocol-error', { 'rtsp.method': 'OPTIONS' }]]);
  });

  it('stops reading at the size cap when the header never ends', async () => {
    const { port, seen } = await camera((_request, socket) => {
      socket.write('RTSP/1.0 200 OK\r\n');
      const line = Buffer.from('X-Pad: ' + 'a'.repeat(1000) + '\r\n');
      for (let sent = 0; sent < RTSP_MAX_RESPONSE_BYTES * 4 && !socket.destroyed; sent += line.length) socket.write(line);
      return null;
    });
    const observations = await probe([openPort(port)]);
    expect(observations.map((o) => o.status)).toEqual(['protocol-error']);
    expect(seen.requests).toHaveLength(1);
  });

  it('keeps a whole header whose body runs past the cap', async () => {
    const { port } = await camera(() => Buffer.concat([Buffer.from(`RTSP/1.0 200 OK\r\nCSeq: 1\r\nServer: big\r\nContent-Length: 100000\r\n\r\n`), Buffer.alloc(RTSP_MAX_RESPONSE_BYTES)]));
    const observations = await probe([openPort(port)]);
    expect(observations[0]).toMatchObject({ status: 'ok', fields: { 'rtsp.server': 'big' } });
  });
});

describe('which ports the RTSP discoverer probes', () => {
  it('only open ports the sweep marked rtsp, each once', () => {
    const seen: Observation[] = [
      openPort(554),
      openPort(554),
      openPort(8554),
      openPort(80, '127.0.0.1', ['http']),
      { ...openPort(555), status: 'refused' },
      { source: 'ws-discovery', ip: '127.0.0.5', at: '', status: 'ok', fields: { 'port.probes': ['rtsp'] } },
      openPort(554, '127.0.0.5'),
    ];
    expect(rtspTargets(context(seen))).toEqual([
      { ip: '127.0.0.1', port: 554 },
      { ip: '127.0.0.1', port: 8554 },
      { ip: '127.0.0.5', port: 554 },
    ]);
  });
});
