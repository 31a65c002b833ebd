import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SweepScheduler } from '../../agent/daemon/scheduler.js';

// Fake timers: croner's ticks and the fake sweeps below run on vitest's clock, which each test
// moves on with `elapse` (so no test waits in real time, and where a tick falls is known).
// The clock starts half a second past a whole second; an every-second schedule ticks at .000.
const T0 = Date.parse('2026-03-02T08:15:00.500Z');
const elapse = (ms: number): Promise<void> => vi.advanceTimersByTimeAsync(ms).then(() => undefined);

let scheduler: SweepScheduler | undefined;
beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
});
afterEach(async () => {
  await scheduler?.stop();
  scheduler = undefined;
  vi.useRealTimers();
});

/** A fake sweep that takes `ms` (or until aborted) and records when it ran. */
function recorder(ms: number) {
  const runs: Array<{ site: string; start: number; end: number; aborted: boolean }> = [];
  let running = 0;
  let maxRunning = 0;
  const skipped: Array<{ site: string; state: string }> = [];
  const sweep = async (site: string, signal: AbortSignal): Promise<void> => {
    running += 1;
    maxRunning = Math.max(maxRunning, running);
    const start = Date.now();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    running -= 1;
    runs.push({ site, start, end: Date.now(), aborted: signal.aborted });
  };
  return { runs, skipped, sweep, onSkipped: (site: string, state: string) => skipped.push({ site, state }), maxRunning: () => maxRunning };
}

describe('SweepScheduler', () => {
  it('never overlaps a slow sweep with its next tick: the tick is skipped and reported, not doubled', async () => {
    const r = recorder(2300);
    scheduler = new SweepScheduler(r);
    scheduler.schedule([{ name: 'slow', schedule: '* * * * * *', runAtStart: true }], { atStart: true });
    await elapse(3600);
    await scheduler.stop();
    // Started at once (runAtStart, 0.5 s) until 2.8 s: the ticks at 1 s and 2 s were skipped; the
    // tick at 3 s started the next sweep, so the tick at 4 s was skipped too.
    expect(r.skipped).toEqual(Array.from({ length: 3 }, () => ({ site: 'slow', state: 'running' })));
    expect(r.runs.map((x) => x.start - T0)).toEqual([0, 2500]);
    expect(r.maxRunning()).toBe(1);
    for (let i = 1; i < r.runs.length; i += 1) expect(r.runs[i]!.start).toBeGreaterThanOrEqual(r.runs[i - 1]!.end);
  });

  it('runs the sweeps of different sites one at a time; a site waiting its turn is queued, and its further ticks skipped', async () => {
    // Each sweep lasts 1.5 s, so b waits 1.5 s behind a: its tick at 1 s falls while it is queued.
    const r = recorder(1500);
    scheduler = new SweepScheduler(r);
    scheduler.schedule(
      [
        { name: 'a', schedule: '* * * * * *', runAtStart: true },
        { name: 'b', schedule: '* * * * * *', runAtStart: true },
      ],
      { atStart: true },
    );
    await elapse(2600);
    await scheduler.stop();
    expect(r.maxRunning()).toBe(1);
    expect(new Set(r.runs.map((x) => x.site))).toEqual(new Set(['a', 'b']));
    const sorted = [...r.runs].sort((x, y) => x.start - y.start);
    for (let i = 1; i < sorted.length; i += 1) expect(sorted[i]!.start).toBeGreaterThanOrEqual(sorted[i - 1]!.end);
    expect(r.skipped.some((s) => s.state === 'queued')).toBe(true);
  });

  it('does not sweep at start unless asked, and sweeps on the schedule', async () => {
    const r = recorder(10);
    scheduler = new SweepScheduler(r);
    scheduler.schedule([{ name: 'a', schedule: '* * * * * *', runAtStart: false }], { atStart: true });
    const firstTick = scheduler.nextRun('a');
    expect(firstTick?.getTime()).toBe(T0 + 500);
    // Nothing runs until the first tick, then the sweep starts at that tick.
    await elapse(499);
    expect(r.runs).toEqual([]);
    await elapse(1 + 10);
    expect(r.runs.map((x) => x.start)).toEqual([firstTick!.getTime()]);
  });

  it('stop() aborts the running sweep, drops queued ones and schedules nothing more', async () => {
    const r = recorder(60_000);
    scheduler = new SweepScheduler(r);
    scheduler.schedule(
      [
        { name: 'a', schedule: '* * * * * *', runAtStart: true },
        { name: 'b', schedule: '* * * * * *', runAtStart: true },
      ],
      { atStart: true },
    );
    await elapse(100);
    // stop() returns without waiting for the running sweep's minute: no fake time passes before it resolves.
    let stopped = false;
    const stopping = scheduler.stop().then(() => (stopped = true));
    await elapse(0);
    expect(stopped).toBe(true);
    await stopping;
    expect(r.runs).toEqual([expect.objectContaining({ site: 'a', aborted: true })]);
    await elapse(1200);
    expect(r.runs).toHaveLength(1);
  });

  it('runs exclusive work between sweeps, never during one', async () => {
    const r = recorder(400);
    scheduler = new SweepScheduler(r);
    scheduler.schedule([{ name: 'a', schedule: '0 0 1 1 *', runAtStart: true }], { atStart: true });
    await elapse(50);
    const exclusive = scheduler.exclusive(async () => Date.now());
    await elapse(400);
    const at = await exclusive;
    expect(r.runs).toHaveLength(1);
    expect(at).toBeGreaterThanOrEqual(r.runs[0]!.end);
  });
});
