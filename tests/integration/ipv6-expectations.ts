/**
 * What any scan of the lab must show of IPv6 (issue 14), whatever its flags: every device with
 * IPv6 (WS-Discovery, mDNS or SSDP over IPv6: lab-helpers.ts ipv6Profiles) is found at its
 * link-local address with the scanner's interface as zone; a dual-stack device is one device
 * holding its IPv4 and IPv6 addresses, listed once; the IPv6-only device is a device of its own,
 * with its MAC (from the IPv6 neighbour table) as id.
 * Shared by ipv6.test.ts (the shared default scan) and active-probes.test.ts (its `--no-active`
 * scan), so no further scan of the lab is needed for them.
 */
import { expect } from 'vitest';
import type { Inventory } from '../../agent/types.js';
import { eui64LinkLocal, isIpv6Only } from '../lab/sim/profile.js';
import { ipv6Profiles, SCANNER_IFACE } from './lab-helpers.js';

/** `namedIpv6`: the IPv6 TARGETs the scan named; a device's unique-local address among them is one of its addresses too. */
export function expectIpv6Devices(inventory: Inventory, namedIpv6: readonly string[] = []): void {
  const profiles = ipv6Profiles();
  expect(profiles.some(isIpv6Only) && profiles.some((p) => !isIpv6Only(p))).toBe(true);
  // Issue 14's done-when, first as one list naming every device with IPv6 that was not found over it.
  const heardOverIpv6 = (linkLocal: string): boolean =>
    inventory.devices.some((d) => d.addressDetails?.some((a) => a.family === 'ipv6' && a.address === linkLocal && a.zone === SCANNER_IFACE));
  expect(profiles.filter((p) => !heardOverIpv6(eui64LinkLocal(p.mac))).map((p) => p.name), 'lab devices with IPv6 but no IPv6 address in the inventory').toEqual([]);
  for (const profile of profiles) {
    const linkLocal = eui64LinkLocal(profile.mac);
    const holders = inventory.devices.filter((d) => d.ip === linkLocal || d.addresses?.includes(linkLocal));
    // Exactly one device holds the link-local address, and it is this profile's, at its own address.
    expect(holders.map((d) => [d.ip, d.id]), profile.name).toEqual([[profile.ip, `mac:${profile.mac}`]]);
    const device = holders[0]!;
    expect(device.addressDetails?.find((a) => a.address === linkLocal), profile.name).toEqual({ family: 'ipv6', address: linkLocal, scope: 'link-local', zone: SCANNER_IFACE });
    expect(inventory.devices.filter((d) => d.mac === profile.mac), profile.name).toHaveLength(1);
    if (!isIpv6Only(profile)) {
      const ula = profile.ipv6?.ula;
      expect(device.addresses, profile.name).toEqual([profile.ip, ...(ula !== undefined && namedIpv6.includes(ula) ? [ula] : []), linkLocal]);
      expect(device.addressDetails?.[0], profile.name).toMatchObject({ family: 'ipv4', address: profile.ip });
    }
    expect(device.classification.linkedVendor, profile.name).toBe(profile.truth.linkedVendor);
  }
}
