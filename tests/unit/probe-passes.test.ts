/**
 * Probe passes (agent/discovery/probe-passes.ts): probes start as soon as what they need is whole,
 * in up to three passes, and no item is probed twice. The scheduling runs on fake timers; the
 * HTTP discoverer across two passes runs against a real loopback web server.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { asTheyCome, claimUnprobed, portsSwept, ProbeFeed, ProbeLedger, type ProbePass } from '../../agent/discovery/probe-passes.js';
import type { ScanContext } from '../../agent/discovery/types.js';
import { createHttpDiscoverer } from '../../agent/discovery/http.js';
import { deviceServiceEndpoints } from '../../agent/discovery/onvif.js';
import { createLogger } from '../../agent/log.js';
import type { Observation } from '../../agent/types.js';
import { loopbackContext } from '../support/scan-context.js';

const at = new Date(0).toISOString();
const openPort = (ip: string, port: number): Observation => ({
  source: 'tcp-connect', ip, port, at, status: 'ok', fields: { 'port.state': 'open', 'port.service': 'http', 'port.probes': ['http'] },
});
const pass = (ledger: ProbeLedger, swept: readonly string[] | 'all' = 'all'): ProbePass => ({ portsSwept: (ip) => swept === 'all' || swept.includes(ip), ledger });

describe('claimUnprobed', () => {
  it('hands each item to one pass of a discoverer only, every discoverer its own, and everything when there are no passes', () => {
    const ledger = new ProbeLedger();
    const first = { probePass: pass(ledger) };
    const later = { probePass: pass(ledger) };
    const key = (n: number): string => String(n);
    expect(claimUnprobed(first, 'http-pages', [1, 2, 2], key)).toEqual([1, 2]);
    expect(claimUnprobed(later, 'http-pages', [1, 2, 3], key)).toEqual([3]);
    expect(claimUnprobed(later, 'rtsp', [1, 3], key)).toEqual([1, 3]);
    expect(claimUnprobed({}, 'http-pages', [1, 2, 3], key)).toEqual([1, 2, 3]);
    expect(ledger.size).toBe(5);
  });
});

describe('ProbeFeed', () => {
  afterEach(() => void vi.useRealTimers());

  it('gives each reader a view at most every interval, taken when it asks, and the last one after close', async () => {
    vi.useFakeTimers();
    let count = 0;
    const ledger = new ProbeLedger();
    const feed = new ProbeFeed(() => ({ seen: Array.from({ length: count }, (_, n) => openPort(`127.0.0.${n + 1}`, 80)), pass: pass(ledger) }), 100);
    const taken: [number, number][] = [];
    const t0 = Date.now();
    const reader = (async (): Promise<void> => {
      for await (const view of feed.views()) {
        taken.push([Date.now() - t0, view.seen.length]);
        // Busy with the view's items for 250 ms: the views in between are skipped.
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();
    count = 1;
    feed.changed();
    feed.changed();
    await vi.advanceTimersByTimeAsync(50);
    count = 2;
    feed.changed();
    await vi.advanceTimersByTimeAsync(100);
    for (let n = 0; n < 3; n++) {
      count++;
      feed.changed();
      await vi.advanceTimersByTimeAsync(100);
    }
    count = 9;
    feed.close();
    feed.changed();
    await vi.advanceTimersByTimeAsync(1000);
    await reader;
    expect(taken).toEqual([
      [100, 2],
      [350, 4],
      [600, 9],
    ]);
  });

  it('ends a reader that waits for a view at close, with that last view', async () => {
    const ledger = new ProbeLedger();
    const feed = new ProbeFeed(() => ({ seen: [], pass: pass(ledger) }), 60_000);
    const reader = (async (): Promise<number> => {
      let views = 0;
      for await (const _view of feed.views()) views++;
      return views;
    })();
    feed.close();
    expect(await reader).toBe(1);
  });
});

describe('probes across views', () => {
  it('takes from each view the items no earlier view gave, and from the context itself once without a feed', async () => {
    vi.useFakeTimers();
    try {
      const ledger = new ProbeLedger();
      let seen: Observation[] = [];
      let swept: string[] = [];
      const feed = new ProbeFeed(() => ({ seen, pass: pass(ledger, [...swept]) }), 100);
      const ports = (view: ScanContext): string[] =>
        claimUnprobed(view, 'test', view.seen.filter((o) => portsSwept(view, o.ip)).map((o) => `${o.ip}:${o.port}`), (k) => k);
      const taken: string[] = [];
      const reading = (async (): Promise<void> => {
        for await (const item of asTheyCome(loopbackContext({ probeFeed: feed }), ports)) taken.push(item);
      })();
      seen = [openPort('127.0.0.1', 80), openPort('127.0.0.2', 80)];
      feed.changed();
      await vi.advanceTimersByTimeAsync(100);
      expect(taken).toEqual([]);
      swept = ['127.0.0.2'];
      feed.changed();
      await vi.advanceTimersByTimeAsync(100);
      expect(taken).toEqual(['127.0.0.2:80']);
      seen = [...seen, openPort('127.0.0.1', 443)];
      swept = ['127.0.0.1', '127.0.0.2'];
      feed.close();
      await reading;
      expect(taken).toEqual(['127.0.0.2:80', '127.0.0.1:80', '127.0.0.1:443']);
      const once: string[] = [];
      for await (const item of asTheyCome(loopbackContext({ seen }), ports)) once.push(item);
      expect(once).toEqual(['127.0.0.1:80', '127.0.0.2:80', '127.0.0.1:443']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('asks each web port for its pages once, whichever view finds it', async () => {
    const paths: string[] = [];
    const server = createServer((req, res) => {
      paths.push(req.url ?? '');
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const http = createHttpDiscoverer({ timeoutMs: 1000 });
    const ledger = new ProbeLedger();
    const run = async (p: ProbePass, seen: Observation[]): Promise<number> => {
      const emitted: Observation[] = [];
      await http.run(loopbackContext({ seen, probePass: p }), (o) => void emitted.push(o));
      return emitted.length;
    };
    try {
      // Ports not yet all swept: nothing is asked.
      expect(await run(pass(ledger, []), [openPort('127.0.0.1', port)])).toBe(0);
      expect(paths).toEqual([]);
      const pages = await run(pass(ledger, ['127.0.0.1']), [openPort('127.0.0.1', port)]);
      expect(pages).toBeGreaterThan(0);
      const asked = [...paths];
      expect(await run(pass(ledger), [openPort('127.0.0.1', port), openPort('127.0.0.1', port)])).toBe(0);
      expect(paths).toEqual(asked);
    } finally {
      server.close();
    }
  });

  it("asks an announced ONVIF XAddr in any view, and guesses at a host's web ports only once they are all swept", () => {
    const ledger = new ProbeLedger();
    const log = createLogger('silent');
    const seen: Observation[] = [
      { source: 'ws-discovery', ip: '127.0.0.2', at, status: 'ok', fields: { 'onvif.xaddr': ['http://127.0.0.2/onvif/device_service'] } },
      openPort('127.0.0.1', 80),
    ];
    const during = deviceServiceEndpoints(loopbackContext({ seen, probePass: pass(ledger, []) }), log);
    expect(during.map((e) => [e.ip, e.announced])).toEqual([['127.0.0.2', true]]);
    const after = deviceServiceEndpoints(loopbackContext({ seen, probePass: pass(ledger, ['127.0.0.1']) }), log);
    expect(after.map((e) => [e.ip, e.announced])).toEqual([['127.0.0.2', true], ['127.0.0.1', false]]);
  });
});
