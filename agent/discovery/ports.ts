/**
 * TCP connect probes (phase 'connect'): which of the ports cameras use (fingerprints/ports.yaml)
 * are open on the hosts active probes may touch (the named TARGETs and hosts that announced
 * themselves). A plain connect(2), closed again at once: nothing is sent on the connection.
 *
 * Emits one observation per OPEN port: { 'port.state': 'open', 'port.service', 'port.probes' };
 * the HTTP, TLS, RTSP and ONVIF probes pick their ports from these. Refused and silent ports get
 * no observation of their own (a /24 would otherwise fill the document with closed ports); they
 * are counted in the log. A host that refused every port tried is still a host that is there now
 * (its RST is an answer): it gets ONE observation without a port, status `refused`, fields
 * { 'port.state': 'closed', 'port.closed': [ports] }, so a device that answers nothing else is
 * not lost (the kernel does not count a RST as confirming the neighbour entry).
 *
 * A host that did not announce itself is first asked on the ports marked `hostDiscovery` (80 and
 * 443: nmap's host discovery for unprivileged users, nmap(1) HOST DISCOVERY, a connect to both). If
 * neither answers, with a SYN-ACK or a RST, the host is taken to be absent and its other ports are
 * not tried: in a sparse /24 that saves most of the connects, each of which would otherwise wait
 * out its timeout. Hosts heard during the listen phase get every port.
 *
 * Pacing, polite to each device and fast over many (issue 10):
 * - per host: at most PER_HOST_CONNECTIONS connections open at once and PER_HOST_RATE new ones a
 *   second, whatever `--rate` allows in all; `--rate` caps all hosts together;
 * - sockets: never more open at once than the file-descriptor limit allows (net/fd-limit.ts);
 * - the kernel's neighbour table: no new on-link address reached while the entries the kernel
 *   cannot free fill the scan's share of it (net/neighbour-budget.ts), so no connect is dropped by
 *   a "neighbor table overflow";
 * - timeouts: each host's connect timeout follows the round trips it has shown (net/rtt.ts, nmap's
 *   bounds); a host that has answered nothing yet gets the initial timeout;
 * - tarpits: a host that answered none of its first PER_HOST_CONNECTIONS connects (every one timed
 *   out: a device that drops SYNs, a filtering firewall, a tarpit) is given up: its other ports
 *   are not tried, so it costs its timeouts once, not once per port. It gets ONE observation,
 *   status `timeout`, fields { 'port.state': 'silent', 'port.silent': [ports], 'port.skipped':
 *   [ports] }, and a log line.
 */
import { isIPv4 } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { PortSpec } from '../knowledge/tables.js';
import { interfaceOnSubnet } from '../net/interfaces.js';
import { softFdLimit, sweepSocketBudget } from '../net/fd-limit.js';
import { AsyncQueue, RateLimiter, Semaphore } from '../net/rate-limiter.js';
import { NMAP_NORMAL_RTT_BOUNDS, RttEstimator, type RttBounds } from '../net/rtt.js';
import { tcpConnect, type ConnectOutcome } from '../net/tcp.js';
import { activeProbeHosts, heardHosts, probeHosts, withDefaults, type ItemProbe } from './probe-hosts.js';
import { discoverLinkHosts, openNudger } from './link-hosts.js';
import { readNeighbourRows } from './neighbours.js';
import type { Discoverer, ScanContext } from './types.js';
import type { Observation, SweepMethod } from '../types.js';

export { ACTIVE_PROBES, type ActiveProbe, type PortSpec } from '../knowledge/tables.js';

/**
 * New connections a second to any one host: runZero's default per-host maximum, 40 packets a second
 * ("40 packets per second per host", https://help.runzero.com/docs/troubleshooting-iot-and-ot/);
 * each connect starts with one SYN.
 */
