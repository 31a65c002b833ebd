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
 * at any age since 58956317c8de "neighbor: Improve garbage collection", v4.20); "nothing else holds
 * it" excludes every entry with a timer running (neigh_add_timer takes a reference): INCOMPLETE
 * while it asks (3 s by default), REACHABLE for reachable_time (15–45 s; measured on kernel 6.18:
 * about 35 s after the answer, then STALE and freeable 5 s later). So what must stay under the
 * limit is what the table shows the collector cannot free: the budget counts exactly that from
 * `ip -json -stats neigh` (placesHeld), and models it only when the table cannot be read.
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
import { whenAborted } from './abort.js';
import { waitInLine } from './rate-limiter.js';

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
 * The share of the table's free room at scan start a scan may fill with entries the kernel cannot
 * free: half, the other half (with every idle entry the collector can free) the rest of the
 * machine's. Chosen from measurements (BENCHMARKS.md, issue 10, "Places counted from the table"):
 * (1) the share bounds first contacts only, and the probe phase makes entries of hosts already
 * found REACHABLE again, so a scan holds more than its share: 748 entries at a share of 512 on the
 * crowd's /22 (1,020 live hosts), where three quarters (768) could reach the whole table; (2) other
 * programs on the benchmark machine held up to about 470 entries at one moment, more than the 256
 * three quarters would leave; (3) a larger share buys no speed where it matters most: 1,020 live
 * hosts need two waves of about 45 s (a live entry stays REACHABLE 35–45 s) at any share under
 * 1,021 places. At half of an empty default table (512 places) a mostly silent on-link range goes
 * at about 170 addresses a second (an address nobody answers holds its place 3 s, until FAILED):
 * an on-link /16 took 8.3 minutes, with no entry refused by the kernel.
 */
const FREE_ROOM_SHARE = 1 / 2;
/**
 * The kernel's count of IPv4 neighbour entries, all namespaces together (the first field,
 * hexadecimal, of the second line; torvalds/linux net/core/neighbour.c neigh_stat_seq_show). The
 * kernel makes it in the first network namespace only; it includes PERMANENT entries, so it can
 * only overstate what is held against gc_thresh3.
 */
export const ARP_CACHE_STAT_PATH = '/proc/net/stat/arp_cache';
/**
 * The forced collector's age: it frees an unreferenced entry that is not FAILED only once it has
 * not been updated for 5 s (torvalds/linux net/core/neighbour.c neigh_forced_gc, `tref = jiffies -
 * 5 * HZ`). An entry that vanished sooner than this after a read showed it unresolved was FAILED.
 */
export const COLLECTOR_MIN_AGE_SECONDS = 5;
/**
 * How long a first contact is counted when the table cannot be read, or has not yet shown it: the
 * modelled hold of an address nobody answers (INCOMPLETE for mcast_solicit × retrans_time = 3 × 1 s
 * by default, Documentation/networking/ip-sysctl.rst, then FAILED and freeable) with the
 * collector's 5 s as margin for a packet that leaves late.
 */
export const SILENT_HOLD_MS = COLLECTOR_MIN_AGE_SECONDS * 1000;
/**
 * How long a contact that answered is counted when the table cannot be read: a REACHABLE entry
 * holds a reference from its timer for reachable_time (base_reachable_time 30 s randomised to
 * 0.5–1.5 ×: at most 45 s, Documentation/networking/ip-sysctl.rst; torvalds/linux
 * net/core/neighbour.c neigh_rand_reach_time, neigh_add_timer takes the reference), then turns
 * STALE with `updated` reset, freeable 5 s later. Measured on kernel 6.18 (BENCHMARKS.md): ref 1 for
 * about 35 s after the answer, then STALE.
 */
export const LIVE_HOLD_MS = 45_000 + COLLECTOR_MIN_AGE_SECONDS * 1000;
/** How often the budget reads the table itself while first contacts wait for a place and nobody else reads it. */
export const TABLE_COUNT_POLL_MS = 100;
/** Reads of the table that may fail in a row before the budget falls back on modelled holds. */
export const TABLE_COUNT_TRIES = 3;

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

