/**
 * The prologue every probing discoverer shares (phases 'connect' and 'probe'): which hosts and
 * ports it may touch, its options over their defaults, and the pool that works through them at a
 * bounded concurrency, each under its own deadline, paced by the scan's shared `--rate`.
 */
import { isIPv4 } from 'node:net';
import { forEachLimited, sharedRateLimiter, type RateLimiter } from '../net/rate-limiter.js';
import { FD_RESERVE, sweepSocketBudget } from '../net/fd-limit.js';
import { signalScope, type SignalScope } from '../net/abort.js';
import type { ScanContext } from './types.js';
import type { Observation } from '../types.js';
import { DEVICE_UUID_FIELDS } from '../pipeline/merge.js';

/**
 * The hosts active probes may touch: the TARGETs the operator named, and hosts that announced
 * themselves during the listen phase (never an address a reply merely mentions).
 */
export function* activeProbeHosts(ctx: ScanContext, heard: ReadonlySet<string> = heardHosts(ctx.seen)): Generator<string> {
  yield* ctx.targets.addresses();
  for (const ip of heard) if (!ctx.targets.has(ip)) yield ip;
}

/**
 * Fields whose values identify the device that announced them (a UUID, a UPnP USN, an mDNS host
 * name: kept unique on its link by probing and conflict resolution, RFC 6762 §8 and §9, and the
 * same in a dual-stack device's IPv4 and IPv6 answers).
 */
const ANNOUNCED_IDENTITY_FIELDS: readonly string[] = [...DEVICE_UUID_FIELDS, 'ssdp.usn', 'mdns.host'];

/**
 * Hosts that announced themselves during the listen phase (not the neighbour table's), each once.
 * A dual-stack camera answers WS-Discovery over IPv4 and IPv6 with one EndpointReference (ONVIF
 * Core §7.3.1: it identifies the device), SSDP with the same USNs (UDA 2.0 §1.1.4: the UDN is
 * the device's) and mDNS with the same host name: its IPv6 addresses are left out when an IPv4 address announced the same one, so each device is probed once, over IPv4 (agent/pipeline/merge.ts joins
 * the addresses all the same). A device heard over IPv6 alone is probed there.
 */
export function heardHosts(seen: readonly Observation[]): Set<string> {
  const heard = new Set(seen.filter((o) => o.source !== 'neighbour-table').map((o) => o.ip));
  const endpointsOf = (o: Observation): string[] => ANNOUNCED_IDENTITY_FIELDS.flatMap((f) => o.fields[f] ?? []);
  const overIpv4 = new Set(seen.filter((o) => isIPv4(o.ip)).flatMap(endpointsOf));
  for (const o of seen) if (!isIPv4(o.ip) && endpointsOf(o).some((e) => overIpv4.has(e))) heard.delete(o.ip);
  return heard;
}

export interface OpenPort {
  readonly ip: string;
  readonly port: number;
  /** Every probe the port table marks the port for (fingerprints/ports.yaml `probes`). */
  readonly probes: readonly string[];
}

/**
 * The open ports the TCP sweep marked for `probe`, on hosts active probes may touch, each once, in
 * the order found. The hosts heard are read from ctx.seen only for a port outside the TARGETs: each
 * probe kind asks this of every view (about ten thousand observations on a 1,000-device /22).
 */
export function openPortsFor(ctx: ScanContext, probe: string): OpenPort[] {
  let heard: Set<string> | undefined;
  const allowed = { has: (ip: string): boolean => ctx.targets.has(ip) || (heard ??= heardHosts(ctx.seen)).has(ip) };
  const found = new Map<string, OpenPort>();
  for (const o of ctx.seen) {
    if (o.source !== 'tcp-connect' || o.status !== 'ok' || o.port === undefined) continue;
    const marked = o.fields['port.probes'];
    const probes = Array.isArray(marked) ? marked : marked === undefined ? [] : [marked];
    if (!probes.includes(probe) || !allowed.has(o.ip)) continue;
    const key = `${o.ip} ${o.port}`;
    if (!found.has(key)) found.set(key, { ip: o.ip, port: o.port, probes });
  }
  return [...found.values()];
}

