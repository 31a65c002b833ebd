/**
 * SSDP discovery (UPnP Device Architecture 1.1 §1) with node-ssdp, and the UPnP device
 * descriptions the answers point to (§2).
 *
 * Listen phase (`ssdpSearch`), on every chosen interface:
 * - an M-SEARCH client on a socket bound to the interface's address (node-ssdp
 *   `{interfaces: [name], explicitSocketBind: true}`: bound any other way, answers arrive twice or
 *   not at all, as measured with node-ssdp 4.0.1 in a network-namespace lab), sending `ssdp:all`
 *   and `upnp:rootdevice` twice each;
 * - a NOTIFY listener. Measured in the lab: a socket bound to the interface's address receives no
 *   NOTIFY at all (Linux delivers multicast only to sockets bound to the group or the wildcard
 *   address), so announcements need a second node-ssdp client bound to 0.0.0.0:1900
 *   (`{interfaces: [name], sourcePort: 1900}`), which joins 239.255.255.250 on that interface but,
 *   being a wildcard socket, also hears groups joined on other interfaces. It cannot be held to
 *   one interface; the sender's subnet is checked instead.
 * SSDP is link-scoped (multicast TTL 1 here, like WS-Discovery), so only answers from a chosen
 * interface's subnet are kept. Answers are de-duplicated by (responder address, USN) and reported
 * as one observation per responder when the window closes; each new LOCATION is also passed on as
 * heard (ScanContext.heardEarly), so that its description can be fetched before the window closes.
 *
 * - over IPv6, an M-SEARCH to [FF02::C]:1900 from each interface's link-local address, on the
 *   agent's own sockets (node-ssdp opens `udp4` sockets only); answers are parsed by
 *   agent/protocols/upnp.ts (parseSsdpResponse). NOTIFY announcements to [FF02::C]:1900 (UDA 2.0
 *   §1.2.2) are heard on a socket per interface bound to the group on that interface
 *   (withGroupSockets) and parsed by parseSsdpAlive.
 *
 * Probe phase (`upnpDescription`, active only): GET of each LOCATION, but only a LOCATION on the
 * responder's own address (a device must not point the agent at another host), size- and
 * time-capped, parsed by agent/protocols/upnp.ts.
 */
import type { EventEmitter } from 'node:events';
import { isIPv4 } from 'node:net';
import type { RemoteInfo } from 'node:dgram';
import ssdp, { type Client, type ClientOptions } from 'node-ssdp';
import { httpRequest } from '../net/http-client.js';
import { zoneOf } from '../net/ip-address.js';
import { sleep } from '../net/abort.js';
import { repeatDelay, withGroupSockets, withInterfaceSockets, type Datagram, type InterfaceSocket } from '../net/udp.js';
import { isIpv6LinkLocal, type ScanInterface } from '../net/interfaces.js';
import { inCidr } from '../net/ipv4.js';
import {
  buildMSearchIpv6,
  descriptionFields,
  descriptionUrl,
  parseSsdpAlive,
  parseSsdpResponse,
  SSDP_MULTICAST_ADDRESS_IPV6,
  SSDP_PORT,
  parseDeviceDescription,
  ssdpAnnouncement,
  SSDP_SEARCH_TARGETS,
  type SsdpAnnouncement,
  UPNP_DESCRIPTION_MAX_BYTES,
} from '../protocols/upnp.js';
import type { Logger } from '../log.js';
import type { Fields, Observation } from '../types.js';
import { probeHosts } from './probe-hosts.js';
import { asTheyCome, claimUnprobed } from './probe-passes.js';
import type { ScanBounds } from './bounds.js';
import { cleanDeviceFields, CLEANED_FIELD } from '../safe-text.js';
import type { Discoverer, ScanContext } from './types.js';

