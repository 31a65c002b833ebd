/**
 * IPv6 in the lab (issue 14), from the shared default scan (shared-scan.ts): the devices with an
 * `ipv6` key answer WS-Discovery on FF02::C from their link-local address, hikvision and axis being
 * dual-stack and hik6only having no IPv4 at all. The shared scan also names hikvision by its
 * unique-local and link-local addresses (SHARED_IPV6_TARGETS): its unicast WS-Discovery Probe, TLS
 * certificate and RTSP answers are read over IPv6 there. The `--no-active` side is checked on the
 * passive scan active-probes.test.ts runs anyway (ipv6-expectations.ts).
 */
import { describe, expect, it } from 'vitest';
import { eui64LinkLocal } from '../lab/sim/profile.js';
import { expectIpv6Devices } from './ipv6-expectations.js';
import { labProfile, runInNamespace, SCANNER_NS } from './lab-helpers.js';
import { SHARED_IPV6_DEVICE, SHARED_IPV6_TARGETS, sharedScan, sharedScanLog } from './shared-scan.js';

describe('IPv6 discovery in the lab', () => {
  it('finds every device that speaks IPv6 at its link-local address, dual-stack ones once with both addresses', () => {
    expectIpv6Devices(sharedScan().inventory, SHARED_IPV6_TARGETS);
  });

  it('probes a device named by its IPv6 addresses over IPv6: unicast WS-Discovery, TLS certificate and RTSP at its unique-local address, and through the zone at its link-local one', () => {
    const profile = labProfile(SHARED_IPV6_DEVICE);
    const [ula, linkLocal] = SHARED_IPV6_TARGETS as [string, string];
    const plainLinkLocal = eui64LinkLocal(profile.mac);
    const log = sharedScanLog(SHARED_IPV6_DEVICE);
    // The scanner's unique-local address is the source the kernel chose by route (the routed socket).
    const fromUla = 'fdcc:7a6e:1ab::1';
    const fromLinkLocal = 'fe80::ff:fe00:1(?:%eth0)?';
    expect(log).toMatch(new RegExp(String.raw`\[wsd\] Probe urn:uuid:\S+ from ${fromUla}:\d+ types=\[[^\]]*\] -> ProbeMatches`, 'u'));
    for (const from of [fromUla, fromLinkLocal]) {
      expect(log).toMatch(new RegExp(String.raw`\[tls\] https :443 TLS handshake from ${from}\n`, 'u'));
      expect(log).toMatch(new RegExp(String.raw`\[rtsp\] DESCRIBE rtsp://\[(?:${ula}|${plainLinkLocal})\]:554/ from ${from}:\d+ -> 401`, 'u'));
    }
    // The URL names the device's address alone: the scanner's interface (the zone) is no part of it.
    expect(log).toMatch(new RegExp(String.raw`\[rtsp\] OPTIONS rtsp://\[${plainLinkLocal}\]:554/ from ${fromLinkLocal}:\d+ -> 200`, 'u'));
    expect(log).not.toContain(`${linkLocal}]`);
    // What was read there is the same device's: one device, holding the unique-local address too.
    const device = sharedScan().inventory.devices.find((d) => d.addresses?.includes(ula));
    expect(device?.id).toBe(`mac:${profile.mac}`);
    expect(device?.addressDetails?.find((a) => a.address === ula)).toEqual({ family: 'ipv6', address: ula, scope: 'private' });
    expect(device?.evidence.map((e) => e.source)).toEqual(expect.arrayContaining(['tls', 'rtsp']));
  });

  it('finds and classifies the IPv6-only camera from its WS-Discovery answer and the IPv6 neighbour table alone', () => {
    const profile = labProfile('hik6only');
    const device = sharedScan().inventory.devices.find((d) => d.ip === profile.ip);
    expect(device?.id).toBe(`mac:${profile.mac}`);
    expect(device?.identity).toEqual(profile.truth.identity);
    expect(device?.classification).toMatchObject({ linkedVendor: 'hikvision', relation: 'direct' });
    expect(device?.evidence.map((e) => e.source)).toEqual(expect.arrayContaining(['oui', 'onvif']));
    // It heard the scanner's Probe on FF02::C from the scanner's own link-local address.
    expect(sharedScanLog('hik6only')).toMatch(/Probe urn:uuid:\S+ from fe80::ff:fe00:1%eth0:\d+ types=\[[^\]]*\] -> ProbeMatches/u);
  });

  it('asks the dual-stack devices by SSDP over IPv6 too: they answer the M-SEARCH on [FF02::C]:1900 to the scanner\'s link-local address', () => {
    for (const name of ['hikvision', 'axis']) expect(sharedScanLog(name), name).toMatch(/\[ssdp\] M-SEARCH ssdp:all answer \S+ \(\d+ bytes, delay \d+ ms\) -> fe80::ff:fe00:1%eth0:\d+/u);
  });

  it('runs the lab on IPv6 as described: link-local addresses from the MACs, the scanner on the ULA prefix', async () => {
    const scanner = await runInNamespace(SCANNER_NS, ['ip', '-6', '-br', 'addr', 'show', 'dev', 'eth0']);
    expect(scanner.stdout).toContain('fdcc:7a6e:1ab::1/64');
    expect(scanner.stdout).toContain(`${eui64LinkLocal('02:00:00:00:00:01')}/64`);
    expect(scanner.stdout).not.toContain('tentative');
  });
});
