/**
 * The kernel neighbour table (ARP, RFC 826): every exchange the scan had with a host on the local
 * link left an entry mapping its IP to its MAC. Read with `ip -json -stats neigh` (iproute2), which
 * also says how many seconds ago each entry was confirmed or updated, so entries older than this
 * scan can be told apart from hosts heard now.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Discoverer, ScanContext } from './types.js';
import type { Observation } from '../types.js';

const run = promisify(execFile);

/** States that carry a usable link-layer address (ip-neighbour(8)); INCOMPLETE/FAILED/NOARP do not. */
const USABLE_STATES = new Set(['REACHABLE', 'STALE', 'DELAY', 'PROBE', 'PERMANENT']);
const MAC_PATTERN = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

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
 * Whether the host itself spoke during the last `seconds`. The kernel sets `confirmed` when the
 * host answers (ARP reply, TCP progress); it sets `updated` on any change, including the host's own
 * ARP request to us (which leaves the entry STALE) but also our own sending to a STALE entry
 * (which moves it to DELAY/PROBE and proves nothing). So: confirmed recently, or STALE and
 * updated recently.
 */
export function heardWithin(entry: NeighbourEntry, seconds: number): boolean {
  const recent = (age: number | null): boolean => age !== null && age <= seconds;
  return recent(entry.confirmedSecondsAgo) || (entry.state === 'STALE' && recent(entry.updatedSecondsAgo));
}

/** Parses `ip -json -stats neigh` output; entries without a usable MAC are left out. */
export function parseNeighbourJson(text: string): NeighbourEntry[] {
  let rows: unknown;
  try {
    rows = JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(rows)) return [];
  const entries: NeighbourEntry[] = [];
  for (const row of rows as Record<string, unknown>[]) {
    const states = Array.isArray(row.state) ? (row.state as unknown[]).map(String) : [];
    const state = states.find((s) => USABLE_STATES.has(s));
    const mac = typeof row.lladdr === 'string' ? row.lladdr.toLowerCase() : '';
    if (!state || typeof row.dst !== 'string' || !MAC_PATTERN.test(mac) || mac === '00:00:00:00:00:00') continue;
    const seconds = (value: unknown): number | null => (typeof value === 'number' ? value : null);
    entries.push({ ip: row.dst, mac, state, confirmedSecondsAgo: seconds(row.confirmed), updatedSecondsAgo: seconds(row.updated) });
  }
  return entries;
}

export const neighbours: Discoverer = {
  name: 'neighbours',
  phase: 'collect',
  method: 'neighbour-table',
  description: 'Kernel neighbour (ARP) table: MAC addresses of hosts the scan exchanged packets with',

  async run(ctx: ScanContext, emit: (o: Observation) => void): Promise<void> {
    const log = ctx.log.child({ module: 'neighbours' });
    const scanAgeSeconds = (Date.now() - ctx.startedAtMs) / 1000;
    for (const iface of ctx.interfaces) {
      let stdout: string;
      try {
        ({ stdout } = await run('ip', ['-json', '-stats', '-4', 'neigh', 'show', 'dev', iface.name], { timeout: 5000, maxBuffer: 4 * 1024 * 1024 }));
      } catch (error) {
        log.warn({ iface: iface.name, err: (error as Error).message }, 'cannot read the neighbour table (is iproute2 installed?)');
        continue;
      }
      for (const entry of parseNeighbourJson(stdout)) {
        // The kernel reports whole seconds, rounded down, so no slack is needed.
        const fresh = heardWithin(entry, scanAgeSeconds);
        emit({
          source: 'neighbours',
          ip: entry.ip,
          mac: entry.mac,
          at: new Date().toISOString(),
          status: 'ok',
          fields: { 'neighbour.state': entry.state, 'neighbour.fresh': String(fresh), 'neighbour.interface': iface.name },
        });
      }
    }
  },
};
