import type { Logger } from '../log.js';
import type { EvidenceSource, Observation } from '../types.js';
import type { ScanInterface } from '../net/interfaces.js';
import type { TargetSet } from '../targets.js';
import type { CredentialStore } from '../credentials.js';
import type { Knowledge } from '../knowledge/index.js';
import type { ScanBounds } from './bounds.js';
import type { RefusalLedger } from '../credential-refusals.js';
import type { NeighbourBudget } from '../net/neighbour-budget.js';
import type { NeighbourTableSource } from '../net/neighbour-reader.js';
import type { NeighbourRow } from './neighbours.js';
import type { SweepLedger } from './sweep-ledger.js';
import type { RateLimiter, Semaphore } from '../net/rate-limiter.js';
import type { PortSilence, ProbeFeed, ProbePass, TlsHandshakes } from './probe-passes.js';

/**
 * When a discoverer runs (nmap's prerule/portrule split). agent/pipeline/scan.ts runs them in this
 * order, except that the TCP sweep of the named TARGETs overlaps the listen window, and the probes
 * start as soon as what they need is whole (agent/discovery/probe-passes.ts):
 * - 'listen':  multicast/broadcast and unicast discovery during the discovery window;
 * - 'connect': active: TCP connects to the ports cameras use, on the hosts active probes may touch;
 *              first the named TARGETs (beside the window), then the hosts heard there unnamed;
 * - 'probe':   active: talks to services found so far (ONVIF at announced XAddrs, HTTP, RTSP, TLS on
 *              open ports, UPnP descriptions at announced LOCATIONs). An `incremental` discoverer
 *              runs from the start of the scan over a feed of views of what was observed so far
 *              (`ScanContext.probeFeed`) as the sweeps go on (each view says which hosts are wholly
 *              swept and whether the window has closed; only a few probes run at once before it
 *              does), and claims each item it
 *              probes, so none is probed twice (probe-passes.ts); it ends after the view that
 *              follows every sweep and the window. Any other probe discoverer runs once, then;
 * - 'collect': reads local state the earlier traffic produced (the kernel neighbour table), after every probe.
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
  /**
   * Devices that refused those credentials (earlier scans' and this one's): who may be asked now.
   * Absent: no refusal on record yet (a discoverer that sends credentials then keeps its own).
   */
  readonly refusals?: RefusalLedger;
  /** The knowledge base (ports to sweep, pages to ask for, service types to browse…). */
  readonly knowledge: Knowledge;
  /** The scan's caps on what devices send, and the counts of what they cut (bounds.ts). */
  readonly bounds: ScanBounds;
  /** Places in the kernel's neighbour table: every first packet to an on-link address takes one (net/neighbour-budget.ts). */
  readonly neighbours: NeighbourBudget;
  /**
   * Reads this namespace's IPv4 neighbour table, every row, telling the scan's other users of it
   * what it showed (entry-release.ts tableRead); absent: neighbours.ts readNeighbourRows.
   */
  readonly readNeighbourTable?: () => Promise<NeighbourRow[]>;
  /** Reads the neighbour tables for the whole scan, one `ip` per family (net/neighbour-reader.ts); absent: one `ip` per read. */
  readonly neighbourTables?: NeighbourTableSource;
  /** How swept addresses were found live, by method (the inventory's scan.sweep.methods); absent: not counted. */
  readonly sweep?: SweepLedger;
  /**
   * The scan's one `--rate` limiter, shared by the connect sweep and the probes that run beside it;
   * absent: the context's own (net/rate-limiter.ts sharedRateLimiter).
   */
  readonly rateLimiter?: RateLimiter;
  /** Probe phase: what of `seen` is whole, and the scan's ledger; absent: all of it (one probe phase after everything). */
  readonly probePass?: ProbePass;
  /** Probe phase, incremental discoverers: views of the observations as they come (read them with asTheyCome); absent: `seen` is all. */
  readonly probeFeed?: ProbeFeed;
  /**
   * Probe phase: places for the sockets of all probes together, one per item being probed (each
   * item's exchanges go one after another), sized from the file-descriptor limit
   * (probe-hosts.ts probeSocketBudget); absent: each pool's concurrency alone bounds them.
   */
  readonly probeSockets?: Semaphore;
  /** Probe phase: how the first exchange with each web port went (probe-passes.ts); absent: every probe waits on its own. */
  readonly portSilence?: PortSilence;
  /**
   * Probe phase, when the scan runs both the HTTPS page probe and the certificate probe: the page
   * probe's handshakes, for the certificate probe to read (probe-passes.ts); absent: each handshakes on its own.
   */
  readonly tlsHandshakes?: TlsHandshakes;
  /** Connect phase: the sweep says so when every port of a host has been tried (its open ports are all emitted by then). */
  readonly onHostSwept?: (ip: string) => void;
  /**
   * Listen phase: what a discoverer has heard so far, passed on before it emits its observations
   * when the window closes, for the probes alone (never recorded: its observations at the close
   * say it all). SSDP passes each LOCATION and WS-Discovery each ONVIF reply as heard, so descriptions and device services are asked while the window is open.
   */
  readonly heardEarly?: (observation: Observation) => void;
}

/**
 * One discovery method. Adding one = its file in agent/discovery/ + one line in the registry
 * (agent/discovery/index.ts); tests/unit/discovery-registry.test.ts holds it to what it declares.
 */
export interface Discoverer<Name extends string = string> {
  /**
   * Its one name: the inventory's `scan.methods` entry, the `source` of every observation it
   * emits, and its log module.
   */
  readonly name: Name;
  /** When it runs; 'listen' and 'collect' only listen or read, 'connect' and 'probe' send to target hosts. */
  readonly phase: DiscoveryPhase;
  /**
   * The evidence source (`evidence[].source` in the inventory) of the fingerprint rules that read
   * its fields: each rule file's `source:` names it. Null when no rule reads what it emits.
   */
  readonly evidence: EvidenceSource | null;
  /**
   * Every observation field it may emit, as fingerprints/fields.yaml names them. `prefix.*` stands
   * for fields whose last part the device names (mDNS TXT keys); fields.yaml lists the known ones.
   */
  readonly emits: readonly string[];
  readonly description: string;
  /**
   * 'probe' phase: true when it reads its items from `ctx.probeFeed` as they come (asTheyCome),
   * probing only what each view says is whole and claiming each item in its ledger
   * (probe-passes.ts); absent: it runs once, after the sweeps and the window.
   */
  readonly incremental?: boolean;
  /** Never throws for network reasons: emits observations with a status and resolves. */
  run(ctx: ScanContext, emit: (observation: Observation) => void): Promise<void>;
}