/** Discovery stays on the local link (RFC 2365 scoping; UDA 1.1 only says the TTL SHOULD be configurable). */
const SSDP_MULTICAST_TTL = 1;
/** How many times each M-SEARCH is sent (UDP loses packets; UDA 1.1 §1.3.2 suggests repeating). */
const SEND_COUNT = 2;
/** Binding a UDP socket is local and immediate; a client not started by then is given up. */
const START_TIMEOUT_MS = 1000;
/** Bounds on what a flood of answers can make the agent hold. */
const MAX_RESPONDERS = 1024;
const MAX_USNS_PER_RESPONDER = 64;

const DESCRIPTION_TIMEOUT_MS = 3000;
const DESCRIPTIONS_PER_DEVICE = 8;
const DESCRIPTION_CONCURRENCY = 8;
/** All descriptions together get at most this long (each request is capped too). */
const DESCRIPTIONS_BUDGET_MS = 15_000;

/** True when `ip` is an IPv4 address inside the subnet of one of the chosen interfaces. */
export function onChosenSubnet(interfaces: readonly ScanInterface[], ip: string): boolean {
  return interfaces.some((iface) => inCidr(ip, iface.cidr));
}

/** What each responder said: its announcements, keyed by USN (or LOCATION when it sent no USN). */
class Responders {
  private readonly byIp = new Map<string, Map<string, SsdpAnnouncement>>();
  private readonly malformedFrom = new Map<string, number>();
  private full = false;

  constructor(
    private readonly interfaces: readonly ScanInterface[],
    private readonly log: Logger,
    private readonly bounds: ScanBounds,
    /** Told of each responder's LOCATIONs as they are heard, each once. */
    private readonly onLocation: (from: string, location: string) => void = () => undefined,
  ) {}

  record(headers: unknown, from: string, via: 'search' | 'notify'): void {
    // An IPv6 link-local sender answered on a chosen interface's link-local socket: on that link.
    if (!onChosenSubnet(this.interfaces, from) && !isIpv6LinkLocal(from)) {
      this.log.debug({ from, via }, 'SSDP message from outside the chosen interfaces’ subnets ignored');
      return;
    }
    const announcement = typeof headers === 'object' && headers !== null ? ssdpAnnouncement(headers as Record<string, unknown>) : null;
    if (!announcement) {
      const count = (this.malformedFrom.get(from) ?? 0) + 1;
      this.malformedFrom.set(from, count);
      if (count === 1) this.log.warn({ from, via }, 'malformed SSDP message dropped (no usable USN or LOCATION)');
      return;
    }
    let heard = this.byIp.get(from);
    if (!heard) {
      if (this.byIp.size >= MAX_RESPONDERS) {
        if (!this.full) this.log.warn({ max: MAX_RESPONDERS }, 'too many SSDP responders: the rest are ignored');
        this.full = true;
        this.bounds.dropped('ssdp.responders', 1, { from, max: MAX_RESPONDERS });
        return;
      }
      heard = new Map();
      this.byIp.set(from, heard);
    }
    const key = announcement.usn !== null ? `usn ${announcement.usn}` : `location ${announcement.location}`;
    if (heard.has(key)) return;
    if (heard.size >= MAX_USNS_PER_RESPONDER) return void this.bounds.dropped('ssdp.per-source', 1, { from, max: MAX_USNS_PER_RESPONDER });
    const { location } = announcement;
    const newLocation = location !== null && ![...heard.values()].some((a) => a.location === location);
    heard.set(key, announcement);
    if (newLocation) this.onLocation(from, location);
  }

  /** One observation per responder, its values de-duplicated and sorted. */
  observations(): Observation[] {
    const at = new Date().toISOString();
    const distinct = (values: (string | null)[]): string[] => [...new Set(values.filter((v): v is string => v !== null))].sort();
    return [...this.byIp.entries()].map(([ip, heard]) => {
      const announcements = [...heard.values()];
      const fields: Fields = {};
      const put = (name: string, values: string[]): void => {
        if (values.length > 0) fields[name] = values;
      };
      put('ssdp.server', distinct(announcements.map((a) => a.server)));
      put('ssdp.st', distinct(announcements.map((a) => a.target)));
      put('ssdp.usn', distinct(announcements.map((a) => a.usn)));
      put('ssdp.location', distinct(announcements.map((a) => a.location)));
      return { source: 'ssdp', ip, at, status: 'ok', fields: cleanDeviceFields(fields) };
    });
  }

