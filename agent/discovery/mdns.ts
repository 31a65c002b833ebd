/**
 * mDNS / DNS-SD discovery (RFC 6762, RFC 6763) with bonjour-service: one PTR browse per service
 * type listed in fingerprints/mdns-services.yaml, sent twice, on every chosen interface, during the
 * discovery window. Emits one observation per (address, service instance).
 *
 * - One bonjour-service instance per interface, `{interface: <its IPv4>, bind: '0.0.0.0'}`
 *   (measured with bonjour-service 1.4.4 in a network-namespace lab: with `interface` alone the
 *   socket is bound to the unicast address and hears nothing). It sends its queries from
 *   UDP 5353, so responders treat them as full mDNS queries (RFC 6762 §6) and answer by multicast,
 *   which this socket receives; a responder that answers legacy queries only by multicast
 *   (bonjour-service's own: in the same lab it did not answer nmap 7.93's queries from a random port)
 *   is heard all the same. It never publishes anything.
 * - Over IPv6 too: on each interface with an IPv6 link-local address, a second instance queries
 *   [FF02::FB]:5353 (RFC 6762 §3) from that address, on a socket bound to the group with the
 *   interface as zone (`ff02::fb%eth0`: Linux ties a socket bound to a scoped address to that
 *   interface, torvalds/linux net/ipv6/af_inet6.c __inet6_bind, so it hears that link alone).
 *   Measured with bonjour-service 1.4.4 / multicast-dns 7.2.5 between two network namespaces: the
 *   query left from the link-local address, and the answer came from `fe80::…%eth0` with A and
 *   AAAA records.
 * - Addresses (instanceAddresses): an instance is reported at the addresses of its A and AAAA
 *   records (RFC 6763 §12.3: sent with the answer) of the family it was heard over and on the link
 *   it was heard on: from an IPv4 answer, A addresses on a chosen interface's subnet; from an IPv6
 *   answer, AAAA link-local addresses with the zone of the interface the answer came in on (a
 *   responder names only addresses valid on that interface, RFC 6762 §14). So a device is listed
 *   at an IPv6 address only when it answered over IPv6. mDNS is link-local (RFC 6762 §11), so
 *   another address is another network of a multi-homed device or a false claim; neither can be
 *   checked or given a MAC by this scan, and it is dropped (so are unique-local and global AAAA
 *   addresses: the agent knows no IPv6 prefix of its interfaces to check them against). With no
 *   usable record the sender's own address is used. When the answer came from another address
 *   than the one it names (an mDNS proxy, or a false claim), `mdns.answeredBy` says so.
 * - TXT (RFC 6763 §6) is decoded from the raw strings: keys case-folded, the first occurrence
 *   of a key wins, at most MAX_TXT_KEYS keys, values capped. Names, host and TXT values are cleaned
 *   where they become the observation's fields (cleanDeviceFields).
 */
import type { EventEmitter } from 'node:events';
import { isIPv4 } from 'node:net';
import Bonjour from 'bonjour-service';
import { interfaceOnSubnet, isIpv6LinkLocal, type ScanInterface } from '../net/interfaces.js';
import { withoutZone, zoneOf } from '../net/ip-address.js';
import { canonicalIpv6 } from '../net/ipv6.js';
import { repeatDelay, type SocketFamily } from '../net/udp.js';
import { sleep } from '../net/abort.js';
import type { Logger } from '../log.js';
import type { Fields, Observation } from '../types.js';
import { onChosenSubnet } from './ssdp.js';
import type { ServiceType } from '../knowledge/tables.js';
import type { ScanBounds } from './bounds.js';
import type { Discoverer, ScanContext } from './types.js';
import { cleanDeviceFields, cleanDeviceText, CLEANED_FIELD } from '../safe-text.js';


/** The IPv6 mDNS group, of link-local scope (RFC 6762 §3: FF02::FB). */
export const MDNS_GROUP_IPV6 = 'ff02::fb';

/** How many times each query is sent (UDP loses packets; RFC 6762 §5.2 repeats queries too). */
const SEND_COUNT = 2;
/** Binding a UDP socket is local and immediate; an instance not ready by then is given up. */
const READY_TIMEOUT_MS = 1000;
/** Bounds on what a flood of answers can make the agent hold. */
const MAX_INSTANCES = 4096;
const MAX_INSTANCES_PER_ADDRESS = 64;
export const MAX_TXT_KEYS = 32;
/**
 * Records of one response handed on to bonjour-service's browsers, answers first: its browser
 * compares every PTR with every record of the packet, so one 64 KiB response of 1,320 records
 * cost about 220 ms of CPU (measured here with bonjour-service 1.4.4), cut to 64 about 3 ms. A
 * device's answer for a service type is a few records per instance (PTR, SRV, TXT, A: RFC 6763
 * §12), and RFC 6762 §17 keeps a packet under 9,000 bytes.
 */
