import { describe, expect, it } from 'vitest';
import { MAX_BACKOFF_SECONDS, RefusalLedger, type CredentialRefusal } from '../../agent/credential-refusals.js';
import { loadKnowledge } from '../../agent/knowledge/index.js';

const limits = loadKnowledge().lockout;
const START = Date.parse('2026-12-05T10:00:00Z');

/** A ledger on a clock the test moves. */
function ledgerAt(previous: CredentialRefusal[] = []): { ledger: RefusalLedger; advance: (ms: number) => void } {
  let now = START;
  return { ledger: new RefusalLedger(previous, limits, () => now), advance: (ms) => void (now += ms) };
}

describe('RefusalLedger', () => {
  it('a refused device is not asked again before its lock period, then once more, then after twice as long', () => {
    const { ledger, advance } = ledgerAt();
    expect(ledger.mayTry('198.18.0.26', 'hikvision-isapi')).toEqual({ allowed: true });
    const first = ledger.refused('198.18.0.26', 'hikvision-isapi', 8080);
    expect(first).toEqual({ ip: '198.18.0.26', mechanism: 'hikvision-isapi', port: 8080, at: '2026-12-05T10:00:00.000Z', refusals: 1, retryAfter: '2026-12-05T10:30:00.000Z' });
    expect(ledger.mayTry('198.18.0.26', 'hikvision-isapi')).toEqual({ allowed: false, retryAfter: '2026-12-05T10:30:00.000Z' });
    // Another mechanism and another device are their own matter.
    expect(ledger.mayTry('198.18.0.26', 'dahua-cgi')).toEqual({ allowed: true });
    expect(ledger.mayTry('198.18.0.27', 'hikvision-isapi')).toEqual({ allowed: true });
    advance(30 * 60_000 - 1);
    expect(ledger.mayTry('198.18.0.26', 'hikvision-isapi').allowed).toBe(false);
    advance(1);
    expect(ledger.mayTry('198.18.0.26', 'hikvision-isapi').allowed).toBe(true);
    expect(ledger.refused('198.18.0.26', 'hikvision-isapi', 8080)).toMatchObject({ refusals: 2, retryAfter: '2026-12-05T11:30:00.000Z' });
  });

  it('a sweep every minute for a day causes at most one failed login per lock window, far below the lockout threshold', () => {
    for (const [mechanism, limit] of limits) {
      const { ledger, advance } = ledgerAt();
      const failures: number[] = [];
      for (let minute = 0; minute < 24 * 60; minute++) {
        if (ledger.mayTry('198.18.0.27', mechanism).allowed) {
          ledger.refused('198.18.0.27', mechanism, 80);
          failures.push(minute * 60);
        }
        advance(60_000);
      }
      const inAnyWindow = Math.max(...failures.map((t) => failures.filter((u) => u >= t && u < t + limit.lockSeconds).length));
      expect(inAnyWindow, mechanism).toBe(1);
      expect(inAnyWindow).toBeLessThan(limit.failures);
      // Doubling: a day of wrong credentials costs the device a handful of failures, not one per sweep.
      expect(failures.length, mechanism).toBeLessThanOrEqual(Math.ceil(Math.log2((24 * 3600) / limit.lockSeconds)) + 1);
    }
  });

  it('carries the record from the last scan, clears it when the credentials work, and caps the wait at a week', () => {
    const earlier = ledgerAt();
    for (let i = 0; i < 40; i++) earlier.ledger.refused('198.18.0.28', 'dahua-cgi', 80);
    const [entry] = earlier.ledger.entries();
    expect(entry?.refusals).toBe(40);
    expect(Date.parse(entry?.retryAfter ?? '') - START).toBe(MAX_BACKOFF_SECONDS * 1000);
    const next = ledgerAt(earlier.ledger.entries());
    expect(next.ledger.mayTry('198.18.0.28', 'dahua-cgi').allowed).toBe(false);
    next.ledger.accepted('198.18.0.28', 'dahua-cgi');
    expect(next.ledger.entries()).toEqual([]);
  });

  it('drops malformed and month-old entries, never tries a mechanism without a known limit, sorts by address', () => {
    const old: CredentialRefusal = { ip: '198.18.0.9', mechanism: 'dahua-cgi', port: 80, at: '2026-10-01T00:00:00Z', refusals: 1, retryAfter: '2026-10-01T00:05:00Z' };
    const bad = { ...old, at: 'yesterday' };
    const { ledger } = ledgerAt([old, bad, { ...old, at: '2026-12-05T09:00:00Z', refusals: 0 }]);
    expect(ledger.entries()).toEqual([]);
    expect(ledger.mayTry('198.18.0.9', 'telnet').allowed).toBe(false);
    ledger.refused('198.18.0.10', 'dahua-cgi', 80);
    ledger.refused('198.18.0.9', 'hikvision-isapi', 80);
    expect(ledger.entries().map((e) => e.ip)).toEqual(['198.18.0.9', '198.18.0.10']);
  });
});
