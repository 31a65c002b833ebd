import type { Logger } from '../log.js';
import type { DiscovererName, Observation } from '../types.js';
import type { ScanInterface } from '../net/interfaces.js';
import type { TargetSet } from '../targets.js';

/**
 * When a discoverer runs (nmap's prerule/portrule split):
 * - 'listen':  multicast/broadcast and unicast discovery during the discovery window;
 * - 'probe':   talks to hosts that were heard in 'listen' (or that the operator named);
 * - 'collect': reads local state the earlier traffic produced (the kernel neighbour table).
 */
export type DiscoveryPhase = 'listen' | 'probe' | 'collect';
export const DISCOVERY_PHASES: readonly DiscoveryPhase[] = ['listen', 'probe', 'collect'];

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
