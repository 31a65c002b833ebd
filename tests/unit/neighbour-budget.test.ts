import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  DEFAULT_GC_THRESH3,
  ARP_CACHE_STAT_PATH,
  GC_THRESH3_PATH,
  IPV6_GC_THRESH3_PATH,
  LIVE_HOLD_MS,
  NeighbourBudget,
  SILENT_HOLD_MS,
  TABLE_COUNT_TRIES,
  collectorCannotFree,
  countOnLink,
  ipv6OnLinkCidrs,
  machineNeighbourEntries,
  neighbourBudgetSize,
  neighbourTableLimit,
  placesHeld,
} from '../../agent/net/neighbour-budget.js';
import { parseNeighbourRows, type NeighbourRow } from '../../agent/discovery/neighbours.js';
import type { EntryRelease, ResolvedNeighbour } from '../../agent/net/neighbour-budget.js';
import { readFileSync } from 'node:fs';

/** Rows of `ip -json -stats -4 neigh show` captured in the crowd lab (kernel 6.18, iproute2 6.1; tests/fixtures/neighbours/README.md). */
const captured = (name: string): NeighbourRow[] => parseNeighbourRows(readFileSync(new URL(`../fixtures/neighbours/${name}`, import.meta.url), 'utf8'));

describe('neighbourTableLimit', () => {
  it('reads gc_thresh3', () => {
    const read = (path: string): string => (path === GC_THRESH3_PATH ? '4096\n' : '');
    expect(neighbourTableLimit(read)).toEqual({ limit: 4096, from: GC_THRESH3_PATH });
  });

  it("reads the IPv6 (NDP) table's own gc_thresh3 when asked for it", () => {
    const read = (path: string): string => (path === IPV6_GC_THRESH3_PATH ? '2048\n' : '4096\n');
    expect(neighbourTableLimit(read, IPV6_GC_THRESH3_PATH)).toEqual({ limit: 2048, from: IPV6_GC_THRESH3_PATH });
  });

  it("assumes the kernel's default when the file is absent (a namespace other than the first) or garbage", () => {
    const absent = (): string => {
      throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    };
    expect(neighbourTableLimit(absent).limit).toBe(DEFAULT_GC_THRESH3);
    expect(neighbourTableLimit(() => 'lots').limit).toBe(DEFAULT_GC_THRESH3);
    expect(neighbourTableLimit(() => '0').limit).toBe(DEFAULT_GC_THRESH3);
  });

  it('takes half of the room the table has left, and leaves the rest to the machine', () => {
    expect(neighbourBudgetSize(1024)).toBe(512);
    expect(neighbourBudgetSize(1024, 24)).toBe(500);
    expect(neighbourBudgetSize(1024, 1000)).toBe(12);
    expect(neighbourBudgetSize(1024, 5000)).toBe(1);
    expect(neighbourBudgetSize(1)).toBe(1);
  });

  it("reads the machine's entry count from the kernel's statistics, and nothing from a file it cannot read", () => {
    const stat = 'entries  allocs   destroys hash_grows\n000003e9 0001e948 0002e340 00000004\n000003e9 00000000 00000000 00000000\n';
    expect(machineNeighbourEntries((path) => (path === ARP_CACHE_STAT_PATH ? stat : ''))).toBe(1001);
    expect(
      machineNeighbourEntries(() => {
        throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      }),
    ).toBeNull();
    expect(machineNeighbourEntries(() => 'entries\nzz\n')).toBeNull();
    expect(machineNeighbourEntries(() => '')).toBeNull();
  });
});

