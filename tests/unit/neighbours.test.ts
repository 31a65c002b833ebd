import { describe, expect, it } from 'vitest';
import { heardWithin, neighbours, parseNeighbourJson, parseNeighbourRows, readSettled, type NeighbourEntry } from '../../agent/discovery/neighbours.js';
import { NeighbourBudget } from '../../agent/net/neighbour-budget.js';
import type { Observation } from '../../agent/types.js';
import { loopbackContext } from '../support/scan-context.js';
import { checkedEmit } from '../support/declared-emits.js';

// Shape of `ip -json -stats -4 neigh show dev eth0` (iproute2 6.1), as read in the lab.
const SAMPLE = JSON.stringify([
  { dst: '198.18.0.10', dev: 'eth0', lladdr: '28:57:BE:12:34:56', used: 3, confirmed: 2, updated: 2, probes: 0, state: ['REACHABLE'] },
  { dst: '198.18.0.20', dev: 'eth0', lladdr: '08:ed:ed:87:42:7a', used: 400, confirmed: 380, updated: 390, probes: 0, state: ['STALE'] },
  { dst: '198.18.0.99', dev: 'eth0', used: 5, confirmed: 5, updated: 1, probes: 3, state: ['INCOMPLETE'] },
  { dst: '198.18.0.98', dev: 'eth0', used: 5, confirmed: 5, updated: 1, probes: 6, state: ['FAILED'] },
  { dst: '198.18.0.97', dev: 'eth0', lladdr: '00:00:00:00:00:00', state: ['STALE'] },
  { dst: '198.18.0.1', dev: 'eth0', lladdr: '02:00:00:00:00:01', state: ['PERMANENT'] },
]);

// `ip -json -stats -6 neigh show dev eth0` in the lab's scanner after an IPv6 WS-Discovery Probe
// (iproute2 6.1): the entries the answering devices' Neighbor Solicitations left, plus a ULA one.
const SAMPLE_IPV6 = JSON.stringify([
  { dst: 'fe80::2a57:beff:fe6a:1c90', lladdr: '28:57:be:6a:1c:90', used: 43, confirmed: 43, updated: 7, probes: 1, state: ['STALE'] },
  { dst: 'fdcc:7a6e:1ab::10', lladdr: '28:57:be:6a:1c:10', used: 1, confirmed: 1, updated: 1, probes: 0, state: ['REACHABLE'] },
  { dst: 'fe80::1', dev: 'eth0', used: 5, confirmed: 5, updated: 1, probes: 3, state: ['INCOMPLETE'] },
]);

describe('parseNeighbourJson', () => {
  it('gives an IPv6 link-local entry the zone of the interface it was read for, and no other address', () => {
    expect(parseNeighbourJson(SAMPLE_IPV6, 'eth0')).toEqual([
      { ip: 'fe80::2a57:beff:fe6a:1c90%eth0', mac: '28:57:be:6a:1c:90', state: 'STALE', confirmedSecondsAgo: 43, updatedSecondsAgo: 7 },
      { ip: 'fdcc:7a6e:1ab::10', mac: '28:57:be:6a:1c:10', state: 'REACHABLE', confirmedSecondsAgo: 1, updatedSecondsAgo: 1 },
    ]);
    expect(parseNeighbourJson(SAMPLE, 'eth0').map((e) => e.ip)).toEqual(['198.18.0.10', '198.18.0.20', '198.18.0.1']);
  });

  it('keeps entries with a usable MAC, lower-cased, with their age', () => {
    expect(parseNeighbourJson(SAMPLE)).toEqual([
      { ip: '198.18.0.10', mac: '28:57:be:12:34:56', state: 'REACHABLE', confirmedSecondsAgo: 2, updatedSecondsAgo: 2 },
      { ip: '198.18.0.20', mac: '08:ed:ed:87:42:7a', state: 'STALE', confirmedSecondsAgo: 380, updatedSecondsAgo: 390 },
      { ip: '198.18.0.1', mac: '02:00:00:00:00:01', state: 'PERMANENT', confirmedSecondsAgo: null, updatedSecondsAgo: null },
    ]);
  });

  it('counts a host as heard only when it confirmed recently', () => {
    const entry = { ip: '198.18.0.40', mac: '3c:d9:2b:40:40:40', confirmedSecondsAgo: 300, updatedSecondsAgo: 1 };
    // STALE with a fresh `updated` is also what a REACHABLE entry timing out looks like: proves nothing.
    expect(heardWithin({ ...entry, state: 'STALE' }, 5)).toBe(false);
    // DELAY/PROBE with a fresh `updated` is our own sending to an old entry: proves nothing.
    expect(heardWithin({ ...entry, state: 'DELAY' }, 5)).toBe(false);
    expect(heardWithin({ ...entry, state: 'PROBE' }, 5)).toBe(false);
    expect(heardWithin({ ...entry, state: 'REACHABLE', confirmedSecondsAgo: 2 }, 5)).toBe(true);
    expect(heardWithin({ ...entry, state: 'STALE', updatedSecondsAgo: 60 }, 5)).toBe(false);
    expect(heardWithin({ ...entry, state: 'PERMANENT', confirmedSecondsAgo: null, updatedSecondsAgo: null }, 5)).toBe(false);
  });

  it('returns nothing for output that is not the expected JSON', () => {
    expect(parseNeighbourJson('')).toEqual([]);
    expect(parseNeighbourJson('{"dst":"1.2.3.4"}')).toEqual([]);
    expect(parseNeighbourJson('198.18.0.10 dev eth0 lladdr 28:57:be:12:34:56 REACHABLE')).toEqual([]);
    expect(parseNeighbourJson('[{"dst":"198.18.0.5","lladdr":"zz:zz","state":["REACHABLE"]}]')).toEqual([]);
  });
});