export const PER_HOST_RATE = 40;
/**
 * Connections open at once to any one host: fewer than the 5 TCP connections the lwIP stack of
 * small embedded devices holds by default (MEMP_NUM_TCP_PCB = 5,
 * https://www.nongnu.org/lwip/2_1_x/group__lwip__opts__memp.html), so the device keeps room for
 * its own recorder and viewers while it is swept.
 */
export const PER_HOST_CONNECTIONS = 3;

export interface PortScanOptions {
  /** The port table; fingerprints/ports.yaml by default. */
  ports?: readonly PortSpec[];
  /** Connect timeouts: initial (a host that answered nothing yet), and the bounds of the adaptive one. */
  rtt?: RttBounds;
  /** Hosts being probed at once; by default as many as sockets. */
  hostConcurrency?: number;
  /** Sockets open at once, all hosts together; by default from the file-descriptor limit. */
  socketLimit?: number;
  /** Connections open at once to one host. */
  perHostConnections?: number;
  /** New connections a second to one host. */
  perHostRate?: number;
  /** Everything one host may take, queueing for the rate limiter included. */
  hostDeadlineMs?: number;
}

const DEFAULTS = {
  rtt: NMAP_NORMAL_RTT_BOUNDS,
  perHostConnections: PER_HOST_CONNECTIONS,
  perHostRate: PER_HOST_RATE,
  hostDeadlineMs: 15_000,
} as const;

/** What became of one port: a connect's outcome, or `skipped` (its host was given up first). */
type PortOutcome = ConnectOutcome | 'skipped';

interface Tally {
  /** Hosts swept (named targets and hosts that announced themselves, the scanner's own addresses left out). */
  hosts: number;
  open: number;
  refused: number;
  silent: number;
  absentHosts: number;
  givenUpHosts: number;
  /** Connects this machine could not make (EMFILE…): those ports are unknown. */
  localLimit: number;
}

/**
 * One host's pacing and what it has shown so far. Its first round of connects (as many as it may
 * have open at once) decides: while none of them has answered, no other connect starts; if all of
 * them went unanswered the host is given up, so a tarpit costs one round of initial timeouts.
 */
class HostSweep {
  readonly connections: Semaphore;
  readonly turns: RateLimiter;
  readonly rtt: RttEstimator;
  readonly outcomes = new Map<number, PortOutcome | null>();
  givenUp = false;
  private readonly firstRound: number;
  private admitted = 0;
  private firstRoundLeft: number;
  private firstRoundSilent = 0;
  private decided = false;
  private decide: () => void = () => undefined;
  private readonly verdict = new Promise<void>((resolve) => {
    this.decide = resolve;
  });

  constructor(options: { perHostConnections: number; perHostRate: number; rtt: RttBounds }) {
    this.firstRound = options.perHostConnections;
    this.firstRoundLeft = options.perHostConnections;
    this.connections = new Semaphore(options.perHostConnections);
    this.turns = new RateLimiter(options.perHostRate);
    this.rtt = new RttEstimator(options.rtt);
  }

  /** Whether a connect may start (waiting for the first round's verdict when it is not part of it), and whether it is. */
  async admit(): Promise<'first-round' | 'later' | 'given-up'> {
    if (this.admitted++ < this.firstRound) return 'first-round';
    await this.verdict;
    return this.givenUp ? 'given-up' : 'later';
  }

  /** Learns from one finished connect: its round trip when it was answered. */
  record(outcome: ConnectOutcome, rttMs: number): void {
    if (outcome === 'open' || outcome === 'refused') {
      this.rtt.observe(rttMs);
      this.settle();
    }
  }

  /** A first-round connect is over (null: it never ran, the scan ended first). */
  endFirstRound(outcome: ConnectOutcome | null): void {
    if (outcome === 'timeout' || outcome === 'unreachable') this.firstRoundSilent++;
    this.firstRoundLeft--;
    this.settle();
  }

