import { describe, expect, it } from 'vitest';
import { sleep } from '../../agent/net/abort.js';
import { activeProbeHosts, MAX_PROBE_SOCKETS, openPortsFor, probeHosts, probeSocketBudget, withDefaults } from '../../agent/discovery/probe-hosts.js';
import { Semaphore } from '../../agent/net/rate-limiter.js';
import type { Observation } from '../../agent/types.js';
import { loopbackContext } from '../support/scan-context.js';

const at = new Date(0).toISOString();
const open = (ip: string, port: number, probes: string[]): Observation => ({
  source: 'tcp-connect',
  ip,
  port,
  at,
  status: 'ok',
  fields: { 'port.state': 'open', 'port.service': 'x', 'port.probes': probes },
});

describe('withDefaults', () => {
  it('takes each member from the options unless absent or undefined there, and only members the defaults have', () => {
    const options: { timeoutMs?: number; concurrency?: number; data?: string } = { timeoutMs: 5, concurrency: undefined, data: 'kept out' };
    const chosen = withDefaults(options, { timeoutMs: 1000, concurrency: 16 });
    expect(chosen).toEqual({ timeoutMs: 5, concurrency: 16 });
  });
});

describe('openPortsFor', () => {
  it('lists the swept open ports marked for the probe, each once, in the order found', () => {
    const ctx = loopbackContext({
      seen: [
        open('127.0.0.1', 443, ['http', 'tls']),
        open('127.0.0.1', 80, ['http']),
        open('127.0.0.1', 443, ['http', 'tls']),
        open('127.0.0.1', 554, ['rtsp']),
        { ...open('127.0.0.2', 80, ['http']), source: 'ws-discovery' },
      ],
    });
    expect(openPortsFor(ctx, 'http').map((p) => p.port)).toEqual([443, 80]);
    expect(openPortsFor(ctx, 'tls')).toEqual([{ ip: '127.0.0.1', port: 443, probes: ['http', 'tls'] }]);
  });

  it('lists a host outside the TARGETs that announced itself, but not the IPv6 address of a device that announced itself over IPv4 too', () => {
    const announced = (ip: string): Observation => ({ source: 'ws-discovery', ip, at, status: 'ok', fields: { 'onvif.endpoint': 'urn:uuid:dual-stack' } });
    const ctx = loopbackContext({
      seen: [announced('127.0.0.3'), announced('::1'), open('127.0.0.3', 80, ['http']), open('::1', 80, ['http']), open('127.0.0.1', 80, ['http'])],
    });
    expect(openPortsFor(ctx, 'http').map((p) => p.ip)).toEqual(['127.0.0.3', '127.0.0.1']);
  });
});

describe('activeProbeHosts (issue 14)', () => {
  const wsd = (ip: string, endpoint: string): Observation => ({ source: 'ws-discovery', ip, at, status: 'ok', fields: { 'onvif.endpoint': endpoint } });
  it('probes a dual-stack camera once, over IPv4, and an IPv6-only one at its IPv6 address', () => {
    const ctx = loopbackContext({
      seen: [wsd('127.0.0.2', 'urn:uuid:dual'), wsd('fe80::2%eth0', 'urn:uuid:dual'), wsd('fe80::3%eth0', 'urn:uuid:six-only')],
    });
    expect([...activeProbeHosts(ctx)].filter((ip) => ip !== '127.0.0.1')).toEqual(['127.0.0.2', 'fe80::3%eth0']);
  });

  it('probes a dual-stack device heard by mDNS alone once, over IPv4: its host name is the same over both families', () => {
    const mdns = (ip: string, host: string): Observation => ({ source: 'mdns-dns-sd', ip, at, status: 'ok', fields: { 'mdns.name': 'DiskStation', 'mdns.host': host } });
    const ctx = loopbackContext({ seen: [mdns('127.0.0.2', 'DiskStation.local'), mdns('fe80::2%eth0', 'DiskStation.local'), mdns('fe80::3%eth0', 'other.local')] });
    expect([...activeProbeHosts(ctx)].filter((ip) => ip !== '127.0.0.1')).toEqual(['127.0.0.2', 'fe80::3%eth0']);
  });
});

describe('probeSocketBudget', () => {
  it('leaves the probes what the sweep and the reserve leave of the descriptor limit, at least one, at most what all pools hold', () => {
    expect(probeSocketBudget(256)).toBe(256 - 64 - 144);
    expect(probeSocketBudget(512)).toBe(512 - 64 - 336);
    expect(probeSocketBudget(1024)).toBe(MAX_PROBE_SOCKETS);
    expect(probeSocketBudget(80)).toBe(80 - 64 - 12);
    expect(probeSocketBudget(64)).toBe(1);
    expect(probeSocketBudget(Number.POSITIVE_INFINITY)).toBe(MAX_PROBE_SOCKETS);
  });
});

/** Every item's contacts go to loopback: off every subnet, so the neighbour budget admits them at once. */
const loopback = (): string => '127.0.0.1';

describe('probeHosts', () => {
  it('holds no more items at once, all pools together, than the probes have sockets', async () => {
    let running = 0;
    let most = 0;
    const ctx = loopbackContext({ probeSockets: new Semaphore(3) });
    const work = async (): Promise<void> => {
      most = Math.max(most, ++running);
      await sleep(5);
      running--;
    };
    await Promise.all([probeHosts(ctx, [1, 2, 3, 4], { concurrency: 4 }, loopback, work), probeHosts(ctx, [5, 6, 7, 8], { concurrency: 4 }, loopback, work)]);
    expect(most).toBe(3);
    expect(ctx.probeSockets?.available).toBe(3);
  });

  it('works through every item at most `concurrency` at a time', async () => {
    let running = 0;
    let most = 0;
    const done: number[] = [];
    await probeHosts(loopbackContext(), [1, 2, 3, 4, 5, 6, 7], { concurrency: 3 }, loopback, async (item) => {
      most = Math.max(most, ++running);
      await sleep(5);
      running--;
      done.push(item);
    });
    expect(most).toBe(3);
    expect(done.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('ends an item at its own deadline, not the others', async () => {
    const ended: Array<[string, boolean]> = [];
    await probeHosts(loopbackContext(), ['slow', 'quick'], { concurrency: 2, deadlineMs: 30 }, loopback, async (item, { signal }) => {
      await sleep(item === 'slow' ? 10_000 : 1, signal);
      ended.push([item, signal.aborted]);
    });
    expect(ended).toEqual([
      ['quick', false],
      ['slow', true],
    ]);
  });

  it('hands out no item once the budget has run out', async () => {
    const started: number[] = [];
    await probeHosts(loopbackContext(), [1, 2, 3], { concurrency: 1, budgetMs: 20 }, loopback, async (item, { signal }) => {
      started.push(item);
      await sleep(10_000, signal);
    });
    expect(started).toEqual([1]);
  });
});