describe('placesHeld: the entries the kernel cannot free, from real table reads', () => {
  it('counts INCOMPLETE entries and STALE ones changed under 5 s ago, not older STALE or FAILED ones (the /16, 57 s in)', () => {
    const rows = captured('crowd-16-57s.json');
    expect(rows.map((r) => [r.states.join(), r.refcnt, r.updatedSecondsAgo, collectorCannotFree(r)])).toEqual([
      ['INCOMPLETE', 1, 1, true],
      ['INCOMPLETE', 1, 0, true],
      ['INCOMPLETE', 1, 1, true],
      ['STALE', 0, 5, false],
      ['STALE', 0, 5, false],
      ['STALE', 0, 5, false],
      ['STALE', 0, 2, true],
      ['STALE', 0, 2, true],
      ['STALE', 0, 2, true],
      ['FAILED', 0, 1, false],
      ['FAILED', 0, 1, false],
      ['FAILED', 0, 1, false],
    ]);
    expect(placesHeld(rows)).toBe(6);
  });

  it('counts every REACHABLE entry however old (its timer holds a reference), and INCOMPLETE ones (the /16, 16 s in)', () => {
    const rows = captured('crowd-16-16s.json');
    expect(rows.filter((r) => r.states.includes('REACHABLE') && (r.updatedSecondsAgo ?? 0) >= 5)).toHaveLength(3);
    expect(placesHeld(rows)).toBe(8);
  });

  it('never counts PERMANENT entries (the crowd devices\' entries for the scanner): the limit does not count them', () => {
    const rows = captured('crowd-devices-permanent.json');
    expect(rows).toHaveLength(3);
    expect(placesHeld(rows)).toBe(0);
  });

  it('holds a row it cannot judge unless it FAILED, and drops garbage', () => {
    // Without -stats ip prints no cache information: a REACHABLE row may hold its timer's reference.
    const bare = parseNeighbourRows(JSON.stringify([{ dst: '198.18.0.5', lladdr: '28:57:be:00:00:05', state: ['STALE'] }, { dst: '198.18.0.6', state: ['FAILED'] }]));
    expect(bare.map((r) => [r.refcnt, r.updatedSecondsAgo])).toEqual([
      [null, null],
      [null, null],
    ]);
    expect(bare.map(collectorCannotFree)).toEqual([true, false]);
    const garbage = parseNeighbourRows(JSON.stringify([{ dst: '198.18.0.7', refcnt: 'many', updated: -4, state: 'REACHABLE' }, { dst: 7 }, null, 'x', { dst: '198.18.0.8', refcnt: 2, updated: 900, state: ['STALE'] }]));
    expect(garbage.map((r) => [r.ip, r.states, r.refcnt, r.updatedSecondsAgo])).toEqual([
      ['198.18.0.7', [], null, null],
      ['198.18.0.8', ['STALE'], 2, 900],
    ]);
    // The first is held (nothing known), the second is referenced (a packet queued, a route).
    expect(placesHeld(garbage)).toBe(2);
    expect(placesHeld(parseNeighbourRows('not json'))).toBe(0);
  });
});

