/**
 * Probe passes (agent/discovery/probe-passes.ts): probes start as soon as what they need is whole,
 * in up to three passes, and no item is probed twice. The scheduling runs on fake timers; the
 * HTTP discoverer across two passes runs against a real loopback web server.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { asTheyCome, claimUnprobed, PortSilence, portsSwept, ProbeFeed, ProbeLedger, TlsHandshakes, type ProbePass } from '../../agent/discovery/probe-passes.js';
import type { ScanContext } from '../../agent/discovery/types.js';
import { createHttpDiscoverer } from '../../agent/discovery/http.js';
import { deviceServiceEndpoints, onvifDevice } from '../../agent/discovery/onvif.js';
import { upnpDescription } from '../../agent/discovery/ssdp.js';
import { createLogger } from '../../agent/log.js';
import type { Observation } from '../../agent/types.js';
import { listenOnLoopback } from '../support/loopback-server.js';
import { loopbackContext } from '../support/scan-context.js';

const at = new Date(0).toISOString();
const openPort = (ip: string, port: number): Observation => ({
  source: 'tcp-connect', ip, port, at, status: 'ok', fields: { 'port.state': 'open', 'port.service': 'http', 'port.probes': ['http'] },
});
const pass = (ledger: ProbeLedger, swept: readonly string[] | 'all' = 'all', announcementsWhole = true): ProbePass => ({
  portsSwept: (ip) => swept === 'all' || swept.includes(ip),
  ledger,
  announcementsWhole,
});

/** A loopback web server answering 404 to everything, recording the paths asked. */
async function notFoundServer(): Promise<{ port: number; paths: string[]; server: ReturnType<typeof createServer> }> {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? '');
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, paths, server };
}

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

  it('gives a view at once on now(), without waiting out the interval', async () => {
    vi.useFakeTimers();
    const ledger = new ProbeLedger();
    const feed = new ProbeFeed(() => ({ seen: [], pass: pass(ledger) }), 60_000);
    let views = 0;
    const reader = (async (): Promise<void> => {
      for await (const _view of feed.views()) views++;
    })();
    feed.changed();
    feed.now();
    await vi.advanceTimersByTimeAsync(1);
    expect(views).toBe(1);
    feed.close();
    await reader;
    expect(views).toBe(2);
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
    const { port, paths, server } = await notFoundServer();
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

  it("hands the page probe's certificate of a port to the certificate probe: the first word stands, and a port never told is null once the page probe ends or the phase does", async () => {
    const handshakes = new TlsHandshakes();
    const peer = { cert: new X509Certificate(readFileSync(new URL('../lab/certs/hikvision-default.crt', import.meta.url))), protocol: 'TLSv1.3' };
    const waiting = handshakes.peer('198.18.0.10', 443);
    handshakes.tell('198.18.0.10', 443, peer);
    handshakes.tell('198.18.0.10', 443, null);
    expect(await waiting).toBe(peer);
    expect(await handshakes.peer('198.18.0.10', 443)).toBe(peer);
    const phase = new AbortController();
    const cutShort = handshakes.peer('198.18.0.11', 443, phase.signal);
    phase.abort();
    expect(await cutShort).toBeNull();
    const neverTold = handshakes.peer('198.18.0.12', 8443);
    handshakes.close();
    expect(await neverTold).toBeNull();
    expect(await handshakes.peer('198.18.0.13', 443)).toBeNull();
  });

  it("asks an announced ONVIF XAddr in any view, and guesses at a host's web ports only after the window, once they are all swept", () => {
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
    // Before the window closes an XAddr may still come for a host not yet heard: an announced one is asked, no guess is made.
    const early = deviceServiceEndpoints(loopbackContext({ seen, probePass: pass(new ProbeLedger(), 'all', false) }), log);
    expect(early.map((e) => [e.ip, e.announced])).toEqual([['127.0.0.2', true]]);
  });
});

describe('PortSilence', () => {
  const closers: (() => void)[] = [];
  afterEach(() => {
    for (const close of closers.splice(0)) close();
  });

  it('tells a later probe how the first exchange with a port went, waiting for it while it runs', async () => {
    const silence = new PortSilence();
    expect(await silence.silent('127.0.0.1', 80)).toBe(false);
    let timedOut = (_silent: boolean): void => undefined;
    silence.asking('127.0.0.1', 80, new Promise((resolve) => (timedOut = resolve)));
    silence.asking('127.0.0.1', 80, Promise.resolve(false));
    const verdict = silence.silent('127.0.0.1', 80);
    timedOut(true);
    expect(await verdict).toBe(true);
    expect(await silence.silent('127.0.0.1', 81)).toBe(false);
  });

  it('keeps the ONVIF guess off a web port that stayed silent to the HTTP probe: one timeout, not two', async () => {
    let connections = 0;
    // Accepts and never answers (the lab's hosttcp port 80).
    const { port, close } = await listenOnLoopback(createTcpServer(() => connections++));
    closers.push(close);
    const ctx = loopbackContext({ seen: [openPort('127.0.0.1', port)], portSilence: new PortSilence() });
    const emitted: Observation[] = [];
    const t0 = Date.now();
    const pages = createHttpDiscoverer({ timeoutMs: 300 }).run(ctx, (o) => void emitted.push(o));
    // The guess comes while the page request still waits (the ONVIF guess waits 3 s on its own).
    await vi.waitFor(() => expect(connections).toBe(1));
    await Promise.all([pages, onvifDevice.run(ctx, (o) => void emitted.push(o))]);
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(connections).toBe(1);
    expect(emitted.map((o) => [o.source, o.status])).toEqual([['http-pages', 'timeout']]);
  });
});

describe('UPnP descriptions across views', () => {
  it('fetches the first LOCATIONs heard of a device, at most eight, whatever order later views list them in', async () => {
    const { port, paths, server } = await notFoundServer();
    const heard = Array.from({ length: 10 }, (_, n) => `http://127.0.0.1:${port}/d${9 - n}.xml`);
    const ssdp = (locations: string[]): Observation => ({ source: 'ssdp', ip: '127.0.0.1', at, status: 'ok', fields: { 'ssdp.location': locations } });
    // While the window is open: each LOCATION as heard; after it: the responder's one observation, sorted.
    let seen = heard.map((l) => ssdp([l]));
    const ledger = new ProbeLedger();
    const feed = new ProbeFeed(() => ({ seen, pass: pass(ledger) }), 10);
    try {
      const run = upnpDescription.run(loopbackContext({ probeFeed: feed }), () => undefined);
      feed.now();
      await vi.waitFor(() => expect(paths.length).toBe(8));
      seen = [ssdp([...heard].sort())];
      feed.close();
      await run;
      expect(paths.sort()).toEqual(heard.slice(0, 8).map((l) => new URL(l).pathname).sort());
    } finally {
      server.close();
    }
  });
});