/** Resolves true once `promise` has, false if `signal` aborts first. */
function waitFor(promise: Promise<void>, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  if (!signal) return promise.then(() => true);
  return new Promise((resolve) => {
    const cancel = whenAborted(signal, () => resolve(false));
    void promise.then(() => {
      cancel();
      resolve(!signal.aborted);
    });
  });
}

/** What placesHeld needs of one row of `ip -json -stats neigh` (discovery/neighbours.ts NeighbourRow). */
export interface TableRowHold {
  /** Its NUD states (ip-neighbour(8)): PERMANENT, REACHABLE, STALE, INCOMPLETE, FAILED… */
  states: readonly string[];
  /** References beside the table's own (`refcnt`: a timer, a packet queued, a route); null when not printed. */
  refcnt: number | null;
  /** Seconds since the entry last changed (whole, rounded down); null when not printed. */
  updatedSecondsAgo: number | null;
}

/**
 * Whether the kernel's forced collector could NOT free this entry now, so it holds a place against
 * gc_thresh3 (torvalds/linux net/core/neighbour.c neigh_forced_gc: it frees an entry only when the
 * table alone holds it — `ref 0` in ip's output, which prints the count less the table's own — and
 * it is FAILED or was updated more than 5 s ago). A PERMANENT entry is never counted against the
 * limit (neigh_alloc skips an entry `exempt_from_gc`). When ip does not print `refcnt` or `updated`,
 * an entry is held unless it FAILED: a FAILED entry has no timer left, any other may.
 */
export function collectorCannotFree(row: TableRowHold): boolean {
  if (row.states.includes('PERMANENT')) return false;
  const failed = row.states.includes('FAILED');
  if (row.refcnt === null) return !failed;
  if (row.refcnt > 0) return true;
  return !failed && (row.updatedSecondsAgo === null || row.updatedSecondsAgo < COLLECTOR_MIN_AGE_SECONDS);
}

/** The entries of one table read (one namespace's) that hold a place: those the collector could not free now. */
export function placesHeld(rows: readonly TableRowHold[]): number {
  let held = 0;
  for (const row of rows) if (collectorCannotFree(row)) held++;
  return held;
}

/** How the budget knew what the kernel holds: counted from table reads, or modelled holds (the table could not be read). */
export type NeighbourCount = 'table' | 'modelled';

/**
 * A pool of `size` places filled by two kinds of use: the count of held entries from the latest
 * table read (set, not taken), and units taken one by one (first contacts the table has not shown
 * yet, or modelled holds). A unit is granted while the two together stay under `size`.
 */
class Places {
  private counted = 0;
  private taken = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly size: number) {}

  get waiters(): number {
    return this.waiting.length;
  }

  /** Whether a take() now would be granted at once. */
  get free(): boolean {
    return this.counted + this.taken < this.size;
  }

  take(signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) return Promise.resolve(false);
    if (this.free && this.waiting.length === 0) {
      this.taken++;
      return Promise.resolve(true);
    }
    return waitInLine(this.waiting, signal);
  }

  give(): void {
    this.taken = Math.max(0, this.taken - 1);
    this.wake();
  }

  /** The places the latest table read shows held (above what was held when the scan started). */
  setCounted(held: number): void {
    this.counted = Math.max(0, held);
    this.wake();
  }

  private wake(): void {
    while (this.waiting.length > 0 && this.free) {
      this.taken++;
      this.waiting.shift()?.();
    }
  }
}

export interface NeighbourBudgetOptions {
  /** Places for IPv6 first contacts, in the IPv6 table's budget (its own gc_thresh3). */
  ipv6Size?: number;
  /**
   * Reads this namespace's IPv4 table, every row. With it the budget counts places from the table
   * (placesHeld); without it, or once TABLE_COUNT_TRIES reads in a row failed, from modelled holds.
   */
  readTable?: () => Promise<readonly TableRowHold[]>;
  /** Entries of this namespace the collector could not free when the scan started: held before it, not by it. */
  heldAtStart?: number;
  pollMs?: number;
  /** Gives the scan's own IPv4 entries back to the kernel once nothing uses them; absent: the kernel frees them in its own time. */
  release?: EntryRelease;
  /** How long an entry of the scan's own stays after its last use before it is given back (IDLE_LINGER_MS). */
  lingerMs?: number;
}

