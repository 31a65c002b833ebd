import { performance } from 'node:perf_hooks';
import { describe, expect, it, vi } from 'vitest';
import { AsyncQueue, RateLimiter, Semaphore, forEachLimited, sharedRateLimiter } from '../../agent/net/rate-limiter.js';
import { connect, createServer, type Socket } from 'node:net';
import { exchangeDeadline, signalScope, whenAborted } from '../../agent/net/abort.js';
import { listenOnLoopback } from '../support/loopback-server.js';

/** Start times (ms since the first start) of `count` callers that all ask at once. */
async function startTimes(limiter: RateLimiter, count: number): Promise<number[]> {
  const t0 = performance.now();
  const times = await Promise.all(
    Array.from({ length: count }, async () => {
      expect(await limiter.take()).toBe(true);
      return performance.now() - t0;
    }),
  );
  return times.sort((a, b) => a - b);
}

describe('RateLimiter', () => {
  it('spaces starts evenly at the rate asked for', async () => {
    // On fake timers and a fake clock the schedule is exact: a busy machine firing real timers
    // late would bunch the starts it delayed, which says nothing about the pacer.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      const limiter = new RateLimiter(100);
      // The global clock, which the fake timers replace (perf_hooks' `performance` above is the real one).
      const clock = globalThis.performance;
      const t0 = clock.now();
      const times: number[] = [];
      const all = Promise.all(
        Array.from({ length: 30 }, async () => {
          expect(await limiter.take()).toBe(true);
          times.push(clock.now() - t0);
        }),
      );
      await vi.advanceTimersByTimeAsync(300);
      await all;
      // 30 starts at 100/s: the first at once, then one every 10 ms, the last 290 ms later.
      expect(times).toEqual(Array.from({ length: 30 }, (_, i) => i * 10));
    } finally {
      vi.useRealTimers();
    }
  });

  it('keeps the long-run rate at a high rate despite 1 ms timers', async () => {
    const times = await startTimes(new RateLimiter(2000), 400);
    // 400 starts at 2000/s take ~200 ms; they may bunch within a millisecond but never run ahead.
    expect(times[399]).toBeGreaterThanOrEqual(195);
    for (let i = 0; i < times.length; i++) expect(times[i]).toBeGreaterThanOrEqual(i * 0.5);
  });

  it('serves callers in the order they asked', async () => {
    const limiter = new RateLimiter(200);
    const order: number[] = [];
    await Promise.all([0, 1, 2, 3, 4].map(async (i) => {
      await limiter.take();
      order.push(i);
    }));
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });

  it('gives up at once, with false, when the signal aborts', async () => {
    const limiter = new RateLimiter(1); // one start a second
    expect(await limiter.take()).toBe(true);
    const controller = new AbortController();
    const t0 = performance.now();
    const waiting = limiter.take(controller.signal);
    setTimeout(() => controller.abort(), 50);
    expect(await waiting).toBe(false);
    expect(performance.now() - t0).toBeLessThan(500);
    expect(await limiter.take(controller.signal)).toBe(false);
  });

  it('refuses a rate that is not a positive number', () => {
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => new RateLimiter(bad)).toThrow(RangeError);
  });
});

describe('sharedRateLimiter', () => {
  it('gives every discoverer of one phase the same limiter, and a new phase a new one', () => {
    const phase = { ratePerSecond: 250 };
    expect(sharedRateLimiter(phase)).toBe(sharedRateLimiter(phase));
    expect(sharedRateLimiter(phase).ratePerSecond).toBe(250);
    expect(sharedRateLimiter({ ratePerSecond: 250 })).not.toBe(sharedRateLimiter(phase));
  });
});

describe('Semaphore', () => {
  it('never lets more than its size hold at once, and serves waiters in order', async () => {
    const sem = new Semaphore(3);
    let holding = 0;
    let most = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        expect(await sem.acquire()).toBe(true);
        order.push(i);
        holding++;
        most = Math.max(most, holding);
        await new Promise((r) => setTimeout(r, 5));
        holding--;
        sem.release();
      }),
    );
    expect(most).toBe(3);
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  it('lets an aborted waiter go without taking a place', async () => {
    const sem = new Semaphore(1);
    await sem.acquire();
    const controller = new AbortController();
    const gone = sem.acquire(controller.signal);
    const next = sem.acquire();
    controller.abort();
    expect(await gone).toBe(false);
    sem.release();
    expect(await next).toBe(true);
  });

  it('widened, wakes as many waiters as it gained places, then holds the new size', async () => {
    const sem = new Semaphore(1);
    await sem.acquire();
    let granted = 0;
    const waiters = Array.from({ length: 4 }, () => sem.acquire().then(() => void granted++));
    await Promise.resolve();
    expect(granted).toBe(0);
    sem.widen(3);
    await Promise.resolve();
    expect([granted, sem.size, sem.available]).toEqual([2, 3, 0]);
    sem.release();
    sem.release();
    await Promise.all(waiters);
    expect(granted).toBe(4);
    for (let n = 0; n < 3; n++) sem.release();
    // Never more free places than its size, and never narrowed.
    sem.widen(2);
    expect([sem.size, sem.available]).toEqual([3, 3]);
  });
});