export const MAX_MDNS_RECORDS_PER_PACKET = 64;
/** A TXT string is at most 255 bytes (RFC 6763 §6.1); names (RFC 1035 §2.3.4) likewise. */
export const MAX_MDNS_VALUE_LENGTH = 255;

/** A name fit to keep: a string, trimmed, not over the cap, not empty once cleaned; kept as sent until it becomes a field. */
function keptText(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const text = value.trim();
  return cleanDeviceText(text).length > 0 && text.length <= MAX_MDNS_VALUE_LENGTH ? text : null;
}

/** A TXT key that is safe inside a field name: RFC 6763 §6.4 allows more, those are skipped. */
const TXT_KEY = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/**
 * `mdns.txt.<key>` fields from the raw TXT strings (RFC 6763 §6): a string without '=' is a
 * boolean attribute (value ''); keys are case-insensitive (§6.4), so folded to lower case; only
 * the first occurrence of a key counts (§6.4); empty strings are skipped (§6.1). Keys that would
 * not make a plain field name, values over the cap and keys past MAX_TXT_KEYS are dropped. Values
 * are as sent, trimmed: they are cleaned with the instance's other fields.
 */
export function txtFields(strings: unknown): Fields {
  const fields: Fields = {};
  if (!Array.isArray(strings)) return fields;
  const seen = new Set<string>();
  for (const item of strings) {
    if (seen.size >= MAX_TXT_KEYS) break;
    if (!Buffer.isBuffer(item) || item.length === 0) continue;
    const equals = item.indexOf(0x3d);
    const key = item.subarray(0, equals < 0 ? item.length : equals).toString('latin1').toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    if (!TXT_KEY.test(key)) continue;
    if (equals < 0) {
      fields[`mdns.txt.${key}`] = '';
      continue;
    }
    const value = item.subarray(equals + 1).toString('utf8').trim();
    if (value.length <= MAX_MDNS_VALUE_LENGTH) fields[`mdns.txt.${key}`] = value;
  }
  return fields;
}

/** The record lists of a decoded packet (dns-packet, under multicast-dns). */
interface DecodedPacket {
  answers?: unknown[];
  authorities?: unknown[];
  additionals?: unknown[];
}

/**
 * Cuts a decoded response down to `max` records in place (answers first, then authority and
 * additional records), before anything else reads it; returns how many were cut.
 */
export function capResponseRecords(packet: DecodedPacket, max: number): number {
  let room = max;
  let cut = 0;
  for (const section of ['answers', 'authorities', 'additionals'] as const) {
    const records = packet[section];
    if (!Array.isArray(records)) continue;
    const keep = Math.min(records.length, room);
    cut += records.length - keep;
    records.length = keep;
    room -= keep;
  }
  return cut;
}

/** The chosen interface an answer from `sender` came in on: the one whose subnet holds an IPv4 sender, the zone of a link-local one. */
function arrivalInterface(interfaces: readonly ScanInterface[], sender: string): ScanInterface | undefined {
  if (isIPv4(sender)) return interfaceOnSubnet(interfaces, sender);
  const zone = zoneOf(sender);
  return isIpv6LinkLocal(sender) && zone !== undefined ? interfaces.find((i) => i.name === zone) : undefined;
}

/**
 * Where an instance is reported (see the module comment): the addresses its A and AAAA records name
 * (`named`, as sent: no zone) that are of the family the answer came over and on the link of its
 * `sender` (the answer's source address), each once: IPv4 ones on a chosen interface's subnet,
 * IPv6 link-local ones with the zone of the interface the answer came in on (`fe80::…%eth0`); else
 * the sender itself, when it is on a chosen link. `dropped` lists the rest.
 */
export function instanceAddresses(interfaces: readonly ScanInterface[], named: readonly string[], sender: string | null): { kept: string[]; dropped: string[] } {
  const arrival = sender === null ? undefined : arrivalInterface(interfaces, sender);
  const overIpv4 = sender !== null && isIPv4(sender);
  const kept = new Set<string>();
  const dropped: string[] = [];
  for (const address of named) {
    const onLink = overIpv4
      ? isIPv4(address) && onChosenSubnet(interfaces, address) ? address : null
      : arrival !== undefined && isIpv6LinkLocal(address) ? canonicalIpv6(`${withoutZone(address)}%${arrival.name}`) : null;
    if (onLink === null) dropped.push(address);
    else kept.add(onLink);
  }
  if (kept.size === 0 && sender !== null && arrival !== undefined) kept.add(overIpv4 ? sender : (canonicalIpv6(sender) ?? sender));
  return { kept: [...kept], dropped };
}

