/**
 * Abort-signal helpers shared by every deadline in the agent: the scan phase's, a host's, a pool's,
 * and abortable waits. An AbortSignal is the one cancellation currency (WHATWG DOM
 * https://dom.spec.whatwg.org/#interface-AbortSignal, as implemented by Node).
 */
import { setMaxListeners } from 'node:events';

const abortWatchers = new WeakMap<AbortSignal, Set<() => void>>();

/**
 * Runs `callback` when `signal` aborts; returns a function that cancels it. However many waits
 * share a signal, the signal gets ONE listener: hundreds of paced starts waiting on the scan
 * phase's signal would otherwise trip Node's listener-leak warning, printed on stderr where only
 * JSON log lines belong.
 */
export function whenAborted(signal: AbortSignal, callback: () => void): () => void {
  let callbacks = abortWatchers.get(signal);
  if (!callbacks) {
    const fresh = new Set<() => void>();
    abortWatchers.set(signal, fresh);
    signal.addEventListener(
      'abort',
      () => {
        for (const fn of [...fresh]) fn();
        fresh.clear();
      },
      { once: true },
    );
    callbacks = fresh;
  }
  const set = callbacks;
  set.add(callback);
  return () => {
    set.delete(callback);
  };
}

export interface SignalScope {
  readonly signal: AbortSignal;
  /** Clears the timer and detaches from the parent. */
  dispose(): void;
}

/**
 * A signal that aborts with `parent` (when given), or after `timeoutMs` (when given): a scan
 * phase's deadline, a per-host deadline, or one discoverer's pool of concurrent operations. Many of
 * them listen to it at once by design, so Node's leak warning is turned off for this signal (not
 * for the parent, which gets a single listener however many scopes it has).
 *
 * A plain timer, not `AbortSignal.timeout()` combined with `AbortSignal.any()`: Node 20 can lose
 * the timeout input to garbage collection, and the composite never aborts (nodejs/node#57736;
 * measured here: a scan's 3 s window ran on for 17 s).
 */
export function signalScope(parent: AbortSignal | undefined, timeoutMs?: number): SignalScope {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const abort = (): void => controller.abort();
  const timer = timeoutMs === undefined ? undefined : setTimeout(abort, timeoutMs);
  const detach = parent ? whenAborted(parent, abort) : (): void => undefined;
  if (parent?.aborted) abort();
  return {
    signal: controller.signal,
    dispose(): void {
      clearTimeout(timer);
      detach();
    },
  };
}

/**
 * The deadline of one exchange with a device: `onExpiry` runs `ms` from now, judged after that
 * loop turn's I/O; returns a function that cancels it. When the event loop was busy, the timer and
 * the answer can both be due at once, and timers run before I/O callbacks in a loop turn
 * (https://nodejs.org/en/learn/asynchronous-work/event-loop-timers-and-nexttick): setImmediate runs
 * after that turn's I/O, so an answer that already arrived wins over the deadline, and a stall of
 * the agent is not taken for a silent device.
 */
export function exchangeDeadline(ms: number, onExpiry: () => void): () => void {
  let judged: NodeJS.Immediate | undefined;
  const timer = setTimeout(() => {
    judged = setImmediate(onExpiry);
  }, ms);
  return () => {
    clearTimeout(timer);
    clearImmediate(judged);
  };
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
