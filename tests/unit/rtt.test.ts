import { describe, expect, it } from 'vitest';
import { NMAP_NORMAL_RTT_BOUNDS, RttEstimator } from '../../agent/net/rtt.js';

describe('RttEstimator (RFC 6298 §2 with nmap\'s bounds)', () => {
  it('waits the initial timeout for a host that has answered nothing', () => {
    const rtt = new RttEstimator();
    expect(rtt.answered).toBe(false);
    expect(rtt.timeoutMs()).toBe(NMAP_NORMAL_RTT_BOUNDS.initialMs);
  });

  it('takes SRTT = R and RTTVAR = R/2 from the first measurement, then smooths with α = 1/8, β = 1/4', () => {
    const rtt = new RttEstimator({ initialMs: 1000, minMs: 1, maxMs: 10_000 });
    rtt.observe(200);
    // SRTT 200 + 4 × RTTVAR 100
    expect(rtt.timeoutMs()).toBe(600);
    rtt.observe(100);
    // RTTVAR = 3/4·100 + 1/4·|200 − 100| = 100; SRTT = 7/8·200 + 1/8·100 = 187.5; 187.5 + 400 → 588
    expect(rtt.timeoutMs()).toBe(588);
  });

  it('keeps the timeout within the bounds: a fast link gets the floor, a wild one the ceiling', () => {
    const fast = new RttEstimator();
    for (let i = 0; i < 5; i++) fast.observe(0.2);
    expect(fast.timeoutMs()).toBe(NMAP_NORMAL_RTT_BOUNDS.minMs);
    const slow = new RttEstimator();
    slow.observe(9000);
    expect(slow.timeoutMs()).toBe(NMAP_NORMAL_RTT_BOUNDS.maxMs);
  });
});
