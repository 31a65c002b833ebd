/**
 * Probes as soon as they can: the scan runs each incremental 'probe' discoverer once, from the
 * start of the scan, over a feed of views of what has been observed so far (agent/pipeline/scan.ts).
 * Views come as the sweeps go on, from the start of the scan: a view says which hosts have had all
 * their ports swept (their open ports are known, so a host's pages can be asked port after port),
 * and whether the listen window has closed (what devices announced is whole then: before, a view
 * holds only what the window's discoverers have passed on early, SSDP's LOCATIONs, WS-Discovery's
 * XAddrs). While the answers to the window's searches come in, the scan lets only a few probes run
 * at once (its probe sockets' early places), so that those answers keep the machine. Each discoverer takes
 * from each view the items no earlier view gave it, claimed in the scan's ledger, so no item (a
 * discoverer's host, port, path or URL) is probed twice, and every item that one probe phase after
 * everything would probe is probed: the last view comes after every sweep.
 */
import { whenAborted } from '../net/abort.js';
import type { TlsPeer } from '../net/device-tls.js';
import type { Observation } from '../types.js';
import type { ScanContext } from './types.js';

/** Which items a discoverer has claimed, across every view of one scan. */
export class ProbeLedger {
  private readonly claimed = new Set<string>();

  /** True the first time `item` is claimed for `discoverer`; false ever after. */
  claim(discoverer: string, item: string): boolean {
    const key = `${discoverer}\u0000${item}`;
    if (this.claimed.has(key)) return false;
    this.claimed.add(key);
    return true;
  }

  /** Items claimed so far, all discoverers together. */
  get size(): number {
    return this.claimed.size;
  }
}

/**
 * How the first exchange with each web port went, for the probes that ask the same port after it.
 * The HTTP page probe asks a port first and leaves it alone once a request has timed out
 * (discovery/http.ts); the ONVIF guess at the same port (onvif.ts) waits for that verdict instead
 * of waiting out the same silence beside it: a port that accepts and then says nothing (the lab's
 * hosttcp port 80) cost the scan a second full timeout after the window closed.
 */
export class PortSilence {
  private readonly first = new Map<string, Promise<boolean>>();

  /** `silent`: the first exchange with ip:port, resolving true when the port sent no complete answer in time. */
  asking(ip: string, port: number, silent: Promise<boolean>): void {
    const key = `${ip} ${port}`;
    if (!this.first.has(key)) this.first.set(key, silent);
  }

  /** True when the first exchange with ip:port timed out (waiting for it while it runs); false when there was none. */
  async silent(ip: string, port: number): Promise<boolean> {
    return (await this.first.get(`${ip} ${port}`)) ?? false;
  }
}

/**
 * The HTTPS page probe's handshakes, for the certificate probe (discovery/tls.ts): a web port that
 * speaks TLS would otherwise be handshaken twice, once for its certificate and once for its pages.
 * The page probe tells each port's certificate (or null: it made no handshake there) as its first
 * connection there shows it; the certificate probe reads it from here instead of a handshake of its
 * own, and makes one only for a null. The first word on a port stands; after close() (the page
 * probe has ended) every port not told is null.
 */
export class TlsHandshakes {
  private readonly told = new Map<string, TlsPeer | null>();
  private readonly waiting = new Map<string, ((peer: TlsPeer | null) => void)[]>();
  private closed = false;

  /** What the page probe's handshake with ip:port showed; null when it made none. */
  tell(ip: string, port: number, peer: TlsPeer | null): void {
    const key = `${ip} ${port}`;
    if (this.told.has(key)) return;
    this.told.set(key, peer);
    for (const resolve of this.waiting.get(key) ?? []) resolve(peer);
    this.waiting.delete(key);
  }

  /** The certificate of ip:port, once the page probe has told it; null (read it yourself) when it made no handshake there, or `signal` aborted first. */
  peer(ip: string, port: number, signal?: AbortSignal): Promise<TlsPeer | null> {
    const key = `${ip} ${port}`;
    const told = this.told.get(key);
    if (told !== undefined) return Promise.resolve(told);
    if (this.closed || signal?.aborted) return Promise.resolve(null);
    return new Promise((resolve) => {
      const stopWatching = signal ? whenAborted(signal, () => resolve(null)) : (): void => undefined;
      const answer = (peer: TlsPeer | null): void => {
        stopWatching();
        resolve(peer);
      };
      this.waiting.set(key, [...(this.waiting.get(key) ?? []), answer]);
    });
  }

