/**
 * Sorting the few items a device has (its evidence, vendor keys, CVE flags) without allocating.
 * V8's Array.prototype.sort sets up its merge state on every call, even for two items: measured
 * at about 3.8 KB of garbage per classified device over its handful of sorts. Insertion sort on a
 * short list allocates nothing. Both are stable (items that compare equal keep their order;
 * ECMA-262 §23.1.3.30 requires it of Array.prototype.sort since ES2019), so for the same
 * comparison they give the same order.
 */

/** Longest list sorted by insertion; longer lists go to Array.prototype.sort (quadratic work stays small). */
const INSERTION_SORT_MAX = 12;

/** Code-unit order, the order of Array.prototype.sort without a comparison function (for strings). */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Sorts `list` in place, stably, and returns it. */
export function sortSmall<T>(list: T[], compare: (a: T, b: T) => number): T[] {
  if (list.length > INSERTION_SORT_MAX) return list.sort(compare);
  for (let i = 1; i < list.length; i++) {
    const item = list[i] as T;
    let j = i - 1;
    while (j >= 0 && compare(list[j] as T, item) > 0) {
      list[j + 1] = list[j] as T;
      j--;
    }
    list[j + 1] = item;
  }
  return list;
}
