/**
 * Device identity in the lab's shared default scan (agent/pipeline/merge.ts): the proxy-ARP
 * segment (profile proxyarp: 16 addresses behind one MAC) stays 16 devices, each recording the
 * MAC as shared and taking no maker from it; the two-NIC camera (profile twonic) is one device
 * with both addresses and both MACs.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Device, Inventory } from '../../agent/types.js';
import { inventoryProblems } from '../support/inventory-schema.js';
import { sharedScan } from './shared-scan.js';
import { labProfile } from './lab-helpers.js';

describe('device identity in the lab scan', () => {
  let inventory: Inventory;
  beforeAll(() => {
    inventory = sharedScan().inventory;
  });
  const at = (ip: string): Device | undefined => inventory.devices.find((d) => d.ip === ip || d.addresses?.includes(ip));

  it('reports each address of the proxy-ARP segment as its own device, flagged as sharing the MAC', () => {
    const segment = labProfile('proxyarp');
    const addresses = [segment.ip, ...(segment.aliases ?? [])];
    expect(addresses).toHaveLength(16);
    expect(inventoryProblems(inventory)).toEqual([]);
    for (const ip of addresses) {
      const device = at(ip);
      expect({ ip, found: device?.ip, id: device?.id, mac: device?.mac, macShared: device?.macShared, addresses: device?.addresses }).toEqual({
        ip,
        found: ip,
        id: `ip:${ip}`,
        mac: segment.mac,
        macShared: true,
        addresses: undefined,
      });
      expect(device?.evidence[0]).toEqual({
        source: 'oui',
        detail: `address shares its MAC ${segment.mac} with 15 others: a router or proxy-ARP segment; MAC is not this device's`,
        supports: null,
        rule: 'mac-shared',
        confidence: 0,
      });
      // The MAC is in a Hikvision block: had it been used, every host would be linked to Hikvision.
      expect(device?.evidence.filter((e) => e.rule === 'oui-registry')).toEqual([]);
      expect({ ip, linkedVendor: device?.classification.linkedVendor, manufacturer: device?.identity.manufacturer }).toEqual({ ip, linkedVendor: null, manufacturer: null });
      expect(device?.services.map((s) => s.port)).toEqual([80]);
    }
    expect(inventory.devices.filter((d) => d.mac === segment.mac)).toHaveLength(addresses.length);
  });

  it('reports the camera with two interfaces once, with both addresses and both MACs', () => {
    const camera = labProfile('twonic');
    const second = camera.nics?.[0];
    if (!second) throw new Error('profile twonic has no second interface');
    const device = at(camera.ip);
    expect(device).toMatchObject({
      id: `mac:${camera.mac}`,
      ip: camera.ip,
      mac: camera.mac,
      addresses: [camera.ip, second.ip],
      macs: [camera.mac, second.mac],
      identity: { serial: camera.onvif?.deviceInformation.serialNumber },
      classification: { linkedVendor: 'dahua', relation: 'direct' },
    });
    expect(device?.macShared).toBeUndefined();
    expect(at(second.ip)).toBe(device);
    expect(inventory.devices.filter((d) => d.identity.serial === camera.onvif?.deviceInformation.serialNumber)).toHaveLength(1);
  });
});