describe('NeighbourBudget counted from the table', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const row = (state: string, refcnt: number, updated: number) => ({ states: [state], refcnt, updatedSecondsAgo: updated });
  const live = (n: number) => Array.from({ length: n }, () => row('REACHABLE', 1, 20));

  it('admits a first contact only while held entries and contacts not yet shown stay under its size', async () => {
    const budget = new NeighbourBudget(3, ['198.18.0.0/22'], { readTable: async () => [], heldAtStart: 1 });
    // One entry held before the scan is not the scan's: two of the table's three are.
    budget.countTable(live(3));
    expect(budget.count).toBe('table');
    expect(await budget.takePlace('198.18.0.10')).toBe(true);
    let second = false;
    void budget.takePlace('198.18.0.11').then((ok) => (second = ok));
    await vi.advanceTimersByTimeAsync(0);
    expect(second).toBe(false);
    // A read shows the first contact's entry, resolving: its row holds the place from now on
    // (host discovery hands the read over first, then gives back the contacts it shows).
    budget.countTable([...live(3), row('INCOMPLETE', 1, 0)]);
    budget.release('198.18.0.10');
    await vi.advanceTimersByTimeAsync(0);
    expect(second).toBe(false);
    // It FAILED, and two live hosts went STALE over 5 s ago: the collector could free them.
    budget.countTable([...live(1), row('FAILED', 0, 0), row('STALE', 0, 6), row('STALE', 0, 7)]);
    await vi.advanceTimersByTimeAsync(0);
    expect(second).toBe(true);
    expect(budget.waited).toBe(1);
    expect(budget.mostCounted).toBe(3);
  });

  it('reads the table itself while first contacts wait and nobody else reads it', async () => {
    let held = 2;
    let reads = 0;
    const budget = new NeighbourBudget(2, ['198.18.0.0/24'], { readTable: async () => (reads++, live(held)), pollMs: 100 });
    budget.countTable(live(2));
    let granted = false;
    void budget.acquire('198.18.0.10').then((ok) => (granted = ok));
    await vi.advanceTimersByTimeAsync(1000);
    expect(granted).toBe(false);
    expect(reads).toBeGreaterThanOrEqual(8);
    held = 1;
    await vi.advanceTimersByTimeAsync(100);
    expect(granted).toBe(true);
    const after = reads;
    await vi.advanceTimersByTimeAsync(1000);
    // Nobody waits: no more reads.
    expect(reads).toBe(after);
  });

  it('falls back on modelled holds after reads fail, keeping what the last read showed for the live hold', async () => {
    const budget = new NeighbourBudget(1, ['198.18.0.0/24'], { readTable: () => Promise.reject(new Error('spawn ip ENOENT')), pollMs: 100 });
    budget.countTable(live(1));
    let granted = false;
    void budget.acquire('198.18.0.10').then((ok) => (granted = ok));
    await vi.advanceTimersByTimeAsync(100 * TABLE_COUNT_TRIES + 50);
    expect(budget.count).toBe('modelled');
    expect(granted).toBe(false);
    await vi.advanceTimersByTimeAsync(LIVE_HOLD_MS);
    expect(granted).toBe(true);
  });
});

describe('NeighbourBudget', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('modelled (the table cannot be read): holds the place of an address that answered for the live hold, not the silent one', async () => {
    const budget = new NeighbourBudget(1, ['198.18.0.0/24']);
    expect(budget.count).toBe('modelled');
    expect(await budget.acquire('198.18.0.10')).toBe(true);
    budget.answered('198.18.0.10');
    let next = false;
    void budget.acquire('198.18.0.11').then((ok) => (next = ok));
    await vi.advanceTimersByTimeAsync(SILENT_HOLD_MS);
    expect(next).toBe(false);
    await vi.advanceTimersByTimeAsync(LIVE_HOLD_MS - SILENT_HOLD_MS);
    expect(next).toBe(true);
  });

  it('lets no more on-link addresses be first reached within the hold than it has places', async () => {
    const budget = new NeighbourBudget(2, ['198.18.0.0/22']);
    const order: string[] = [];
    const reach = (ip: string): Promise<void> => budget.acquire(ip).then((ok) => void (ok && order.push(ip)));
    const all = Promise.all(['198.18.0.1', '198.18.0.2', '198.18.0.3', '198.18.1.4', '198.18.2.5'].map(reach));
    await vi.advanceTimersByTimeAsync(0);
    expect(order).toEqual(['198.18.0.1', '198.18.0.2']);
    await vi.advanceTimersByTimeAsync(SILENT_HOLD_MS - 1);
    expect(order).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(order).toEqual(['198.18.0.1', '198.18.0.2', '198.18.0.3', '198.18.1.4']);
    await vi.advanceTimersByTimeAsync(SILENT_HOLD_MS);
    await all;
    expect(order).toHaveLength(5);
    expect(budget.waited).toBe(3);
  });

  it('an address already held, or off every chosen subnet (reached through a router), takes no place', async () => {
    const budget = new NeighbourBudget(1, ['198.18.0.0/24']);
    expect(await budget.acquire('198.18.0.10')).toBe(true);
    expect(await budget.acquire('198.18.0.10')).toBe(true);
    expect(await budget.acquire('10.1.2.3')).toBe(true);
    expect(budget.waited).toBe(0);
  });

  it('two first contacts of one address at once share one place', async () => {
    const budget = new NeighbourBudget(1, ['198.18.0.0/24']);
    const [a, b] = await Promise.all([budget.acquire('198.18.0.7'), budget.acquire('198.18.0.7')]);
    expect([a, b]).toEqual([true, true]);
    let third = false;
    void budget.acquire('198.18.0.8').then((ok) => (third = ok));
    await vi.advanceTimersByTimeAsync(0);
    expect(third).toBe(false);
    await vi.advanceTimersByTimeAsync(SILENT_HOLD_MS);
    expect(third).toBe(true);
  });

  it('a wait ends false when the scan is aborted', async () => {
    const budget = new NeighbourBudget(1, ['198.18.0.0/24']);
    await budget.acquire('198.18.0.1');
    const stop = new AbortController();
    const waiting = budget.acquire('198.18.0.2', stop.signal);
    stop.abort();
    expect(await waiting).toBe(false);
  });
});

