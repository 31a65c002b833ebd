/**
 * Misaddressed devices: on this segment, but with an IPv4 address no chosen interface's subnet holds
 * (a factory default such as Hikvision's 192.168.1.64 or Dahua's 192.168.1.108 on a segment with
 * another subnet, a static address from a previous site, a failed DHCP). They still answer
 * link-layer multicast — SADP, DHIP, WS-Discovery — and a camera replies to the searcher on the link
 * from its foreign address even with no route to it (snow-tree/camera-probe issue 17: "the camera
 * responds by sending a packet back to my machine's IP address. However, of course its source
 * address is not on my subnet"). IPv4 cannot reach them: the scanner has no route to that address.
 *
 * The discoverers only report what they heard (the sender's address, and the `sadp.ipv4` /
 * `dhip.ipv4` address, mask and gateway, or the WS-Discovery XAddr, that the reply claims); this
 * module decides, from the chosen interfaces' subnets:
 *
 * - a device is misaddressed when every address it was heard at lies outside every chosen subnet,
 *   and the address it claims does too. It is listed at the address it claims, flagged with the
 *   subnet it would need (claimed address / claimed mask) and keeps its MAC (so an IPv6 sighting of
 *   the same unit can be joined to it);
 * - no active probe ever goes to an address outside every chosen subnet that the operator did not
 *   name (`probeableObservations`): such an address is not reachable from here and may not be the
 *   operator's to touch. Where the same device answered over IPv6 link-local on a chosen interface
 *   (a WS-Discovery ProbeMatch from its fe80:: address), that address is on the link and is probed
 *   like any device heard over IPv6 (agent/discovery/probe-hosts.ts `heardHosts`: the IPv4 answer
 *   that would have it probed over IPv4 instead is left out here), so its ONVIF device service and
 *   web pages are read there; the merge joins both sightings, and the device stays flagged.
 *
 * A device heard at an address inside a chosen subnet is reachable there, whatever it claims, and is
 * not flagged.
 */
import { isIPv4 } from 'node:net';
import { cidrRange, inCidr, intToIpv4, ipv4ToInt } from '../net/ipv4.js';
import type { TargetSet } from '../targets.js';
import type { Device, Misaddressing, Observation } from '../types.js';
import type { Knowledge } from '../knowledge/index.js';
import { buildDevice } from './assess.js';
import type { ObservedHost } from './merge.js';

/** The fields a reply's claimed IPv4 configuration is read from, by discovery method (agent/protocols/sadp.ts, dhip.ts). */
const CLAIMED_IPV4_FIELDS: ReadonlyArray<{ source: Observation['source']; address: string; mask: string; gateway: string }> = [
  { source: 'sadp', address: 'sadp.ipv4', mask: 'sadp.ipv4Mask', gateway: 'sadp.ipv4Gateway' },
  { source: 'dhip', address: 'dhip.ipv4', mask: 'dhip.ipv4Mask', gateway: 'dhip.ipv4Gateway' },
];

/** What a device says its IPv4 configuration is. */
interface ClaimedIpv4 {
  address: string;
  mask: string | null;
  gateway: string | null;
}

function field(o: Observation, name: string): string | null {
  const value = o.fields[name];
  return typeof value === 'string' && isIPv4(value) ? value : null;
}

/**
 * The prefix length of a dotted subnet mask, or null when it is not a contiguous run of ones
 * followed by zeros (RFC 950 §2.1 allows others, RFC 4632 §3.1 retired them) or is 0.0.0.0 (a
 * "subnet" of every address, which names none).
 */
export function maskPrefixLength(mask: string): number | null {
  if (!isIPv4(mask)) return null;
  const n = ipv4ToInt(mask);
  for (let bits = 1; bits <= 32; bits++) {
    if (n === 2 ** 32 - 2 ** (32 - bits)) return bits;
  }
  return null;
}

/** `address/mask` as the block it names (`192.168.1.0/24`), or null when the mask is unusable. */
export function claimedSubnet(address: string, mask: string | null): string | null {
  const bits = mask === null ? null : maskPrefixLength(mask);
  if (bits === null || !isIPv4(address)) return null;
  return `${intToIpv4(cidrRange(ipv4ToInt(address), bits).first)}/${bits}`;
}

/** The IPv4 address a WS-Discovery XAddr names (`http://192.168.1.64/onvif/device_service`), or null. */
function xaddrIpv4(xaddr: string): string | null {
  try {
    const host = new URL(xaddr).hostname;
    return isIPv4(host) ? host : null;
  } catch {
    return null;
  }
}

/** The first IPv4 configuration the device's replies claim: SADP or DHIP (address, mask, gateway), else a WS-Discovery XAddr's address. */
function claimedIpv4(observations: readonly Observation[]): ClaimedIpv4 | null {
  for (const o of observations) {
    for (const spec of CLAIMED_IPV4_FIELDS) {
      const address = o.source === spec.source ? field(o, spec.address) : null;
      if (address) return { address, mask: field(o, spec.mask), gateway: field(o, spec.gateway) };
    }
  }
  for (const o of observations) {
    const xaddrs = o.source === 'ws-discovery' ? o.fields['onvif.xaddr'] : undefined;
    const address = (Array.isArray(xaddrs) ? xaddrs : []).map(xaddrIpv4).find((ip) => ip !== null);
    if (address) return { address, mask: null, gateway: null };
  }
  return null;
}

const onLink = (ip: string, subnets: readonly string[]): boolean => subnets.some((subnet) => inCidr(ip, subnet));

/**
 * Why `host` is a device IPv4 cannot reach from the chosen interfaces, or null when it is not:
 * every address it was heard at, and the address it claims (when it claims one), lie outside every
 * chosen subnet. With no subnet chosen nothing is flagged.
 */
export function misaddressing(host: ObservedHost, subnets: readonly string[]): Misaddressing | null {
  // Only IPv4 is judged here: a device also heard over IPv6 (link-local) is still out of IPv4's reach.
  const heard = host.addresses.filter((ip) => isIPv4(ip));
  if (subnets.length === 0 || heard.some((ip) => onLink(ip, subnets))) return null;
  const claimed = claimedIpv4(host.observations);
  const address = claimed?.address ?? heard[0];
  if (address === undefined || onLink(address, subnets)) return null;
  const subnet = claimed ? claimedSubnet(claimed.address, claimed.mask) : null;
  const heardFrom = heard.find((ip) => ip !== address);
  return {
    address,
    ...(subnet ? { subnet } : {}),
    ...(claimed?.gateway ? { gateway: claimed.gateway } : {}),
    ...(heardFrom && !heard.includes(address) ? { heardFrom } : {}),
  };
}

/**
 * The observations later phases may take hosts to probe from: none about an IPv4 address outside
 * every chosen subnet that the operator did not name (a misaddressed device's, or anything else heard
 * from off the link's subnets). Other families are left to their own rules.
 */
export function probeableObservations(observations: readonly Observation[], subnets: readonly string[], targets: TargetSet): Observation[] {
  return observations.filter((o) => !isIPv4(o.ip) || onLink(o.ip, subnets) || targets.has(o.ip));
}

/** The device record of `host`, flagged and listed at the address it claims when it is misaddressed. */
export function assessHost(db: Knowledge, host: ObservedHost, subnets: readonly string[]): Device {
  const flag = misaddressing(host, subnets);
  if (!flag) return buildDevice(db, host);
  return { ...buildDevice(db, { ...host, ip: flag.address }), misaddressed: flag };
}
