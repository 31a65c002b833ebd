/**
 * IPv6 TARGETs: single addresses and small blocks, as 128-bit integers (BigInt).
 *
 * A /64, the size of nearly every IPv6 subnet (RFC 4291 §2.5.4), holds 2^64 addresses: at the
 * agent's most of 5,000 a second a sweep would take over a hundred million years, so IPv6 subnets
 * cannot be swept and hosts on them are found by listening instead — multicast discovery and the
 * neighbour table (RFC 7707 §3.1, "Network Reconnaissance in IPv6 Networks", on why brute-force
 * sweeps of a /64 are not feasible). A TARGET may name at most MAX_IPV6_TARGET_BLOCK addresses: a
 * handful of cameras an operator knows the addresses of, or a small block such as a /120 that was
 * numbered by hand, never a subnet.
 */
import { isIPv6 } from 'node:net';
import { isIpv6LinkLocal } from './interfaces.js';
import { splitZone, withoutZone } from './ip-address.js';

/** The most addresses one IPv6 TARGET (a /120 or an A-B range) may name: 256. */
export const MAX_IPV6_TARGET_BLOCK = 256;
/** The longest prefix that still names more than MAX_IPV6_TARGET_BLOCK addresses is refused: /120 is the shortest accepted. */
export const MIN_IPV6_PREFIX = 128 - Math.log2(MAX_IPV6_TARGET_BLOCK);

/** Why an IPv6 TARGET was refused: the caller turns it into a coded error. */
export type Ipv6TargetProblem = { kind: 'bad'; why: string } | { kind: 'too-large'; addresses: bigint };

/** The 128-bit value of an IPv6 address (no zone). */
export function ipv6ToBigInt(address: string): bigint {
  const [head = '', tail] = address.toLowerCase().split('::') as [string, string | undefined];
  const parts = (text: string): string[] => (text === '' ? [] : text.split(':'));
  const expand = (groups: string[]): string[] =>
    groups.flatMap((g) => {
      if (!g.includes('.')) return [g];
      // An embedded IPv4 tail (RFC 4291 §2.2, form 3): two groups.
      const [a, b, c, d] = g.split('.').map(Number) as [number, number, number, number];
      return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
    });
  const left = expand(parts(head));
  const right = tail === undefined ? [] : expand(parts(tail));
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** The canonical text form of a 128-bit value (RFC 5952 §4: lower case, longest zero run as ::). */
export function bigIntToIpv6(value: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length && j - i >= 2) best = { start: i, length: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.start < 0) return hex.join(':');
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.length).join(':')}`;
}

/** Interface names as Linux allows them (IFNAMSIZ 16 with the NUL; no '/', ':' or spaces). */
const ZONE = /^[A-Za-z0-9_.-]{1,15}$/;

/** True when the spec is meant as IPv6 (it has a colon); IPv4 specs never do. */
export function looksLikeIpv6(spec: string): boolean {
  return spec.includes(':');
}

/**
 * Every address an IPv6 TARGET names, in canonical form with its zone (`fe80::1%eth0`): one
 * address, `ADDR/N` with N from MIN_IPV6_PREFIX to 128 (every address of the block: IPv6 has no
 * broadcast address to leave out, RFC 4291 §2), or `A-B` of at most MAX_IPV6_TARGET_BLOCK
 * addresses. A link-local address must carry its zone (the interface it is on, RFC 4007 §11): the
 * same fe80:: address may be a different host on every link.
 */
export function parseIpv6Target(spec: string): string[] | Ipv6TargetProblem {
  const block = /^([^/]+)\/(\d{1,3})$/.exec(spec);
  const range = block ? null : /^([^-]+)-([^-]+)$/.exec(spec);
  const ends = block ? [block[1] as string] : range ? [range[1] as string, range[2] as string] : [spec];
  const parsed = ends.map(splitZone);
  for (const { address, zone } of parsed) {
    if (!isIPv6(address)) return { kind: 'bad', why: `"${address}" is not an IPv6 address` };
    if (zone !== '' && !ZONE.test(zone)) return { kind: 'bad', why: `"${zone}" is not an interface name` };
    if (isIpv6LinkLocal(address) && zone === '') return { kind: 'bad', why: `${address} is a link-local address: name the interface it is on, as ${address}%eth0` };
  }
  const zone = (parsed[0] as { zone: string }).zone;
  if (parsed.some((p) => p.zone !== zone)) return { kind: 'bad', why: 'both ends of a range must be on the same interface' };
  let first = ipv6ToBigInt((parsed[0] as { address: string }).address);
  let last = range ? ipv6ToBigInt((parsed[1] as { address: string }).address) : first;
  if (block) {
    const bits = Number(block[2]);
    if (bits > 128) return { kind: 'bad', why: `a prefix length must be 0 to 128, not ${bits}` };
    const hostBits = BigInt(128 - bits);
    first = (first >> hostBits) << hostBits;
    last = first + (1n << hostBits) - 1n;
  }
  if (last < first) return { kind: 'bad', why: 'the range ends before it starts' };
  const count = last - first + 1n;
  if (count > BigInt(MAX_IPV6_TARGET_BLOCK)) return { kind: 'too-large', addresses: count };
  const suffix = zone === '' ? '' : `%${zone}`;
  return Array.from({ length: Number(count) }, (_, i) => `${bigIntToIpv6(first + BigInt(i))}${suffix}`);
}

/** The canonical form of an IPv6 address as the agent compares them (zone kept), or null. */
export function canonicalIpv6(text: string): string | null {
  const { address, zone } = splitZone(text);
  if (!isIPv6(address)) return null;
  return `${bigIntToIpv6(ipv6ToBigInt(address))}${zone === '' ? '' : `%${zone}`}`;
}

/**
 * True when `ip` (its zone ignored) lies in the IPv6 block `cidr` (`fdcc:7a6e:1ab::1/64`: the host
 * bits of the address written are ignored, as in an interface's address and prefix length). False
 * for anything that is not an IPv6 address and block.
 */
export function inIpv6Cidr(ip: string, cidr: string): boolean {
  const block = /^([^/]+)\/(\d{1,3})$/.exec(cidr);
  const address = withoutZone(ip);
  if (!block || !isIPv6(address) || !isIPv6(block[1] as string) || Number(block[2]) > 128) return false;
  const hostBits = BigInt(128 - Number(block[2]));
  return ipv6ToBigInt(address) >> hostBits === ipv6ToBigInt(block[1] as string) >> hostBits;
}
