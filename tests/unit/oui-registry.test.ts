/** The compact IEEE registry (agent/fingerprint/oui-registry.ts) reads as the Map it replaced. */
import { describe, expect, it } from 'vitest';
import { OuiRegistry } from '../../agent/fingerprint/oui-registry.js';

const listings = [
  { organisation: 'Hangzhou Hikvision Digital Technology Co.,Ltd.', vendor: 'hikvision', prefixes: '2857BE BCAD28 4CBD8F' },
  { organisation: 'IEEE Registration Authority', vendor: null, prefixes: '0050C2' },
  { organisation: 'Example MA-M', vendor: null, prefixes: '0050C21' },
  { organisation: 'Example MA-S', vendor: 'dahua', prefixes: '0050C2100 000000001' },
];

/** The Map the loader built before, one entry per prefix in listing order. */
function asMap(): Map<string, { organisation: string; vendor: string | null }> {
  const map = new Map<string, { organisation: string; vendor: string | null }>();
  for (const { organisation, vendor, prefixes } of listings) for (const prefix of prefixes.split(' ')) map.set(prefix, { organisation, vendor });
  return map;
}

describe('OuiRegistry', () => {
  it('holds every prefix once, in listing order, with its organisation and vendor, as a Map would', () => {
    const registry = new OuiRegistry(listings);
    const map = asMap();
    expect(registry.size).toBe(map.size);
    expect([...registry]).toEqual([...map]);
    expect([...registry.keys()]).toEqual([...map.keys()]);
    expect([...registry.values()]).toEqual([...map.values()]);
    for (const [prefix, entry] of map) expect(registry.get(prefix), prefix).toEqual(entry);
    const seen: string[] = [];
    registry.forEach((entry, prefix, self) => {
      expect(self).toBe(registry);
      seen.push(`${prefix} ${entry.organisation}`);
    });
    expect(seen).toHaveLength(map.size);
    expect(registry.repeats).toEqual([]);
  });

  it('finds nothing for a prefix not listed, of another length, in lower case or not hex', () => {
    const registry = new OuiRegistry(listings);
    for (const key of ['2857BF', '2857be', '2857B', '2857BE0', '0050C2101', '0050C210', 'GGGGGG', '', '00000001']) {
      expect(registry.get(key), key).toBeUndefined();
      expect(registry.has(key), key).toBe(false);
    }
    expect(registry.has('000000001')).toBe(true);
    expect(registry.get('000000001')?.vendor).toBe('dahua');
  });

  it('names each prefix listed twice with both organisations, in listing order', () => {
    const registry = new OuiRegistry([...listings, { organisation: 'Copycat', vendor: null, prefixes: 'BCAD28 0050C21' }]);
    expect(registry.repeats).toEqual([
      ['BCAD28', 'Hangzhou Hikvision Digital Technology Co.,Ltd.', 'Copycat'],
      ['0050C21', 'Example MA-M', 'Copycat'],
    ]);
  });
});
