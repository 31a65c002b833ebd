/**
 * Host discovery on the local link, before the port sweep (issue 10): which on-link addresses
 * answer neighbour resolution (ARP, RFC 826), so that the TCP sweep touches live hosts only.
 *
 * Without raw sockets the agent cannot send ARP itself; it makes the kernel do it: one empty UDP
 * datagram to a closed port (NUDGE_PORT) makes the kernel create a neighbour entry for the address
 * and ask the link for it (mcast_solicit broadcasts, retrans_time apart: 3 × 1 s by default,
 * Documentation/networking/ip-sysctl.rst). The table (`ip -json -stats neigh`, polled) then says
 * how each address fared: resolved (REACHABLE and the other usable states: a MAC, a live host),
 * FAILED (nobody answered), or still INCOMPLETE. The datagram carries no payload a device could
 * act on; a live host answers it at most with an ICMP port unreachable.
 *
 * Every such address takes a place in the kernel's neighbour table, which is one for the whole
 * machine (net/neighbour-budget.ts). Each read of the table is handed to the budget, which counts
 * from it the entries the kernel's collector cannot free (INCOMPLETE and REACHABLE ones hold a
 * timer's reference; others for 5 s after they change): a nudge holds a place of its own only until
 * a read begun after it shows its entry, and from then on the entry's own row holds it for as long
 * as the kernel keeps it (an unanswered address about 3 s, until FAILED; a live one about 35 s,
 * while REACHABLE), or until the scan gives its own entry back (with CAP_NET_ADMIN: an unanswered
 * one after two solicitations, SECOND_SOLICITATION_GRACE_MS; a live one once nothing uses it).
 */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { sleep } from '../net/abort.js';
import { COLLECTOR_MIN_AGE_SECONDS, type NeighbourBudget } from '../net/neighbour-budget.js';
import { heardWithin, type NeighbourRow } from './neighbours.js';

/**
 * Where the nudge goes: UDP 33434, the first port of traceroute's range, chosen because no service
 * is expected there (traceroute(8) sends to 33434 and up so that hosts answer port unreachable).
 */
export const NUDGE_PORT = 33434;
/**
 * States that prove the address is there now: REACHABLE (it answered ARP within reachable_time) and
 * PERMANENT (set by an administrator). STALE, DELAY and PROBE are a MAC remembered from earlier,
 * which the nudge sends the kernel to check (delay_first_probe_time 5 s, then unicast ARP): such an
 * address is judged once the check ends, REACHABLE or FAILED (a device taken off the wire since the
 * last scan must not count as live).
 */
const PROVEN_STATES = new Set(['REACHABLE', 'PERMANENT']);
/**
 * Reads of the table that may fail in a row before the discovery gives up on it and hands its
 * addresses to the TCP check: one failure is no proof that `ip` is missing (under load average 20
 * one read in a scan of the crowd lab outlived its 5 s timeout; BENCHMARKS.md).
 */
export const TABLE_READ_TRIES = 3;
/** How often the table is read while addresses are being resolved. */
export const TABLE_POLL_MS = 100;
/**
 * An address still unresolved this long after its nudge is counted unanswered and its place given
 * back: the longest check of Linux's defaults, a remembered entry's delay_first_probe_time (5 s) and
 * ucast_solicit (3) × retrans_time (1 s), and a second more.
 */
export const RESOLUTION_LIMIT_MS = 9_000;

/**
 * How long after the kernel's second solicitation an address that has not answered is given up on,
 * when the scan may delete its entry (net/neighbour-budget.ts giveUpUnanswered). The kernel asks
 * mcast_solicit (3) times, retrans_time (1 s) apart, and holds the entry's place the whole 3 s; a
 * host on the link answers ARP within milliseconds, so the first solicitation's second of waiting
 * covers any live host, and the second solicitation (sent at one retrans_time) covers a lost
 * request or answer with this much time to answer: two solicitations, as nmap's ARP ping sends to
 * an address that stays silent. Deleting the entry then gives its place back at about 1.2 s, not 3 s:
 * on an on-link /16, whose addresses are nearly all silent, host discovery's pace is its budget over
 * this hold.
 */
