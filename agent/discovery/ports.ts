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
 * out its timeout. Hosts heard during the listen phase get every port at once.
 */
import type { PortSpec } from '../knowledge/tables.js';
import { Semaphore } from '../net/rate-limiter.js';
import { tcpConnect, type ConnectOutcome } from '../net/tcp.js';
import { activeProbeHosts, probeHosts, withDefaults, type ItemProbe } from './probe-hosts.js';
import type { Discoverer, ScanContext } from './types.js';
import type { Observation } from '../types.js';

export { ACTIVE_PROBES, type ActiveProbe, type PortSpec } from '../knowledge/tables.js';

export interface PortScanOptions {
  /** The port table; fingerprints/ports.yaml by default. */
  ports?: readonly PortSpec[];
  /** Per connect. A camera on the local link answers a SYN in milliseconds. */
  connectTimeoutMs?: number;
  /** Hosts being probed at once. */
  hostConcurrency?: number;
  /** Sockets open at once, all hosts together (file descriptors). */
  socketLimit?: number;
  /** Everything one host may take, queueing for the rate limiter included. */
  hostDeadlineMs?: number;
}

const DEFAULTS = {
  connectTimeoutMs: 1000,
  // At the default 250 connects/s with a 1 s timeout, about 250 connects to absent hosts are
  // waiting at any moment (two per host): 128 hosts keep the rate limiter, not the pool, in charge.
  hostConcurrency: 128,
  socketLimit: 256,
  hostDeadlineMs: 15_000,
} as const;

interface Tally {
  open: number;
  refused: number;
  silent: number;
  absentHosts: number;
}

export function createPortsDiscoverer(options: PortScanOptions = {}): Discoverer<'tcp-connect'> {
  const { connectTimeoutMs, hostConcurrency, socketLimit, hostDeadlineMs } = withDefaults(options, DEFAULTS);

  return {
    name: 'tcp-connect',
    phase: 'connect',
    evidence: 'port',
    emits: ['port.state', 'port.service', 'port.probes', 'port.closed'],
    description: 'TCP connect to the ports cameras use (fingerprints/ports.yaml), on named targets and hosts that announced themselves',

    async run(ctx: ScanContext, emit: (o: Observation) => void): Promise<void> {
      if (!ctx.active) return;
      const log = ctx.log.child({ module: 'tcp-connect' });
      const table = options.ports ?? ctx.knowledge.ports;
      const sockets = new Semaphore(socketLimit);
      const heard = new Set(ctx.seen.filter((o) => o.source !== 'neighbour-table').map((o) => o.ip));
      // The scanner's own addresses are in the swept block too: it is not a device.
      const own = new Set(ctx.interfaces.map((i) => i.address));
      const hosts = activeProbeHosts(ctx).filter((ip) => !own.has(ip));
      const tally: Tally = { open: 0, refused: 0, silent: 0, absentHosts: 0 };
      const started = Date.now();

      const probe = async (ip: string, spec: PortSpec, { signal, limiter }: ItemProbe): Promise<ConnectOutcome | null> => {
        if (!(await sockets.acquire(signal))) return null;
        try {
          if (!(await limiter.take(signal))) return null;
          const outcome = await tcpConnect(ip, spec.port, connectTimeoutMs, signal);
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
          else tally.silent++;
          return outcome;
        } finally {
          sockets.release();
        }
      };

      const scanHost = async (ip: string, host: ItemProbe): Promise<void> => {
        const outcomes = new Map<number, ConnectOutcome | null>();
        const probeAll = async (specs: readonly PortSpec[]): Promise<void> => {
          await Promise.all(specs.map(async (p) => outcomes.set(p.port, await probe(ip, p, host))));
        };
        let rest = table;
        if (!heard.has(ip)) {
          const first = table.filter((p) => p.hostDiscovery);
          await probeAll(first);
          if (first.length > 0 && ![...outcomes.values()].some((o) => o === 'open' || o === 'refused')) {
            tally.absentHosts++;
            return;
          }
          rest = table.filter((p) => !p.hostDiscovery);
        }
        await probeAll(rest);
        const closed = [...outcomes].filter(([, o]) => o === 'refused').map(([port]) => port);
        if (closed.length > 0 && ![...outcomes.values()].includes('open')) {
          emit({
            source: 'tcp-connect',
            ip,
            at: new Date().toISOString(),
            status: 'refused',
            fields: { 'port.state': 'closed', 'port.closed': closed.sort((a, b) => a - b).map(String) },
          });
        }
      };

      await probeHosts(ctx, hosts, { concurrency: hostConcurrency, deadlineMs: hostDeadlineMs }, scanHost);
      log.info(
        { hosts: hosts.length, absentHosts: tally.absentHosts, open: tally.open, refused: tally.refused, silent: tally.silent, ms: Date.now() - started, aborted: ctx.signal.aborted },
        'TCP connect sweep finished',
      );
    },
  };
}

export const tcpPorts: Discoverer<'tcp-connect'> = createPortsDiscoverer();
