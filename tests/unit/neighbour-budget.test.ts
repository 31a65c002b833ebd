import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  DEFAULT_GC_THRESH3,
  ARP_CACHE_STAT_PATH,
  GC_THRESH3_PATH,
  NEIGHBOUR_HOLD_MS,
  NeighbourBudget,
  countOnLink,
  machineNeighbourEntries,
  neighbourBudgetSize,
  neighbourTableLimit,
} from '../../agent/net/neighbour-budget.js';

describe('neighbourTableLimit', () => {
  it('reads gc_thresh3', () => {
    const read = (path: string): string => (path === GC_THRESH3_PATH ? '4096\n' : '');
    expect(neighbourTableLimit(read)).toEqual({ limit: 4096, from: GC_THRESH3_PATH });
  });

  it("assumes the kernel's default when the file is absent (a namespace other than the first) or garbage", () => {
    const absent = (): string => {
      throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    };
    expect(neighbourTableLimit(absent).limit).toBe(DEFAULT_GC_THRESH3);
    expect(neighbourTableLimit(() => 'lots').limit).toBe(DEFAULT_GC_THRESH3);
    expect(neighbourTableLimit(() => '0').limit).toBe(DEFAULT_GC_THRESH3);
  });

  it('takes three quarters of the room the table has left, and leaves the rest to the machine', () => {
    expect(neighbourBudgetSize(1024)).toBe(768);
    expect(neighbourBudgetSize(1024, 24)).toBe(750);
    expect(neighbourBudgetSize(1024, 1000)).toBe(18);
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

describe('countOnLink', () => {
  it('counts the addresses on a chosen subnet and those reached through a router', () => {
    expect(countOnLink(['198.18.0.10', '198.18.1.10', '10.0.0.1', '198.18.0.255'], ['198.18.0.0/24'])).toEqual({ onLink: 2, routed: 2 });
    expect(countOnLink(['198.18.1.10'], ['198.18.0.0/24', '198.18.1.0/24'])).toEqual({ onLink: 1, routed: 0 });
    expect(countOnLink([], ['198.18.0.0/24'])).toEqual({ onLink: 0, routed: 0 });
  });
});