export const SECOND_SOLICITATION_GRACE_MS = 200;
/** The kernel's default retrans_time (Documentation/networking/ip-sysctl.rst, neigh/default/retrans_time_ms). */
export const DEFAULT_RETRANS_TIME_MS = 1000;

/** `dev`'s retrans_time_ms (the time between solicitations), or the kernel's default where it cannot be read. */
export function retransTimeMs(dev: string, read: (path: string) => string = (p) => readFileSync(p, 'utf8')): number {
  try {
    const value = Number(read(`/proc/sys/net/ipv4/neigh/${dev}/retrans_time_ms`).trim());
    if (Number.isInteger(value) && value > 0) return value;
  } catch {
    // No such interface here, or not Linux.
  }
  return DEFAULT_RETRANS_TIME_MS;
}

/**
 * Nudges waiting on resolution per socket. Each sits in the kernel's queue for its address, counted
 * against its socket's send buffer, until resolution ends (socket(7) SO_SNDBUF); an empty datagram
 * costs about 1 KB there, and net.core.wmem_default is 212,992 bytes, so 128 leave a socket room
 * and the sending never stalls on a full buffer. Nothing system-wide is raised.
 */
export const NUDGES_PER_SOCKET = 128;

export interface Nudger {
  /** Sends one empty datagram to NUDGE_PORT of `ip`; rejects when this machine could not. */
  nudge(ip: string): Promise<void>;
  close(): void;
}

/** Sockets enough for `inFlight` nudges at once, used in turn, opened at the first nudge. */
export function openNudger(inFlight: number): Nudger {
  let sockets: dgram.Socket[] = [];
  const open = (): dgram.Socket[] =>
    Array.from({ length: Math.max(1, Math.ceil(inFlight / NUDGES_PER_SOCKET)) }, () => {
      const socket = dgram.createSocket('udp4');
      // Nothing is expected back; an error is the send's own (its callback says so).
      socket.on('error', () => undefined);
      return socket;
    });
  const empty = Buffer.alloc(0);
  let turn = 0;
  return {
    nudge: (ip) =>
      new Promise((resolve, reject) => {
        if (sockets.length === 0) sockets = open();
        const socket = sockets[turn++ % sockets.length] as dgram.Socket;
        socket.send(empty, NUDGE_PORT, ip, (error) => (error ? reject(error) : resolve()));
      }),
    close: () => {
      for (const socket of sockets) socket.close();
      sockets = [];
    },
  };
}

/**
 * Times one address is nudged when the kernel had no room for its entry: its "neighbor table
 * overflow" drops the datagram without telling the sender (udp_sendmsg ignores ENOBUFS unless
 * IP_RECVERR is set, torvalds/linux net/ipv4/udp.c udp_send_skb), so the entry is simply absent.
 * The table is the whole machine's: another program's burst fills it for a few seconds.
 */
export const NUDGE_TRIES = 5;
/**
 * The wait before nudging such an address again, times the nudges it has had (1, 2, 3, 4 s: ten
 * seconds of patience in all). Its place is held meanwhile, so a full table slows the discovery
 * down, as a lost packet slows a TCP sender.
 */
export const RETRY_DELAY_MS = 1000;

