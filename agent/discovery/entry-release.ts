/**
 * Giving the scan's own neighbour entries back to the kernel (net/neighbour-budget.ts EntryRelease):
 * an entry is the scan's when its address is an on-link IPv4 one the table had no entry for when
 * the scan started; an entry that was there before (another program's, an administrator's) is
 * never touched. Each entry is read before it is deleted, so the MAC it showed is still reported
 * at the end of the scan (discovery/neighbours.ts reads rememberedNeighbours), and only entries
 * with a MAC are deleted that way: an INCOMPLETE one is left to end FAILED on its own (3 s), unless
 * host discovery gives up on it (deleteUnanswered), and PERMANENT ones are an administrator's.
 *
 * Entries are deleted on the scan's own reads of the table as they come (tableRead: host discovery
 * reads it every 100 ms), or on a read of the release's own FLUSH_MS after the first entry due when
 * none came: one read of the table for many entries.
 */
import { isIPv4 } from 'node:net';
import type { Logger } from '../log.js';
import type { EntryRelease, ResolvedNeighbour } from '../net/neighbour-budget.js';
import type { NeighbourDeleter } from '../net/neighbour-release.js';
import { heardWithin, type NeighbourRow } from './neighbours.js';

/**
 * How long entries given back wait for a read of the table, after which the release reads it
 * itself. While host discovery runs it reads the table every 100 ms (link-hosts.ts TABLE_POLL_MS)
 * and hands each read over (tableRead), so entries go back at its pace and the release reads
 * nothing; after it, only the probes' re-contacts take places (a few dozen at once against 512),
 * so half a second costs nothing, and it spares the agent a read of the table (a process started
 * by a large one: 2 s of the crowd /22's CPU went to starting them, profiled) every 100 ms.
 */
export const FLUSH_MS = 500;

export interface EntryReleaseOptions {
  deleter: NeighbourDeleter;
  /** Every address the table had an entry for when the scan started, in any state. */
  inTableAtStart: ReadonlySet<string>;
  /** Whether an address is on one of the chosen interfaces' subnets. */
  isOnLink(ip: string): boolean;
  /** Reads this namespace's IPv4 table, every row. */
  readTable(): Promise<NeighbourRow[]>;
  /** The interface an address without a `dev` in its row is on. */
  interfaceOf(ip: string): string;
  scanStartedAtMs: number;
  log: Logger;
}

export class ScanEntryRelease implements EntryRelease {
  /** Entries to give back, each with when it was given (epoch ms): a read begun after that shows it as it was left. */
  private readonly due = new Map<string, number>();
  private readonly rememberedByIp = new Map<string, ResolvedNeighbour>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;
  /** Entries deleted after their use (a MAC read first) and unanswered ones deleted by host discovery, for the log. */
  readonly tally = { givenBack: 0, unanswered: 0, unreadable: 0 };

  constructor(private readonly options: EntryReleaseOptions) {}

  /** Times the kernel refused a deletion (the entry was gone already), for the log. */
  get refused(): number {
    return this.options.deleter.refused;
  }

  owns(ip: string): boolean {
    return isIPv4(ip) && this.options.isOnLink(ip) && !this.options.inTableAtStart.has(ip);
  }

  giveBack(ip: string): void {
    if (this.closed) return;
    this.due.set(ip, Date.now());
    this.readLater();
  }

  /** A read of the table begun at `readStartedAt` (epoch ms): the entries given back by then go back now. */
  tableRead(rows: readonly NeighbourRow[], readStartedAt: number): void {
    if (!this.closed) this.giveBackShown(rows, readStartedAt);
  }

  deleteUnanswered(ip: string, dev: string): boolean {
    if (this.closed || !this.options.deleter.delete(ip, dev)) return false;
    this.tally.unanswered++;
    return true;
  }

  remembered(): IterableIterator<ResolvedNeighbour> {
    return this.rememberedByIp.values();
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await (this.flushing = this.flushing.then(() => this.flush()));
    this.closed = true;
    await this.options.deleter.close();
  }

  /** Reads the table itself FLUSH_MS from now, unless a read handed over meanwhile took every entry due. */
  private readLater(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flushing = this.flushing.then(() => this.flush());
    }, FLUSH_MS);
    this.timer.unref();
  }

  /** Reads the table once and gives back every entry due when the read began. */
  private async flush(): Promise<void> {
    if (this.due.size === 0) return;
    const readStartedAt = Date.now();
    let rows: NeighbourRow[];
    try {
      rows = await this.options.readTable();
    } catch (error) {
      // Unread, an entry's MAC would be lost with it: the kernel frees these in its own time.
      const left = [...this.due.keys()].filter((ip) => (this.due.get(ip) ?? Infinity) <= readStartedAt);
      for (const ip of left) this.due.delete(ip);
      this.tally.unreadable += left.length;
      this.options.log.debug({ entries: left.length, err: (error as Error).message }, 'neighbour table unreadable: entries left to the kernel');
      return;
    }
    this.giveBackShown(rows, readStartedAt);
    // Entries given back while the table was being read wait for the next read.
    if (this.due.size > 0 && !this.closed) this.readLater();
  }

  /**
   * Remembers what each entry due by `readStartedAt` shows in `rows`, and deletes those with a
   * MAC (not PERMANENT: an administrator's); the others are left to the kernel.
   */
  private giveBackShown(rows: readonly NeighbourRow[], readStartedAt: number): void {
    const shown = [...this.due].filter(([, givenAt]) => givenAt <= readStartedAt);
    if (shown.length === 0) return;
    const byIp = new Map(rows.map((row) => [row.ip, row]));
    const scanAgeSeconds = (Date.now() - this.options.scanStartedAtMs) / 1000;
    for (const [ip] of shown) {
      this.due.delete(ip);
      const row = byIp.get(ip);
      if (row?.entry == null || row.entry.state === 'PERMANENT') continue;
      const dev = row.dev ?? this.options.interfaceOf(ip);
      const { mac, state } = row.entry;
      this.rememberedByIp.set(ip, { ip, mac, state, dev, fresh: heardWithin(row.entry, scanAgeSeconds) });
      if (this.options.deleter.delete(ip, dev)) this.tally.givenBack++;
    }
  }
}
