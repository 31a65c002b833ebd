/**
 * Pacing for active probes (`--rate`): at most `ratePerSecond` new connections or request exchanges
 * per second, every host and every discoverer of a phase together, plus a bounded worker pool.
 * Cameras fall over under bursts, so starts are spread evenly rather than allowed in clumps.
 *
 * The pacer is virtual scheduling (the Generic Cell Rate Algorithm of ITU-T I.371 with no burst
 * tolerance): each `take()` reserves the next start time, one interval after the previous
 * reservation, and waits for it. Callers are served in the order they asked; the long-run rate is
 * exact whatever the timer granularity, because each reservation is an absolute time.
 */
// The clock is the global `performance` (Node's perf_hooks one), so that tests can run the pacer
// on fake timers and check its schedule exactly.
import { whenAborted } from './abort.js';

/**
 * `--rate` (and the daemon's `rate`) by default: new connections or exchanges a second, all hosts
 * together. Each device is protected by its own limits whatever this allows (the TCP sweep's
 * per-host connections and rate, discovery/ports.ts), so this caps what the network as a whole
 * carries. Sized so that a /22 sweep is no slower than `nmap -sT` at its defaults: 1,000 live hosts
 * × 9 ports are about 9,000 connects, which took nmap -sT -Pn 4.2 s in the issue 10 trial, and
 * 4,000 a second starts them in 2.3 s (at 250 the sweep took 36 s). runZero's default is 1,000
 * packets a second over a scan (https://help.runzero.com/docs/troubleshooting-iot-and-ot/).
 */
export const DEFAULT_RATE_PER_SECOND = 4000;
/** The highest `--rate` accepted. */
export const MAX_RATE_PER_SECOND = 5000;

export class RateLimiter {
  /** Milliseconds between two starts. */
  readonly intervalMs: number;
  private nextStartMs = 0;

  constructor(readonly ratePerSecond: number) {
    if (!Number.isFinite(ratePerSecond) || ratePerSecond <= 0) throw new RangeError(`rate must be a positive number, not ${ratePerSecond}`);
    this.intervalMs = 1000 / ratePerSecond;
  }

  /**
   * Waits for the caller's turn. Resolves true when it may start one connection or exchange, false
   * when `signal` aborted first (then nothing may be started; the reserved turn is simply lost).
   */
  take(signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) return Promise.resolve(false);
    const now = performance.now();
    const startAt = Math.max(now, this.nextStartMs);
    this.nextStartMs = startAt + this.intervalMs;
    if (startAt <= now) return Promise.resolve(true);
    return new Promise((resolve) => {
      let cancel = (): void => undefined;
      let timer: NodeJS.Timeout;
      // Node's timers run on the event loop's cached clock and can fire a fraction of a
      // millisecond early: wait again for the remainder, so a start is never ahead of its turn.
      // Whole milliseconds: Node keeps one list of timers per duration (nodejs/node
      // lib/internal/timers.js timerListMap), and a sweep's thousands of waits of fractional
      // durations would otherwise each make a list of their own.
      const wait = (): void => {
        const left = startAt - performance.now();
        if (left > 0) {
          timer = setTimeout(wait, Math.ceil(left));
          return;
        }
        cancel();
        resolve(!signal?.aborted);
      };
      timer = setTimeout(wait, Math.ceil(startAt - now));
      if (signal) {
        cancel = whenAborted(signal, () => {
          clearTimeout(timer);
          resolve(false);
        });
      }
    });
  }
}

const shared = new WeakMap<object, RateLimiter>();

/**
 * The one limiter of a scan phase. The scan builds one context object per phase and hands it to
 * every discoverer of that phase, so keying on it makes HTTP, TLS, RTSP and ONVIF probes share
 * the operator's `--rate` instead of each taking all of it.
 */
export function sharedRateLimiter(phase: { readonly ratePerSecond: number }): RateLimiter {
  let limiter = shared.get(phase);
  if (!limiter) {
    limiter = new RateLimiter(phase.ratePerSecond);
    shared.set(phase, limiter);
  }
  return limiter;
}

/**
 * Joins `line`: resolves true when the owner calls the function it queued (in order, first queued
 * first), false if `signal` aborts first (then it leaves the line).
 */
export function waitInLine(line: (() => void)[], signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    let cancel = (): void => undefined;
    const granted = (): void => {
      cancel();
      resolve(true);
    };
    line.push(granted);
    if (signal) {
      cancel = whenAborted(signal, () => {
        const at = line.indexOf(granted);
        if (at >= 0) line.splice(at, 1);
        resolve(false);
      });
    }
  });
}

/**
 * A counting semaphore: at most `size` holders at once (e.g. sockets open at the same time, so a
 * sweep never runs the process out of file descriptors). Waiters are served in order.
 */
export class Semaphore {
  private free: number;
  private places: number;
  private readonly waiting: (() => void)[] = [];

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`semaphore size must be a positive integer, not ${size}`);
    this.places = size;
    this.free = size;
  }

  /** Holders allowed at once. */
  get size(): number {
    return this.places;
  }

  /** Allows `size` holders at once from now on, waking waiters for the new places; never fewer than before. */
  widen(size: number): void {
    if (!Number.isInteger(size)) throw new RangeError(`semaphore size must be an integer, not ${size}`);
    for (; this.places < size; this.places++) {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }

  /** Resolves true once a place is held (give it back with release()), false if `signal` aborted first. */
  acquire(signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) return Promise.resolve(false);
    if (this.free > 0) {
      this.free--;
      return Promise.resolve(true);
    }
    return waitInLine(this.waiting, signal);
  }

  /** Places free now (an acquire would not wait). */
  get available(): number {
    return this.free;
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free = Math.min(this.places, this.free + 1);
  }
}

/**
 * Items handed over as they come (host discovery's live hosts, to the sweep's workers), read with
 * `for await` by any number of readers at once, each item by one; the iteration ends once close()
 * was called and every item was taken. Holds only the items not yet taken.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private readonly readers: ((result: IteratorResult<T>) => void)[] = [];
  private closed = false;

  push(item: T): void {
    const reader = this.readers.shift();
    if (reader) reader({ value: item, done: false });
    else this.items.push(item);
  }

  close(): void {
    this.closed = true;
    for (const reader of this.readers.splice(0)) reader({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: (): Promise<IteratorResult<T>> => {
        if (this.items.length > 0) return Promise.resolve({ value: this.items.shift() as T, done: false });
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.readers.push(resolve));
      },
    };
  }
}

/**
 * Runs `work` on every item with at most `concurrency` running at once, in item order, and stops
 * handing out items when `signal` aborts (items already started finish by their own deadlines).
 * Items are read from `items` only as workers take them, so a generator is never listed whole; an
 * async iterable (an AsyncQueue) is read as its items arrive.
 */
export async function forEachLimited<T>(
  items: Iterable<T> | AsyncIterable<T>,
  concurrency: number,
  signal: AbortSignal,
  work: (item: T) => Promise<void>,
): Promise<void> {
  const iterator = Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : items[Symbol.iterator]();
  const worker = async (): Promise<void> => {
    while (!signal.aborted) {
      const next = await iterator.next();
      if (next.done || signal.aborted) return;
      await work(next.value);
    }
  };
  const known = Array.isArray(items) ? items.length : Number.POSITIVE_INFINITY;
  const workers = Math.max(1, Math.min(Math.floor(concurrency), known));
  await Promise.all(Array.from({ length: workers }, worker));
}
