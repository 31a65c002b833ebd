/**
 * The kernel neighbour tables (ARP, RFC 826, and IPv6 Neighbor Discovery, RFC 4861): every exchange the scan had with a host on the local
 * link left an entry mapping its IP to its MAC. Read with `ip -json -stats neigh` (iproute2), which
 * also says how many seconds ago each entry was confirmed or updated, so entries older than this
 * scan can be told apart from hosts heard now. Entries the scan's own traffic put under
 * verification are read once the kernel has settled them, so a host that answers nothing but ARP
 * (issue 3: a link-level-only host is still a device) is reported when it answered the check.
 *
 * The IPv6 table (`ip -6 neigh`) gives the MACs of hosts heard over IPv6: a device answering an
 * IPv6 multicast Probe first resolves the scanner's address with a Neighbor Solicitation, which
 * carries its own link-layer address (RFC 4861 §7.2.4), so the scanner's table learns it even under
 * `--no-active`. A link-local address is only meaningful with its interface: it is reported with
 * its zone (`fe80::…%eth0`, RFC 4007 §11), as the discovery sockets see the same host.
 */
import { sleep } from '../net/abort.js';
import { isIpv6LinkLocal } from '../net/interfaces.js';
import { oneShotNeighbourTables, type NeighbourFamily, type NeighbourTableSource } from '../net/neighbour-reader.js';
import type { Discoverer, ScanContext } from './types.js';
import type { Observation } from '../types.js';

/** States that carry a usable link-layer address (ip-neighbour(8)); INCOMPLETE/FAILED/NOARP do not. */
const USABLE_STATES = new Set(['REACHABLE', 'STALE', 'DELAY', 'PROBE', 'PERMANENT']);
const MAC_PATTERN = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
/**
 * States in which the kernel is checking, right now, that a host still answers: traffic to a STALE
 * entry (the scan's own probes) moves it to DELAY, then PROBE (unicast ARP), then REACHABLE or
 * FAILED (neighbour unreachability detection, RFC 4861 §7.3, as Linux applies it to ARP).
 */
const VERIFYING_STATES = new Set(['DELAY', 'PROBE']);
/**
 * The longest such a check takes: delay_first_probe_time (5 s) + ucast_solicit (3) × retrans_time
 * (1 s), Linux's defaults (Documentation/networking/ip-sysctl.rst).
 */
const VERIFY_LIMIT_MS = 8000;
const VERIFY_POLL_MS = 250;

export interface NeighbourEntry {
  ip: string;
  mac: string;
  state: string;
  /** Seconds since the host last proved reachable (an ARP reply, TCP progress); null when unknown. */
  confirmedSecondsAgo: number | null;
  /** Seconds since the entry last changed; null when unknown. */
  updatedSecondsAgo: number | null;
}

/**
 * Whether the host itself answered during the last `seconds`: the kernel sets `confirmed` only
 * when it does (an ARP reply, TCP progress). `updated` proves nothing: it also changes when a
 * REACHABLE entry merely times out to STALE, and when our own sending moves a STALE entry to
 * DELAY (measured in the lab). A host's own ARP request to us does not need it either: answering
 * it moves the entry to DELAY, and the kernel then checks the host (see readSettled).
 */
export function heardWithin(entry: NeighbourEntry, seconds: number): boolean {
  return entry.confirmedSecondsAgo !== null && entry.confirmedSecondsAgo <= seconds;
}

/** What an entry says of its address's answer to neighbour resolution. */
export type NeighbourVerdict = 'resolved' | 'failed' | 'pending';

/**
 * One row of the table, whatever its state; `entry` only when it carries a usable MAC. `states`,
 * `refcnt` and `updatedSecondsAgo` are what the neighbour budget counts held places from
 * (net/neighbour-budget.ts collectorCannotFree).
 */
export interface NeighbourRow {
  ip: string;
  /** The interface the entry is on; null when the row does not say. */
  dev: string | null;
  /**
   * resolved: the address answered (a usable MAC); failed: it did not (FAILED: every solicitation
   * went unanswered, ip-neighbour(8)); pending: the kernel is still asking (INCOMPLETE, NONE) or
   * the row carries no verdict.
   */
  verdict: NeighbourVerdict;
  entry: NeighbourEntry | null;
  /** Every NUD state the row lists (ip-neighbour(8)). */
  states: string[];
  /**
   * References to the entry beside the table's own; null when the row has no cache information
   * (read without `-stats`). iproute2 prints `refcnt` only when it is not zero (ip/ipneigh.c
   * print_cacheinfo; a FAILED row in the lab has `updated` and no `refcnt`), so a row with
   * `updated` and no `refcnt` has none.
   */
  refcnt: number | null;
  /** Seconds since the entry last changed; null when not printed. */
  updatedSecondsAgo: number | null;
}

/**
 * Parses `ip -json [-stats] neigh` output, every row; anything that is not such a row is dropped.
 * With `zone` (the interface the table was read for), IPv6 link-local addresses get it appended.
 */
export function parseNeighbourRows(text: string, zone?: string): NeighbourRow[] {
  let rows: unknown;
  try {
    rows = JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(rows)) return [];
  const parsed: NeighbourRow[] = [];
  for (const row of rows as unknown[]) {
    if (typeof row !== 'object' || row === null) continue;
    const { dst, dev, state: rawStates, lladdr, confirmed, updated, refcnt } = row as Record<string, unknown>;
    if (typeof dst !== 'string') continue;
    const states = Array.isArray(rawStates) ? rawStates.map(String) : [];
    const state = states.find((s) => USABLE_STATES.has(s));
    const mac = typeof lladdr === 'string' ? lladdr.toLowerCase() : '';
    const nonNegative = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : null);
    const ip = zone !== undefined && isIpv6LinkLocal(dst) ? `${dst}%${zone}` : dst;
    const usable = state !== undefined && MAC_PATTERN.test(mac) && mac !== '00:00:00:00:00:00';
    parsed.push({
      ip,
      dev: typeof dev === 'string' ? dev : null,
      verdict: usable ? 'resolved' : states.includes('FAILED') ? 'failed' : 'pending',
      entry: usable ? { ip, mac, state, confirmedSecondsAgo: nonNegative(confirmed), updatedSecondsAgo: nonNegative(updated) } : null,
      states,
      refcnt: refcnt === undefined && nonNegative(updated) !== null ? 0 : nonNegative(refcnt),
      updatedSecondsAgo: nonNegative(updated),
    });
  }
  return parsed;
}

