/**
 * A ScanContext for discoverer unit tests: no interfaces, target 127.0.0.1 (loopback only), a
 * silent logger, a generous rate and the shipped knowledge base. `over` replaces any member.
 */
import type { ScanContext } from '../../agent/discovery/types.js';
import { ScanBounds } from '../../agent/discovery/bounds.js';
import { loadKnowledge } from '../../agent/knowledge/index.js';
import { DEFAULT_GC_THRESH3, NeighbourBudget, neighbourBudgetSize } from '../../agent/net/neighbour-budget.js';
import { createLogger } from '../../agent/log.js';
import { parseTargets } from '../../agent/targets.js';

export function loopbackContext(over: Partial<ScanContext> = {}): ScanContext {
  const log = over.log ?? createLogger('silent');
  return {
    interfaces: [],
    targets: parseTargets(['127.0.0.1']),
    startedAtMs: Date.now(),
    timeoutMs: 1000,
    signal: new AbortController().signal,
    log,
    seen: [],
    active: true,
    ratePerSecond: 1000,
    knowledge: loadKnowledge(),
    bounds: new ScanBounds(log),
    neighbours: new NeighbourBudget(neighbourBudgetSize(DEFAULT_GC_THRESH3), []),
    ...over,
  };
}