  /** The page probe has ended: ports it never told are null. */
  close(): void {
    this.closed = true;
    for (const [key, resolvers] of this.waiting) {
      this.told.set(key, null);
      for (const resolve of resolvers) resolve(null);
    }
    this.waiting.clear();
  }
}

/** What one view of the observations may be relied on for. */
export interface ProbePass {
  /** True for a host all of whose ports have been swept: its open ports in `seen` are whole. */
  readonly portsSwept: (ip: string) => boolean;
  /** The scan's one ledger. */
  readonly ledger: ProbeLedger;
  /** True once the listen window has closed: every announcement (ONVIF XAddrs, SSDP LOCATIONs) is in `seen`. */
  readonly announcementsWhole: boolean;
}

/** The observations so far, and what of them is whole. */
export interface ProbeView {
  readonly seen: readonly Observation[];
  readonly pass: ProbePass;
}

/** Whether `ip`'s open ports in ctx.seen are whole: always, absent a pass (one probe phase after everything). */
export function portsSwept(ctx: Pick<ScanContext, 'probePass'>, ip: string): boolean {
  return ctx.probePass?.portsSwept(ip) ?? true;
}

/** Whether every announcement is in ctx.seen: always, absent a pass (one probe phase after everything). */
export function announcementsWhole(ctx: Pick<ScanContext, 'probePass'>): boolean {
  return ctx.probePass?.announcementsWhole ?? true;
}

/** The items no earlier view gave `discoverer`, claimed now, in order; all of them absent a pass. */
export function claimUnprobed<T>(ctx: Pick<ScanContext, 'probePass'>, discoverer: string, items: Iterable<T>, key: (item: T) => string): T[] {
  const ledger = ctx.probePass?.ledger;
  return [...items].filter((item) => ledger?.claim(discoverer, key(item)) ?? true);
}

/**
 * The items of every view as the views come (`itemsOf` claims them), for a probe pool to take
 * as its workers free up; without a feed, the items of ctx itself, once.
 */
export async function* asTheyCome<T>(ctx: ScanContext, itemsOf: (view: ScanContext) => Iterable<T>): AsyncGenerator<T> {
  if (!ctx.probeFeed) return yield* itemsOf(ctx);
  for await (const view of ctx.probeFeed.views()) yield* itemsOf({ ...ctx, seen: view.seen, probePass: view.pass });
}

/**
 * Views of the observations for the probe discoverers. Whoever adds to them calls changed(); each
 * reader then gets one view, taken when the first reader asks after the change and shared by the
 * others (a reader busy with earlier items skips the views in between: each view holds everything
 * before it), at most every `intervalMs`, and a last one after close().
 */
export class ProbeFeed {
  private version = 0;
  private taken: { version: number; view: ProbeView } | null = null;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void)[] = [];

  constructor(
    private readonly snapshot: () => ProbeView,
    private readonly intervalMs: number,
  ) {}

  /** Something was observed or swept: readers get a new view within `intervalMs`. */
  changed(): void {
    if (this.closed || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.publish();
    }, this.intervalMs);
  }

  /** Something readers must not wait for (the window closed): they get a new view at once. */
  now(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.publish();
  }

  /** Everything is observed: readers get the last view at once, then their iteration ends. */
  close(): void {
    this.now();
    this.closed = true;
  }

  async *views(): AsyncGenerator<ProbeView> {
    let taken = 0;
    for (;;) {
      if (this.version > taken) {
        taken = this.version;
        if (this.taken?.version !== taken) this.taken = { version: taken, view: this.snapshot() };
        yield this.taken.view;
      } else if (this.closed) return;
      else await new Promise<void>((resolve) => this.wake.push(resolve));
    }
  }

  private publish(): void {
    this.version++;
    for (const resolve of this.wake.splice(0)) resolve();
  }
}
