/**
 * ONVIF WS-Discovery: multicast Probes on every chosen interface, plus a unicast Probe to each
 * TARGET the operator named, IPv4 or IPv6 (ONVIF Core §7.3.3 allows directed probes; they reach
 * devices whose multicast is filtered). Emits one observation per (responder, endpoint), and passes
 * each ONVIF one on as heard (ScanContext.heardEarly), so that the device service at its XAddr is
 * asked before the window closes.
 *
 * Why not the `onvif` package's Discovery (measured here, see README "Dependencies"): it merges
 * devices that share an EndpointReference UUID (cloned firmware does), it emits an 'error' that
 * crashes the process unless a listener is attached, and with its default `resolve: true` it
 * connects to every camera it hears, which is active probing nobody asked for.
 */
import { isIPv4 } from 'node:net';
import { inCidr } from '../net/ipv4.js';
import { looksLikeIpv6, parseIpv6Target } from '../net/ipv6.js';
import type { TargetSet } from '../targets.js';
import { zoneOf } from '../net/ip-address.js';
import { withInterfaceSockets, withRoutedIpv6Socket, repeatDelay, type Datagram, type InterfaceSocket, type SendingSocket } from '../net/udp.js';
import { sleep } from '../net/abort.js';
import {
  buildProbe,
  isOnvifMatch,
  otherResponderFields,
  parseProbeMatches,
  probeMatchesBodyDigest,
  probeMatchFields,
  PROBE_TYPES,
  WSD_LIST_CAPS,
  WSD_MULTICAST_ADDRESS,
  WSD_MULTICAST_ADDRESS_IPV6,
  WSD_PORT,
  type WsdList,
} from '../protocols/wsdiscovery.js';
import type { Discoverer, ScanContext } from './types.js';
import type { Observation } from '../types.js';
import { CLEANED_FIELD } from '../safe-text.js';
import { MAX_REMEMBERED_REPLIES } from './bounds.js';

/** How many times each probe is sent (UDP loses packets; nmap's wsdd sends twice too). */
const SEND_COUNT = 2;
/** Unicast probes to named targets are paced so a /24 does not arrive as one burst. */
const UNICAST_PROBES_PER_SECOND = 200;
/**
 * Unicast Probes waiting at once for their address's place in the neighbour table (an address host
 * discovery is still resolving is contacted only after its verdict, about 3 s for a silent one:
 * net/neighbour-budget.ts acquire). Each waits on its own, so a silent address does not hold back
 * the Probes to the live ones after it; host discovery judges up to its budget (512 addresses in an
 * empty default table) at once, and half of that keeps up with it while a /16 of targets cannot
 * pile up waiting Probes.
 */
const WAITING_PROBES_MAX = 256;

