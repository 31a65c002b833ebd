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
 * lab devices lost a third of them). When the table is full, the forced garbage collector frees
 * an entry only if nothing else holds it and it FAILED or has not been updated for 5 seconds
 * (torvalds/linux net/core/neighbour.c, neigh_forced_gc: `tref = jiffies - 5 * HZ`; FAILED entries
 * at any age since 58956317c8de "neighbor: Improve garbage collection", v4.20). An INCOMPLETE entry
 * is held by its resolution timer. So what must stay under the limit is the addresses being
 * resolved plus those resolved in the last 5 s: a first contact holds a place for 5 s, and host
 * discovery (discovery/link-hosts.ts), which sees each verdict, gives it back sooner.
 *
 * The budget is a share of the room the table has left when the scan starts (FREE_ROOM_SHARE of
 * gc_thresh3 less the entries already held), leaving the rest, and whatever the collector can free
 * of the idle entries, to the rest of the machine (its own traffic, other scans); gc_thresh3 is
 * read, never raised. Only entries the collector counts are held against it: a PERMANENT entry
 * (set by an administrator) is not (torvalds/linux net/core/neighbour.c, neigh_alloc skips the
 * gc_entries count for an entry `exempt_from_gc`, as netlink makes a PERMANENT one). Addresses off
 * every chosen interface's subnet go through a router, whose one entry the kernel already has:
 * they take no place.
 *
 * IPv6 has a neighbour table of its own (Neighbor Discovery, RFC 4861; torvalds/linux
 * net/ipv6/ndisc.c `nd_tbl`, beside net/ipv4/arp.c `arp_tbl`), a net/core/neighbour.c table like
 * the other: machine-wide, its own gc_thresh3 (1024 by default), the same forced collector. IPv6
 * addresses on-link — every link-local address, and those in a chosen interface's unique-local or
 * global prefix — take places of its budget, FREE_ROOM_SHARE of its gc_thresh3, the way IPv4 ones
 * take the IPv4 table's.
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
/**
 * The share of the table's free room at scan start a scan may fill: half, the other half (with
 * every idle entry the collector can free) the rest of the machine's. Measured (BENCHMARKS.md, issue
 * 10): an address nobody answers holds its place about 3 s, so places / 3 s is the pace of an
 * on-link range. Three quarters (768 places in an empty default table) would sweep a /16 all on the
 * link in about 5 minutes, but it overflowed the table when other traffic shared it; half (512)
 * keeps every device, at about 170 silent addresses a second (a /16 in about 6.5 minutes):
 * correctness before speed.
 */
const FREE_ROOM_SHARE = 1 / 2;
/**
 * The kernel's count of IPv4 neighbour entries, all namespaces together (the first field,
 * hexadecimal, of the second line; torvalds/linux net/core/neighbour.c neigh_stat_seq_show). The
 * kernel makes it in the first network namespace only; it includes PERMANENT entries, so it can
 * only overstate what is held against gc_thresh3.
 */
export const ARP_CACHE_STAT_PATH = '/proc/net/stat/arp_cache';
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

/** The machine's neighbour entries from ARP_CACHE_STAT_PATH; null where it cannot be read (any namespace but the first). */
export function machineNeighbourEntries(read: (path: string) => string = (p) => readFileSync(p, 'utf8')): number | null {
  try {
    const count = Number.parseInt(read(ARP_CACHE_STAT_PATH).split('\n')[1]?.trim().split(/\s+/)[0] ?? '', 16);
    return Number.isInteger(count) && count >= 0 ? count : null;
  } catch {
    return null;
  }
}

/**
 * Places for on-link addresses a scan may hold under a neighbour table of `limit` entries of which
 * `inUse` are held when it starts: FREE_ROOM_SHARE of the room left, at least one.
 */
export function neighbourBudgetSize(limit: number, inUse = 0): number {
  return Math.max(1, Math.floor(Math.max(0, limit - inUse) * FREE_ROOM_SHARE));
}

