/**
 * Host discovery on the link (agent/discovery/link-hosts.ts) against a fake kernel neighbour table
 * that behaves as Linux's does by default (measured on kernel 6.18, BENCHMARKS.md): a nudge makes an
 * INCOMPLETE entry, which turns REACHABLE when the address answers ARP or FAILED after mcast_solicit
 * × retrans_time (3 × 1 s); a REACHABLE entry holds its timer's reference for reachable_time, then
 * turns STALE; the table is read back as `ip -json -stats -4 neigh` prints it (`refcnt` only when
 * not zero). Fake timers: no test sleeps.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_RETRANS_TIME_MS, discoverLinkHosts, retransTimeMs, TABLE_READ_TRIES, type LinkDiscoveryOptions } from '../../agent/discovery/link-hosts.js';
import { parseNeighbourRows } from '../../agent/discovery/neighbours.js';
import { NeighbourBudget, type EntryRelease } from '../../agent/net/neighbour-budget.js';

const ARP_ANSWER_MS = 2;
const RESOLUTION_MS = 3000;
/** The forced collector's age (neigh_forced_gc): an unreferenced entry changed this recently is kept. */
const COLLECTOR_AGE_MS = 5000;
/** reachable_time: base_reachable_time 30 s, randomised (35 s measured). */
const REACHABLE_MS = 35_000;

interface FakeEntry {
  state: 'INCOMPLETE' | 'REACHABLE' | 'FAILED' | 'STALE' | 'DELAY';
  mac?: string;
  /** When the entry took its state (fake ms), for `updated`. */
  since: number;
}

/** A neighbour table for `live` addresses (the rest never answer), and what it held at worst. */
function fakeKernel(
  live: ReadonlyMap<string, string>,
  options: { freeFailed?: boolean; neverResolve?: boolean; fullFor?: number; answerMs?: number; freeResolved?: boolean } = {},
) {
  const table = new Map<string, FakeEntry>();
  const now = (): number => Date.now();
  /** Whether the entry holds a timer's reference (NUD_IN_TIMER: INCOMPLETE, REACHABLE, DELAY). */
  const timed = (e: FakeEntry): boolean => e.state === 'INCOMPLETE' || e.state === 'REACHABLE' || e.state === 'DELAY';
  /** Entries the kernel could not free now (a timer's reference, or changed within 5 s and not FAILED): what must fit. */
  const pinned = (): number => [...table.values()].filter((e) => timed(e) || (e.state !== 'FAILED' && now() - e.since < COLLECTOR_AGE_MS)).length;
  /** A REACHABLE entry turns STALE after reachable_time, and may be freed 5 s later when the table is full. */
  const reachable = (ip: string, mac: string): void => {
    table.set(ip, { state: 'REACHABLE', mac, since: now() });
    setTimeout(() => {
      if (table.get(ip)?.state === 'REACHABLE') table.set(ip, { state: 'STALE', mac, since: now() });
    }, REACHABLE_MS);
    if (options.freeResolved) setTimeout(() => table.delete(ip), COLLECTOR_AGE_MS);
  };
  const kernel = {
    table,
    mostPinned: 0,
    nudged: [] as string[],
    nudge: async (ip: string): Promise<void> => {
      kernel.nudged.push(ip);
      const remembered = table.get(ip);
      if (remembered?.state === 'STALE') {
        // Traffic to a remembered entry: DELAY for delay_first_probe_time (5 s), then unicast ARP.
        table.set(ip, { ...remembered, state: 'DELAY', since: now() });
        setTimeout(() => {
          const mac = live.get(ip);
          if (mac) reachable(ip, mac);
          else table.set(ip, { state: 'FAILED', since: now() });
        }, 5000 + ARP_ANSWER_MS);
        return;
      }
      // A full table: the kernel drops the datagram and makes no entry, and the send still succeeds.
      if (kernel.nudged.length <= (options.fullFor ?? 0)) return;
      table.set(ip, { state: 'INCOMPLETE', since: now() });
      kernel.mostPinned = Math.max(kernel.mostPinned, pinned());
      if (options.neverResolve) return;
      const mac = live.get(ip);
      setTimeout(
        () => {
          // A deleted entry's timer is gone with it (neigh_delete makes it FAILED first, stopping the timer).
          if (table.get(ip)?.state !== 'INCOMPLETE') return;
          // A full table's forced collector frees a resolved entry (freeResolved) once it is 5 s old.
          if (mac) reachable(ip, mac);
          else if (options.freeFailed) table.delete(ip);
          else table.set(ip, { state: 'FAILED', since: now() });
        },
        mac ? (options.answerMs ?? ARP_ANSWER_MS) : RESOLUTION_MS,
      );
    },
    /** The table as `ip -json -stats -4 neigh show` prints it (iproute2 6.1), parsed as the agent parses it. */
    print: (): string =>
      JSON.stringify(
        [...table].map(([dst, e]) => ({
          dst,
          dev: 'eth0',
          ...(e.mac ? { lladdr: e.mac } : {}),
          ...(timed(e) ? { refcnt: 1 } : {}),
          used: 0,
          confirmed: Math.floor((now() - e.since) / 1000),
          updated: Math.floor((now() - e.since) / 1000),
          probes: e.state === 'FAILED' ? 3 : 0,
          state: [e.state],
        })),
      ),
  };
  return kernel;
}