export const wsDiscovery: Discoverer<'ws-discovery'> = {
  name: 'ws-discovery',
  phase: 'listen',
  evidence: 'onvif',
  emits: [
    'onvif.endpoint', 'onvif.types', 'onvif.xaddr', 'onvif.metadataVersion', 'onvif.scope', 'onvif.scope.name', 'onvif.scope.hardware',
    'onvif.scope.location', 'onvif.scope.type', 'onvif.scope.profile', 'onvif.scope.mac', 'wsd.types', CLEANED_FIELD,
  ],
  description: 'ONVIF WS-Discovery Probe (UDP 3702, multicast 239.255.255.250 and FF02::C, unicast to targets)',

  async run(ctx: ScanContext, emit: (o: Observation) => void): Promise<void> {
    const log = ctx.log.child({ module: 'ws-discovery' });
    const ourMessages = new Set<string>();
    const seen = new Set<string>();
    /** Addresses that answered one of our Probes: a unicast one would only ask them again. */
    const answered = new Set<string>();
    /** Sender and body digest of every reply read: the same body again from the same sender is not parsed again. */
    const read = new Set<string>();

    const onDatagram = (d: Omit<Datagram, 'iface'>): void => {
      if (!ctx.bounds.admits('ws-discovery', d.from)) return;
      const readKey = `${d.from} ${probeMatchesBodyDigest(d.bytes)}`;
      if (read.has(readKey)) return;
      const parsed = parseProbeMatches(d.bytes);
      if (!parsed) {
        log.warn({ from: d.from, bytes: d.bytes.length, head: d.bytes.subarray(0, 64).toString('base64') }, 'malformed WS-Discovery reply dropped');
        return;
      }
      if (parsed.relatesTo && !ourMessages.has(parsed.relatesTo)) {
        log.debug({ from: d.from, relatesTo: parsed.relatesTo }, 'ProbeMatches for another client ignored');
        return;
      }
      answered.add(d.from);
      if (read.size < MAX_REMEMBERED_REPLIES) read.add(readKey);
      for (const [list, count] of Object.entries(parsed.dropped)) {
        ctx.bounds.dropped(`ws-discovery.${list}`, count, { from: d.from, max: WSD_LIST_CAPS[list as WsdList] });
      }
      for (const match of parsed.matches) {
        const key = `${d.from} ${match.endpoint}`;
        if (seen.has(key)) continue;
        seen.add(key);
        // A non-ONVIF responder (a WSD printer, a PC) is still a host on the wire: it is kept with
        // its WS-Discovery types only, and dropped from everything ONVIF (no scopes, no XAddrs probed).
        const onvif = isOnvifMatch(match);
        if (!onvif) log.info({ from: d.from, types: match.types }, 'non-camera WS-Discovery reply: recorded as a host, not probed as ONVIF');
        const fields = onvif ? probeMatchFields(match) : otherResponderFields(match);
        const observation: Observation = { source: 'ws-discovery', ip: d.from, at: new Date().toISOString(), status: 'ok', fields };
        emit(observation);
        // The ONVIF probe may ask the device service at its XAddr while the window is still open.
        if (onvif) ctx.heardEarly?.(observation);
      }
    };

    // The same Probes go to 239.255.255.250 from each interface's IPv4 address and to FF02::C
    // from its IPv6 link-local address: a camera with no usable IPv4 (IPv6 only, or a foreign
    // address) still answers the second, from its own link-local address. Unique-local and global
    // IPv6 TARGETs are probed from a socket the kernel routes (withRoutedIpv6Socket).
    const ipv6Targets = ctx.active && ctx.targets.specs.some(looksLikeIpv6);
    await withInterfaceSockets(ctx.interfaces, log, onDatagram, (ipv6) =>
      withInterfaceSockets(ctx.interfaces, log, onDatagram, (ipv4) =>
        withRoutedIpv6Socket(log, onDatagram, ipv6Targets, async (routed) => {
          const window = sleep(ctx.timeoutMs, ctx.signal);
          const probes = [buildProbe(PROBE_TYPES.networkVideoTransmitter), buildProbe(PROBE_TYPES.device)];
          for (const p of probes) ourMessages.add(p.messageId);
          for (let round = 0; round < SEND_COUNT && !ctx.signal.aborted; round++) {
            for (const socket of ipv4) for (const p of probes) socket.send(p.bytes, WSD_MULTICAST_ADDRESS, WSD_PORT);
            for (const socket of ipv6) for (const p of probes) socket.send(p.bytes, WSD_MULTICAST_ADDRESS_IPV6, WSD_PORT);
            await sleep(repeatDelay(), ctx.signal);
          }
          if (ctx.active) await probeTargets(ctx, { ipv4, ipv6, routed }, probes[0]!.bytes, answered, log);
          await window;
        }),
      ),
    'ipv6');
    log.info({ devices: seen.size }, 'WS-Discovery finished');
  },
};

/**
 * Paced by schedule, not by a sleep per probe: each probe has its due time (start + n / rate) and
 * waits only when it is early. A busy event loop makes every timer late (a 5 ms sleep took 20–30 ms
 * on a loaded machine, so .60 of a /24 was reached 8 s into a 3 s window); probes that fall behind
 * then go at once, and the average rate never exceeds UNICAST_PROBES_PER_SECOND. Each round probes
 * the IPv6 TARGETs first (targetsInProbeOrder). An address in `answered` already answered a Probe
 * (the multicast ones, or an earlier round): it gets no more.
 */
