/**
 * When sweeps run. Each site has a cron schedule (croner) and may run once at start; every sweep,
 * of every site, runs in ONE queue, one at a time:
 * - a site never overlaps itself: a tick that comes while that site's sweep is still queued or
 *   running is skipped and reported (onSkipped), never doubled;
 * - sites never run at the same time either. Sites usually share the machine's interfaces, and
 *   two concurrent sweeps there would each bind the discovery ports (SADP 37020, DHIP 37810,
 *   WS-Discovery 3702) and hear each other's replies, and would add their connection rates, so a
 *   camera meant to see `rate` connects a second would see twice that. A site whose tick falls
 *   during another site's sweep waits its turn instead of being skipped.
 * Other work that must not run during a sweep (a configuration reload) joins the same queue.
 */
import { Cron } from 'croner';

export interface ScheduledSite {
  name: string;
  schedule: string;
  timezone?: string;
  runAtStart: boolean;
}

export interface SchedulerHooks {
  /** Runs one sweep of `site`; `signal` aborts it (shutdown). Errors are the runner's to report. */
  sweep(site: string, signal: AbortSignal): Promise<void>;
  /** A tick of `site` came while its previous sweep was still queued or running. */
  onSkipped(site: string, state: 'queued' | 'running'): void;
}

export class SweepScheduler {
  private readonly jobs = new Map<string, Cron>();
  private readonly states = new Map<string, 'queued' | 'running'>();
  private queue: Promise<void> = Promise.resolve();
  private current: AbortController | undefined;
  private stopped = false;

  constructor(private readonly hooks: SchedulerHooks) {}

  /** (Re)schedules `sites`, replacing every earlier schedule; queued and running sweeps are kept. */
  schedule(sites: readonly ScheduledSite[], { atStart }: { atStart: boolean }): void {
    for (const job of this.jobs.values()) job.stop();
    this.jobs.clear();
    if (this.stopped) return;
    for (const site of sites) {
      const job = new Cron(site.schedule, { ...(site.timezone === undefined ? {} : { timezone: site.timezone }) }, () => this.request(site.name));
      this.jobs.set(site.name, job);
      if (atStart && site.runAtStart) this.request(site.name);
    }
  }

  /** Asks for a sweep of `site` now (a tick): queued, or skipped when one is already pending. */
  request(site: string): void {
    if (this.stopped) return;
    const state = this.states.get(site);
    if (state) {
      this.hooks.onSkipped(site, state);
      return;
    }
    this.states.set(site, 'queued');
    this.enqueue(async () => {
      if (this.stopped) return;
      this.states.set(site, 'running');
      const controller = new AbortController();
      this.current = controller;
      try {
        await this.hooks.sweep(site, controller.signal);
      } finally {
        this.current = undefined;
      }
    }).then(
      () => this.states.delete(site),
      () => this.states.delete(site), // the runner reports its own failures
    );
  }

  /** Runs `task` in the sweep queue: after the sweeps queued before it, before the ones after. */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    return this.enqueue(task);
  }

  /** Whether a sweep of `site` is waiting its turn or running now. */
  sweepState(site: string): 'idle' | 'queued' | 'running' {
    return this.states.get(site) ?? 'idle';
  }

  /** When the next tick of `site` is due, or null. */
  nextRun(site: string): Date | null {
    return this.jobs.get(site)?.nextRun() ?? null;
  }

  /** Stops the schedules, aborts the running sweep, drops queued ones, and waits for the queue to drain. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const job of this.jobs.values()) job.stop();
    this.jobs.clear();
    this.current?.abort();
    await this.queue;
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const result = this.queue.then(task);
    this.queue = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