describe('forEachLimited', () => {
  it('runs every item with at most `concurrency` at once', async () => {
    let running = 0;
    let most = 0;
    const done: number[] = [];
    await forEachLimited([1, 2, 3, 4, 5, 6, 7], 2, new AbortController().signal, async (n) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 3));
      done.push(n);
      running--;
    });
    expect(most).toBe(2);
    expect(done.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('stops handing out items once the signal aborts', async () => {
    const controller = new AbortController();
    const started: number[] = [];
    await forEachLimited([1, 2, 3, 4, 5], 1, controller.signal, async (n) => {
      started.push(n);
      if (n === 2) controller.abort();
    });
    expect(started).toEqual([1, 2]);
  });

  it('reads an AsyncQueue as its items arrive, each by one worker, and ends when it is closed and drained', async () => {
    const queue = new AsyncQueue<number>();
    const done: number[] = [];
    const running = forEachLimited(queue, 3, new AbortController().signal, async (n) => {
      done.push(n);
    });
    queue.push(1);
    await new Promise((r) => setTimeout(r, 2));
    expect(done).toEqual([1]);
    queue.push(2);
    queue.push(3);
    queue.close();
    await running;
    expect(done).toEqual([1, 2, 3]);
  });
});

describe('signalScope and whenAborted', () => {
  it('aborts with the parent, or at its own deadline, and puts one listener on the parent', async () => {
    const parent = new AbortController();
    let listeners = 0;
    const add = parent.signal.addEventListener.bind(parent.signal);
    parent.signal.addEventListener = ((...args: Parameters<AbortSignal['addEventListener']>) => {
      listeners++;
      add(...args);
    }) as AbortSignal['addEventListener'];
    const scopes = Array.from({ length: 50 }, () => signalScope(parent.signal));
    const timed = signalScope(parent.signal, 20);
    expect(listeners).toBe(1);
    await new Promise((r) => setTimeout(r, 40));
    expect(timed.signal.aborted).toBe(true);
    expect(scopes.every((s) => !s.signal.aborted)).toBe(true);
    scopes[0]?.dispose();
    parent.abort();
    expect(scopes[0]?.signal.aborted).toBe(false);
    expect(scopes.slice(1).every((s) => s.signal.aborted)).toBe(true);
  });

  it('does not call a callback that was cancelled', () => {
    const controller = new AbortController();
    const calls: string[] = [];
    const cancel = whenAborted(controller.signal, () => calls.push('a'));
    whenAborted(controller.signal, () => calls.push('b'));
    cancel();
    controller.abort();
    expect(calls).toEqual(['b']);
  });
});

describe('exchangeDeadline', () => {
  it('lets an answer that arrived while the process stalled win over a deadline that fell due in the stall', async () => {
    const server = createServer();
    let device: Socket | undefined;
    const accepted = new Promise((resolve) => {
      server.once('connection', (socket: Socket) => {
        device = socket;
        resolve(undefined);
      });
    });
    const { port, close } = await listenOnLoopback(server);
    try {
      const events: string[] = [];
      const socket = connect(port, '127.0.0.1');
      await Promise.all([new Promise((resolve) => socket.once('connect', resolve)), accepted]);
      socket.on('data', () => events.push('answer'));
      const cancel = exchangeDeadline(5, () => events.push('deadline'));
      // The answer is in this end's receive buffer while the event loop is held past the deadline.
      device?.end('answer');
      const held = performance.now();
      while (performance.now() - held < 100);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(events).toEqual(['answer', 'deadline']);
      const cancelled: string[] = [];
      exchangeDeadline(5, () => cancelled.push('deadline'))();
      cancel();
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(cancelled).toEqual([]);
      socket.destroy();
    } finally {
      close();
    }
  });
});
