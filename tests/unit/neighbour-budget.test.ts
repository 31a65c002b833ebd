import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  DEFAULT_GC_THRESH3,
  ARP_CACHE_STAT_PATH,
  GC_THRESH3_PATH,
  IPV6_GC_THRESH3_PATH,
  NEIGHBOUR_HOLD_MS,
  NeighbourBudget,
  countOnLink,
  ipv6OnLinkCidrs,
  machineNeighbourEntries,
  neighbourBudgetSize,
  neighbourTableLimit,
} from '../../agent/net/neighbour-budget.js';

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

describe('NeighbourBudget', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('lets no more on-link addresses be first reached within the hold than it has places', async () => {
    const budget = new NeighbourBudget(2, ['198.18.0.0/22']);
    const order: string[] = [];
    const reach = (ip: string): Promise<void> => budget.acquire(ip).then((ok) => void (ok && order.push(ip)));
    const all = Promise.all(['198.18.0.1', '198.18.0.2', '198.18.0.3', '198.18.1.4', '198.18.2.5'].map(reach));
    await vi.advanceTimersByTimeAsync(0);
    expect(order).toEqual(['198.18.0.1', '198.18.0.2']);
    await vi.advanceTimersByTimeAsync(NEIGHBOUR_HOLD_MS - 1);
    expect(order).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(order).toEqual(['198.18.0.1', '198.18.0.2', '198.18.0.3', '198.18.1.4']);
    await vi.advanceTimersByTimeAsync(NEIGHBOUR_HOLD_MS);
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
    await vi.advanceTimersByTimeAsync(NEIGHBOUR_HOLD_MS);
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

describe('NeighbourBudget over IPv6', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const onLink = ['198.18.0.0/24', ...ipv6OnLinkCidrs([{ name: 'eth0', address: '198.18.0.1', cidr: '198.18.0.1/24', ipv6LinkLocal: 'fe80::ff:fe00:1%eth0', ipv6Prefixes: ['fdcc:7a6e:1ab::1/64'] }])];

  it('counts link-local and on-prefix IPv6 first contacts against the IPv6 table, apart from the IPv4 one', async () => {
    const budget = new NeighbourBudget(1, onLink, NEIGHBOUR_HOLD_MS, 2);
    const order: string[] = [];
    const reach = (ip: string): Promise<void> => budget.acquire(ip).then((ok) => void (ok && order.push(ip)));
    const all = Promise.all(['fe80::2a57:beff:fe6a:1c10%eth0', 'fdcc:7a6e:1ab::10', 'fdcc:7a6e:1ab::90', '198.18.0.10', '198.18.0.11'].map(reach));
    await vi.advanceTimersByTimeAsync(0);
    // Two IPv6 places and one IPv4 place: the third IPv6 and the second IPv4 address wait.
    expect(order).toEqual(['fe80::2a57:beff:fe6a:1c10%eth0', 'fdcc:7a6e:1ab::10', '198.18.0.10']);
    await vi.advanceTimersByTimeAsync(NEIGHBOUR_HOLD_MS);
    await all;
    expect(order.slice(3).sort()).toEqual(['198.18.0.11', 'fdcc:7a6e:1ab::90']);
    expect(budget.waited).toBe(2);
  });

  it("host discovery's places for an IPv6 address are the IPv6 table's, and on-link IPv6 addresses are on-link", async () => {
    const budget = new NeighbourBudget(1, onLink, NEIGHBOUR_HOLD_MS, 1);
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
    const budget = new NeighbourBudget(1, onLink, NEIGHBOUR_HOLD_MS, 1);
    expect(await budget.acquire('2001:db8::10')).toBe(true);
    expect(await budget.acquire('fe80::1%eth0')).toBe(true);
    let other = false;
    void budget.acquire('fe80::1%eth1').then((ok) => (other = ok));
    await vi.advanceTimersByTimeAsync(0);
    expect(other).toBe(false);
    await vi.advanceTimersByTimeAsync(NEIGHBOUR_HOLD_MS);
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