describe('parseNeighbourRows', () => {
  it("gives every row its verdict: resolved with a usable MAC, failed when FAILED, pending otherwise", () => {
    expect(parseNeighbourRows(SAMPLE).map((r) => [r.ip, r.dev, r.verdict, r.entry?.mac ?? null])).toEqual([
      ['198.18.0.10', 'eth0', 'resolved', '28:57:be:12:34:56'],
      ['198.18.0.20', 'eth0', 'resolved', '08:ed:ed:87:42:7a'],
      ['198.18.0.99', 'eth0', 'pending', null],
      ['198.18.0.98', 'eth0', 'failed', null],
      ['198.18.0.97', 'eth0', 'pending', null],
      ['198.18.0.1', 'eth0', 'resolved', '02:00:00:00:00:01'],
    ]);
  });

  it('reads rows without a dev (`ip neigh show dev eth0` leaves it out), as the lab printed them', () => {
    // `ip -json -stats -4 neigh show dev eth0 to 198.18.7.234` 0.3 s and 3.5 s after one datagram to it.
    const incomplete = '[{"dst":"198.18.7.234","refcnt":1,"used":0,"confirmed":60,"updated":0,"probes":4,"state":["INCOMPLETE"]}]';
    const failed = '[{"dst":"198.18.7.234","used":3,"confirmed":63,"updated":0,"probes":6,"state":["FAILED"]}]';
    expect(parseNeighbourRows(incomplete)).toEqual([{ ip: '198.18.7.234', dev: null, verdict: 'pending', entry: null, states: ['INCOMPLETE'], refcnt: 1, updatedSecondsAgo: 0 }]);
    // No `refcnt` beside the cache information: iproute2 leaves out a zero count.
    expect(parseNeighbourRows(failed)).toEqual([{ ip: '198.18.7.234', dev: null, verdict: 'failed', entry: null, states: ['FAILED'], refcnt: 0, updatedSecondsAgo: 0 }]);
  });

  it('drops rows that are not neighbour rows, and everything when the text is not a JSON array', () => {
    expect(parseNeighbourRows('[null, 7, "x", {"dev":"eth0","state":["FAILED"]}, {"dst":5}, {"dst":"198.18.0.3","state":"FAILED"}]')).toEqual([
      { ip: '198.18.0.3', dev: null, verdict: 'pending', entry: null, states: [], refcnt: null, updatedSecondsAgo: null },
    ]);
    expect(parseNeighbourRows('{"dst":"198.18.0.3"}')).toEqual([]);
    expect(parseNeighbourRows('[{"dst":"198.18.0.3"')).toEqual([]);
  });
});

describe('readSettled', () => {
  const entry = (state: string): NeighbourEntry => ({ ip: '198.18.0.50', mac: '6c:f1:7e:05:00:50', state, confirmedSecondsAgo: 40, updatedSecondsAgo: 0 });
  const reader = (states: string[][]): { read: () => Promise<NeighbourEntry[]>; reads: () => number } => {
    let i = 0;
    return {
      read: async () => (states[Math.min(i++, states.length - 1)] ?? []).map(entry),
      reads: () => i,
    };
  };

  it('reads again until the entries the scan put under verification (DELAY, PROBE) are settled', async () => {
    const table = reader([['DELAY'], ['DELAY'], ['PROBE'], ['REACHABLE']]);
    const entries = await readSettled(table.read, new AbortController().signal, 5000, 1);
    expect(entries.map((e) => e.state)).toEqual(['REACHABLE']);
    expect(table.reads()).toBe(4);
  });

  it('reads once when nothing is being verified', async () => {
    const table = reader([['REACHABLE', 'STALE']]);
    await readSettled(table.read, new AbortController().signal, 5000, 1);
    expect(table.reads()).toBe(1);
  });

  it('gives up at its limit, and at once when the scan is interrupted', async () => {
    const table = reader([['PROBE']]);
    const started = Date.now();
    expect((await readSettled(table.read, new AbortController().signal, 100, 10)).map((e) => e.state)).toEqual(['PROBE']);
    expect(Date.now() - started).toBeLessThan(1000);
    const aborted = new AbortController();
    aborted.abort();
    const once = reader([['PROBE']]);
    await readSettled(once.read, aborted.signal, 5000, 10);
    expect(once.reads()).toBe(1);
  });
});

describe('the neighbour-table discoverer', () => {
  it('reports the hosts host discovery saw resolve, as the table showed them then, when the kernel has freed their entries since', async () => {
    const budget = new NeighbourBudget(8, ['198.18.4.0/22']);
    budget.markResolved({ ip: '198.18.4.2', mac: '28:57:be:c0:00:00', state: 'REACHABLE', dev: 'eth0', fresh: true });
    budget.markResolved({ ip: '198.18.7.250', mac: 'c0:56:e3:c0:03:e8', state: 'STALE', dev: 'eth0', fresh: false });
    const seen: Observation[] = [];
    // No interface chosen: nothing is read from the kernel, so both come from host discovery.
    await neighbours.run(loopbackContext({ neighbours: budget }), checkedEmit(neighbours, seen));
    expect(seen.map((o) => [o.ip, o.mac, o.fields])).toEqual([
      ['198.18.4.2', '28:57:be:c0:00:00', { 'neighbour.state': 'REACHABLE', 'neighbour.fresh': 'true', 'neighbour.interface': 'eth0' }],
      ['198.18.7.250', 'c0:56:e3:c0:03:e8', { 'neighbour.state': 'STALE', 'neighbour.fresh': 'false', 'neighbour.interface': 'eth0' }],
    ]);
  });
});
