/**
 * How many on-link addresses a scan may be resolving at once, so that it never overflows the
 * kernel's IPv4 neighbour (ARP) table.
 *
 * Every first packet to an address on a directly connected subnet makes the kernel create a
 * neighbour entry (INCOMPLETE while it asks ARP, then REACHABLE or FAILED). The table is one for
 * the whole machine, every network namespace's entries counted together, and it holds at most
 * gc_thresh3 entries (1024 by default; Documentation/networking/ip-sysctl.rst, neigh/default). Past
 * that the kernel logs "neighbor table overflow" and drops the packet: the connect or probe fails
 * as if nobody were there, and the device is silently lost (issue 10: a /22 sweep of 1,020 live
 * lab devices lost a third of them). The forced garbage collector can free only entries that have
 * not been updated for 5 seconds (net/core/neighbour.c, neigh_forced_gc: `tref = jiffies - 5 * HZ`),
 * so what must stay under the limit is the number of addresses first reached in any 5 s.
 *
 * The budget is half of gc_thresh3, leaving the other half to the rest of the machine (its own
 * traffic, other scans); it is read, never raised. Addresses off every chosen interface's subnet go
 * through a router, whose one entry the kernel already has: they take no place.
 *
 * IPv6 has a neighbour table of its own (Neighbor Discovery, RFC 4861; torvalds/linux
 * net/ipv6/ndisc.c `nd_tbl`, beside net/ipv4/arp.c `arp_tbl`), a net/core/neighbour.c table like
 * the other: machine-wide, its own gc_thresh3 (1024 by default), the same forced collector. IPv6
 * addresses on-link — every link-local address, and those in a chosen interface's unique-local or
 * global prefix — take places of its budget, half of its gc_thresh3, the way IPv4 ones take the
 * IPv4 table's.
 */
import { readFileSync } from 'node:fs';
import type { ScanInterface } from './interfaces.js';
import { inCidr } from './ipv4.js';
import { inIpv6Cidr } from './ipv6.js';
import { Semaphore } from './rate-limiter.js';

export const GC_THRESH3_PATH = '/proc/sys/net/ipv4/neigh/default/gc_thresh3';
/** The IPv6 neighbour table's hard limit (Documentation/networking/ip-sysctl.rst, neigh/default, for both families). */
export const IPV6_GC_THRESH3_PATH = '/proc/sys/net/ipv6/neigh/default/gc_thresh3';
/**
 * The kernel's default gc_thresh3 (Documentation/networking/ip-sysctl.rst). It is assumed when the
 * file cannot be read: inside a network namespace other than the first, /proc/sys/net/ipv4/neigh
 * has no `default` entry, although the first namespace's limit still applies.
 */
export const DEFAULT_GC_THRESH3 = 1024;
/** The share of gc_thresh3 a scan may fill. */
const BUDGET_SHARE = 1 / 2;
/** How long a first contact counts against the table: the forced collector's 5 s (see above). */
export const NEIGHBOUR_HOLD_MS = 5_000;

/** The neighbour table's hard limit (the IPv4 one, or the IPv6 one with IPV6_GC_THRESH3_PATH), and where it came from. */
export function neighbourTableLimit(read: (path: string) => string = (p) => readFileSync(p, 'utf8'), path = GC_THRESH3_PATH): { limit: number; from: string } {
  try {
    const value = Number(read(path).trim());
    if (Number.isInteger(value) && value > 0) return { limit: value, from: path };
  } catch {
    // Absent in this namespace, or not Linux: fall through to the kernel's default.
  }
  return { limit: DEFAULT_GC_THRESH3, from: 'assumed (kernel default)' };
}

/** fe80::/10: every IPv6 link-local address is a neighbour, never routed (RFC 4291 §2.5.6). */
const IPV6_LINK_LOCAL_CIDR = 'fe80::/10';

/**
 * The IPv6 blocks the chosen interfaces reach without a router, to list beside their IPv4 subnets
 * as a budget's on-link blocks: fe80::/10 when one has a link-local address (whatever the zone: the
 * table is one for every interface), and each one's unique-local or global prefix (Linux adds an
 * on-link route for the prefix of every address it is given, unless told `noprefixroute`, ip-address(8)).
 */
export function ipv6OnLinkCidrs(interfaces: readonly ScanInterface[]): string[] {
  const linkLocal = interfaces.some((i) => i.ipv6LinkLocal !== undefined) ? [IPV6_LINK_LOCAL_CIDR] : [];
  return [...linkLocal, ...new Set(interfaces.flatMap((i) => i.ipv6Prefixes ?? []))];
}

/** True when `ip` lies in the on-link block `cidr`, of either family (never across families). */
function inOnLinkCidr(ip: string, cidr: string): boolean {
  return cidr.includes(':') ? ip.includes(':') && inIpv6Cidr(ip, cidr) : inCidr(ip, cidr);
}

/** How many of `addresses` are on one of `onLinkCidrs` (reached directly) and how many through a router. */
export function countOnLink(addresses: Iterable<string>, onLinkCidrs: readonly string[]): { onLink: number; routed: number } {
  let onLink = 0;
  let routed = 0;
  for (const ip of addresses) {
    if (onLinkCidrs.some((cidr) => inOnLinkCidr(ip, cidr))) onLink++;
    else routed++;
  }
  return { onLink, routed };
}

/** Places for on-link addresses a scan may hold under a neighbour table of `limit` entries. */
export function neighbourBudgetSize(limit: number): number {
  return Math.max(1, Math.floor(limit * BUDGET_SHARE));
}

/**
 * The places themselves. Each on-link address takes one at its first contact and holds it for
 * NEIGHBOUR_HOLD_MS; contacting it again meanwhile is free. Only the addresses held are kept, so
 * memory follows the addresses reached in the last 5 s, not the size of the range. `onLinkCidrs`
 * may hold IPv6 blocks (ipv6OnLinkCidrs): IPv6 addresses in them take places of the IPv6 table's
 * own `ipv6Size`.
 */
export class NeighbourBudget {
  private readonly places: Semaphore;
  private readonly ipv6Places: Semaphore;
  private readonly held = new Set<string>();
  private readonly pending = new Map<string, Promise<boolean>>();
  /** First contacts that had to wait for a place. */
  waited = 0;

  constructor(
    readonly size: number,
    private readonly onLinkCidrs: readonly string[],
    private readonly holdMs = NEIGHBOUR_HOLD_MS,
    readonly ipv6Size = size,
  ) {
    this.places = new Semaphore(size);
    this.ipv6Places = new Semaphore(ipv6Size);
  }

  /** Resolves true when `ip` may be contacted now, false if `signal` aborted first. */
  acquire(ip: string, signal?: AbortSignal): Promise<boolean> {
    if (this.held.has(ip) || !this.onLinkCidrs.some((cidr) => inOnLinkCidr(ip, cidr))) return Promise.resolve(!signal?.aborted);
    const waiting = this.pending.get(ip);
    if (waiting) return waiting;
    const taken = this.take(ip, signal).finally(() => this.pending.delete(ip));
    this.pending.set(ip, taken);
    return taken;
  }

  private async take(ip: string, signal?: AbortSignal): Promise<boolean> {
    // An IPv6 address's entry goes to the IPv6 (NDP) table, an IPv4 one's to the ARP table.
    const places = ip.includes(':') ? this.ipv6Places : this.places;
    const immediate = places.available > 0;
    if (!(await places.acquire(signal))) return false;
    if (!immediate) this.waited++;
    this.held.add(ip);
    setTimeout(() => {
      this.held.delete(ip);
      places.release();
    }, this.holdMs).unref();
    return true;
  }
}