/** An EntryRelease that records what it is asked, owning every on-link address but those it is told were there before. */
function recordingRelease(before: readonly string[] = []) {
  const givenBack: Array<[string, number]> = [];
  const unanswered: Array<[string, string]> = [];
  const remembers: ResolvedNeighbour[] = [];
  const state = { closed: false };
  const release: EntryRelease = {
    owns: (ip) => ip.startsWith('198.18.0.') && !before.includes(ip),
    giveBack: (ip) => void givenBack.push([ip, Date.now()]),
    deleteUnanswered: (ip, dev) => (unanswered.push([ip, dev]), true),
    remembered: () => remembers,
    close: async () => void (state.closed = true),
  };
  return Object.assign(release, { givenBack, unanswered, remembers, state });
}

const resolvedAt = (ip: string, mac = '28:57:be:00:00:01'): ResolvedNeighbour => ({ ip, mac, state: 'REACHABLE', dev: 'eth0', fresh: true });

describe('NeighbourBudget giving its own entries back', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("gives back a resolved host's entry once its last contact has been over for the linger, never while one is under way", async () => {
    const release = recordingRelease();
    const budget = new NeighbourBudget(4, ['198.18.0.0/24'], { release, lingerMs: 500 });
    expect(budget.givesBack).toBe(true);
    const started = Date.now();
    budget.markResolved(resolvedAt('198.18.0.10'));
    await vi.advanceTimersByTimeAsync(300);
    const sweep = await budget.use('198.18.0.10');
    const probe = await budget.use('198.18.0.10');
    await vi.advanceTimersByTimeAsync(2000);
    sweep?.();
    await vi.advanceTimersByTimeAsync(2000);
    expect(release.givenBack).toEqual([]);
    probe?.();
    probe?.();
    await vi.advanceTimersByTimeAsync(499);
    expect(release.givenBack).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(release.givenBack).toEqual([['198.18.0.10', started + 300 + 4000 + 500]]);
    // Its entry came back to the table's count: no place was taken for it.
    expect(budget.waited).toBe(0);
  });

  it('a contact after the entry was given back takes a place until it is given back again', async () => {
    const release = recordingRelease();
    const budget = new NeighbourBudget(1, ['198.18.0.0/24'], { release, lingerMs: 500 });
    const first = await budget.use('198.18.0.10');
    let second: (() => void) | null = null;
    void budget.use('198.18.0.11').then((end) => (second = end));
    await vi.advanceTimersByTimeAsync(5000);
    expect(second).toBeNull();
    first?.();
    await vi.advanceTimersByTimeAsync(500);
    expect(release.givenBack.map(([ip]) => ip)).toEqual(['198.18.0.10']);
    expect(second).not.toBeNull();
    expect(budget.waited).toBe(1);
  });

  it("an address the scan does not own (its entry was there before) or off the subnet is admitted as before and never given back", async () => {
    const release = recordingRelease(['198.18.0.5']);
    const budget = new NeighbourBudget(1, ['198.18.0.0/24'], { release, lingerMs: 500 });
    const routed = await budget.use('10.1.2.3');
    const before = await budget.use('198.18.0.5');
    expect([routed, before].every((end) => typeof end === 'function')).toBe(true);
    routed?.();
    before?.();
    // The one place went to 198.18.0.5's first contact, held as without a release (SILENT_HOLD_MS).
    let other = false;
    void budget.use('198.18.0.6').then(() => (other = true));
    await vi.advanceTimersByTimeAsync(SILENT_HOLD_MS - 1);
    expect(other).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(other).toBe(true);
    expect(release.givenBack.map(([ip]) => ip)).not.toContain('198.18.0.5');
  });

  it('gives up an unanswered address only when it owns its entry', () => {
    const release = recordingRelease(['198.18.0.5']);
    const budget = new NeighbourBudget(4, ['198.18.0.0/24'], { release });
    expect(budget.giveUpUnanswered('198.18.0.20', 'eth0')).toBe(true);
    expect(budget.giveUpUnanswered('198.18.0.5', 'eth0')).toBe(false);
    expect(new NeighbourBudget(4, ['198.18.0.0/24']).giveUpUnanswered('198.18.0.20', 'eth0')).toBe(false);
    expect(release.unanswered).toEqual([['198.18.0.20', 'eth0']]);
  });

  it('at close gives back every entry still held at once, then closes the release; remembers discovery’s reading of an address first', async () => {
    const release = recordingRelease();
    release.remembers.push(resolvedAt('198.18.0.10', '00:00:00:00:00:99'), resolvedAt('198.18.0.12'));
    const budget = new NeighbourBudget(4, ['198.18.0.0/24'], { release, lingerMs: 500 });
    budget.markResolved(resolvedAt('198.18.0.10'));
    const inUse = await budget.use('198.18.0.11');
    await budget.close();
    expect(release.givenBack.map(([ip]) => ip).sort()).toEqual(['198.18.0.10', '198.18.0.11']);
    expect(release.state.closed).toBe(true);
    inUse?.();
    await vi.advanceTimersByTimeAsync(1000);
    expect(release.givenBack).toHaveLength(2);
    expect([...budget.rememberedNeighbours()].map((n) => [n.ip, n.mac])).toEqual([
      ['198.18.0.10', '28:57:be:00:00:01'],
      ['198.18.0.12', '28:57:be:00:00:01'],
    ]);
  });
});