  malformedCount(): number {
    return [...this.malformedFrom.values()].reduce((a, b) => a + b, 0);
  }
}

/** Starts a node-ssdp client; false when it could not bind in time (logged by the caller). */
async function started(client: Client): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), START_TIMEOUT_MS);
  });
  try {
    const start = client.start().then(
      () => true,
      () => false,
    );
    return await Promise.race([start, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export const ssdpSearch: Discoverer<'ssdp'> = {
  name: 'ssdp',
  phase: 'listen',
  evidence: 'ssdp',
  emits: ['ssdp.server', 'ssdp.st', 'ssdp.usn', 'ssdp.location', CLEANED_FIELD],
  description: 'SSDP M-SEARCH (ssdp:all, upnp:rootdevice) and NOTIFY listening (UDP 1900, multicast 239.255.255.250 and FF02::C)',

  async run(ctx: ScanContext, emit: (o: Observation) => void): Promise<void> {
    const log = ctx.log.child({ module: 'ssdp' });
    // Each LOCATION as heard, for the description probe (cleaned as the observation's own values are).
    const onLocation = (ip: string, location: string): void =>
      ctx.heardEarly?.({ source: 'ssdp', ip, at: new Date().toISOString(), status: 'ok', fields: cleanDeviceFields({ 'ssdp.location': [location] }) });
    const responders = new Responders(ctx.interfaces, log, ctx.bounds, onLocation);
    // node-ssdp's own messages (every packet) go to trace, never to stderr by themselves.
    const customLogger = (format: string, ...args: unknown[]): void => log.trace({ nodeSsdp: args }, format);
    const onMessage =
      (via: 'search' | 'notify') =>
      (headers: unknown, rinfo: RemoteInfo): void => {
        try {
          responders.record(headers, rinfo.address, via);
        } catch (error) {
          log.warn({ from: rinfo.address, err: String(error) }, 'SSDP message could not be handled; dropped');
        }
      };

    const clients: Client[] = [];
    const searchers: Client[] = [];
    /** Datagrams on the IPv6 group sockets that were no ssdp:alive (searches, byebyes, garbage). */
    let notAlive6 = 0;
    try {
      // Every interface's clients are started side by side: on a loaded machine each start can take
      // a good part of START_TIMEOUT_MS, and one after another they used up the window before any
      // M-SEARCH was sent.
      const startOn = async (iface: ScanInterface): Promise<void> => {
        const searcher = new ssdp.Client({ interfaces: [iface.name], explicitSocketBind: true, ssdpTtl: SSDP_MULTICAST_TTL, customLogger });
        // UDA 1.1 §1.3.3: a device answers an M-SEARCH with 200 OK; any other status is no answer.
        searcher.on('response', (headers, status, rinfo) => {
          if (status === 200) onMessage('search')(headers, rinfo);
          else log.debug({ from: rinfo.address, status }, 'SSDP answer with a status other than 200 ignored');
        });
        const listener = new ssdp.Client({ interfaces: [iface.name], sourcePort: SSDP_PORT, ssdpTtl: SSDP_MULTICAST_TTL, customLogger } as ClientOptions);
        (listener as EventEmitter).on('advertise-alive', onMessage('notify'));
        clients.push(searcher, listener);
        const [searching, listening] = await Promise.all([started(searcher), started(listener)]);
        if (searching) searchers.push(searcher);
        else log.warn({ iface: iface.name }, 'SSDP search socket could not be opened on this interface; no M-SEARCH sent there');
        if (!listening) log.info({ iface: iface.name, port: SSDP_PORT }, 'UDP port 1900 unavailable: SSDP announcements (NOTIFY) are not heard on this interface');
      };
      await Promise.all(ctx.interfaces.map(startOn));

      // IPv6: node-ssdp opens udp4 sockets only, so the M-SEARCH to [FF02::C]:1900 goes from the
      // agent's own per-interface link-local sockets; their answers are parsed by the pure codec.
      const onDatagram6 = (d: Datagram): void => {
        const answer = d.port === SSDP_PORT ? parseSsdpResponse(d.bytes) : null;
        if (answer?.status === 200) onMessage('search')(answer.headers, { address: d.from, port: d.port, family: 'IPv6', size: d.bytes.length });
        else log.debug({ from: d.from, port: d.port, bytes: d.bytes.length }, 'SSDP datagram over IPv6 that is no 200 answer from port 1900 ignored');
      };
      // NOTIFYs to [FF02::C]:1900, on each interface's own group socket. Its own M-SEARCHes and
      // other control points' come back there too: anything but an ssdp:alive is ignored.
      const announcers6 = new Set<string>();
      const onNotify6 = (d: Datagram): void => {
        const headers = parseSsdpAlive(d.bytes);
        if (headers === null) return void (notAlive6 += 1);
        if (!announcers6.has(d.from) && announcers6.size < MAX_RESPONDERS) {
          announcers6.add(d.from);
          log.debug({ from: d.from }, 'SSDP announcement (NOTIFY ssdp:alive) heard over IPv6');
        }
        onMessage('notify')(headers, { address: d.from, port: d.port, family: 'IPv6', size: d.bytes.length });
      };
      const listenWindow = async (sockets6: InterfaceSocket[]): Promise<void> => {
        const window = sleep(ctx.timeoutMs, ctx.signal);
        for (let round = 0; round < SEND_COUNT && !ctx.signal.aborted; round++) {
          for (const searcher of searchers) for (const target of SSDP_SEARCH_TARGETS) void searcher.search(target);
          for (const socket of sockets6) for (const target of SSDP_SEARCH_TARGETS) socket.send(buildMSearchIpv6(target), SSDP_MULTICAST_ADDRESS_IPV6, SSDP_PORT);
          await sleep(repeatDelay(), ctx.signal);
        }
        await window;
      };
      const group6 = { address: SSDP_MULTICAST_ADDRESS_IPV6, port: SSDP_PORT };
      await withGroupSockets(ctx.interfaces, log, group6, onNotify6, () =>
        withInterfaceSockets(ctx.interfaces, log, onDatagram6, listenWindow, 'ipv6'),
      );
    } finally {
      for (const client of clients) client.stop();
    }

    const observations = responders.observations();
    for (const o of observations) {
      log.debug({ ip: o.ip, fields: o.fields }, 'SSDP responder heard');
      emit(o);
    }
    log.info({ responders: observations.length, malformed: responders.malformedCount(), notAlive6 }, 'SSDP finished');
  },
};

/**
 * The descriptions to fetch that no earlier view gave (claimed now): each responder's LOCATIONs that
 * name the responder itself, the first few heard per device (`perDevice` counts them across views).
 */
function descriptionWork(ctx: ScanContext, log: Logger, perDevice: Map<string, number>): [string, URL][] {
  const work = new Map<string, [string, URL]>();
  for (const o of ctx.seen) {
    const locations = o.fields['ssdp.location'];
    if (o.source !== 'ssdp' || !Array.isArray(locations)) continue;
    for (const location of locations) {
      const url = descriptionUrl(location, o.ip);
      // Said once, in the first view that shows it.
      const firstSeen = (): boolean => claimUnprobed(ctx, 'upnp-description', [location], (l) => `refused ${o.ip} ${l}`).length > 0;
      if (!url) {
        // A dual-stack device answering over IPv6 may name its IPv4 description: nothing amiss.
        if (!firstSeen()) continue;
        if (isIPv4(o.ip)) log.warn({ ip: o.ip, location }, 'SSDP LOCATION is not an http(s) URL on the announcing device itself: description not fetched');
        else log.debug({ ip: o.ip, location }, 'SSDP LOCATION of an IPv6 answer is not on its own address: description not fetched from it');
        continue;
      }
      const count = perDevice.get(o.ip) ?? 0;
      if (work.has(url.href) || count >= DESCRIPTIONS_PER_DEVICE) continue;
      if (claimUnprobed(ctx, 'upnp-description', [url.href], (href) => href).length === 0) continue;
      perDevice.set(o.ip, count + 1);
      work.set(url.href, [o.ip, url]);
    }
  }
  return [...work.values()];
}

async function fetchDescription(signal: AbortSignal, log: Logger, ip: string, url: URL): Promise<Observation> {
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const observation = (status: Observation['status'], fields: Fields): Observation => ({
    source: 'upnp-description',
    ip,
    port,
    at: new Date().toISOString(),
    status,
    // The Server header joins the codec's fields here: both are cleaned.
    fields: cleanDeviceFields(fields),
  });
  const result = await httpRequest({
    zone: zoneOf(ip),
    url,
    method: 'GET',
    headers: { Accept: 'text/xml, application/xml' },
    timeoutMs: DESCRIPTION_TIMEOUT_MS,
    maxBodyBytes: UPNP_DESCRIPTION_MAX_BYTES,
    signal,
  });
  if (!result.ok) {
    log.debug({ ip, url: url.href, status: result.status, reason: result.reason }, 'UPnP description not fetched');
    return observation(result.status, {});
  }
  const { response } = result;
  const server: Fields = typeof response.headers.server === 'string' ? { 'upnp.http.server': response.headers.server } : {};
  if (response.status !== 200 || response.truncated) {
    log.warn({ ip, url: url.href, http: response.status, truncated: response.truncated }, 'UPnP description refused (not HTTP 200, or larger than the cap)');
    return observation('protocol-error', server);
  }
  const description = parseDeviceDescription(response.body);
  if (!description) {
    log.warn({ ip, url: url.href, bytes: response.body.length }, 'UPnP description refused (DTD or entity declaration, not well-formed, or not a device description)');
    return observation('protocol-error', server);
  }
  return observation('ok', { ...server, ...descriptionFields(description) });
}

export const upnpDescription: Discoverer<'upnp-description'> = {
  name: 'upnp-description',
  phase: 'probe',
  evidence: 'ssdp',
  emits: [
    'upnp.deviceType', 'upnp.friendlyName', 'upnp.manufacturer', 'upnp.modelName', 'upnp.modelNumber', 'upnp.modelDescription',
    'upnp.serialNumber', 'upnp.udn', 'upnp.presentationURL', 'upnp.http.server', CLEANED_FIELD,
  ],
  description: 'UPnP device description: HTTP GET of each SSDP LOCATION on the announcing device’s own address',
  incremental: true,

  async run(ctx: ScanContext, emit: (o: Observation) => void): Promise<void> {
    if (!ctx.active) return;
    const log = ctx.log.child({ module: 'upnp-description' });
    let total = 0;
    const perDevice = new Map<string, number>();
    // The work of all that was heard, in the order heard (so each device's first LOCATIONs stay its
    // chosen ones as more is heard), less what an earlier view gave.
    const queue = asTheyCome(ctx, (view) => {
      const found = descriptionWork(view, log, perDevice);
      if (total === 0 && found.length > 0) log.debug({ descriptions: found.length }, 'UPnP descriptions started');
      total += found.length;
      return found;
    });
    await probeHosts(ctx, queue, { concurrency: DESCRIPTION_CONCURRENCY, budgetMs: DESCRIPTIONS_BUDGET_MS }, ([ip]) => ip, async ([ip, url], { signal, limiter }) => {
      if (!(await limiter.take(signal))) return;
      emit(await fetchDescription(signal, log, ip, url));
    });
    log.info({ descriptions: total }, 'UPnP descriptions finished');
  },
};