/** A resolved service instance as bonjour-service's Browser reports it (raw TXT included, which its type omits). */
type FoundService = Bonjour.Service & { rawTxt?: unknown };

class Instances {
  private readonly byKey = new Map<string, { ip: string; fields: Fields }>();
  private readonly perAddress = new Map<string, number>();
  private full = false;

  constructor(
    private readonly interfaces: ScanContext['interfaces'],
    private readonly log: Logger,
    private readonly bounds: ScanBounds,
  ) {}

  record(service: FoundService, type: ServiceType): void {
    const name = keptText(service.name);
    if (name === null) {
      this.log.debug({ type: type.type }, 'mDNS instance without a usable name dropped');
      return;
    }
    const referer = service.referer?.address;
    const sender = typeof referer === 'string' ? (isIPv4(referer) ? referer : (canonicalIpv6(referer) ?? referer)) : null;
    const named = (service.addresses ?? []).filter((a): a is string => typeof a === 'string');
    const { kept: addresses, dropped } = instanceAddresses(this.interfaces, named, sender);
    if (dropped.length > 0) this.log.debug({ name, type: type.type, sender, dropped }, 'mDNS addresses off the link the answer came from ignored');
    if (addresses.length === 0) {
      this.log.debug({ name, type: type.type, sender }, 'mDNS instance with no address on a chosen link dropped');
      return;
    }
    const fields: Fields = { 'mdns.name': name, 'mdns.type': type.type };
    const host = keptText(service.host);
    if (host !== null) fields['mdns.host'] = host;
    if (Number.isInteger(service.port) && service.port >= 0 && service.port <= 65535) fields['mdns.port'] = String(service.port);
    Object.assign(fields, txtFields(service.rawTxt));
    for (const ip of addresses) {
      const key = `${ip} ${type.type} ${name.toLowerCase()}`;
      if (!this.byKey.has(key)) {
        const count = this.perAddress.get(ip) ?? 0;
        if (count >= MAX_INSTANCES_PER_ADDRESS) {
          this.bounds.dropped('mdns-dns-sd.per-source', 1, { ip, max: MAX_INSTANCES_PER_ADDRESS });
          continue;
        }
        if (this.byKey.size >= MAX_INSTANCES) {
          if (!this.full) this.log.warn({ max: MAX_INSTANCES }, 'too many mDNS service instances: the rest are ignored');
          this.full = true;
          this.bounds.dropped('mdns-dns-sd.total', 1, { ip, max: MAX_INSTANCES });
          return;
        }
        this.perAddress.set(ip, count + 1);
      }
      const answeredBy: Fields = sender !== null && sender !== ip ? { 'mdns.answeredBy': sender } : {};
      // A later answer for the same instance (an SRV or TXT update) replaces the earlier one.
      this.byKey.set(key, { ip, fields: { ...fields, ...answeredBy } });
    }
  }

  observations(): Observation[] {
    const at = new Date().toISOString();
    return [...this.byKey.keys()].sort().map((key) => {
      const { ip, fields } = this.byKey.get(key) as { ip: string; fields: Fields };
      return { source: 'mdns-dns-sd', ip, at, status: 'ok', fields: cleanDeviceFields(fields) };
    });
  }
}

/** multicast-dns, under bonjour-service: the socket's events ('ready', 'error', malformed packets as 'warning'). */
function socketEvents(bonjour: Bonjour): EventEmitter {
  return (bonjour as unknown as { server: { mdns: EventEmitter } }).server.mdns;
}

/**
 * multicast-dns options for one interface and family. IPv4: joined to 224.0.0.251 on the
 * interface's address, bound to 0.0.0.0:5353 (bound to the unicast address it hears nothing).
 * IPv6: joined to FF02::FB on the interface (`::%eth0`), bound to `[ff02::fb%eth0]:5353`, so that
 * queries leave from the interface's link-local address and only that link's answers are heard.
 */
function socketOptions(iface: ScanInterface, family: SocketFamily): object {
  if (family === 'ipv4') return { interface: iface.address, bind: '0.0.0.0' };
  return { type: 'udp6', ip: MDNS_GROUP_IPV6, interface: `::%${iface.name}`, bind: `${MDNS_GROUP_IPV6}%${iface.name}` };
}

/** Resolves true once the instance's socket is bound, false on a bind error or after READY_TIMEOUT_MS. */
function ready(events: EventEmitter): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      events.off('ready', onReady);
      events.off('error', onError);
      resolve(ok);
    };
    const onReady = (): void => done(true);
    const onError = (): void => done(false);
    const timer = setTimeout(() => done(false), READY_TIMEOUT_MS);
    events.once('ready', onReady);
    events.once('error', onError);
  });
}