/**
 * Parses `ip -json -stats neigh` output; entries without a usable MAC are left out. With `zone`,
 * IPv6 link-local addresses get it appended (see parseNeighbourRows).
 */
export function parseNeighbourJson(text: string, zone?: string): NeighbourEntry[] {
  return parseNeighbourRows(text, zone).flatMap((row) => (row.entry ? [row.entry] : []));
}

/**
 * Reads one family's neighbour table (of one interface, or all of this namespace's), every row;
 * IPv6 link-local addresses read for one interface carry it as their zone. `tables`: the scan's
 * reader (net/neighbour-reader.ts); without it, one `ip` for this read.
 */
export async function readNeighbourRows(dev?: string, family: NeighbourFamily = '-4', tables: NeighbourTableSource = oneShotNeighbourTables): Promise<NeighbourRow[]> {
  return parseNeighbourRows(await tables.read(family, dev), dev);
}

/**
 * Reads the table until no entry is being verified (or `limitMs` passes, or `signal` aborts): a
 * host the scan's own traffic sent into DELAY/PROBE is reported once the kernel knows whether it
 * still answers (REACHABLE, confirmed now) or not (FAILED, no MAC: left out).
 */
export async function readSettled(
  read: () => Promise<NeighbourEntry[]>,
  signal: AbortSignal,
  limitMs = VERIFY_LIMIT_MS,
  pollMs = VERIFY_POLL_MS,
): Promise<NeighbourEntry[]> {
  const until = Date.now() + limitMs;
  let entries = await read();
  while (entries.some((e) => VERIFYING_STATES.has(e.state)) && Date.now() < until && !signal.aborted) {
    await sleep(pollMs, signal);
    entries = await read();
  }
  return entries;
}

export const neighbours: Discoverer<'neighbour-table'> = {
  name: 'neighbour-table',
  phase: 'collect',
  evidence: null,
  emits: ['neighbour.state', 'neighbour.fresh', 'neighbour.interface'],
  description: 'Kernel neighbour tables (ARP and IPv6 NDP): MAC addresses of hosts the scan exchanged packets with',

  async run(ctx: ScanContext, emit: (o: Observation) => void): Promise<void> {
    const log = ctx.log.child({ module: 'neighbour-table' });
    /** Every address the table holds a row for, usable or not (a FAILED one is a host gone, not freed). */
    const inTable = new Set<string>();
    const tables = await Promise.all(
      ctx.interfaces.map(async (iface) => {
        const read = async (family: NeighbourFamily): Promise<NeighbourEntry[]> => {
          const rows = await readNeighbourRows(iface.name, family, ctx.neighbourTables);
          for (const row of rows) inTable.add(row.ip);
          return rows.flatMap((row) => (row.entry ? [row.entry] : []));
        };
        try {
          // Without active probes the scan sent no unicast, so no check under way is its doing: one read.
          const ipv4 = await readSettled(() => read('-4'), ctx.signal, ctx.active ? VERIFY_LIMIT_MS : 0);
          // IPv6 entries are read once, not settled: each host that answered an IPv6 multicast is in
          // DELAY for 5 s after the scanner's Neighbor Advertisement to it (RFC 4861 §7.3.3), a check
          // that proves nothing new, and its MAC is already known in DELAY.
          return { iface, entries: [...ipv4, ...(await read('-6'))] };
        } catch (error) {
          log.warn({ iface: iface.name, err: (error as Error).message }, 'cannot read the neighbour table (is iproute2 installed?)');
          return { iface, entries: [] };
        }
      }),
    );
    const scanAgeSeconds = (Date.now() - ctx.startedAtMs) / 1000;
    for (const { iface, entries } of tables) {
      for (const entry of entries) {
        // The kernel reports whole seconds, rounded down, so no slack is needed.
        emit(observation(entry.ip, entry.mac, entry.state, heardWithin(entry, scanAgeSeconds), iface.name));
      }
    }
    // Hosts whose entries have gone since a read showed their MAC: those host discovery saw resolve
    // (a full table frees entries older than 5 s: net/neighbour-budget.ts) and those the scan gave
    // back (discovery/entry-release.ts), as the table showed them then.
    let fromDiscovery = 0;
    for (const neighbour of ctx.neighbours.rememberedNeighbours()) {
      if (inTable.has(neighbour.ip)) continue;
      fromDiscovery++;
      emit(observation(neighbour.ip, neighbour.mac, neighbour.state, neighbour.fresh, neighbour.dev));
    }
    if (fromDiscovery > 0) log.info({ entries: fromDiscovery }, 'entries read earlier during the scan, gone from the table since (freed by the kernel or given back by the scan), reported as read then');
  },
};

function observation(ip: string, mac: string, state: string, fresh: boolean, iface: string): Observation {
  return {
    source: 'neighbour-table',
    ip,
    mac,
    at: new Date().toISOString(),
    status: 'ok',
    fields: { 'neighbour.state': state, 'neighbour.fresh': String(fresh), 'neighbour.interface': iface },
  };
}
