/**
 * The scan's count of how the swept addresses were found live (the inventory's `scan.sweep.methods`):
 * the connect phases add to it, the scan reads it once they are over.
 */
import { SWEEP_METHODS, type SweepMethod, type SweepMethodCount } from '../types.js';

export class SweepLedger {
  private readonly counts = new Map<SweepMethod, { addresses: number; live: number }>();

  /** One address checked by `method`; `live` when it answered. */
  checked(method: SweepMethod, live: boolean): void {
    this.add(method, 1, live ? 1 : 0);
  }

  /** `addresses` checked by `method`, `live` of them answered. */
  add(method: SweepMethod, addresses: number, live: number): void {
    if (addresses === 0) return;
    const count = this.counts.get(method) ?? { addresses: 0, live: 0 };
    count.addresses += addresses;
    count.live += live;
    this.counts.set(method, count);
  }

  /** The methods used, in SWEEP_METHODS order. */
  summary(): SweepMethodCount[] {
    return SWEEP_METHODS.flatMap((method) => {
      const count = this.counts.get(method);
      return count ? [{ method, ...count }] : [];
    });
  }
}
