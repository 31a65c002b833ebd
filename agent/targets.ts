import { isIPv4 } from 'node:net';
import { agentError } from './errors.js';
import { cidrRange, intToIpv4, ipv4ToInt, parseCidr, type Ipv4Range } from './net/ipv4.js';
import { canonicalIpv6, looksLikeIpv6, MAX_IPV6_TARGET_BLOCK, parseIpv6Target } from './net/ipv6.js';

/**
 * The most addresses one scan (or one daemon site) may name: a /16, a council's whole private
 * block (issue 10). Addresses are generated as they are swept, never held all at once, and the
 * sweep's pacing (per host, `--rate`, the neighbour table) keeps it polite at any size.
 */
export const MAX_TARGET_ADDRESSES = 65_536;

/** The operator's TARGET arguments, parsed: the only addresses active probes may touch. */
export interface TargetSet {
  /** The arguments as given, for the inventory's scan.targets. */
  readonly specs: readonly string[];
  has(ip: string): boolean;
  /**
   * Every address, once: IPv4 in ascending order (network and broadcast addresses of a CIDR block
   * excluded), generated as it is read, then the IPv6 ones (few: agent/net/ipv6.ts).
   */
  addresses(): IterableIterator<string>;
  readonly size: number;
}

function parseAddress(spec: string, text: string): number {
  if (!isIPv4(text)) throw agentError('CCTV_ERR_BAD_TARGET', spec, `"${text}" is not an IPv4 address`);
  return ipv4ToInt(text);
}

/** Accepts `A.B.C.D`, `A.B.C.D/N` (RFC 4632 CIDR) and `A.B.C.D-E.F.G.H`. */
function parseTarget(spec: string): Ipv4Range {
  const cidr = /^([^/]+)\/(\d{1,3})$/.exec(spec);
  if (cidr) {
    const base = parseAddress(spec, cidr[1] as string);
    const bits = Number(cidr[2]);
    if (bits > 32) throw agentError('CCTV_ERR_BAD_TARGET', spec, `a prefix length must be 0 to 32, not ${bits}`);
    const { first, last } = cidrRange(base, bits);
    // A block larger than a /31 has a network and a broadcast address that no device holds.
    return bits < 31 ? { first: first + 1, last: last - 1 } : { first, last };
  }
  const range = /^([^-]+)-([^-]+)$/.exec(spec);
  if (range) {
    const first = parseAddress(spec, range[1] as string);
    const last = parseAddress(spec, range[2] as string);
    if (last < first) throw agentError('CCTV_ERR_BAD_TARGET', spec, 'the range ends before it starts');
    return { first, last };
  }
  const single = parseAddress(spec, spec);
  return { first: single, last: single };
}

/**
 * IPv6 addresses that name no single device: unspecified (::), loopback (::1) and multicast
 * (ff00::/8) (RFC 4291 §2.5.2, §2.5.3, §2.7). They are refused as TARGETs.
 */
function ipv6NamesNoDevice(address: string): string | null {
  if (address === '::') return 'the unspecified address';
  if (address === '::1') return 'the loopback address: this machine';
  if (address.startsWith('ff')) return 'a multicast address: it names a group of hosts, not one device';
  return null;
}

/** The addresses of an IPv6 TARGET (agent/net/ipv6.ts), or a coded error. */
function parseIpv6Spec(spec: string): string[] {
  const parsed = parseIpv6Target(spec);
  if (!Array.isArray(parsed)) {
    if (parsed.kind === 'bad') throw agentError('CCTV_ERR_BAD_TARGET', spec, parsed.why);
    throw agentError('CCTV_ERR_IPV6_RANGE_TOO_LARGE', spec, parsed.addresses, MAX_IPV6_TARGET_BLOCK);
  }
  for (const address of parsed) {
    const why = ipv6NamesNoDevice(address.split('%')[0] as string);
    if (why) throw agentError('CCTV_ERR_BAD_TARGET', spec, `${address} is ${why}`);
  }
  return parsed;
}

export function parseTargets(specs: readonly string[]): TargetSet {
  const ranges = specs.filter((s) => !looksLikeIpv6(s)).map(parseTarget);
  const ipv6 = [...new Set(specs.filter(looksLikeIpv6).flatMap(parseIpv6Spec))];
  const size = ranges.reduce((n, r) => n + (r.last - r.first + 1), 0) + ipv6.length;
  if (size > MAX_TARGET_ADDRESSES) throw agentError('CCTV_ERR_TOO_MANY_TARGETS', size, MAX_TARGET_ADDRESSES);
  return targetSet(specs, ranges, new Set(), ipv6);
}

/** The ranges sorted, overlapping and adjacent ones joined. */
function mergeRanges(ranges: readonly Ipv4Range[]): Ipv4Range[] {
  const merged: Array<{ first: number; last: number }> = [];
  for (const r of [...ranges].sort((x, y) => x.first - y.first)) {
    const last = merged.at(-1);
    if (last && r.first <= last.last + 1) last.last = Math.max(last.last, r.last);
    else merged.push({ first: r.first, last: r.last });
  }
  return merged;
}

/** Each TargetSet's own ranges and IPv6 addresses, for probeableTargets to narrow it without listing its addresses. */
const rangesOf = new WeakMap<TargetSet, { ipv4: readonly Ipv4Range[]; ipv6: readonly string[] }>();

