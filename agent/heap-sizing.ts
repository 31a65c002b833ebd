/**
 * Garbage-collector sizing for the commands that sweep networks (`scan`, `daemon`): issue 10's goal
 * is a peak resident size under 150 MB for a /22 of 1,020 live devices. Measured on the crowd lab
 * (BENCHMARKS.md "Memory"), that scan holds 48–64 MB of live heap, yet V8 left alone peaked at
 * 190–254 MB: on a machine with gigabytes of memory it lets the old generation grow to up to 4× the
 * live heap before a full collection, and the young generation to 16 MB semi-spaces.
 *
 * Neither limit here is a ceiling. A hard cap on the old generation (`--max-old-space-size`) would
 * end a scan of a large estate with "heap out of memory" once its live devices outgrow it, and the
 * live heap grows with the devices found, which no target count foretells (a /16 may hold 40 of
 * them or 20,000). Both flags instead shape how soon V8 collects, so the heap follows what is live:
 *
 * - Old generation: after each full collection V8 lets the heap grow to live × factor before the
 *   next; `--heap-growing-percent=P` makes the factor 1 + P/100 in place of V8's own choice, which is
 *   up to 4.0 once its heap limit is 1 GB or more (MemoryController::GrowingFactor and
 *   MaxGrowingFactor, https://chromium.googlesource.com/v8/v8/+/refs/heads/main/src/heap/heap-controller.cc).
 * - Young generation: V8 starts it at 1 MB semi-spaces (on 64-bit) and, left alone, doubles them up
 *   to 16 MB when many objects survive a scavenge (NewSpace::Grow, the `--semi-space-growth-factor`
 *   flag, https://chromium.googlesource.com/v8/v8/+/refs/heads/main/src/heap/new-spaces.cc): up to
 *   45 MB of resident memory more. Small semi-spaces cost CPU instead: a sweep's thousands of
 *   exchanges in flight (their sockets, parsers, promises) outlive most scavenges, which copy them.
 *   On the crowd /22, held at the 2 MB it had reached when the flag was set, the young generation
 *   took 366 scavenges and about 0.85 s of the scan's main thread. So it is grown to
 *   YOUNG_SEMI_SPACE_MB and held there (holdYoungGeneration).
 *
 * Both flags are read by V8 at each collection, so they take effect when set at run time
 * (https://nodejs.org/docs/latest-v20.x/api/v8.html#v8setflagsfromstringflags); measured: the same
 * peak as on the command line. An operator's own setting of either generation's flags (command line
 * or NODE_OPTIONS) is left as it is.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/**
 * The old generation may grow to 1.5× the live heap before a full collection. The /22's live heap
 * is at most 64 MB; 64 × 1.5 = 96 MB, plus the young generation (two semi-spaces of
 * YOUNG_SEMI_SPACE_MB) and what Node holds outside the heap (about 45 MB: the program, ICU data,
 * buffers) comes to about 150 MB at the very worst; measured peaks are lower (BENCHMARKS.md). 60 %
 * would leave no margin.
 */
export const OLD_GENERATION_GROWTH_PERCENT = 50;

/**
 * The young generation's semi-space size, in MB, once grown: a quarter of V8's own 16 MB ceiling.
 * Measured on the crowd /22 (BENCHMARKS.md "The young generation held at 4 MB"): 175 scavenges
 * and about 0.62 s (`--trace-gc`) instead of 366 and 0.85 s at 2 MB; the scan's CPU 8.2 s instead
 * of 8.9 s (medians of six alternated runs), for a peak resident size of 130–136 MB instead of
 * 124–131 MB. 8 MB took 0.33 s of scavenges but peaked at 136–145 MB, too near the 150 MB goal.
 */
export const YOUNG_SEMI_SPACE_MB = 4;

/** V8 flags that size the young generation: an operator who gives one of them sizes it alone. */
const YOUNG_GENERATION_FLAGS = ['--semi-space-growth-factor', '--min-semi-space-size', '--max-semi-space-size'];

/** The flag's name as Node accepts it on its command line (`--heap_growing_percent` is the same flag). */
function flagName(flag: string): string {
  return (flag.split('=')[0] ?? flag).replaceAll('_', '-');
}

/** The flags the operator gave Node (`execArgv`, or `NODE_OPTIONS` for the flags it admits), by name. */
function operatorFlags(given: readonly string[]): Set<string> {
  return new Set(given.filter((arg) => arg.startsWith('--')).map(flagName));
}

/** The young generation's semi-space size now, in MB (new space commits two of them); null if V8 reports no new space. */
export function semiSpaceMb(): number | null {
  const newSpace = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
  return newSpace ? newSpace.space_size / 2 / 2 ** 20 : null;
}

/**
 * Grows the young generation to `targetMb` semi-spaces and holds it there. V8 grows it by the
 * growth factor at a scavenge that finds enough surviving; the factor is 1 (no growth) except
 * between collections (`gc` performance entries,
 * https://nodejs.org/docs/latest-v20.x/api/perf_hooks.html#class-performanceobserver) that find the
 * young generation below the target, when it is 2 (V8's own doubling), and it is 1 for good once
 * the target is reached. The size is read after collections, not before the first: until then V8
 * has committed only part of the young generation (measured: 0.5 MB of its 1 MB semi-spaces).
 */
function holdYoungGeneration(targetMb: number): void {
  setFlagsFromString('--semi-space-growth-factor=1');
  const growth = new PerformanceObserver(() => {
    // A V8 that reports no new space keeps its young generation where it is.
    const reached = (semiSpaceMb() ?? targetMb) >= targetMb;
    setFlagsFromString(`--semi-space-growth-factor=${reached ? 1 : 2}`);
    if (reached) growth.disconnect();
  });
  growth.observe({ entryTypes: ['gc'] });
}

/**
 * Sizes the heap for a sweep (see the module comment), leaving alone each generation whose flags
 * the operator gave. Returns what was set, for the log.
 */
export function sizeHeapForSweeping(given: readonly string[] = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)]): string[] {
  const taken = operatorFlags(given);
  const applied: string[] = [];
  if (!taken.has('--heap-growing-percent')) {
    setFlagsFromString(`--heap-growing-percent=${OLD_GENERATION_GROWTH_PERCENT}`);
    applied.push(`--heap-growing-percent=${OLD_GENERATION_GROWTH_PERCENT}`);
  }
  if (!YOUNG_GENERATION_FLAGS.some((flag) => taken.has(flag))) {
    holdYoungGeneration(YOUNG_SEMI_SPACE_MB);
    applied.push(`young generation grown to ${YOUNG_SEMI_SPACE_MB} MB semi-spaces, then held`);
  }
  return applied;
}
