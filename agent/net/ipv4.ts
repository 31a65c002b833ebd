/**
 * IPv4 addresses as 32-bit unsigned integers, and CIDR blocks (RFC 4632 §3.1: a prefix length N
 * names the 2^(32-N) addresses that share their first N bits). The one implementation behind
 * TARGET parsing, credential scopes, interface subnets and address ordering.
 */
import { isIPv4 } from 'node:net';
import { KeptAnswers } from '../kept-answers.js';

const DOT = '.'.charCodeAt(0);
const DIGIT_ZERO = '0'.charCodeAt(0);

/**
 * A dotted-quad address as an unsigned integer (the caller has checked it with isIPv4: four
 * decimal octets). Read digit by digit: a scan and the merge ask this of every address they meet.
 */
export function ipv4ToInt(ip: string): number {
  let value = 0;
  let octet = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === DOT) {
      value = value * 256 + octet;
      octet = 0;
    } else octet = octet * 10 + (c - DIGIT_ZERO);
  }
  return value * 256 + octet;
}

export function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** An inclusive range of IPv4 addresses, as unsigned integers. */
export interface Ipv4Range {
  readonly first: number;
  readonly last: number;
}

/** The block of prefix length `bits` (0 to 32) that holds `address`. */
export function cidrRange(address: number, bits: number): Ipv4Range {
  const size = 2 ** (32 - bits);
  const first = Math.floor(address / size) * size;
  return { first, last: first + size - 1 };
}

/** `A.B.C.D/N` with N from 0 to 32 → its block and prefix length; null for anything else. */
export function parseCidr(text: string): (Ipv4Range & { readonly bits: number }) | null {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(text);
  if (!m || !isIPv4(m[1] as string)) return null;
  const bits = Number(m[2]);
  if (bits > 32) return null;
  return { ...cidrRange(ipv4ToInt(m[1] as string), bits), bits };
}

/**
 * Blocks parsed by inCidr, by their text: a scan asks about the same few (its interfaces' subnets)
 * for every address it contacts (parsing them each time was 0.24 s of the crowd /22's CPU,
 * profiled: BENCHMARKS.md "Entries given back"). At most PARSED_BLOCKS_KEPT, so blocks that come
 * and go (credential scopes, TARGETs) cannot grow it.
 */
const PARSED_BLOCKS_KEPT = 256;
const parsedBlocks = new KeptAnswers<ReturnType<typeof parseCidr>>(PARSED_BLOCKS_KEPT);

/** True when `ip` is an IPv4 address inside the block `cidr` (`A.B.C.D/N`, e.g. an interface's subnet). */
export function inCidr(ip: string, cidr: string): boolean {
  const block = parsedBlocks.of(cidr, parseCidr, undefined);
  if (!block || !isIPv4(ip)) return false;
  const n = ipv4ToInt(ip);
  return n >= block.first && n <= block.last;
}
