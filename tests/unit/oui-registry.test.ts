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

  it('reads back from its image the same registry and header, and refuses an image of another byte order or out of order', () => {
    const registry = new OuiRegistry(listings);
    const image = registry.image({ generated: '2026-12-06' });
    const back = OuiRegistry.fromImage(image);
    expect(back?.header).toEqual({ generated: '2026-12-06' });
    expect([...(back?.registry ?? [])]).toEqual([...registry]);
    for (const prefix of ['2857BE', '0050C2', '0050C21', '0050C2100', '000000001', '2857BF']) expect(back?.registry.get(prefix), prefix).toEqual(registry.get(prefix));
    // From an odd offset (a Buffer from a pool): copied into aligned memory, read the same.
    const shifted = Buffer.concat([Buffer.from([0]), image]).subarray(1);
    expect([...(OuiRegistry.fromImage(shifted)?.registry ?? [])]).toEqual([...registry]);

    const text = (bytes: Buffer): Record<string, unknown> => JSON.parse(bytes.subarray(8 + registry.size * 17).toString('utf8')) as Record<string, unknown>;
    const withText = (bytes: Buffer, value: Record<string, unknown>): Buffer => Buffer.concat([bytes.subarray(0, 8 + registry.size * 17), Buffer.from(JSON.stringify(value))]);
    const otherOrder = withText(image, { ...text(image), byteOrder: text(image).byteOrder === 'LE' ? 'BE' : 'LE' });
    expect(OuiRegistry.fromImage(otherOrder)).toBeUndefined();
    // The search order's first two rows swapped: `get` would miss prefixes, so the image is refused.
    const swapped = Buffer.from(image);
    const orderAt = 8 + registry.size * 8;
    const first = swapped.readUInt32LE(orderAt);
    swapped.writeUInt32LE(swapped.readUInt32LE(orderAt + 4), orderAt);
    swapped.writeUInt32LE(first, orderAt + 4);
    expect(OuiRegistry.fromImage(swapped)).toBeUndefined();
    expect(OuiRegistry.fromImage(image.subarray(0, 20))).toBeUndefined();
  });
});