export interface LinkDiscoveryTally {
  /** Addresses nudged. */
  addresses: number;
  /** Addresses that answered resolution. */
  live: number;
  /** Addresses that did not (FAILED, or gone from the table after it showed them unresolved). */
  silent: number;
  /**
   * Addresses still unresolved at the resolution limit, or never given an entry in NUDGE_TRIES
   * nudges (those are also handed back in `unjudged`).
   */
  unresolved: number;
  /** Nudges the kernel gave no entry (its table was full): each was tried again after RETRY_DELAY_MS. */
  tableFull: number;
  /**
   * Addresses whose entry vanished more than the collector's 5 s after a read showed it unresolved:
   * it may have resolved and been freed between two reads (reads that slow happen on a machine
   * under heavy load), so each was nudged again rather than counted silent.
   */
  vanished: number;
  /** Nudges this machine could not send: those addresses are handed back untested. */
  localErrors: number;
}

export interface LinkDiscoveryOptions {
  /** The on-link addresses to resolve, read as places free up (a generator is never listed whole). */
  addresses: Iterator<string>;
  /**
   * The places in the neighbour table: the only pacing. Nudges do not take `--rate` turns: they are
   * no connections or exchanges, and behind a sweep's queued connects they would wait seconds each.
   * Every read of the table is handed to it (countTable).
   */
  budget: NeighbourBudget;
  signal: AbortSignal;
  /** When the scan began (epoch ms), to tell an answer during this scan from an older one. */
  scanStartedAtMs: number;
  /** Sends one datagram to `ip`; rejects when this machine could not. */
  nudge(ip: string): Promise<void>;
  /** Reads the neighbour table, every row. */
  readTable(): Promise<NeighbourRow[]>;
  /** The interface an address without a `dev` in its row is on. */
  interfaceOf(ip: string): string;
  /** Called once for each address that answered, as soon as the table shows it. */
  onLive(ip: string): void;
  pollMs?: number;
  resolutionLimitMs?: number;
  /** The collector's age (COLLECTOR_MIN_AGE_SECONDS): an entry gone sooner after it was seen unresolved was FAILED. */
  collectorAgeMs?: number;
  retryDelayMs?: number;
  /** How long an address that stays unresolved is waited for when its entry can be deleted: its interface's retrans_time + SECOND_SOLICITATION_GRACE_MS. */
  unansweredAfterMs?: (dev: string) => number;
}

export interface LinkDiscoveryResult {
  tally: LinkDiscoveryTally;
  /**
   * Addresses taken from `addresses` but never judged because the table could not be read (no
   * iproute2, not Linux), the nudge could not be sent, or the kernel never had room for its entry:
   * the caller sweeps them (and, when the table could not be read, the rest of `addresses`) another way.
   */
  unjudged: string[];
  /** Why the table could not be read; null when it could. */
  tableError: string | null;
}

/** One nudged address waiting for its verdict. */
interface Waiting {
  sentAt: number;
  /** Nudges so far. */
  tries: number;
  /** When the latest read that showed its entry unresolved began (epoch ms); null before any did. */
  seenAt: number | null;
  /** Whether its nudge still holds a place of its own (until a read shows its entry, which then holds it). */
  placeHeld: boolean;
}