  anyPortWith(outcome: PortOutcome): boolean {
    for (const o of this.outcomes.values()) if (o === outcome) return true;
    return false;
  }

  portsWith(outcome: PortOutcome): number[] {
    const ports: number[] = [];
    for (const [port, o] of this.outcomes) if (o === outcome) ports.push(port);
    return ports.sort((a, b) => a - b);
  }

  private settle(): void {
    if (this.decided || (!this.rtt.answered && this.firstRoundLeft > 0)) return;
    this.decided = true;
    this.givenUp = !this.rtt.answered && this.firstRoundSilent === this.firstRound;
    this.decide();
  }
}

export function createPortsDiscoverer(options: PortScanOptions = {}): Discoverer<'tcp-connect'> {
  const { rtt, perHostConnections, perHostRate, hostDeadlineMs } = withDefaults(options, DEFAULTS);

  return {
    name: 'tcp-connect',
    phase: 'connect',
    evidence: 'port',
    emits: ['port.state', 'port.service', 'port.probes', 'port.closed', 'port.silent', 'port.skipped'],
    description: 'TCP connect to the ports cameras use (fingerprints/ports.yaml), on named targets and hosts that announced themselves',

    async run(ctx: ScanContext, emit: (o: Observation) => void): Promise<void> {
      if (!ctx.active) return;
      const log = ctx.log.child({ module: 'tcp-connect' });
      const table = options.ports ?? ctx.knowledge.ports;
      const fd = softFdLimit();
      const socketLimit = options.socketLimit ?? sweepSocketBudget(fd.limit);
      const sockets = new Semaphore(socketLimit);
      const heard = new Set(ctx.seen.filter((o) => o.source !== 'neighbour-table').map((o) => o.ip));
      // The scanner's own addresses are in the swept block too: it is not a device.
      const own = new Set(ctx.interfaces.map((i) => i.address));
      /**
       * On-link IPv4 addresses that did not announce themselves: host discovery resolves them first.
       * It asks ARP (its nudges and table reads are IPv4): on-link IPv6 addresses get the 80/443
       * check, their first contacts taking places of the IPv6 table's budget.
       */
      const resolvedFirst = (ip: string): boolean => !heard.has(ip) && isIPv4(ip) && ctx.neighbours.isOnLink(ip);
      const announced = heardHosts(ctx.seen);
      const hostsWhere = function* (pick: (ip: string) => boolean): Generator<string> {
        for (const ip of activeProbeHosts(ctx, announced)) if (!own.has(ip) && pick(ip)) yield ip;
      };
      const tally: Tally = { hosts: 0, open: 0, refused: 0, silent: 0, absentHosts: 0, givenUpHosts: 0, localLimit: 0 };
      const started = Date.now();

      /** One connect, once the host, the socket pool and `--rate` all allow it; null when the scan ended first. */
      const attempt = async (ip: string, spec: PortSpec, host: HostSweep, { signal, limiter }: ItemProbe): Promise<ConnectOutcome | null> => {
        if (!(await host.connections.acquire(signal))) return null;
        try {
          if (!(await host.turns.take(signal)) || !(await sockets.acquire(signal))) return null;
          try {
            if (!(await limiter.take(signal))) return null;
            const sent = performance.now();
            const outcome = await tcpConnect(ip, spec.port, host.rtt.timeoutMs(), signal);
            host.record(outcome, performance.now() - sent);
            // An answer made the entry REACHABLE: a modelled place is held as long (net/neighbour-budget.ts).
            if (outcome === 'open' || outcome === 'refused') ctx.neighbours.answered(ip);
            return outcome;
          } finally {
            sockets.release();
          }
        } finally {
          host.connections.release();
        }
      };

      const connect = async (ip: string, spec: PortSpec, host: HostSweep, item: ItemProbe): Promise<PortOutcome | null> => {
        const admission = await host.admit();
        if (admission === 'given-up') return 'skipped';
        if (admission === 'later') return attempt(ip, spec, host, item);
        let outcome: ConnectOutcome | null = null;
        try {
          outcome = await attempt(ip, spec, host, item);
          return outcome;
        } finally {
          host.endFirstRound(outcome);
        }
      };

      const probe = async (ip: string, spec: PortSpec, host: HostSweep, item: ItemProbe): Promise<void> => {
        const outcome = await connect(ip, spec, host, item);
        host.outcomes.set(spec.port, outcome);
        if (outcome === 'open') {
          tally.open++;
          emit({
            source: 'tcp-connect',
            ip,
            port: spec.port,
            at: new Date().toISOString(),
            status: 'ok',
            fields: { 'port.state': 'open', 'port.service': spec.service, 'port.probes': [...spec.probes] },
          });
        } else if (outcome === 'refused') tally.refused++;
        else if (outcome === 'local-limit') tally.localLimit++;
        else if (outcome === 'timeout' || outcome === 'unreachable') tally.silent++;
      };

      /** Sweeps one host; `method` says how it is known to be there (or, for tcp-host-check, how to find out). */
      const scanHost = async (ip: string, item: ItemProbe, method: SweepMethod): Promise<void> => {
        tally.hosts++;
        const host = new HostSweep({ perHostConnections, perHostRate, rtt });
        const probeAll = (specs: readonly PortSpec[]): Promise<unknown> => Promise.all(specs.map((p) => probe(ip, p, host, item)));
        let rest = table;
        if (method === 'tcp-host-check') {
          const first = table.filter((p) => p.hostDiscovery);
          await probeAll(first);
          ctx.sweep?.checked(method, host.rtt.answered);
          if (first.length > 0 && !host.rtt.answered) {
            tally.absentHosts++;
            return;
          }
          rest = table.filter((p) => !p.hostDiscovery);
        } else if (method === 'announced') ctx.sweep?.checked(method, true);
        await probeAll(rest);
        // An entry still REACHABLE from an earlier scan is no proof by itself (the kernel trusts it
        // for reachable_time, 15-45 s): a host that then answered no connect is reported silent only
        // when it answered ARP during this scan.
        if (host.givenUp && method === 'neighbour-resolution' && ctx.neighbours.resolvedNeighbour(ip)?.fresh !== true) {
          tally.absentHosts++;
          return;
        }
        if (host.givenUp) {
          tally.givenUpHosts++;
          const silent = [...host.portsWith('timeout'), ...host.portsWith('unreachable')].sort((a, b) => a - b);
          const skipped = host.portsWith('skipped');
          log.info({ ip, silent, skipped, timeoutMs: rtt.initialMs }, 'host answered none of its first connects (a tarpit, or a firewall that drops packets): its other ports are not tried');
          emit({
            source: 'tcp-connect',
            ip,
            at: new Date().toISOString(),
            status: 'timeout',
            fields: { 'port.state': 'silent', 'port.silent': silent.map(String), 'port.skipped': skipped.map(String) },
          });
          return;
        }
        const closed = host.anyPortWith('open') ? [] : host.portsWith('refused');
        if (closed.length > 0) {
          emit({
            source: 'tcp-connect',
            ip,
            at: new Date().toISOString(),
            status: 'refused',
            fields: { 'port.state': 'closed', 'port.closed': closed.map(String) },
          });
        }
      };

      const pool = { concurrency: options.hostConcurrency ?? socketLimit, deadlineMs: hostDeadlineMs };
      const sweep = (hosts: Iterable<string> | AsyncIterable<string>, method: SweepMethod): Promise<void> =>
        // Once a host's every port is tried, its probes may start (discovery/probe-passes.ts).
        probeHosts(ctx, hosts, pool, (ip) => ip, (ip, item) => scanHost(ip, item, method).finally(() => ctx.onHostSwept?.(ip)));
      const onLink = hostsWhere(resolvedFirst);
      const live = new AsyncQueue<string>();
      const nudger = openNudger(ctx.neighbours.size);
      const discovery = discoverLinkHosts({
        addresses: onLink,
        budget: ctx.neighbours,
        signal: ctx.signal,
        scanStartedAtMs: ctx.startedAtMs,
        nudge: nudger.nudge,
        readTable: ctx.readNeighbourTable ?? (() => readNeighbourRows()),
        interfaceOf: (ip) => interfaceOnSubnet(ctx.interfaces, ip)?.name ?? '',
        onLive: (ip) => live.push(ip),
      }).finally(() => {
        nudger.close();
        live.close();
      });
      await Promise.all([
        discovery.then(async (result) => {
          const { live: found, silent, unresolved } = result.tally;
          ctx.sweep?.add('neighbour-resolution', found + silent + unresolved, found);
          log.info({ ...result.tally, ...neighbourLog(ctx), ms: Date.now() - started }, 'host discovery finished');
          if (found > ctx.neighbours.size && !ctx.neighbours.givesBack) {
            // Each answered entry stays held while the kernel keeps it REACHABLE (about 35 s measured,
            // net/neighbour-budget.ts), so every further budget's worth of live hosts waited that long,
            // unless the scan gave its entries back (it needs CAP_NET_ADMIN for that).
            log.warn(
              { live: found, neighbourBudget: ctx.neighbours.size },
              'more hosts answered on the link than this scan may hold in the kernel neighbour table: the rest waited for the kernel to free answered entries (about 40 s a round). To scan segments this large faster, an administrator can raise net.ipv4.neigh.default.gc_thresh3 (with gc_thresh2 and gc_thresh1); the agent never changes it',
            );
          }
          if (result.unjudged.length === 0 && result.tableError === null) return;
          // The table cannot be read (or a nudge could not be sent): those addresses get the TCP check.
          if (result.tableError !== null) log.warn({ err: result.tableError }, 'cannot read the neighbour table: on-link addresses are checked on ports 80 and 443 instead (is iproute2 installed?)');
          await sweep(
            (function* (): Generator<string> {
              yield* result.unjudged;
              yield* onLink;
            })(),
            'tcp-host-check',
          );
        }),
        sweep(live, 'neighbour-resolution'),
        sweep(hostsWhere((ip) => !resolvedFirst(ip) && !heard.has(ip)), 'tcp-host-check'),
        sweep(hostsWhere((ip) => heard.has(ip)), 'announced'),
      ]);
      if (tally.localLimit > 0) {
        log.warn({ connects: tally.localLimit, sockets: socketLimit, fdLimit: fd.limit }, 'some connects could not be made on this machine (out of file descriptors or buffers): those ports are unknown, not closed');
      }
      log.info(
        {
          hosts: tally.hosts,
          absentHosts: tally.absentHosts,
          givenUpHosts: tally.givenUpHosts,
          open: tally.open,
          refused: tally.refused,
          silent: tally.silent,
          localLimit: tally.localLimit,
          sockets: socketLimit,
          fdLimit: fd.limit,
          fdLimitFrom: fd.from,
          ...neighbourLog(ctx),
          ms: Date.now() - started,
          aborted: ctx.signal.aborted,
        },
        'TCP connect sweep finished',
      );
    },
  };
}

/**
 * The neighbour budget in the sweep's log lines: its places, first contacts that waited, whether
 * places were counted from the table or modelled (it could not be read), and the most the table
 * showed held by the scan at once.
 */
function neighbourLog(ctx: ScanContext): Record<string, number | string> {
  const budget = ctx.neighbours;
  return { neighbourBudget: budget.size, neighbourWaits: budget.waited, neighbourCount: budget.count, neighbourMostHeld: budget.mostCounted };
}

export const tcpPorts: Discoverer<'tcp-connect'> = createPortsDiscoverer();
