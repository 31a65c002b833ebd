import { SweepLedger } from '../../agent/discovery/sweep-ledger.js';
import { createServer, type Server, type AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPortsDiscoverer, PER_HOST_CONNECTIONS, type PortScanOptions, type PortSpec } from '../../agent/discovery/ports.js';
import { loadKnowledge } from '../../agent/knowledge/index.js';
import { tcpConnect } from '../../agent/net/tcp.js';
import type { ScanContext } from '../../agent/discovery/types.js';
import type { Observation } from '../../agent/types.js';
import { parseTargets } from '../../agent/targets.js';
import { loopbackContext } from '../support/scan-context.js';
import { checkedEmit } from '../support/declared-emits.js';

// Real sockets on 127.0.0.1 only: open ports are listening servers, closed ports were bound and
// released, and a "silent" port is a listener whose accept queue is full (its thread is blocked),
// so the kernel drops further SYNs and a connect can only time out.

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function openPort({ host = '127.0.0.1' } = {}): Promise<number> {
  const server = createServer((socket) => socket.destroy());
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return (server.address() as AddressInfo).port;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

let silent: { port: number; ports: number[]; release(): Promise<void> };
/** How many silent ports the tarpit tests use: two rounds of PER_HOST_CONNECTIONS. */
const SILENT_PORTS = 2 * PER_HOST_CONNECTIONS;

/**
 * Listeners whose accept queues (backlog 1 → two connections) are filled, then never drained: the
 * kernel drops every further SYN, as a tarpit or a dropping firewall does.
 */
async function silentPorts(count: number): Promise<{ port: number; ports: number[]; release(): Promise<void> }> {
  const gate = new SharedArrayBuffer(4);
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const net = require('node:net');
     const ports = [];
     for (let i = 0; i < workerData.count; i++) {
       // After the release the queued connections are accepted, already reset by the sweep's close
       // (SO_LINGER 0): destroyed at once, their ECONNRESET is no uncaught error of the worker.
       const server = net.createServer((socket) => socket.destroy());
       server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
         ports.push(server.address().port);
         if (ports.length < workerData.count) return;
         parentPort.postMessage(ports);
         Atomics.wait(new Int32Array(workerData.gate), 0, 0);
       });
     }`,
    { eval: true, workerData: { gate, count } },
  );
  const ports = await new Promise<number[]>((resolve) => worker.once('message', resolve));
  // Two handshakes fill each queue; closing our ends does not take them out of it.
  for (const port of ports) for (let i = 0; i < 2; i++) expect(await tcpConnect('127.0.0.1', port, 1000)).toBe('open');
  return {
    port: ports[0] as number,
    ports,
    async release() {
      Atomics.store(new Int32Array(gate), 0, 1);
      Atomics.notify(new Int32Array(gate), 0);
      await worker.terminate();
    },
  };
}

beforeAll(async () => {
  silent = await silentPorts(SILENT_PORTS);
});
afterAll(async () => {
  await silent.release();
});

function context(over: Partial<ScanContext> = {}): ScanContext {
  return loopbackContext(over);
}

function spec(port: number, over: Partial<PortSpec> = {}): PortSpec {
  return { port, service: `svc-${port}`, probes: ['http'], hostDiscovery: false, source: 'test', ...over };
}

const heardNow = (ip = '127.0.0.1'): Observation => ({ source: 'ws-discovery', ip, at: new Date().toISOString(), status: 'ok', fields: {} });

async function sweep(ports: PortSpec[], ctx: ScanContext, connectTimeoutMs = 300, over: PortScanOptions = {}): Promise<{ observations: Observation[]; ms: number }> {
  const observations: Observation[] = [];
  const t0 = Date.now();
  const discoverer = createPortsDiscoverer({ ports, rtt: { initialMs: connectTimeoutMs, minMs: 100, maxMs: 10_000 }, ...over });
  await discoverer.run(ctx, checkedEmit(discoverer, observations));
  return { observations, ms: Date.now() - t0 };
}

/**
 * The shortest of up to `runs` sweeps, stopping at the first under `enough` ms: a bound on how long
 * a sweep takes says how many rounds of waits it made, and a loaded machine only ever adds time.
 */
async function quickestSweep(runs: number, enough: number, once: () => ReturnType<typeof sweep>): Promise<Awaited<ReturnType<typeof sweep>>> {
  let quickest = await once();
  for (let run = 1; run < runs && quickest.ms >= enough; run++) {
    const next = await once();
    if (next.ms < quickest.ms) quickest = next;
  }
  return quickest;
}

describe('tcpConnect', () => {
  it('tells open, refused and silent ports apart', async () => {
    expect(await tcpConnect('127.0.0.1', await openPort(), 1000)).toBe('open');
    expect(await tcpConnect('127.0.0.1', await closedPort(), 1000)).toBe('refused');
    const t0 = Date.now();
    expect(await tcpConnect('127.0.0.1', silent.port, 250)).toBe('timeout');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(240);
    expect(Date.now() - t0).toBeLessThan(1500);
  });

  it('counts a port that accepts and resets at once as open (the handshake completed)', async () => {
    const server = createServer((socket) => socket.resetAndDestroy());
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    for (let i = 0; i < 5; i++) expect(await tcpConnect('127.0.0.1', port, 1000)).toBe('open');
  });

  it('gives up when the signal aborts', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const t0 = Date.now();
    expect(await tcpConnect('127.0.0.1', silent.port, 5000, controller.signal)).toBe('timeout');
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});

describe('the ports discoverer', () => {
  it('emits exactly the contract observation for each open port, nothing for refused or silent ones', async () => {
    const open = await openPort();
    const refused = await closedPort();
    const { observations } = await sweep([spec(open, { service: 'http', probes: ['http', 'tls'] }), spec(refused), spec(silent.port)], context({ seen: [] }));
    expect(observations).toHaveLength(1);
    expect(observations[0]).toEqual({
      source: 'tcp-connect',
      ip: '127.0.0.1',
      port: open,
      at: expect.any(String),
      status: 'ok',
      fields: { 'port.state': 'open', 'port.service': 'http', 'port.probes': ['http', 'tls'] },
    });
  });

  it('skips the other ports of a host that did not announce itself when its discovery ports are silent', async () => {
    const open = await openPort();
    const ports = [spec(silent.port, { hostDiscovery: true }), spec(open)];
    const absent = await sweep(ports, context());
    expect(absent.observations).toEqual([]);
    // The same host, heard during the listen phase, gets every port.
    const present = await sweep(ports, context({ seen: [heardNow()] }));
    expect(present.observations.map((o) => o.port)).toEqual([open]);
  });

  it('records a host that refused every port once, without a port (so it is no service), and a silent host not at all', async () => {
    const a = await closedPort();
    const b = await closedPort();
    const { observations } = await sweep([spec(b, { hostDiscovery: true }), spec(a), spec(silent.port)], context());
    expect(observations).toEqual([
      { source: 'tcp-connect', ip: '127.0.0.1', at: expect.any(String), status: 'refused', fields: { 'port.state': 'closed', 'port.closed': [a, b].sort((x, y) => x - y).map(String) } },
    ]);
    expect(observations[0]).not.toHaveProperty('port');
    expect((await sweep([spec(silent.port, { hostDiscovery: true })], context())).observations).toEqual([]);
  });

  it('counts a refused discovery port as a sign of life, and says in the sweep ledger how each host was found live', async () => {
    const open = await openPort();
    const ledger = new SweepLedger();
    const { observations } = await sweep([spec(await closedPort(), { hostDiscovery: true }), spec(open)], context({ sweep: ledger }));
    expect(observations.map((o) => o.port)).toEqual([open]);
    // 127.0.0.1 is on no chosen interface's subnet: it is checked on its discovery ports, not resolved on the link.
    expect(ledger.summary()).toEqual([{ method: 'tcp-host-check', addresses: 1, live: 1 }]);
    const heard = new SweepLedger();
    await sweep([spec(await closedPort(), { hostDiscovery: true }), spec(open)], context({ seen: [heardNow()], sweep: heard }));
    expect(heard.summary()).toEqual([{ method: 'announced', addresses: 1, live: 1 }]);
  });

  it('paces connects to the rate, all ports together (measured)', async () => {
    const ports = await Promise.all(Array.from({ length: 8 }, async () => spec(await openPort())));
    const { observations, ms } = await sweep(ports, context({ ratePerSecond: 20 }));
    expect(observations).toHaveLength(8);
    // 8 connects at 20/s: the last starts 350 ms after the first.
    expect(ms).toBeGreaterThanOrEqual(340);
    const times = observations.map((o) => Date.parse(o.at)).sort((a, b) => a - b);
    expect((times[7] as number) - (times[0] as number)).toBeGreaterThanOrEqual(300);
  });

  it('costs no more than its timeouts on silent ports, and stops when the phase aborts', async () => {
    const ports = [spec(silent.port), spec(await closedPort())];
    const { ms } = await sweep(ports, context(), 300);
    expect(ms).toBeLessThan(1500);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const aborted = await sweep([spec(silent.port)], context({ signal: controller.signal }), 10_000);
    expect(aborted.ms).toBeLessThan(1500);
  });

  it('gives up a host that answered none of its first round of connects, once, and says so in one observation', async () => {
    const ports = silent.ports.map((p) => spec(p));
    const { observations, ms } = await quickestSweep(3, 590, () => sweep(ports, context({ seen: [heardNow()] }), 300));
    const tried = silent.ports.slice(0, PER_HOST_CONNECTIONS);
    expect(observations).toEqual([
      {
        source: 'tcp-connect',
        ip: '127.0.0.1',
        at: expect.any(String),
        status: 'timeout',
        fields: { 'port.state': 'silent', 'port.silent': tried.sort((a, b) => a - b).map(String), 'port.skipped': silent.ports.slice(PER_HOST_CONNECTIONS).sort((a, b) => a - b).map(String) },
      },
    ]);
    // One round of 300 ms timeouts, not one per port (two rounds would be 600 ms).
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(590);
  });

  it('waits on a host that has answered only as long as its round trips say (nmap\'s 100 ms floor), not the initial timeout', async () => {
    const open = await openPort();
    const ports = [spec(open), ...silent.ports.slice(0, 2).map((p) => spec(p))];
    // One connection at a time: the open port answers first, then each silent port waits 100 ms, not 5 s.
    const { observations, ms } = await sweep(ports, context({ seen: [heardNow()] }), 5000, { perHostConnections: 1 });
    expect(observations.map((o) => o.port)).toEqual([open]);
    expect(ms).toBeGreaterThanOrEqual(190);
    expect(ms).toBeLessThan(1500);
  });

  it('keeps at most the per-host number of connections open to one host', async () => {
    const open = await openPort();
    const ports = [spec(open), ...silent.ports.slice(0, 4).map((p) => spec(p))];
    // After the answer, four silent ports of 100 ms each: two rounds with two at a time, one round with four.
    const two = await sweep(ports, context({ seen: [heardNow()] }), 5000, { perHostConnections: 2 });
    expect(two.ms).toBeGreaterThanOrEqual(190);
    const four = await quickestSweep(3, two.ms, () => sweep(ports, context({ seen: [heardNow()] }), 5000, { perHostConnections: 4 }));
    expect(four.ms).toBeLessThan(two.ms);
  });

  it('paces each host to its own rate, hosts side by side', async () => {
    const ports = await Promise.all(Array.from({ length: 4 }, async () => spec(await openPort({ host: '0.0.0.0' }))));
    const twoHosts = context({ targets: parseTargets(['127.0.0.1', '127.0.0.2']), ratePerSecond: 1000 });
    const { observations, ms } = await sweep(ports, twoHosts, 1000, { perHostRate: 10 });
    expect(observations).toHaveLength(8);
    // 4 connects at 10/s a host: 300 ms from first to last on each host; both hosts at once, so not 700.
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(650);
    for (const ip of ['127.0.0.1', '127.0.0.2']) {
      const times = observations.filter((o) => o.ip === ip).map((o) => Date.parse(o.at)).sort((a, b) => a - b);
      expect((times[3] as number) - (times[0] as number)).toBeGreaterThanOrEqual(280);
    }
  });

  it('never probes the scanner\'s own address, though it is inside the targets', async () => {
    const open = await openPort();
    const ownLoopback = { name: 'lo-test', address: '127.0.0.1', cidr: '127.0.0.1/8' };
    const { observations } = await sweep([spec(open)], context({ interfaces: [ownLoopback] }));
    expect(observations).toEqual([]);
  });

  it('sends nothing with --no-active', async () => {
    const open = await openPort();
    let accepted = 0;
    servers[servers.length - 1]?.on('connection', () => accepted++);
    const { observations } = await sweep([spec(open)], context({ active: false }));
    expect(observations).toEqual([]);
    expect(accepted).toBe(0);
  });
});

describe('fingerprints/ports.yaml', () => {
  it('lists the camera ports with their probes and sources', () => {
    const table = loadKnowledge().ports;
    const byPort = new Map(table.map((p) => [p.port, p]));
    expect([...byPort.keys()].sort((a, b) => a - b)).toEqual([80, 443, 554, 8000, 8080, 8443, 8554, 34567, 37777]);
    expect(byPort.get(443)?.probes).toEqual(['http', 'tls']);
    expect(byPort.get(554)?.probes).toEqual(['rtsp']);
    expect(byPort.get(37777)).toMatchObject({ service: 'dahua-dvrip', probes: [] });
    expect(table.filter((p) => p.hostDiscovery).map((p) => p.port)).toEqual([80, 443]);
    expect(table.every((p) => p.source.length > 10)).toBe(true);
  });
});
