/**
 * A deadline as an AbortSignal that is certain to fire. Node 20's `AbortSignal.any()` can lose an
 * `AbortSignal.timeout()` input to garbage collection, so the composite never aborts
 * (nodejs/node#57736; measured here: a scan's 3 s window ran on for 17 s). A plain timer and
 * controller do not have that problem.
 */
import { setMaxListeners } from 'node:events';

export interface Deadline {
  readonly signal: AbortSignal;
  /** Clears the timer and detaches from the parent signal. */
  dispose(): void;
}

export function deadline(ms: number, parent?: AbortSignal): Deadline {
  const controller = new AbortController();
  // Every concurrent probe listens on the one deadline; Node's default of 10 listeners would print a
  // non-JSON warning on stderr.
  setMaxListeners(0, controller.signal);
  const abort = (): void => controller.abort();
  const timer = setTimeout(abort, ms);
  parent?.addEventListener('abort', abort, { once: true });
  if (parent?.aborted) abort();
  return {
    signal: controller.signal,
    dispose(): void {
      clearTimeout(timer);
      parent?.removeEventListener('abort', abort);
    },
  };
}