describe('NeighbourBudget over IPv6', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const onLink = ['198.18.0.0/24', ...ipv6OnLinkCidrs([{ name: 'eth0', address: '198.18.0.1', cidr: '198.18.0.1/24', ipv6LinkLocal: 'fe80::ff:fe00:1%eth0', ipv6Prefixes: ['fdcc:7a6e:1ab::1/64'] }])];

  it('counts link-local and on-prefix IPv6 first contacts against the IPv6 table, apart from the IPv4 one', async () => {
    const budget = new NeighbourBudget(1, onLink, { ipv6Size: 2 });
    const order: string[] = [];
    const reach = (ip: string): Promise<void> => budget.acquire(ip).then((ok) => void (ok && order.push(ip)));
    const all = Promise.all(['fe80::2a57:beff:fe6a:1c10%eth0', 'fdcc:7a6e:1ab::10', 'fdcc:7a6e:1ab::90', '198.18.0.10', '198.18.0.11'].map(reach));
    await vi.advanceTimersByTimeAsync(0);
    // Two IPv6 places and one IPv4 place: the third IPv6 and the second IPv4 address wait.
    expect(order).toEqual(['fe80::2a57:beff:fe6a:1c10%eth0', 'fdcc:7a6e:1ab::10', '198.18.0.10']);
    await vi.advanceTimersByTimeAsync(SILENT_HOLD_MS);
    await all;
    expect(order.slice(3).sort()).toEqual(['198.18.0.11', 'fdcc:7a6e:1ab::90']);
    expect(budget.waited).toBe(2);
  });

  it("host discovery's places for an IPv6 address are the IPv6 table's, and on-link IPv6 addresses are on-link", async () => {
    const budget = new NeighbourBudget(1, onLink, { ipv6Size: 1 });
    expect([budget.isOnLink('fdcc:7a6e:1ab::10'), budget.isOnLink('fe80::1%eth0'), budget.isOnLink('2001:db8::10'), budget.isOnLink('198.18.0.10')]).toEqual([true, true, false, true]);
    expect(await budget.takePlace('fdcc:7a6e:1ab::10')).toBe(true);
    // The IPv4 place is still free; the only IPv6 one is taken until given back.
    expect(await budget.takePlace('198.18.0.10')).toBe(true);
    let second = false;
    void budget.takePlace('fdcc:7a6e:1ab::11').then((ok) => (second = ok));
    await vi.advanceTimersByTimeAsync(0);
    expect(second).toBe(false);
    budget.release('fdcc:7a6e:1ab::10', 1000);
    await vi.advanceTimersByTimeAsync(999);
    expect(second).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(second).toBe(true);
    expect(budget.waited).toBe(1);
  });

  it('the same link-local address on two links is two neighbours; a routed IPv6 address takes no place', async () => {
    const budget = new NeighbourBudget(1, onLink, { ipv6Size: 1 });
    expect(await budget.acquire('2001:db8::10')).toBe(true);
    expect(await budget.acquire('fe80::1%eth0')).toBe(true);
    let other = false;
    void budget.acquire('fe80::1%eth1').then((ok) => (other = ok));
    await vi.advanceTimersByTimeAsync(0);
    expect(other).toBe(false);
    await vi.advanceTimersByTimeAsync(SILENT_HOLD_MS);
    expect(other).toBe(true);
  });
});

