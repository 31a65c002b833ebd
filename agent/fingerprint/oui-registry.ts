/**
 * The IEEE registry (about 54,000 prefixes of 30,000 organisations) held compactly (issue 10,
 * start-up memory): a Map of one string key and one entry object per prefix held about 6 MB of heap
 * for the process's whole life; here each prefix is a number in a typed array, found by binary
 * search, and each organisation's name is kept once. It reads as the ReadonlyMap the rest of the
 * agent and the tests use (prefix → { organisation, vendor }), in oui.json's order.
 */
import { endianness } from 'node:os';
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

/** The columns of `all`'s prefixes, the search order sorted by (digits, value). */
function rowsOf(all: readonly OuiListing[]): RegistryRows {
  let rows = 0;
  for (const listing of all) rows += countPrefixes(listing.prefixes);
  const prefixValues = new Float64Array(rows);
  const digits = new Uint8Array(rows);
  const owner = new Uint32Array(rows);
  const organisations: string[] = [];
  const vendors: (string | null)[] = [];
  let row = 0;
  for (const [index, listing] of all.entries()) {
    organisations.push(listing.organisation);
    vendors.push(listing.vendor);
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
      prefixValues[row] = value;
      digits[row] = length;
      owner[row] = index;
      row += 1;
      value = 0;
      length = 0;
    }
  }
  const order = new Uint32Array(rows);
  for (let i = 0; i < rows; i += 1) order[i] = i;
  order.sort((a, b) => (digits[a] as number) - (digits[b] as number) || (prefixValues[a] as number) - (prefixValues[b] as number));
  return { prefixValues, digits, owner, order, organisations, vendors };
}

/** The registry's columns: one row per prefix in listing order, and the rows' search order. */
interface RegistryRows {
  readonly prefixValues: Float64Array;
  readonly digits: Uint8Array;
  readonly owner: Uint32Array;
  readonly order: Uint32Array;
  readonly organisations: string[];
  readonly vendors: (string | null)[];
}

/**
 * The registry as the build keeps it (agent/knowledge/checked-files.ts), so that a start-up reads
 * it back instead of parsing and sorting oui.json: a row count (32 bits, little-endian, then 32
 * bits of zero so the columns start 8-byte aligned), the columns' bytes in the byte order of the
 * machine that wrote them (prefixValues, order, owner, digits: 8 + 4 + 4 + 1 bytes a row), then
 * JSON text: that byte order, the names, and the caller's `header`.
 */
interface ImageText {
  readonly byteOrder: string;
  readonly organisations: string[];
  readonly vendors: (string | null)[];
  readonly header: unknown;
}

const IMAGE_PREFIX_BYTES = 8;
const BYTES_PER_ROW = Float64Array.BYTES_PER_ELEMENT + 2 * Uint32Array.BYTES_PER_ELEMENT + 1;
/** The first value past a prefix of each length (6, 7 or 9 hex digits); 0 for any other length. */
const PREFIX_LIMIT: readonly number[] = [0, 0, 0, 0, 0, 0, 16 ** 6, 16 ** 7, 0, 16 ** 9];

export class OuiRegistry implements ReadonlyMap<string, OuiEntry> {
  // One row per prefix, in listing order (organisation by organisation).
  private readonly prefixValues: Float64Array;
  private readonly digits: Uint8Array;
  private readonly owner: Uint32Array;
  /** Row numbers ordered by (digits, value): what `get` searches. */
  private readonly order: Uint32Array;
  private readonly organisations: string[];
  private readonly vendors: (string | null)[];
  /** Prefixes listed more than once: [prefix, earlier organisation, later organisation], in listing order. */
  readonly repeats: readonly (readonly [string, string, string])[];

  /**
   * Reads `listings`, whose prefixes are upper-case hex of 6, 7 or 9 digits (oui.json's schema says
   * so), or takes the columns of a registry read back from its image (which has no repeats: the
   * build refuses a registry that has any).
   */
  constructor(source: readonly OuiListing[] | RegistryRows) {
    const rows = Array.isArray(source) ? rowsOf(source as readonly OuiListing[]) : (source as RegistryRows);
    this.prefixValues = rows.prefixValues;
    this.digits = rows.digits;
    this.owner = rows.owner;
    this.order = rows.order;
    this.organisations = rows.organisations;
    this.vendors = rows.vendors;
    const order = this.order;
    const repeats: [number, number][] = [];
    if (Array.isArray(source)) {
      for (let i = 1; i < order.length; i += 1) {
        const a = order[i - 1] as number;
        const b = order[i] as number;
        if (this.compareRows(a, b) === 0) repeats.push(a < b ? [a, b] : [b, a]);
      }
    }
    this.repeats = repeats
      .sort((x, y) => x[1] - y[1])
      .map(([earlier, later]) => [this.prefixAt(later), this.organisationAt(earlier), this.organisationAt(later)] as const);
  }

  /** The registry as the build keeps it, with `header` (plain JSON data) beside it. */
  image(header: unknown): Buffer {
    const rows = this.prefixValues.length;
    const text: ImageText = { byteOrder: endianness(), organisations: this.organisations, vendors: this.vendors, header };
    const prefix = Buffer.alloc(IMAGE_PREFIX_BYTES);
    prefix.writeUInt32LE(rows, 0);
    const columns = [this.prefixValues, this.order, this.owner, this.digits].map((column) => Buffer.from(column.buffer, column.byteOffset, column.byteLength));
    return Buffer.concat([prefix, ...columns, Buffer.from(JSON.stringify(text), 'utf8')]);
  }

  /**
   * The registry and header an image holds, or undefined when it is not one this machine can use
   * as it is: of another byte order, or not the columns of a registry (a row owned by no
   * organisation, a prefix not of 6, 7 or 9 hex digits, a search order that is not every row once,
   * in order).
   */
  static fromImage(image: Buffer): { registry: OuiRegistry; header: unknown } | undefined {
    if (image.length < IMAGE_PREFIX_BYTES) return undefined;
    const count = image.readUInt32LE(0);
    const textStart = IMAGE_PREFIX_BYTES + count * BYTES_PER_ROW;
    if (image.length < textStart) return undefined;
    const text = JSON.parse(image.subarray(textStart).toString('utf8')) as Partial<ImageText>;
    const { organisations, vendors } = text;
    if (text.byteOrder !== endianness() || !Array.isArray(organisations) || !Array.isArray(vendors) || organisations.length !== vendors.length) return undefined;
    // The columns copied into memory of their own: aligned for the typed arrays whatever the image's
    // offset, and the image (its names' text included) left to the collector.
    const columns = new Uint8Array(image.subarray(IMAGE_PREFIX_BYTES, textStart)).buffer;
    const prefixValues = new Float64Array(columns, 0, count);
    const order = new Uint32Array(columns, count * 8, count);
    const owner = new Uint32Array(columns, count * 12, count);
    const digits = new Uint8Array(columns, count * 16, count);
    const seen = new Uint8Array(count);
    for (let row = 0; row < count; row += 1) {
      const value = prefixValues[row] as number;
      if (!Number.isInteger(value) || value < 0 || value >= (PREFIX_LIMIT[digits[row] as number] ?? 0)) return undefined;
      if ((owner[row] as number) >= organisations.length) return undefined;
      const index = order[row] as number;
      if (index >= count || seen[index] === 1) return undefined;
      seen[index] = 1;
    }
    const registry = new OuiRegistry({ prefixValues, digits, owner, order, organisations, vendors });
    for (let i = 1; i < count; i += 1) if (registry.compareRows(order[i - 1] as number, order[i] as number) >= 0) return undefined;
    return { registry, header: text.header };
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
