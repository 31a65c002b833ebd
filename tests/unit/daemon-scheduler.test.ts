import { afterEach, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { SweepScheduler } from '../../agent/daemon/scheduler.js';

let scheduler: SweepScheduler | undefined;
afterEach(async () => {
  await scheduler?.stop();
  scheduler = undefined;
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
    await sleep(3600);
    await scheduler.stop();
    // Started at once (runAtStart), then ticks every second: 2 or 3 ticks fell inside the 2.3 s sweep.
    expect(r.skipped.length).toBeGreaterThanOrEqual(2);
    expect(r.skipped.every((s) => s.site === 'slow' && s.state === 'running')).toBe(true);
    expect(r.maxRunning()).toBe(1);
    for (let i = 1; i < r.runs.length; i += 1) expect(r.runs[i]!.start).toBeGreaterThanOrEqual(r.runs[i - 1]!.end);
  });

  it('runs the sweeps of different sites one at a time; a site waiting its turn is queued, and its further ticks skipped', async () => {
    // Each sweep lasts 1.5 s, so b waits 1.5 s behind a: at least one of its every-second ticks
    // must fall while it is queued, whatever the phase of the clock.
    const r = recorder(1500);
    scheduler = new SweepScheduler(r);
    scheduler.schedule(
      [
        { name: 'a', schedule: '* * * * * *', runAtStart: true },
        { name: 'b', schedule: '* * * * * *', runAtStart: true },
      ],
      { atStart: true },
    );
    await sleep(2600);
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
    const scheduledAt = Date.now();
    scheduler.schedule([{ name: 'a', schedule: '* * * * * *', runAtStart: false }], { atStart: true });
    const firstTick = scheduler.nextRun('a');
    expect(firstTick).toBeInstanceOf(Date);
    await sleep(1300);
    // A tick every second: the first sweep starts at the first tick, not at start-up (a tick may
    // well fall within milliseconds of scheduling, so time alone cannot tell the two apart).
    expect(r.runs.length).toBeGreaterThanOrEqual(1);
    expect(r.runs[0]!.start).toBeGreaterThanOrEqual(firstTick!.getTime() - 50);
    expect(firstTick!.getTime()).toBeGreaterThan(scheduledAt);
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
    await sleep(100);
    const started = Date.now();
    await scheduler.stop();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(r.runs).toEqual([expect.objectContaining({ site: 'a', aborted: true })]);
    await sleep(1200);
    expect(r.runs).toHaveLength(1);
  });

  it('runs exclusive work between sweeps, never during one', async () => {
    const r = recorder(400);
    scheduler = new SweepScheduler(r);
    scheduler.schedule([{ name: 'a', schedule: '0 0 1 1 *', runAtStart: true }], { atStart: true });
    await sleep(50);
    const at = await scheduler.exclusive(async () => Date.now());
    expect(r.runs).toHaveLength(1);
    expect(at).toBeGreaterThanOrEqual(r.runs[0]!.end);
  });
});