const LIVE = new Map([
  ['198.18.0.10', '28:57:be:00:00:10'],
  ['198.18.0.11', '28:57:be:00:00:11'],
  ['198.18.0.12', '28:57:be:00:00:12'],
]);
const DEAD = ['198.18.0.20', '198.18.0.21', '198.18.0.22'];

function run(addresses: string[], kernel: ReturnType<typeof fakeKernel>, budget: NeighbourBudget, over: Partial<LinkDiscoveryOptions> = {}) {
  const found: Array<{ ip: string; at: number }> = [];
  const started = Date.now();
  const result = discoverLinkHosts({
    addresses: addresses[Symbol.iterator](),
    budget,
    signal: new AbortController().signal,
    scanStartedAtMs: started,
    nudge: kernel.nudge,
    readTable: async () => parseNeighbourRows(kernel.print()),
    interfaceOf: () => 'eth0',
    onLive: (ip) => found.push({ ip, at: Date.now() - started }),
    ...over,
  });
  return { result, found, elapsed: (): number => Date.now() - started };
}

describe('retransTimeMs', () => {
  it("reads the interface's time between solicitations, and the kernel's default where it cannot", () => {
    const paths: string[] = [];
    expect(retransTimeMs('eth0', (path) => (paths.push(path), '250\n'))).toBe(250);
    expect(paths).toEqual(['/proc/sys/net/ipv4/neigh/eth0/retrans_time_ms']);
    expect(retransTimeMs('eth0', () => 'lots')).toBe(DEFAULT_RETRANS_TIME_MS);
    expect(retransTimeMs('eth0', () => '0')).toBe(DEFAULT_RETRANS_TIME_MS);
    expect(
      retransTimeMs('gone0', () => {
        throw new Error('ENOENT');
      }),
    ).toBe(DEFAULT_RETRANS_TIME_MS);
  });
});

