/**
 * How long to wait for one host's answer, from the round-trip times it has shown so far: the
 * smoothed RTT and its variation of RFC 6298 §2 (SRTT, RTTVAR; α = 1/8, β = 1/4, K = 4), with
 * nmap's bounds instead of RFC 6298's 1 s floor, which is meant for retransmitting a stream, not for
 * a scanner deciding that a port is silent. nmap's defaults (-T3, "normal"; table 6.3 of
 * https://nmap.org/book/performance-timing-templates.html): --initial-rtt-timeout 1 s for a host
 * that has answered nothing yet, --min-rtt-timeout 100 ms, --max-rtt-timeout 10 s.
 */

export interface RttBounds {
  /** The wait before the host has answered anything (nmap --initial-rtt-timeout). */
  readonly initialMs: number;
  /** Never wait less (nmap --min-rtt-timeout): jitter and a busy host must not turn an answer into silence. */
  readonly minMs: number;
  /** Never wait more (nmap --max-rtt-timeout), whatever the host's RTTs were. */
  readonly maxMs: number;
}

export const NMAP_NORMAL_RTT_BOUNDS: RttBounds = { initialMs: 1000, minMs: 100, maxMs: 10_000 };

/** RFC 6298 §2.3: α = 1/8, β = 1/4. */
const ALPHA = 1 / 8;
const BETA = 1 / 4;
/** RFC 6298 §2.2: RTO = SRTT + max(G, K·RTTVAR), K = 4. */
const K = 4;
/** G, the clock granularity of a millisecond timer. */
const CLOCK_GRANULARITY_MS = 1;

/** One host's RTT estimate. */
export class RttEstimator {
  private srttMs: number | null = null;
  private rttvarMs = 0;

  constructor(private readonly bounds: RttBounds = NMAP_NORMAL_RTT_BOUNDS) {}

  /** True once the host has answered at least once. */
  get answered(): boolean {
    return this.srttMs !== null;
  }

  /** Records one measured round trip (an answer: a SYN-ACK or a RST). */
  observe(rttMs: number): void {
    const r = Math.max(0, rttMs);
    if (this.srttMs === null) {
      // RFC 6298 §2.2: the first measurement R gives SRTT = R, RTTVAR = R/2.
      this.srttMs = r;
      this.rttvarMs = r / 2;
      return;
    }
    // RFC 6298 §2.3: RTTVAR is updated with the old SRTT, then SRTT.
    this.rttvarMs = (1 - BETA) * this.rttvarMs + BETA * Math.abs(this.srttMs - r);
    this.srttMs = (1 - ALPHA) * this.srttMs + ALPHA * r;
  }

  /** How long the next attempt may wait for an answer. */
  timeoutMs(): number {
    if (this.srttMs === null) return this.bounds.initialMs;
    const rto = this.srttMs + Math.max(CLOCK_GRANULARITY_MS, K * this.rttvarMs);
    return Math.min(this.bounds.maxMs, Math.max(this.bounds.minMs, Math.ceil(rto)));
  }
}