/**
 * Gives the entries the scan made back to the kernel (discovery/entry-release.ts, by deleting them:
 * net/neighbour-release.ts), so their places come back at once instead of when the kernel frees
 * them (a live host's about 35 s later).
 */
export interface EntryRelease {
  /** Whether `ip`'s entry is the scan's to give back: an on-link IPv4 address without an entry when the scan started. */
  owns(ip: string): boolean;
  /** Gives back `ip`'s entry soon, remembering first what it shows (its MAC: rememberedNeighbours). */
  giveBack(ip: string): void;
  /** Deletes at once the unresolved entry of an address that did not answer neighbour resolution; false when it cannot. */
  deleteUnanswered(ip: string, dev: string): boolean;
  /** What given-back entries showed before they went. */
  remembered(): Iterable<ResolvedNeighbour>;
  /** Gives back what is still to be given back, then stops. */
  close(): Promise<void>;
}

/**
 * How long an entry of the scan's own stays after the last contact that used it ended: a host's
 * contacts come in bursts (its sweep, then each probe: HTTP, ONVIF, RTSP, TLS one after another),
 * and a new contact right after the last would only resolve the address again. Half a second keeps
 * a burst's entry for the whole burst (its items follow each other within milliseconds) and costs
 * a live host's place half a second, against the 35 s the kernel would keep it.
 */
export const IDLE_LINGER_MS = 500;

/** Says that the contact a use() admitted has ended. */
export type EndOfUse = () => void;

/** An entry of the scan's own (EntryRelease.owns): how many contacts use it now, and when it is given back. */
interface OwnedEntry {
  users: number;
  linger: NodeJS.Timeout | undefined;
  /** Whether its contact took a place of its own (its entry had been given back, or was never made), given back with it. */
  placeTaken: boolean;
}

const NOTHING_TO_END: EndOfUse = () => undefined;

/**
 * The places themselves, for IPv4 counted from what the kernel's table really holds: every read of
 * the table (host discovery's, every TABLE_POLL_MS, or the budget's own while first contacts wait)
 * gives the entries of this namespace the collector cannot free (placesHeld, less those held at
 * scan start); first contacts since then are counted apart until a read shows them. A new first
 * contact is admitted only while the two stay under `size`. Live hosts hold their places as long
 * as the kernel keeps their entries REACHABLE (about 35 s measured), silent ones until FAILED (3 s).
 *
 * Host discovery (discovery/link-hosts.ts) takes a place for each nudge with takePlace and gives it
 * back (release) once a read begun after the nudge shows the entry: from then on the table's count
 * holds it. Other first contacts (acquire: the sweep's, to hosts that announced themselves, or all
 * of them when the table cannot be read) are modelled: SILENT_HOLD_MS, or LIVE_HOLD_MS from the
 * moment answered() says the host answered when the table cannot be read; their places are counted
 * beside the table's, which shows them too once sent (counted twice: the safe side). Contacting an
 * address again meanwhile is free. Only the addresses held are kept, so memory follows the
 * addresses reached in the last seconds, not the size of the range.
 *
 * With an EntryRelease (the agent holds CAP_NET_ADMIN and could read the table at the start), the
 * entries the scan made go back as soon as nothing uses them, instead of when the kernel lets them
 * go: every contact goes through use(), which counts the contacts of each owned address, and IDLE_LINGER_MS
 * after the last one ends the entry is given back (deleted, its MAC remembered); host discovery
 * deletes an unanswered address's entry after two solicitations (giveUpUnanswered). A live host
 * then holds its place while it is swept and probed, not 35 s, and a silent one about 1.2 s, not 3 s.
 *
 * IPv6 addresses in `onLinkCidrs` (ipv6OnLinkCidrs) take modelled places of the IPv6 table's own
 * `ipv6Size`: host discovery asks ARP only, and the IPv6 table is not read during a scan.
 */