describe('discoverLinkHosts', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] }));
  afterEach(() => vi.useRealTimers());

  it('reports each address that answered ARP as soon as the table shows it, with its MAC, and counts the silent ones', async () => {
    const kernel = fakeKernel(LIVE);
    const budget = new NeighbourBudget(8, ['198.18.0.0/24']);
    const r = run([...LIVE.keys(), ...DEAD], kernel, budget);
    await vi.runAllTimersAsync();
    const { tally, unjudged, tableError } = await r.result;
    expect({ tally, unjudged, tableError }).toEqual({ tally: { addresses: 6, live: 3, silent: 3, unresolved: 0, tableFull: 0, vanished: 0, localErrors: 0 }, unjudged: [], tableError: null });
    expect(r.found.map((f) => f.ip).sort()).toEqual([...LIVE.keys()]);
    // Live hosts are handed on within a poll or two, not after the dead ones' 3 s.
    for (const f of r.found) expect(f.at).toBeLessThan(500);
    expect([...budget.rememberedNeighbours()].map((n) => [n.ip, n.mac, n.state, n.dev, n.fresh])).toEqual(
      [...LIVE].map(([ip, mac]) => [ip, mac, 'REACHABLE', 'eth0', true]),
    );
  });

  it('never has more entries the kernel cannot free than the budget has places, live ones held while REACHABLE', async () => {
    const kernel = fakeKernel(LIVE);
    const budget = new NeighbourBudget(2, ['198.18.0.0/24']);
    const r = run([...LIVE.keys(), ...DEAD], kernel, budget);
    await vi.runAllTimersAsync();
    await r.result;
    expect(kernel.nudged).toHaveLength(6);
    expect(kernel.mostPinned).toBeLessThanOrEqual(2);
    expect(budget.waited).toBeGreaterThan(0);
    expect(budget.count).toBe('table');
  });

  it('a silent address holds its place until FAILED (3 s), a live one until its entry has been STALE for 5 s', async () => {
    const budget = new NeighbourBudget(1, ['198.18.0.0/24']);
    const dead = run(DEAD.slice(0, 2), fakeKernel(LIVE), budget);
    await vi.runAllTimersAsync();
    await dead.result;
    // Two unanswered addresses one after the other: 2 × 3 s and a poll each.
    expect(dead.elapsed()).toBeGreaterThanOrEqual(2 * RESOLUTION_MS);
    expect(dead.elapsed()).toBeLessThan(2 * RESOLUTION_MS + 500);

    const live = run(['198.18.0.10', '198.18.0.11'], fakeKernel(LIVE), new NeighbourBudget(1, ['198.18.0.0/24']));
    await vi.runAllTimersAsync();
    await live.result;
    expect(live.found[1]?.at).toBeGreaterThanOrEqual(REACHABLE_MS + COLLECTOR_AGE_MS);
    expect(live.found[1]?.at).toBeLessThan(REACHABLE_MS + COLLECTOR_AGE_MS + 1500);
  });

  it('deleting its own entries, frees a silent address after two solicitations (1.2 s) and a live one once unused, not after 3 s and 40 s', async () => {
    const kernel = fakeKernel(LIVE);
    const deleted: string[] = [];
    const release: EntryRelease = {
      owns: (ip) => ip !== '198.18.0.21',
      giveBack: (ip) => void kernel.table.delete(ip),
      deleteUnanswered: (ip, dev) => dev === 'eth0' && (deleted.push(ip), kernel.table.delete(ip)),
      remembered: () => [],
      close: async () => undefined,
    };
    const budget = new NeighbourBudget(1, ['198.18.0.0/24'], { release, lingerMs: 500 });
    const r = run(['198.18.0.20', '198.18.0.21', '198.18.0.10', '198.18.0.11'], kernel, budget, { unansweredAfterMs: () => 1200 });
    await vi.runAllTimersAsync();
    const { tally } = await r.result;
    expect(tally).toMatchObject({ live: 2, silent: 2, unresolved: 0 });
    // 198.18.0.21's entry was there before the scan: the kernel's own 3 s, then FAILED.
    expect(deleted).toEqual(['198.18.0.20']);
    expect(kernel.mostPinned).toBe(1);
    // 1.2 s, 3 s, a live one and its linger (0.5 s), each with a poll or two: not 3 + 3 + 35 + 5 s.
    const second = r.found[1]?.at ?? Infinity;
    expect(second).toBeGreaterThanOrEqual(1200 + RESOLUTION_MS + 500);
    expect(second).toBeLessThan(1200 + RESOLUTION_MS + 500 + 800);
  });

  it('holds other contacts to an address until its verdict (a packet queued on an INCOMPLETE entry puts its FAILED off), then lets them go', async () => {
    const budget = new NeighbourBudget(8, ['198.18.0.0/24']);
    const r = run(['198.18.0.10', '198.18.0.20'], fakeKernel(LIVE), budget);
    await vi.advanceTimersByTimeAsync(0);
    const contacted: Array<[string, number]> = [];
    for (const ip of ['198.18.0.10', '198.18.0.20']) void budget.acquire(ip).then(() => contacted.push([ip, r.elapsed()]));
    await vi.runAllTimersAsync();
    await r.result;
    // The live one once the table shows it REACHABLE (a poll), the silent one once it FAILED (3 s).
    expect(contacted.map(([ip]) => ip)).toEqual(['198.18.0.10', '198.18.0.20']);
    expect(contacted[0]?.[1]).toBeLessThan(500);
    expect(contacted[1]?.[1]).toBeGreaterThanOrEqual(RESOLUTION_MS);
  });

  it('tells a contact waiting for the verdict that nobody answered, so it need not send anything', async () => {
    const budget = new NeighbourBudget(8, ['198.18.0.0/24']);
    const r = run(['198.18.0.10', '198.18.0.20'], fakeKernel(LIVE), budget);
    await vi.advanceTimersByTimeAsync(0);
    const verdicts = Promise.all(['198.18.0.10', '198.18.0.20', '198.18.0.99'].map((ip) => budget.answeredNothing(ip)));
    await vi.runAllTimersAsync();
    await r.result;
    // The live one answered, the silent one did not; one host discovery never resolved is no verdict.
    expect(await verdicts).toEqual([false, true, false]);
    expect(await budget.answeredNothing('198.18.0.20')).toBe(false);
  });

  it('lets other contacts to an address with a remembered MAC go at once, not after the kernel has checked it (5 s)', async () => {
    const kernel = fakeKernel(LIVE);
    kernel.table.set('198.18.0.10', { state: 'STALE', mac: '28:57:be:00:00:10', since: Date.now() });
    const budget = new NeighbourBudget(8, ['198.18.0.0/24']);
    const r = run(['198.18.0.10'], kernel, budget);
    await vi.advanceTimersByTimeAsync(0);
    let contactedAt: number | null = null;
    void budget.acquire('198.18.0.10').then(() => (contactedAt = r.elapsed()));
    await vi.runAllTimersAsync();
    await r.result;
    // Packets to a DELAY entry leave at once (its MAC is known): the first read that shows it frees them.
    expect(contactedAt).not.toBeNull();
    expect(contactedAt).toBeLessThan(500);
    expect(r.found[0]?.at).toBeGreaterThanOrEqual(5000);
  });

  it('counts an address gone from the table as silent (only a FAILED entry can have been freed)', async () => {
    const r = run(DEAD, fakeKernel(LIVE, { freeFailed: true }), new NeighbourBudget(4, ['198.18.0.0/24']));
    await vi.runAllTimersAsync();
    expect((await r.result).tally).toMatchObject({ addresses: 3, live: 0, silent: 3 });
  });

  it('nudges again an address whose entry vanished so long after a read saw it unresolved that it may have resolved and been freed (reads slowed by load)', async () => {
    const kernel = fakeKernel(LIVE, { answerMs: 300, freeResolved: true });
    let reads = 0;
    // The second read takes 6 s (a machine under heavy load), and shows the table as it is then.
    const readTable = async (): Promise<ReturnType<typeof parseNeighbourRows>> => {
      if (++reads === 2) await new Promise((resolve) => setTimeout(resolve, 6000));
      return parseNeighbourRows(kernel.print());
    };
    const r = run(['198.18.0.10'], kernel, new NeighbourBudget(2, ['198.18.0.0/24']), { readTable });
    await vi.runAllTimersAsync();
    expect((await r.result).tally).toMatchObject({ addresses: 1, live: 1, silent: 0, vanished: 1 });
    expect(kernel.nudged).toEqual(['198.18.0.10', '198.18.0.10']);
  });

  it('nudges again, a second later, an address the kernel had no room for (no entry at all), holding its place meanwhile', async () => {
    const kernel = fakeKernel(LIVE, { fullFor: 2 });
    const r = run(['198.18.0.10', '198.18.0.20', '198.18.0.11'], kernel, new NeighbourBudget(2, ['198.18.0.0/24']));
    await vi.runAllTimersAsync();
    const { tally } = await r.result;
    expect(tally).toEqual({ addresses: 3, live: 2, silent: 1, unresolved: 0, tableFull: 2, vanished: 0, localErrors: 0 });
    // The third address waited for a place the refused ones held for a second (it is taken from the
    // range before its place, which it needs from its own table's budget, so it goes before the retries).
    expect(kernel.nudged).toEqual(['198.18.0.10', '198.18.0.20', '198.18.0.11', '198.18.0.10', '198.18.0.20']);
    expect(Math.min(...r.found.map((f) => f.at))).toBeGreaterThanOrEqual(1000);
  });

  it('gives up on an address after five nudges without an entry, ten seconds in all, and hands it back', async () => {
    const kernel = fakeKernel(LIVE, { fullFor: 100 });
    const r = run(['198.18.0.10'], kernel, new NeighbourBudget(2, ['198.18.0.0/24']));
    await vi.runAllTimersAsync();
    const { tally, unjudged } = await r.result;
    expect(tally).toEqual({ addresses: 1, live: 0, silent: 0, unresolved: 1, tableFull: 5, vanished: 0, localErrors: 0 });
    // Never judged: handed back for the 80/443 check, not counted absent.
    expect(unjudged).toEqual(['198.18.0.10']);
    expect(kernel.nudged).toHaveLength(5);
    expect(r.elapsed()).toBeGreaterThanOrEqual(10_000);
  });

  it('gives up on an address that stays INCOMPLETE past the resolution limit', async () => {
    // Its entry keeps its place as long as the table shows it held: two places for two addresses.
    const budget = new NeighbourBudget(2, ['198.18.0.0/24']);
    const r = run(['198.18.0.10', '198.18.0.11'], fakeKernel(LIVE, { neverResolve: true }), budget, { resolutionLimitMs: 4000 });
    await vi.runAllTimersAsync();
    expect((await r.result).tally).toMatchObject({ addresses: 2, live: 0, unresolved: 2 });
    expect(r.elapsed()).toBeLessThan(4000 + 500);
  });

  it('counts a remembered (STALE) entry live only once the kernel has checked it: a device gone since the last scan is silent', async () => {
    const kernel = fakeKernel(LIVE);
    kernel.table.set('198.18.0.10', { state: 'STALE', mac: '28:57:be:00:00:10', since: Date.now() });
    kernel.table.set('198.18.0.30', { state: 'STALE', mac: '28:57:be:00:00:30', since: Date.now() });
    const r = run(['198.18.0.10', '198.18.0.30'], kernel, new NeighbourBudget(4, ['198.18.0.0/24']));
    await vi.runAllTimersAsync();
    expect((await r.result).tally).toMatchObject({ live: 1, silent: 1 });
    expect(r.found).toEqual([{ ip: '198.18.0.10', at: expect.any(Number) }]);
    expect(r.found[0]?.at).toBeGreaterThanOrEqual(5000);
  });

  it('does not judge an address by a read that began before its nudge left (an earlier scan left it FAILED)', async () => {
    const kernel = fakeKernel(LIVE);
    kernel.table.set('198.18.0.10', { state: 'FAILED', since: Date.now() });
    // Each read shows the table as it was when the read began, and takes 150 ms.
    const readTable = async (): Promise<ReturnType<typeof parseNeighbourRows>> => {
      const printed = kernel.print();
      await new Promise((resolve) => setTimeout(resolve, 150));
      return parseNeighbourRows(printed);
    };
    // 198.18.0.11's nudge leaves at once, so reads begin; 198.18.0.10's leaves while one is under way.
    const slowNudge = async (ip: string): Promise<void> => {
      if (ip === '198.18.0.10') await new Promise((resolve) => setTimeout(resolve, 150));
      await kernel.nudge(ip);
    };
    const r = run(['198.18.0.11', '198.18.0.10'], kernel, new NeighbourBudget(2, ['198.18.0.0/24']), { readTable, nudge: slowNudge });
    await vi.runAllTimersAsync();
    expect((await r.result).tally).toMatchObject({ live: 2, silent: 0 });
  });

  it('reads the table again after a failed read (a read timed out under load) and judges every address', async () => {
    const kernel = fakeKernel(LIVE);
    let reads = 0;
    const readTable = async (): Promise<ReturnType<typeof parseNeighbourRows>> => {
      if (++reads <= TABLE_READ_TRIES - 1) throw new Error('Command failed: ip -json -stats -4 neigh show');
      return parseNeighbourRows(kernel.print());
    };
    const r = run([...LIVE.keys(), ...DEAD], kernel, new NeighbourBudget(8, ['198.18.0.0/24']), { readTable });
    await vi.runAllTimersAsync();
    const { tally, unjudged, tableError } = await r.result;
    expect({ live: tally.live, silent: tally.silent, unjudged, tableError }).toEqual({ live: 3, silent: 3, unjudged: [], tableError: null });
  });

  it('hands back the addresses it could not judge when the table cannot be read, and leaves the rest unread', async () => {
    const addresses = [...LIVE.keys(), ...DEAD];
    const iterator = addresses[Symbol.iterator]();
    const kernel = fakeKernel(LIVE);
    const r = run([], kernel, new NeighbourBudget(2, ['198.18.0.0/24']), {
      addresses: iterator,
      readTable: () => Promise.reject(new Error('spawn ip ENOENT')),
    });
    await vi.runAllTimersAsync();
    const { tally, unjudged, tableError } = await r.result;
    expect(tableError).toBe('spawn ip ENOENT');
    expect(tally.live).toBe(0);
    // Every address is either handed back or still in the iterator: none is lost.
    expect([...unjudged, ...iterator].sort()).toEqual([...addresses].sort());
    expect(r.found).toEqual([]);
  });

  it('hands back an address whose nudge this machine could not send', async () => {
    const kernel = fakeKernel(LIVE);
    const nudge = (ip: string): Promise<void> => (ip === '198.18.0.11' ? Promise.reject(new Error('ENOBUFS')) : kernel.nudge(ip));
    const r = run(['198.18.0.10', '198.18.0.11'], kernel, new NeighbourBudget(2, ['198.18.0.0/24']), { nudge });
    await vi.runAllTimersAsync();
    const { tally, unjudged } = await r.result;
    expect({ tally, unjudged }).toEqual({ tally: { addresses: 2, live: 1, silent: 0, unresolved: 0, tableFull: 0, vanished: 0, localErrors: 1 }, unjudged: ['198.18.0.11'] });
  });
});
