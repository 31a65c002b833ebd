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
 * - Young generation: `--semi-space-growth-factor=1` keeps the semi-spaces at their starting size (1 MB
 *   on 64-bit) instead of doubling them up to 16 MB (NewSpace::Grow,
 *   https://chromium.googlesource.com/v8/v8/+/refs/heads/main/src/heap/new-spaces.cc); up to 45 MB of
 *   resident memory less, for more frequent, smaller scavenges.
 *
 * Both are read by V8 at each collection, so they take effect when set at run time
 * (https://nodejs.org/docs/latest-v20.x/api/v8.html#v8setflagsfromstringflags); measured: the same
 * peak as on the command line. An operator's own setting of either flag (command line or
 * NODE_OPTIONS) is left as it is.
 */
import { setFlagsFromString } from 'node:v8';

/**
 * The old generation may grow to 1.5× the live heap before a full collection. The /22's live heap
 * is at most 64 MB; 64 × 1.5 = 96 MB, plus the young generation (about 3 MB held at its starting
 * size) and what Node holds outside the heap (about 45 MB: the program, ICU data, buffers) comes to
 * 144 MB, under the 150 MB goal. 60 % would give 150 MB: no margin.
 */
export const OLD_GENERATION_GROWTH_PERCENT = 50;

/** Semi-spaces keep their starting size (see the module comment). */
export const SEMI_SPACE_GROWTH_FACTOR = 1;

/** The V8 flags the sweeping commands set, each `--name=value`. */
export function scanHeapFlags(): string[] {
  return [`--heap-growing-percent=${OLD_GENERATION_GROWTH_PERCENT}`, `--semi-space-growth-factor=${SEMI_SPACE_GROWTH_FACTOR}`];
}

/** The flag's name as Node accepts it on its command line (`--heap_growing_percent` is the same flag). */
function flagName(flag: string): string {
  return (flag.split('=')[0] ?? flag).replaceAll('_', '-');
}

/**
 * Sets `flags` in V8, except any whose name the operator already gave Node (`execArgv`, or
 * `NODE_OPTIONS` for the flags it admits). Returns the flags set.
 */
export function applyHeapFlags(flags: readonly string[], given: readonly string[] = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)]): string[] {
  const taken = new Set(given.filter((arg) => arg.startsWith('--')).map(flagName));
  const applied = flags.filter((flag) => !taken.has(flagName(flag)));
  for (const flag of applied) setFlagsFromString(flag);
  return applied;
}