describe('ipv6OnLinkCidrs', () => {
  it('is fe80::/10 when an interface has a link-local address, plus every interface prefix once', () => {
    const eth = (name: string, prefixes?: string[]) => ({ name, address: '198.18.0.1', cidr: '198.18.0.1/24', ipv6LinkLocal: `fe80::1%${name}`, ...(prefixes ? { ipv6Prefixes: prefixes } : {}) });
    expect(ipv6OnLinkCidrs([eth('eth0', ['fdcc:7a6e:1ab::1/64']), eth('eth1', ['fdcc:7a6e:1ab::1/64', '2001:db8:5::7/64'])])).toEqual(['fe80::/10', 'fdcc:7a6e:1ab::1/64', '2001:db8:5::7/64']);
    expect(ipv6OnLinkCidrs([{ name: 'eth0', address: '198.18.0.1', cidr: '198.18.0.1/24' }])).toEqual([]);
  });
});

describe('countOnLink', () => {
  it('counts IPv6 addresses in an on-link block as on-link, others as routed', () => {
    const blocks = ['198.18.0.0/24', 'fe80::/10', 'fdcc:7a6e:1ab::1/64'];
    expect(countOnLink(['fdcc:7a6e:1ab::10', 'fe80::1%eth0', '2001:db8::1', 'fdcc:7a6e:1ac::1', '198.18.0.10'], blocks)).toEqual({ onLink: 3, routed: 2 });
  });

  it('counts the addresses on a chosen subnet and those reached through a router', () => {
    expect(countOnLink(['198.18.0.10', '198.18.1.10', '10.0.0.1', '198.18.0.255'], ['198.18.0.0/24'])).toEqual({ onLink: 2, routed: 2 });
    expect(countOnLink(['198.18.1.10'], ['198.18.0.0/24', '198.18.1.0/24'])).toEqual({ onLink: 1, routed: 0 });
    expect(countOnLink([], ['198.18.0.0/24'])).toEqual({ onLink: 0, routed: 0 });
  });
});
