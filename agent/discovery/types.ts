import type { Logger } from '../log.js';
import type { DiscovererName, Observation } from '../types.js';
import type { ScanInterface } from '../net/interfaces.js';
import type { TargetSet } from '../targets.js';
import type { CredentialStore } from '../credentials.js';
import type { Knowledge } from '../knowledge/index.js';

/**
 * When a discoverer runs (nmap's prerule/portrule split). agent/scan.ts runs them in this order,
 * except that the TCP sweep of the named TARGETs overlaps the listen window:
 * - 'listen':  multicast/broadcast and unicast discovery during the discovery window;
 * - 'connect': active: TCP connects to the ports cameras use, on the hosts active probes may touch;
 * - 'probe':   active: talks to services found so far (ONVIF at announced XAddrs, HTTP, RTSP, TLS on open ports);
 * - 'collect': reads local state the earlier traffic produced (the kernel neighbour table).
 */
export type DiscoveryPhase = 'listen' | 'connect' | 'probe' | 'collect';

/** Phases whose discoverers send unicast traffic to chosen hosts; `--no-active` skips them. */
export const ACTIVE_PHASES: ReadonlySet<DiscoveryPhase> = new Set(['connect', 'probe']);

export interface ScanContext {
  readonly interfaces: readonly ScanInterface[];
  readonly targets: TargetSet;
  /** When the scan began (epoch ms). */
  readonly startedAtMs: number;
  /** The discovery window. */
  readonly timeoutMs: number;
  /** Aborts when the scan's overall deadline passes or the operator interrupts. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** Observations emitted by the earlier phases. */
  readonly seen: readonly Observation[];
  /** False with `--no-active`: no unicast to anyone, not even the named TARGETs. */
  readonly active: boolean;
  /** The most new connections (or request exchanges) active probes may start per second, all hosts together. */
  readonly ratePerSecond: number;
  /** Operator-supplied credentials (`--credentials FILE`); absent: none, and none are ever tried. */
  readonly credentials?: CredentialStore;
  /** The knowledge base (ports to sweep, pages to ask for, service types to browse…). */
  readonly knowledge: Knowledge;
}

/**
 * The hosts active probes may touch: the TARGETs the operator named, and hosts that announced
 * themselves during the listen phase (never an address a reply merely mentions).
 */
export function activeProbeHosts(ctx: ScanContext): string[] {
  const heard = ctx.seen.filter((o) => o.source !== 'neighbours').map((o) => o.ip);
  return [...new Set([...ctx.targets.addresses(), ...heard])];
}

export interface Discoverer {
  readonly name: DiscovererName;
  readonly phase: DiscoveryPhase;
  /** The method name recorded in the inventory's scan.methods. */
  readonly method: string;
  readonly description: string;
  /** Never throws for network reasons: emits observations with a status and resolves. */
  run(ctx: ScanContext, emit: (observation: Observation) => void): Promise<void>;
}