export class NeighbourBudget {
  private readonly places: Places;
  private readonly ipv6Places: Places;
  private readonly held = new Map<string, NodeJS.Timeout>();
  private readonly pending = new Map<string, Promise<boolean>>();
  private readonly resolvedByIp = new Map<string, ResolvedNeighbour>();
  /** Addresses host discovery is resolving now, each with the wake-up of the contacts waiting for its verdict. */
  private readonly resolving = new Map<string, { verdict: Promise<void>; settle: () => void; silent: boolean }>();
  private readonly readTable: (() => Promise<readonly TableRowHold[]>) | undefined;
  /** The scan's own entries in use or lingering (only with `release`): bounded by the contacts of the last moments. */
  private readonly owned = new Map<string, OwnedEntry>();
  private readonly owning = new Map<string, Promise<OwnedEntry | null>>();
  private readonly entryRelease: EntryRelease | undefined;
  private readonly lingerMs: number;
  private closed = false;
  private readonly heldAtStart: number;
  private readonly pollMs: number;
  private countFrom: NeighbourCount;
  private lastReadAt = 0;
  private failedReads = 0;
  private polling = false;
  readonly ipv6Size: number;
  /** First contacts that had to wait for a place. */
  waited = 0;
  /** The most places the table showed held at once (counted mode), for the log. */
  mostCounted = 0;

  constructor(
    readonly size: number,
    private readonly onLinkCidrs: readonly string[],
    options: NeighbourBudgetOptions = {},
  ) {
    this.ipv6Size = options.ipv6Size ?? size;
    this.places = new Places(size);
    this.ipv6Places = new Places(this.ipv6Size);
    this.readTable = options.readTable;
    this.heldAtStart = options.heldAtStart ?? 0;
    this.pollMs = options.pollMs ?? TABLE_COUNT_POLL_MS;
    this.entryRelease = options.release;
    this.lingerMs = options.lingerMs ?? IDLE_LINGER_MS;
    this.countFrom = this.readTable ? 'table' : 'modelled';
  }

  /** Whether the scan gives its own entries back once unused (an EntryRelease), instead of waiting for the kernel to free them. */
  get givesBack(): boolean {
    return this.entryRelease !== undefined;
  }

  /** Whether places are counted from the table or modelled (the table could not be read). */
  get count(): NeighbourCount {
    return this.countFrom;
  }

  /** Whether `ip` is in one of the chosen interfaces' on-link blocks, IPv4 or IPv6 (reached without a router). */
  isOnLink(ip: string): boolean {
    return this.onLinkCidrs.some((cidr) => inOnLinkCidr(ip, cidr));
  }

  /**
   * Takes in one read of this namespace's IPv4 table: its held entries (placesHeld) become the
   * count the places are judged by. Host discovery calls it with each of its reads.
   */
  countTable(rows: readonly TableRowHold[]): void {
    const counted = placesHeld(rows) - this.heldAtStart;
    this.countFrom = 'table';
    this.failedReads = 0;
    this.lastReadAt = Date.now();
    this.mostCounted = Math.max(this.mostCounted, counted);
    this.places.setCounted(counted);
  }

  /**
   * Resolves true when `ip` may be contacted now, false if `signal` aborted first. An address host
   * discovery is resolving is contacted only once it has its verdict: a packet queued on an
   * INCOMPLETE entry puts its FAILED off by about 3 s (measured in the lab: unicast WS-Discovery
   * Probes to a /24 being resolved kept its silent addresses INCOMPLETE until 5.9 s instead of 3 s),
   * so a contact meanwhile would only hold the place longer and delay the verdict.
   */
  async acquire(ip: string, signal?: AbortSignal): Promise<boolean> {
    const resolving = this.resolving.get(ip);
    if (resolving && !(await waitFor(resolving.verdict, signal))) return false;
    if (this.held.has(ip) || this.resolvedByIp.has(ip) || !this.isOnLink(ip)) return !signal?.aborted;
    const waiting = this.pending.get(ip);
    if (waiting) return waiting;
    const taken = this.take(ip, signal).finally(() => this.pending.delete(ip));
    this.pending.set(ip, taken);
    return taken;
  }

