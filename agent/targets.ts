import { isIPv4 } from 'node:net';
import { agentError } from './errors.js';
import { cidrRange, intToIpv4, ipv4ToInt, type Ipv4Range } from './net/ipv4.js';

/** The most addresses one scan may name (a /20): cameras and networks fall over under bigger sweeps. */
export const MAX_TARGET_ADDRESSES = 4096;


/** The operator's TARGET arguments, parsed: the only addresses active probes may touch. */
export interface TargetSet {
  /** The arguments as given, for the inventory's scan.targets. */
  readonly specs: readonly string[];
  has(ip: string): boolean;
  /** Every address, in ascending order (network and broadcast addresses of a CIDR block excluded). */
  addresses(): string[];
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

export function parseTargets(specs: readonly string[]): TargetSet {
  const ranges = specs.map(parseTarget);
  const size = ranges.reduce((n, r) => n + (r.last - r.first + 1), 0);
  if (size > MAX_TARGET_ADDRESSES) throw agentError('CCTV_ERR_TOO_MANY_TARGETS', size, MAX_TARGET_ADDRESSES);
  return {
    specs: [...specs],
    size,
    has(ip: string): boolean {
      if (!isIPv4(ip)) return false;
      const n = ipv4ToInt(ip);
      return ranges.some((r) => n >= r.first && n <= r.last);
    },
    addresses(): string[] {
      const all = new Set<number>();
      for (const r of ranges) for (let n = r.first; n <= r.last; n++) all.add(n);
      return [...all].sort((a, b) => a - b).map(intToIpv4);
    },
  };
}
