/**
 * What a scan keeps of what the network sends it, bounded, and what it cut, counted. A device
 * that floods replies (thousands a second, each with a new identity) or packs one datagram with
 * thousands of items costs a bounded amount of memory and CPU: past a cap, the rest is dropped,
 * counted under the cap's name, logged once, and reported in the document's `scan.dropped`.
 *
 * Two kinds of cap:
 * - per-item caps inside one message (XAddrs per ProbeMatch…), applied by the discoverers before
 *   the items are parsed, and counted here with `dropped`;
 * - observation caps of the listen phase, per discovery method: per sender address and in all.
 *   A sender that has had its share is refused before its next datagram is even parsed (`admits`).
 */
import type { Logger } from '../log.js';
import type { Observation } from '../types.js';

/**
 * Observations one discovery method keeps from one sender. A real device answers each discovery
 * protocol as one identity, an NVR or a host with several mDNS service types with a few; 64 is
 * also the mDNS and SSDP discoverers' own cap per address (instances, USNs).
 */
export const MAX_OBSERVATIONS_PER_SOURCE = 64;
/**
 * Observations one listening discovery method keeps in all: one per address of a /20 link. Its
 * replies come only from the local link (multicast, TTL 1), and a link of more than 4,096 devices
 * answering one protocol is a flood, not a network (the sweep of named targets, up to a /16, is not
 * bounded by this: it emits only for hosts that answer).
 */
export const MAX_OBSERVATIONS_PER_METHOD = 4096;
/**
 * Replies a listen discoverer remembers having decoded (sender and digest), so that the answer to a
 * search's second send is not decoded again: as many as can become observations, each answering
 * both sends. Past it a repeat is simply decoded again: a flood of distinct replies costs CPU, not
 * memory.
 */
export const MAX_REMEMBERED_REPLIES = 2 * MAX_OBSERVATIONS_PER_METHOD;

export class ScanBounds {
  private readonly counts = new Map<string, number>();
  private readonly perSource = new Map<string, number>();
  private readonly perMethod = new Map<string, number>();

  constructor(private readonly log: Logger) {}

  /**
   * Counts `count` items cut at the cap named `cap` (`<method>.<what>`, e.g. `ws-discovery.xaddrs`);
   * the first cut of each cap is logged as a warning with `detail`, the total at the end of the scan.
   */
  dropped(cap: string, count = 1, detail: Record<string, unknown> = {}): void {
    if (count <= 0) return;
    const before = this.counts.get(cap) ?? 0;
    this.counts.set(cap, before + count);
    if (before === 0) this.log.warn({ cap, ...detail }, `a device sent more than the agent keeps (${cap}); the rest is dropped and counted`);
  }

  /**
   * Whether `method` still keeps observations from `source`: false, counted as one dropped
   * datagram, once the sender or the method has had its share. Listen-phase discoverers ask before
   * they parse a datagram.
   */
  admits(method: string, source: string): boolean {
    if ((this.perSource.get(`${method} ${source}`) ?? 0) >= MAX_OBSERVATIONS_PER_SOURCE) {
      this.dropped(`${method}.per-source`, 1, { from: source, max: MAX_OBSERVATIONS_PER_SOURCE });
      return false;
    }
    if ((this.perMethod.get(method) ?? 0) >= MAX_OBSERVATIONS_PER_METHOD) {
      this.dropped(`${method}.total`, 1, { from: source, max: MAX_OBSERVATIONS_PER_METHOD });
      return false;
    }
    return true;
  }

  /** Takes one observation of `method` from `source` when `admits` allows it; false when it is dropped. */
  take(method: string, source: string): boolean {
    if (!this.admits(method, source)) return false;
    const key = `${method} ${source}`;
    this.perSource.set(key, (this.perSource.get(key) ?? 0) + 1);
    this.perMethod.set(method, (this.perMethod.get(method) ?? 0) + 1);
    return true;
  }

  /** `emit`, passed only the observations `take` allows (the listen phase's emit). */
  keeping(emit: (o: Observation) => void): (o: Observation) => void {
    return (o) => {
      if (this.take(o.source, o.ip)) emit(o);
    };
  }

  /** Every cap that cut something, with how much, sorted by name (the document's `scan.dropped`). */
  counters(): Record<string, number> {
    return Object.fromEntries([...this.counts.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }
}