  /**
   * Admits one contact with `ip` (a host's sweep, one probe, one datagram): resolves to the call that
   * says it has ended once `ip` may be contacted, null if `signal` aborted first. Without an
   * EntryRelease, or for an entry the scan does not own, this is acquire(). An entry the scan owns
   * is given back IDLE_LINGER_MS after its last contact ends; a contact after that takes a place
   * until its entry is given back again (the table shows the new entry too: counted twice while in
   * use, the safe side).
   */
  async use(ip: string, signal?: AbortSignal): Promise<EndOfUse | null> {
    if (this.entryRelease === undefined || !this.entryRelease.owns(ip)) return (await this.acquire(ip, signal)) ? NOTHING_TO_END : null;
    const resolving = this.resolving.get(ip);
    if (resolving && !(await waitFor(resolving.verdict, signal))) return null;
    const entry = this.owned.get(ip) ?? (await this.ownedEntry(ip, signal));
    if (entry === null) return null;
    entry.users++;
    clearTimeout(entry.linger);
    entry.linger = undefined;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      if (--entry.users === 0) this.linger(ip, entry);
    };
  }

  /** A place for a contact with `ip`, whose owned entry was given back or never made (one wait shared by every contact to it). */
  private ownedEntry(ip: string, signal?: AbortSignal): Promise<OwnedEntry | null> {
    const waiting = this.owning.get(ip);
    if (waiting) return waiting;
    const taking = this.takePlace(ip, signal)
      .then((taken) => {
        if (!taken) return null;
        // Host discovery saw it resolve meanwhile: its row holds the place, this one goes back.
        const resolved = this.owned.get(ip);
        if (resolved) {
          this.placesFor(ip).give();
          return resolved;
        }
        const entry: OwnedEntry = { users: 0, linger: undefined, placeTaken: true };
        this.owned.set(ip, entry);
        return entry;
      })
      .finally(() => this.owning.delete(ip));
    this.owning.set(ip, taking);
    return taking;
  }

  /** Gives `ip`'s owned entry back once it has been unused for lingerMs. */
  private linger(ip: string, entry: OwnedEntry): void {
    // After close() every entry has been given back: a contact ending late has nothing to give.
    if (this.closed) return;
    entry.linger = setTimeout(() => this.giveBackOwned(ip, entry), this.lingerMs);
    entry.linger.unref();
  }

  private giveBackOwned(ip: string, entry: OwnedEntry): void {
    clearTimeout(entry.linger);
    if (this.owned.get(ip) === entry) this.owned.delete(ip);
    this.entryRelease?.giveBack(ip);
    if (entry.placeTaken) this.placesFor(ip).give();
  }

  /** Host discovery is resolving `ip` from now until settled(ip): other contacts wait for its verdict. */
  resolvingNow(ip: string): void {
    if (this.resolving.has(ip)) return;
    let settle = (): void => undefined;
    const verdict = new Promise<void>((resolve) => (settle = resolve));
    this.resolving.set(ip, { verdict, settle, silent: false });
  }

  /**
   * Host discovery has its verdict on `ip` (or gave up on it): contacts waiting for it go on.
   * `silent`: nobody answered ARP for it (its waiters learn it from answeredNothing).
   */
  settled(ip: string, silent = false): void {
    const resolving = this.resolving.get(ip);
    if (resolving === undefined) return;
    resolving.silent = silent;
    resolving.settle();
    this.resolving.delete(ip);
  }

  /**
   * True when host discovery is resolving `ip` now and nobody answers it: waits for the verdict
   * (false if `signal` aborts first). A datagram to such an address would only make the kernel
   * ask for it again, three seconds of a place for nothing. An address host discovery has not
   * reached, or judged before this call, is false: the caller contacts it as before.
   */
  async answeredNothing(ip: string, signal?: AbortSignal): Promise<boolean> {
    const resolving = this.resolving.get(ip);
    if (resolving === undefined || !(await waitFor(resolving.verdict, signal))) return false;
    return resolving.silent;
  }

  /**
   * Says that `ip`, contacted through acquire, answered (a SYN-ACK or a RST): its entry is REACHABLE,
   * so when the table cannot be read its place is held LIVE_HOLD_MS from now instead of SILENT_HOLD_MS.
   */
  answered(ip: string): void {
    // Counted from the table, an IPv4 entry's own row holds its place; the IPv6 table is never read.
    if (this.countFrom === 'table' && !ip.includes(':')) return;
    const timer = this.held.get(ip);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.hold(ip, LIVE_HOLD_MS);
  }

  /** The places of the table `ip`'s entry goes to: the IPv6 (NDP) one or the IPv4 (ARP) one. */
  private placesFor(ip: string): Places {
    return ip.includes(':') ? this.ipv6Places : this.places;
  }

  /** One place for host discovery to resolve `ip`, given back with `release`; false if `signal` aborted first. */
  async takePlace(ip: string, signal?: AbortSignal): Promise<boolean> {
    const places = this.placesFor(ip);
    const immediate = places.free && places.waiters === 0;
    const taking = places.take(signal);
    if (!immediate) this.countWhileWaiting();
    if (!(await taking)) return false;
    if (!immediate) this.waited++;
    return true;
  }

  /** Gives back the place taken with takePlace for `ip`, now or after `afterMs`. */
  release(ip: string, afterMs = 0): void {
    const places = this.placesFor(ip);
    if (afterMs <= 0) places.give();
    else setTimeout(() => places.give(), afterMs).unref();
  }

  /**
   * Remembers an address host discovery saw resolve: its entry holds its place (the table counts
   * it), so contacts with it take none; an entry the scan owns is given back once unused (use()).
   */
  markResolved(neighbour: ResolvedNeighbour): void {
    this.resolvedByIp.set(neighbour.ip, neighbour);
    this.settled(neighbour.ip);
    if (this.entryRelease?.owns(neighbour.ip) !== true || this.owned.has(neighbour.ip)) return;
    const entry: OwnedEntry = { users: 0, linger: undefined, placeTaken: false };
    this.owned.set(neighbour.ip, entry);
    this.linger(neighbour.ip, entry);
  }

  /**
   * Host discovery gives up on `ip`, unanswered so far: its INCOMPLETE entry is deleted now when
   * the scan owns it (true), freeing its place before the kernel's last solicitations.
   */
  giveUpUnanswered(ip: string, dev: string): boolean {
    return this.entryRelease?.owns(ip) === true && this.entryRelease.deleteUnanswered(ip, dev);
  }

  /**
   * Every address seen with a MAC whose entry may have gone since: those host discovery saw
   * resolve, then those whose entries the scan gave back, as each showed then.
   */
  *rememberedNeighbours(): Generator<ResolvedNeighbour> {
    yield* this.resolvedByIp.values();
    for (const neighbour of this.entryRelease?.remembered() ?? []) if (!this.resolvedByIp.has(neighbour.ip)) yield neighbour;
  }

  /** The scan is over: every entry of its own still in the table is given back now. */
  async close(): Promise<void> {
    this.closed = true;
    for (const [ip, entry] of this.owned) this.giveBackOwned(ip, entry);
    await this.entryRelease?.close();
  }

  /** What host discovery saw of `ip` when it resolved; undefined when it did not. */
  resolvedNeighbour(ip: string): ResolvedNeighbour | undefined {
    return this.resolvedByIp.get(ip);
  }

  private async take(ip: string, signal?: AbortSignal): Promise<boolean> {
    if (!(await this.takePlace(ip, signal))) return false;
    this.hold(ip, SILENT_HOLD_MS);
    return true;
  }

  /** Holds the place `ip` took for `ms`, then gives it back. */
  private hold(ip: string, ms: number): void {
    const timer = setTimeout(() => {
      this.held.delete(ip);
      this.release(ip);
    }, ms);
    timer.unref();
    this.held.set(ip, timer);
  }

  /**
   * Reads the table while IPv4 first contacts wait for a place and no other read came in the last
   * poll (host discovery's reads count for it). After TABLE_COUNT_TRIES failed reads in a row the
   * places are modelled from then on.
   */
  private countWhileWaiting(): void {
    const read = this.readTable;
    if (this.polling || read === undefined || this.countFrom !== 'table') return;
    this.polling = true;
    const poll = async (): Promise<void> => {
      while (this.places.waiters > 0 && this.countFrom === 'table') {
        await new Promise((resolve) => setTimeout(resolve, this.pollMs));
        if (Date.now() - this.lastReadAt < this.pollMs) continue;
        try {
          this.countTable(await read());
        } catch {
          if (++this.failedReads >= TABLE_COUNT_TRIES) {
            // What the last read showed held is freeable within LIVE_HOLD_MS at the latest.
            this.countFrom = 'modelled';
            setTimeout(() => this.places.setCounted(0), LIVE_HOLD_MS).unref();
          }
        }
      }
    };
    void poll().finally(() => (this.polling = false));
  }
}