export async function probeTargets(
  ctx: Pick<ScanContext, 'targets' | 'signal' | 'neighbours'>,
  sockets: ProbeSockets,
  probe: Buffer,
  answered: ReadonlySet<string>,
  log: ScanContext['log'],
): Promise<void> {
  const gap = 1000 / UNICAST_PROBES_PER_SECOND;
  const started = Date.now();
  let sent = 0;
  const unsent = new Set<string>();
  /** Probes not sent to a named address that answered no ARP while host discovery resolved it. */
  let unanswered = 0;
  /** Those addresses: as many as the Probes of the window reach (UNICAST_PROBES_PER_SECOND), not the range. */
  const silent = new Set<string>();
  const waiting = new Set<Promise<void>>();
  for (let round = 0; round < SEND_COUNT; round++) {
    for (const ip of targetsInProbeOrder(ctx.targets)) {
      if (ctx.signal.aborted) break;
      // A device that answered a multicast Probe (or the first round) is known: it is not asked again.
      if (answered.has(ip)) continue;
      const socket = probeSocketFor(ip, sockets);
      if (!socket) {
        unsent.add(ip);
        continue;
      }
      const early = started + sent * gap - Date.now();
      if (early > 0) await sleep(early, ctx.signal);
      const sending: Promise<void> = (async (): Promise<void> => {
        // An address host discovery finds silent gets no Probe, this round or the next: nobody is there to answer it.
        if (silent.has(ip) || (await ctx.neighbours.answeredNothing(ip, ctx.signal))) {
          silent.add(ip);
          unanswered++;
          return;
        }
        const endOfUse = await ctx.neighbours.use(ip, ctx.signal);
        if (endOfUse) {
          socket.send(probe, ip, WSD_PORT);
          endOfUse();
        }
      })().finally(() => waiting.delete(sending));
      waiting.add(sending);
      sent++;
      if (waiting.size >= WAITING_PROBES_MAX) await Promise.race(waiting);
    }
  }
  await Promise.all(waiting);
  if (unsent.size > 0) log.info({ targets: [...unsent].slice(0, 16), count: unsent.size }, 'no socket of their family is open: these targets got no unicast WS-Discovery Probe');
  if (unanswered > 0) log.debug({ probes: unanswered }, 'Probes not sent: their targets answered no ARP');
}

/**
 * The named addresses, IPv6 ones first. They are few (at most MAX_IPV6_TARGET_BLOCK per TARGET,
 * agent/net/ipv6.ts) and each names a device the operator knows of, whereas an IPv4 range can be
 * far more than the window covers at UNICAST_PROBES_PER_SECOND (a /16 takes 5.5 minutes): after
 * it, in the set's own order, they would never be probed.
 */
export function* targetsInProbeOrder(targets: TargetSet): Generator<string> {
  const ipv6 = new Set<string>();
  for (const spec of targets.specs.filter(looksLikeIpv6)) {
    const named = parseIpv6Target(spec);
    if (Array.isArray(named)) for (const ip of named) if (targets.has(ip)) ipv6.add(ip);
  }
  yield* ipv6;
  for (const ip of targets.addresses()) if (!ipv6.has(ip)) yield ip;
}

/** The sockets unicast Probes leave from. */
export interface ProbeSockets {
  readonly ipv4: readonly InterfaceSocket[];
  /** Bound to each interface's IPv6 link-local address. */
  readonly ipv6: readonly InterfaceSocket[];
  /** Bound to no address, so the kernel picks interface and source address by route; null when not open. */
  readonly routed: SendingSocket | null;
}

/**
 * The socket a unicast Probe to `ip` leaves from: for an IPv4 address, the one of the interface
 * whose subnet holds it, else the first (the kernel routes it); for a link-local IPv6 address, the
 * one bound to its zone's link-local address (a link-local address means something on its own link
 * only, RFC 4007 §6), else, on an interface not chosen, the routed one (the zone picks the link);
 * for a unique-local or global one, the routed one, whose source address the device can answer.
 */
export function probeSocketFor(ip: string, sockets: ProbeSockets): SendingSocket | undefined {
  if (isIPv4(ip)) return sockets.ipv4.find((s) => inCidr(ip, s.iface.cidr)) ?? sockets.ipv4[0];
  const zone = zoneOf(ip);
  return (zone === undefined ? undefined : sockets.ipv6.find((s) => s.iface.name === zone)) ?? sockets.routed ?? undefined;
}