/** An address host discovery saw answer neighbour resolution, as the table showed it then. */
export interface ResolvedNeighbour {
  ip: string;
  mac: string;
  state: string;
  /** The interface the entry was on. */
  dev: string;
  /** Whether the address itself answered during this scan (neighbours.ts heardWithin). */
  fresh: boolean;
}

/**
 * The places themselves. Each on-link address takes one at its first contact and holds it for
 * NEIGHBOUR_HOLD_MS; contacting it again meanwhile is free. Only the addresses held are kept, so
 * memory follows the addresses reached in the last 5 s, not the size of the range. `onLinkCidrs`
 * may hold IPv6 blocks (ipv6OnLinkCidrs): IPv6 addresses in them take places of the IPv6 table's
 * own `ipv6Size`.
 *
 * Host discovery (discovery/link-hosts.ts) takes places itself and gives each back as soon as the
 * kernel has settled its address: at once when resolution FAILED (the forced collector frees a
 * FAILED entry whatever its age), NEIGHBOUR_HOLD_MS after it resolved. Addresses it saw resolve
 * are remembered (live hosts only: memory follows the devices, not the range), and contacting
 * them later takes no place: their entries exist already.
 */
export class NeighbourBudget {
  private readonly places: Semaphore;
  private readonly ipv6Places: Semaphore;
  private readonly held = new Set<string>();
  private readonly pending = new Map<string, Promise<boolean>>();
  private readonly resolvedByIp = new Map<string, ResolvedNeighbour>();
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

  /** Whether `ip` is in one of the chosen interfaces' on-link blocks, IPv4 or IPv6 (reached without a router). */
  isOnLink(ip: string): boolean {
    return this.onLinkCidrs.some((cidr) => inOnLinkCidr(ip, cidr));
  }

  /** Resolves true when `ip` may be contacted now, false if `signal` aborted first. */
  acquire(ip: string, signal?: AbortSignal): Promise<boolean> {
    if (this.held.has(ip) || this.resolvedByIp.has(ip) || !this.isOnLink(ip)) return Promise.resolve(!signal?.aborted);
    const waiting = this.pending.get(ip);
    if (waiting) return waiting;
    const taken = this.take(ip, signal).finally(() => this.pending.delete(ip));
    this.pending.set(ip, taken);
    return taken;
  }

  /** The places of the table `ip`'s entry goes to: the IPv6 (NDP) one or the IPv4 (ARP) one. */
  private placesFor(ip: string): Semaphore {
    return ip.includes(':') ? this.ipv6Places : this.places;
  }

  /** One place for host discovery to resolve `ip`, given back with `release`; false if `signal` aborted first. */
  async takePlace(ip: string, signal?: AbortSignal): Promise<boolean> {
    const places = this.placesFor(ip);
    const immediate = places.available > 0;
    if (!(await places.acquire(signal))) return false;
    if (!immediate) this.waited++;
    return true;
  }

  /** Gives back the place taken with takePlace for `ip`, now or after `afterMs`. */
  release(ip: string, afterMs = 0): void {
    const places = this.placesFor(ip);
    if (afterMs <= 0) places.release();
    else setTimeout(() => places.release(), afterMs).unref();
  }

  /** Remembers an address host discovery saw resolve: later contacts take no place. */
  markResolved(neighbour: ResolvedNeighbour): void {
    this.resolvedByIp.set(neighbour.ip, neighbour);
  }

  /** What host discovery saw of `ip` when it resolved; undefined when it did not. */
  resolvedNeighbour(ip: string): ResolvedNeighbour | undefined {
    return this.resolvedByIp.get(ip);
  }

  /** Every address host discovery saw resolve during the scan. */
  resolved(): IterableIterator<ResolvedNeighbour> {
    return this.resolvedByIp.values();
  }

  private async take(ip: string, signal?: AbortSignal): Promise<boolean> {
    if (!(await this.takePlace(ip, signal))) return false;
    this.held.add(ip);
    setTimeout(() => {
      this.held.delete(ip);
      this.release(ip);
    }, this.holdMs).unref();
    return true;
  }
}