/**
 * A set of addresses held as IPv4 ranges (and the few addresses excluded from them): its size,
 * never its addresses, in memory; plus the few IPv6 addresses (canonical, zone kept), listed.
 */
function targetSet(specs: readonly string[], ranges: readonly Ipv4Range[], excluded: ReadonlySet<number>, ipv6: readonly string[]): TargetSet {
  const ipv6Set = new Set(ipv6);
  const merged = mergeRanges(ranges);
  const inRanges = (n: number): boolean => {
    let low = 0;
    let high = merged.length - 1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      const r = merged[mid] as Ipv4Range;
      if (n < r.first) high = mid - 1;
      else if (n > r.last) low = mid + 1;
      else return true;
    }
    return false;
  };
  const excludedInside = [...excluded].filter(inRanges).length;
  const set: TargetSet = {
    specs: [...specs],
    size: merged.reduce((n, r) => n + (r.last - r.first + 1), 0) - excludedInside + ipv6Set.size,
    has(ip: string): boolean {
      if (!isIPv4(ip)) return ipv6Set.has(canonicalIpv6(ip) ?? '');
      const n = ipv4ToInt(ip);
      return inRanges(n) && !excluded.has(n);
    },
    *addresses(): IterableIterator<string> {
      for (const r of merged) for (let n = r.first; n <= r.last; n++) if (!excluded.has(n)) yield intToIpv4(n);
      yield* ipv6Set;
    },
  };
  rangesOf.set(set, { ipv4: merged, ipv6: [...ipv6Set] });
  return set;
}

/**
 * Why active probes must never go to an address (RFC 1122 §3.2.1.3, RFC 5735, RFC 6890): it names
 * no single host, or this one. Also used for addresses a reply comes from or names.
 */
export type UnprobeableReason =
  | 'broadcast' // 255.255.255.255, the limited broadcast (RFC 919)
  | 'multicast' // 224.0.0.0/4 (RFC 5771)
  | 'unspecified' // 0.0.0.0/8, "this host on this network" (RFC 1122 §3.2.1.3)
  | 'loopback' // 127.0.0.0/8 (RFC 1122 §3.2.1.3): this machine, never a device
  | 'reserved' // 240.0.0.0/4 (RFC 1112 §4), not assignable
  | 'subnet-network' // the network address of a chosen interface's subnet (RFC 950)
  | 'subnet-broadcast'; // its directed broadcast address (RFC 919, RFC 922)

const SPECIAL_BLOCKS: ReadonlyArray<{ block: Ipv4Range; reason: UnprobeableReason }> = [
  { block: { first: 0xffffffff, last: 0xffffffff }, reason: 'broadcast' },
  { block: cidrRange(0xe0000000, 4), reason: 'multicast' },
  { block: cidrRange(0, 8), reason: 'unspecified' },
  { block: cidrRange(0x7f000000, 8), reason: 'loopback' },
  { block: cidrRange(0xf0000000, 4), reason: 'reserved' },
];

/**
 * Why `ip` is no address to probe, or null when it is an ordinary unicast address. `subnets` are
 * the chosen interfaces' `A.B.C.D/N`: their network and broadcast addresses (for blocks larger
 * than a /31, RFC 3021) name every host of the link, not one.
 */
export function unprobeableReason(ip: string, subnets: readonly string[]): UnprobeableReason | null {
  if (!isIPv4(ip)) return null;
  const n = ipv4ToInt(ip);
  const special = SPECIAL_BLOCKS.find(({ block }) => n >= block.first && n <= block.last);
  if (special) return special.reason;
  for (const subnet of subnets) {
    const block = parseCidr(subnet);
    if (!block || block.bits >= 31) continue;
    if (n === block.first) return 'subnet-network';
    if (n === block.last) return 'subnet-broadcast';
  }
  return null;
}

/** Named targets left out of active probes: a run of consecutive addresses (`A` or `A-B`) and why. */
export interface SkippedTargets {
  addresses: string;
  reason: UnprobeableReason;
}

/**
 * The TARGETs active probes may touch: `targets` without the addresses that name no single
 * device (unprobeableReason), which are listed, runs of consecutive addresses with the same
 * reason as one entry.
 */
export function probeableTargets(targets: TargetSet, subnets: readonly string[]): { targets: TargetSet; skipped: SkippedTargets[] } {
  const excluded = new Set<number>();
  const skipped: Array<{ first: number; last: number; reason: UnprobeableReason }> = [];
  for (const ip of targets.addresses()) {
    if (!isIPv4(ip)) continue;
    const reason = unprobeableReason(ip, subnets);
    if (reason === null) continue;
    const n = ipv4ToInt(ip);
    excluded.add(n);
    const run = skipped.at(-1);
    if (run && run.reason === reason && run.last === n - 1) run.last = n;
    else skipped.push({ first: n, last: n, reason });
  }
  if (excluded.size === 0) return { targets, skipped: [] };
  const own = rangesOf.get(targets);
  const all = [...(own ? [] : targets.addresses())];
  const ranges = own?.ipv4 ?? all.filter((ip) => isIPv4(ip)).map((ip) => ({ first: ipv4ToInt(ip), last: ipv4ToInt(ip) }));
  return {
    targets: targetSet(targets.specs, ranges, excluded, own?.ipv6 ?? all.filter((ip) => !isIPv4(ip))),
    skipped: skipped.map(({ first, last, reason }) => ({ addresses: first === last ? intToIpv4(first) : `${intToIpv4(first)}-${intToIpv4(last)}`, reason })),
  };
}
