/**
 * The IEEE registry (about 54,000 prefixes of 30,000 organisations) held compactly (issue 10,
 * start-up memory): a Map of one string key and one entry object per prefix held about 6 MB of heap
 * for the process's whole life; here each prefix is a number in a typed array, found by binary
 * search, and each organisation's name is kept once. It reads as the ReadonlyMap the rest of the
 * agent and the tests use (prefix → { organisation, vendor }), in oui.json's order.
 */
import type { OuiEntry } from './types.js';

/** One organisation of oui.json: its name, vendor key (or null) and prefixes, space-separated. */
export interface OuiListing {
  readonly organisation: string;
  readonly vendor: string | null;
  readonly prefixes: string;
}

const SPACE = 0x20;

/** A hex digit's value, or -1 for anything else; upper case only, as oui.json and the lookups write them. */
function hexDigit(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x41 + 10;
  return -1;
}

/** The value of an upper-case hex string, or -1 when it is not one. At most 9 digits: exact in a double. */
function hexValue(text: string): number {
  let value = 0;
  for (let i = 0; i < text.length; i += 1) {
    const digit = hexDigit(text.charCodeAt(i));
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

/** How many space-separated prefixes `text` lists (counted, not split: no string per prefix). */
function countPrefixes(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i += 1) {
    if (text.charCodeAt(i) !== SPACE && (i === 0 || text.charCodeAt(i - 1) === SPACE)) count += 1;
  }
  return count;
}

export class OuiRegistry implements ReadonlyMap<string, OuiEntry> {
  // One row per prefix, in listing order (organisation by organisation).
  private readonly prefixValues: Float64Array;
  private readonly digits: Uint8Array;
  private readonly owner: Uint32Array;
  /** Row numbers ordered by (digits, value): what `get` searches. */
  private readonly order: Uint32Array;
  private readonly organisations: string[] = [];
  private readonly vendors: (string | null)[] = [];
  /** Prefixes listed more than once: [prefix, earlier organisation, later organisation], in listing order. */
  readonly repeats: readonly (readonly [string, string, string])[];

  /** Reads `listings`, whose prefixes are upper-case hex of 6, 7 or 9 digits (oui.json's schema says so). */
  constructor(all: readonly OuiListing[]) {
    let rows = 0;
    for (const listing of all) rows += countPrefixes(listing.prefixes);
    this.prefixValues = new Float64Array(rows);
    this.digits = new Uint8Array(rows);
    this.owner = new Uint32Array(rows);
    let row = 0;
    for (const [index, listing] of all.entries()) {
      this.organisations.push(listing.organisation);
      this.vendors.push(listing.vendor);
      const text = listing.prefixes;
      let value = 0;
      let length = 0;
      for (let i = 0; i <= text.length; i += 1) {
        const code = i === text.length ? SPACE : text.charCodeAt(i);
        if (code !== SPACE) {
          value = value * 16 + hexDigit(code);
          length += 1;
          continue;
        }
        if (length === 0) continue;
        this.prefixValues[row] = value;
        this.digits[row] = length;
        this.owner[row] = index;
        row += 1;
        value = 0;
        length = 0;
      }
    }
    const order = new Uint32Array(rows);
    for (let i = 0; i < rows; i += 1) order[i] = i;
    order.sort((a, b) => this.compareRows(a, b));
    this.order = order;
    const repeats: [number, number][] = [];
    for (let i = 1; i < rows; i += 1) {
      const a = order[i - 1] as number;
      const b = order[i] as number;
      if (this.compareRows(a, b) === 0) repeats.push(a < b ? [a, b] : [b, a]);
    }
    this.repeats = repeats
      .sort((x, y) => x[1] - y[1])
      .map(([earlier, later]) => [this.prefixAt(later), this.organisationAt(earlier), this.organisationAt(later)] as const);
  }

  private compareRows(a: number, b: number): number {
    return (this.digits[a] as number) - (this.digits[b] as number) || (this.prefixValues[a] as number) - (this.prefixValues[b] as number);
  }

  private prefixAt(row: number): string {
    return (this.prefixValues[row] as number).toString(16).toUpperCase().padStart(this.digits[row] as number, '0');
  }

  private organisationAt(row: number): string {
    return this.organisations[this.owner[row] as number] as string;
  }

  private entryAt(row: number): OuiEntry {
    const index = this.owner[row] as number;
    return { organisation: this.organisations[index] as string, vendor: this.vendors[index] ?? null };
  }

  /** The row of `prefix`, or -1. */
  private find(prefix: string): number {
    const digits = prefix.length;
    if (digits !== 6 && digits !== 7 && digits !== 9) return -1;
    const value = hexValue(prefix);
    if (value < 0) return -1;
    let low = 0;
    let high = this.order.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const row = this.order[middle] as number;
      const difference = (this.digits[row] as number) - digits || (this.prefixValues[row] as number) - value;
      if (difference === 0) return row;
      if (difference < 0) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  }

  get size(): number {
    return this.prefixValues.length;
  }

  get(prefix: string): OuiEntry | undefined {
    const row = this.find(prefix);
    return row < 0 ? undefined : this.entryAt(row);
  }

  has(prefix: string): boolean {
    return this.find(prefix) >= 0;
  }

  forEach(callback: (value: OuiEntry, key: string, map: ReadonlyMap<string, OuiEntry>) => void, thisArg?: unknown): void {
    for (const [key, value] of this) callback.call(thisArg, value, key, this);
  }

  *entries(): MapIterator<[string, OuiEntry]> {
    for (let row = 0; row < this.prefixValues.length; row += 1) yield [this.prefixAt(row), this.entryAt(row)];
  }

  *keys(): MapIterator<string> {
    for (let row = 0; row < this.prefixValues.length; row += 1) yield this.prefixAt(row);
  }

  *values(): MapIterator<OuiEntry> {
    for (let row = 0; row < this.prefixValues.length; row += 1) yield this.entryAt(row);
  }

  [Symbol.iterator](): MapIterator<[string, OuiEntry]> {
    return this.entries();
  }
}