/** `options` over `defaults`: every member `defaults` has, taken from `options` unless it is absent there. */
export function withDefaults<O extends object, K extends keyof O>(options: O, defaults: Required<Pick<O, K>>): Required<Pick<O, K>> {
  const chosen = { ...defaults };
  for (const key of Object.keys(defaults) as K[]) {
    const value = options[key];
    if (value !== undefined) chosen[key] = value as Required<Pick<O, K>>[K];
  }
  return chosen;
}

/**
 * More than all probe pools hold together (HTTP 16, TLS 16, ONVIF 8, RTSP 8, UPnP 8, vendor
 * identity 8: 64), so that only a low file-descriptor limit binds them.
 */
export const MAX_PROBE_SOCKETS = 128;

/**
 * Sockets all probe discoverers together may hold at once under a soft limit of `fdLimit`
 * descriptors: what the sweep's share (net/fd-limit.ts) and the reserve leave, since the probes
 * now run beside the sweep (48 under `ulimit -n 256`); at least one, so probes still run, one at
 * a time, under a limit too small for both.
 */
export function probeSocketBudget(fdLimit: number): number {
  return Math.min(MAX_PROBE_SOCKETS, Math.max(1, fdLimit - FD_RESERVE - sweepSocketBudget(fdLimit)));
}

export interface ProbePool {
  /** Items worked on at once. */
  readonly concurrency: number;
  /** Everything one item may take, queueing for the rate limiter included; absent: the phase's deadline only. */
  readonly deadlineMs?: number;
  /** Everything all items together may take, from the first item on (items may come late: probe-passes.ts); absent: the phase's deadline only. */
  readonly budgetMs?: number;
}

/** The address an item's contacts go to: each item is admitted by the neighbour budget for it (net/neighbour-budget.ts use). */
export type AddressOf<T> = (item: T) => string;

export interface ItemProbe {
  /** Aborts at the item's deadline or when the phase ends. */
  readonly signal: AbortSignal;
  /** The phase's shared `--rate`: take() before each new connection or exchange. */
  readonly limiter: RateLimiter;
}

/**
 * Runs `probe` on every item, `pool.concurrency` at a time, in item order (an async iterable's as
 * they come), and stops handing out items when the phase's signal aborts; once `pool.budgetMs`
 * has run out, counted from the first item, the rest are skipped. The many workers and pacing
 * waits hang on one scope, which listens to the phase's signal once; with `pool.deadlineMs` each
 * item also gets its own deadline.
 */
export async function probeHosts<T>(
  ctx: ScanContext,
  items: Iterable<T> | AsyncIterable<T>,
  pool: ProbePool,
  addressOf: AddressOf<T>,
  probe: (item: T, run: ItemProbe) => Promise<void>,
): Promise<void> {
  const limiter = ctx.rateLimiter ?? sharedRateLimiter(ctx);
  const scope = signalScope(ctx.signal);
  // Started with the first item: a feed's items may come long after the pool starts.
  const started: { budget?: SignalScope } = {};
  try {
    await forEachLimited(items, pool.concurrency, scope.signal, async (item) => {
      const budget = (started.budget ??= signalScope(scope.signal, pool.budgetMs));
      // Past the budget the rest are only taken off the list.
      if (budget.signal.aborted || (ctx.probeSockets && !(await ctx.probeSockets.acquire(budget.signal)))) return;
      try {
        // The item's address is admitted for the whole item, once it has its socket (the scarcer of
        // the two: a handful while the listen window is open), so no queued item holds a neighbour place.
        const endOfUse = await ctx.neighbours.use(addressOf(item), budget.signal);
        if (endOfUse === null) return;
        const deadline = pool.deadlineMs === undefined ? null : signalScope(budget.signal, pool.deadlineMs);
        try {
          await probe(item, { signal: deadline?.signal ?? budget.signal, limiter });
        } finally {
          deadline?.dispose();
          endOfUse();
        }
      } finally {
        ctx.probeSockets?.release();
      }
    });
  } finally {
    started.budget?.dispose();
    scope.dispose();
  }
}
