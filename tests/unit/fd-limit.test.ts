import { describe, expect, it } from 'vitest';
import { FALLBACK_FD_LIMIT, MAX_SWEEP_SOCKETS, MIN_SWEEP_SOCKETS, parseSoftFdLimit, softFdLimit, sweepSocketBudget } from '../../agent/net/fd-limit.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            256                  4096                 files
Max locked memory         8388608              8388608              bytes
`;

describe('the file-descriptor limit', () => {
  it('reads the soft "Max open files" of /proc/self/limits', () => {
    expect(parseSoftFdLimit(LIMITS)).toBe(256);
    expect(parseSoftFdLimit(LIMITS.replace('256    ', 'unlimited'))).toBe(Number.POSITIVE_INFINITY);
    expect(parseSoftFdLimit('Max cpu time unlimited unlimited seconds\n')).toBeNull();
    expect(parseSoftFdLimit('Max open files  lots  lots files\n')).toBeNull();
  });

  it('reads this process\'s limit on Linux, and assumes the fallback where it cannot', () => {
    const here = softFdLimit();
    if (here.from === '/proc/self/limits') expect(here.limit).toBeGreaterThan(0);
    expect(softFdLimit(() => LIMITS)).toEqual({ limit: 256, from: '/proc/self/limits' });
    expect(
      softFdLimit(() => {
        throw new Error('ENOENT');
      }),
    ).toEqual({ limit: FALLBACK_FD_LIMIT, from: 'assumed' });
  });

  it('gives the sweep three quarters of what the reserve leaves, within its bounds', () => {
    expect(sweepSocketBudget(256)).toBe(144);
    expect(sweepSocketBudget(1024)).toBe(720);
    expect(sweepSocketBudget(1_048_576)).toBe(MAX_SWEEP_SOCKETS);
    expect(sweepSocketBudget(Number.POSITIVE_INFINITY)).toBe(MAX_SWEEP_SOCKETS);
    expect(sweepSocketBudget(70)).toBe(MIN_SWEEP_SOCKETS);
  });
});