/** Closes an instance's socket; resolves when closed, or after READY_TIMEOUT_MS whatever happens. */
function closed(bonjour: Bonjour): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, READY_TIMEOUT_MS);
    bonjour.destroy(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export const mdns: Discoverer<'mdns-dns-sd'> = {
  name: 'mdns-dns-sd',
  phase: 'listen',
  evidence: 'mdns',
  emits: ['mdns.name', 'mdns.type', 'mdns.host', 'mdns.port', 'mdns.answeredBy', 'mdns.txt.*', CLEANED_FIELD],
  description: 'mDNS / DNS-SD browse of the service types in fingerprints/mdns-services.yaml (UDP 5353, multicast 224.0.0.251 and FF02::FB)',

  async run(ctx: ScanContext, emit: (o: Observation) => void): Promise<void> {
    const log = ctx.log.child({ module: 'mdns-dns-sd' });
    const types = ctx.knowledge.mdnsServices;
    const instances = new Instances(ctx.interfaces, log, ctx.bounds);
    let malformed = 0;

    const open: Bonjour[] = [];
    const browsers: Bonjour.Browser[] = [];
    /** One bonjour-service instance on `iface` for `family`, browsing every service type; false when its socket did not open. */
    const browse = async (iface: ScanInterface, family: SocketFamily): Promise<boolean> => {
      // bonjour-service types its options as a ServiceConfig; they really go to multicast-dns.
      const options = socketOptions(iface, family) as unknown as Partial<Bonjour.ServiceConfig>;
      const bonjour = new Bonjour(options, (error: unknown) => log.debug({ iface: iface.name, family, err: String(error) }, 'mDNS send failed'));
      open.push(bonjour);
      const events = socketEvents(bonjour);
      events.on('error', (error: Error) => log.warn({ iface: iface.name, family, err: error.message }, 'mDNS socket error'));
      // Registered before any browser exists, so it runs before theirs on every response.
      events.prependListener('response', (packet: DecodedPacket, rinfo: { address?: string }) => {
        const cut = capResponseRecords(packet, MAX_MDNS_RECORDS_PER_PACKET);
        if (cut > 0) ctx.bounds.dropped('mdns-dns-sd.records', cut, { from: rinfo.address, max: MAX_MDNS_RECORDS_PER_PACKET });
      });
      events.on('warning', (error: Error) => {
        malformed += 1;
        log.debug({ iface: iface.name, family, err: error.message }, 'malformed mDNS packet dropped');
      });
      if (!(await ready(events))) return false;
      for (const type of types) {
        const browser = bonjour.find({ type: type.name, protocol: type.protocol });
        const onFound = (service: FoundService): void => {
          try {
            instances.record(service, type);
          } catch (error) {
            log.warn({ type: type.type, err: String(error) }, 'mDNS answer could not be handled; dropped');
          }
        };
        browser.on('up', onFound);
        browser.on('srv-update', onFound);
        browser.on('txt-update', onFound);
        browsers.push(browser);
      }
      return true;
    };
    const browseIpv4 = async (iface: ScanInterface): Promise<void> => {
      if (!(await browse(iface, 'ipv4'))) log.warn({ iface: iface.name }, 'UDP port 5353 could not be opened: no mDNS on this interface');
    };
    const browseIpv6 = async (iface: ScanInterface): Promise<void> => {
      if (!(await browse(iface, 'ipv6'))) log.warn({ iface: iface.name }, 'mDNS over IPv6 ([FF02::FB]:5353) could not be opened on this interface');
    };
    try {
      // Opened side by side, so that a second family costs the window no extra wait.
      await Promise.all(ctx.interfaces.flatMap((iface) => [browseIpv4(iface), ...(iface.ipv6LinkLocal !== undefined ? [browseIpv6(iface)] : [])]));

      const window = sleep(ctx.timeoutMs, ctx.signal);
      // Browsers send their first query when created; the rest of the rounds follow.
      for (let round = 1; round < SEND_COUNT && !ctx.signal.aborted; round++) {
        await sleep(repeatDelay(), ctx.signal);
        for (const browser of browsers) browser.update();
      }
      await window;
    } finally {
      for (const browser of browsers) browser.stop();
      await Promise.all(open.map(closed));
    }

    const observations = instances.observations();
    for (const o of observations) {
      log.debug({ ip: o.ip, fields: o.fields }, 'mDNS service instance heard');
      emit(o);
    }
    if (malformed > 0) log.warn({ malformed }, 'malformed mDNS packets were dropped');
    log.info({ instances: observations.length }, 'mDNS finished');
  },
};