/** Resolves every address of `addresses` within the neighbour budget, reporting each live one as soon as it answers. */
export async function discoverLinkHosts(options: LinkDiscoveryOptions): Promise<LinkDiscoveryResult> {
  const { budget, signal } = options;
  const pollMs = options.pollMs ?? TABLE_POLL_MS;
  const limitMs = options.resolutionLimitMs ?? RESOLUTION_LIMIT_MS;
  const collectorAgeMs = options.collectorAgeMs ?? COLLECTOR_MIN_AGE_SECONDS * 1000;
  const retryDelayMs = options.retryDelayMs ?? RETRY_DELAY_MS;
  const waitByDev = new Map<string, number>();
  const unansweredAfterMs =
    options.unansweredAfterMs ??
    ((dev: string): number => {
      let ms = waitByDev.get(dev);
      if (ms === undefined) waitByDev.set(dev, (ms = retransTimeMs(dev) + SECOND_SOLICITATION_GRACE_MS));
      return ms;
    });
  const tally: LinkDiscoveryTally = { addresses: 0, live: 0, silent: 0, unresolved: 0, tableFull: 0, vanished: 0, localErrors: 0 };
  const waiting = new Map<string, Waiting>();
  /** Addresses to nudge again (the table had no room), with their tries so far, once their delay is over. */
  const again: Array<{ ip: string; tries: number }> = [];
  let retriesDue = 0;
  const unjudged: string[] = [];
  let tableError: string | null = null;
  let sending = true;
  /** Nudges not yet handed to the kernel. */
  let sendsUnderWay = 0;
  /** Whether the discovery has returned: a retry falling due after it only releases its address. */
  let ended = false;

  /** The next address to nudge and its tries so far; null when there is none now, 'done' when there will be none. */
  const nextAddress = (): { ip: string; tries: number } | null | 'done' => {
    const retry = again.shift();
    if (retry) return retry;
    const next = options.addresses.next();
    if (!next.done) {
      tally.addresses++;
      return { ip: next.value, tries: 0 };
    }
    // Addresses still waiting may yet need another nudge (the table had no room for them).
    return retriesDue > 0 || waiting.size > 0 || sendsUnderWay > 0 ? null : 'done';
  };

  const send = async (): Promise<void> => {
    try {
      while (!signal.aborted && tableError === null) {
        const next = nextAddress();
        if (next === 'done') return;
        if (next === null) {
          await sleep(pollMs, signal);
          continue;
        }
        const { ip, tries } = next;
        // The address is known before its place is taken: an IPv6 one takes a place of the IPv6 table's.
        if (!(await budget.takePlace(ip, signal))) return;
        if (tableError !== null) {
          // The table became unreadable while this address waited for its place: the caller checks it.
          budget.release(ip);
          unjudged.push(ip);
          return;
        }
        // Not awaited: a send completes a turn of the event loop later, and a busy loop would pace
        // the nudges instead of the places. The place taken bounds how many are under way.
        budget.resolvingNow(ip);
        sendsUnderWay++;
        options.nudge(ip).then(
          () => {
            sendsUnderWay--;
            waiting.set(ip, { sentAt: Date.now(), tries: tries + 1, seenAt: null, placeHeld: true });
          },
          () => {
            sendsUnderWay--;
            tally.localErrors++;
            unjudged.push(ip);
            budget.release(ip);
            budget.settled(ip);
          },
        );
      }
    } finally {
      sending = false;
    }
  };

  /** Gives back the place `ip`'s nudge holds of its own, if it still does. */
  const giveBack = (ip: string, record: Waiting, afterMs = 0): void => {
    if (!record.placeHeld) return;
    record.placeHeld = false;
    budget.release(ip, afterMs);
  };

  const settle = (ip: string, record: Waiting, outcome: 'silent' | 'unresolved'): void => {
    waiting.delete(ip);
    tally[outcome]++;
    giveBack(ip, record);
    budget.settled(ip, outcome === 'silent');
  };

  /** Nudges `ip` again after its delay, its place held meanwhile; gives up after NUDGE_TRIES. */
  const nudgeAgain = (ip: string, record: Waiting): void => {
    waiting.delete(ip);
    if (record.tries >= NUDGE_TRIES) {
      // Never judged: unknown, not silent; handed back for the 80/443 check.
      tally.unresolved++;
      unjudged.push(ip);
      giveBack(ip, record);
      budget.settled(ip);
      return;
    }
    // The address is queued again as its place comes back, ahead of the addresses not yet nudged.
    const delayMs = retryDelayMs * record.tries;
    retriesDue++;
    setTimeout(() => {
      retriesDue--;
      // The discovery ended meanwhile (aborted, or the table became unreadable): nobody will nudge it.
      if (ended) budget.settled(ip);
      else again.push({ ip, tries: record.tries });
    }, delayMs).unref();
    giveBack(ip, record, delayMs);
  };

  const judge = (rows: readonly NeighbourRow[], readStartedAt: number): void => {
    const byIp = new Map(rows.map((row) => [row.ip, row]));
    const readEndedAt = Date.now();
    const scanAgeSeconds = (readEndedAt - options.scanStartedAtMs) / 1000;
    for (const [ip, record] of waiting) {
      // A read begun before the nudge left may show the entry as an earlier scan left it (same
      // millisecond included: the clock cannot order them).
      if (record.sentAt >= readStartedAt) continue;
      const row = byIp.get(ip);
      // The table shows the entry: its row holds the place from now on (budget.countTable).
      if (row !== undefined) giveBack(ip, record);
      if (row?.entry && PROVEN_STATES.has(row.entry.state)) {
        waiting.delete(ip);
        tally.live++;
        const { mac, state } = row.entry;
        budget.markResolved({ ip, mac, state, dev: row.dev ?? options.interfaceOf(ip), fresh: heardWithin(row.entry, scanAgeSeconds) });
        options.onLive(ip);
      } else if (row?.verdict === 'failed') settle(ip, record, 'silent');
      else if (row === undefined && record.seenAt !== null && readEndedAt - record.seenAt < collectorAgeMs) {
        // Gone sooner after a read that showed it unresolved began than the collector frees a
        // resolved entry (and an INCOMPLETE one cannot be freed at all): it was freed FAILED.
        settle(ip, record, 'silent');
      } else if (row === undefined && record.seenAt !== null) {
        // Gone so long after it was seen unresolved that it may have resolved and been freed since.
        tally.vanished++;
        nudgeAgain(ip, record);
      } else if (row === undefined) {
        // Never in the table: the kernel had no room for it (the entry is made as the datagram leaves).
        tally.tableFull++;
        nudgeAgain(ip, record);
      } else {
        record.seenAt = readStartedAt;
        // A MAC remembered from earlier (STALE, DELAY, PROBE): packets to it leave at once, none is
        // queued on an unresolved entry, so other contacts need not wait the kernel's check (its
        // delay_first_probe_time alone is 5 s, longer than a short discovery window).
        if (row.entry) budget.settled(ip);
        const waitedMs = readStartedAt - record.sentAt;
        if (waitedMs > limitMs) settle(ip, record, 'unresolved');
        else if (row.states.includes('INCOMPLETE')) {
          // Still unanswered after two solicitations: its entry is deleted when the scan may (its place comes back now).
          const dev = row.dev ?? options.interfaceOf(ip);
          if (waitedMs >= unansweredAfterMs(dev) && budget.giveUpUnanswered(ip, dev)) settle(ip, record, 'silent');
        }
      }
    }
  };

  /** Reads in a row that failed. */
  let failedReads = 0;
  const poll = async (): Promise<void> => {
    while ((sending || sendsUnderWay > 0 || waiting.size > 0) && !signal.aborted) {
      await sleep(pollMs, signal);
      // Read while addresses wait for their verdict, or for a place: each read frees places (budget.countTable).
      if (waiting.size === 0 && !sending) continue;
      const readStartedAt = Date.now();
      try {
        const rows = await options.readTable();
        budget.countTable(rows);
        judge(rows, readStartedAt);
        failedReads = 0;
      } catch (error) {
        if (++failedReads < TABLE_READ_TRIES) continue;
        tableError = (error as Error).message;
        for (const [ip, record] of waiting) {
          unjudged.push(ip);
          giveBack(ip, record);
          budget.settled(ip);
        }
        waiting.clear();
        for (const { ip } of again.splice(0)) {
          unjudged.push(ip);
          budget.settled(ip);
        }
        return;
      }
    }
  };

  await Promise.all([send(), poll()]);
  ended = true;
  // Aborted: whatever is still waiting unseen keeps its place until the kernel has settled it.
  for (const [ip, record] of waiting) {
    giveBack(ip, record, limitMs);
    budget.settled(ip);
  }
  for (const { ip } of again) budget.settled(ip);
  return { tally, unjudged, tableError };
}
