/**
 * The record of devices that refused the operator's credentials, and the back-off it imposes, so
 * that no number of scans or daemon sweeps ever locks a device's login.
 *
 * Cameras lock their login after a few failures (Hikvision: 5, then 30 minutes; Dahua: 5, then
 * 5 minutes; fingerprints/lockout.yaml cites both). A scan sends the credentials at most once per
 * device and mechanism and stops at the first refusal; this ledger carries each refusal from one
 * scan to the next in the inventory document (`scan.credentialRefusals`, kept in the store like the
 * rest of the scan), and a refused (address, mechanism) is not tried again before
 *   at + lockSeconds × 2^(refusals − 1)      (at most MAX_BACKOFF_SECONDS)
 * A wait of at least one lock period after every refusal means the agent causes at most one failed
 * login per mechanism in any lock window, whatever the schedule; the doubling keeps a wrong
 * password from costing the device a failed login every sweep for ever. Credentials that work
 * clear the record. Nothing here holds a username or password.
 */
import type { LockoutLimit } from './knowledge/tables.js';

/** One (address, mechanism) whose device refused the credentials supplied for it. */
export interface CredentialRefusal {
  readonly ip: string;
  /** The mechanism (`hikvision-isapi`, `dahua-cgi`), as fingerprints/lockout.yaml names it. */
  readonly mechanism: string;
  /** The port the refusal came on. */
  readonly port: number;
  /** When the last refusal came (ISO 8601). */
  readonly at: string;
  /** Refusals in a row on record (a success clears them). */
  readonly refusals: number;
  /** The credentials are not sent to this device by this mechanism before then (ISO 8601). */
  readonly retryAfter: string;
}

/** However many refusals in a row, a device is asked again within a week: the operator may have fixed the credentials. */
export const MAX_BACKOFF_SECONDS = 7 * 24 * 3600;
/** A refusal older than this is forgotten (the record does not grow for ever with addresses long gone). */
const FORGET_AFTER_MS = 30 * 24 * 3600 * 1000;

export type AttemptDecision = { allowed: true } | { allowed: false; retryAfter: string };

/** Refusals carried from the last scan plus this scan's, and whether a mechanism may be tried on a device now. */
export class RefusalLedger {
  private readonly byKey = new Map<string, CredentialRefusal>();

  constructor(
    previous: readonly CredentialRefusal[],
    private readonly limits: ReadonlyMap<string, LockoutLimit>,
    private readonly now: () => number = Date.now,
  ) {
    for (const entry of previous) {
      const at = Date.parse(entry.at);
      if (!Number.isFinite(at) || this.now() - at > FORGET_AFTER_MS || !Number.isInteger(entry.refusals) || entry.refusals < 1) continue;
      this.byKey.set(key(entry.ip, entry.mechanism), entry);
    }
  }

  /** Whether the credentials may be sent to `ip` by `mechanism` now. A mechanism with no known limit is never tried. */
  mayTry(ip: string, mechanism: string): AttemptDecision {
    if (!this.limits.has(mechanism)) return { allowed: false, retryAfter: new Date(this.now()).toISOString() };
    const entry = this.byKey.get(key(ip, mechanism));
    if (!entry || Date.parse(entry.retryAfter) <= this.now()) return { allowed: true };
    return { allowed: false, retryAfter: entry.retryAfter };
  }

  /** Records a refusal now; returns the entry, with when the next attempt may come. */
  refused(ip: string, mechanism: string, port: number): CredentialRefusal {
    const limit = this.limits.get(mechanism);
    if (!limit) throw new Error(`no lockout limit for mechanism ${mechanism}`);
    const refusals = (this.byKey.get(key(ip, mechanism))?.refusals ?? 0) + 1;
    const now = this.now();
    const waitSeconds = Math.min(MAX_BACKOFF_SECONDS, limit.lockSeconds * 2 ** Math.min(refusals - 1, 30));
    const entry: CredentialRefusal = {
      ip,
      mechanism,
      port,
      at: new Date(now).toISOString(),
      refusals,
      retryAfter: new Date(now + waitSeconds * 1000).toISOString(),
    };
    this.byKey.set(key(ip, mechanism), entry);
    return entry;
  }

  /** The credentials worked: the record of refusals is cleared. */
  accepted(ip: string, mechanism: string): void {
    this.byKey.delete(key(ip, mechanism));
  }

  /** Every refusal on record, by address then mechanism: what the scan's document carries. */
  entries(): CredentialRefusal[] {
    return [...this.byKey.values()].sort((a, b) => a.ip.localeCompare(b.ip, 'en', { numeric: true }) || a.mechanism.localeCompare(b.mechanism));
  }
}

function key(ip: string, mechanism: string): string {
  return `${ip} ${mechanism}`;
}
