import { describe, expect, it } from 'vitest';
import { parseTargets, probeableTargets, unprobeableReason } from '../../agent/targets.js';
import { refusal } from '../support/agent-error.js';

describe('parseTargets', () => {
  it('expands a CIDR block without its network and broadcast addresses', () => {
    const set = parseTargets(['198.18.0.0/30']);
    expect([...set.addresses()]).toEqual(['198.18.0.1', '198.18.0.2']);
    expect(parseTargets(['198.18.0.0/24']).size).toBe(254);
  });

  it('accepts single addresses, ranges, /31 and /32, and de-duplicates overlaps in order', () => {
    const set = parseTargets(['198.18.0.20', '198.18.0.9-198.18.0.11', '198.18.0.10/32', '198.18.0.30/31']);
    expect([...set.addresses()]).toEqual(['198.18.0.9', '198.18.0.10', '198.18.0.11', '198.18.0.20', '198.18.0.30', '198.18.0.31']);
    expect(set.has('198.18.0.10')).toBe(true);
    expect(set.has('198.18.0.12')).toBe(false);
    expect(set.has('fe80::1')).toBe(false);
    expect(set.specs).toEqual(['198.18.0.20', '198.18.0.9-198.18.0.11', '198.18.0.10/32', '198.18.0.30/31']);
  });

  it('rejects bad targets with a coded error that says what to give instead', () => {
    for (const bad of ['198.18.0.0/33', 'foo', '300.1.1.1', '198.18.0.9-198.18.0.1', '198.18.0.0/', '']) {
      const error = refusal(() => parseTargets([bad]));
      expect(error.code).toBe('CCTV_ERR_BAD_TARGET');
      expect(error.exitCode).toBe(2);
      expect(error.message).toContain(`"${bad}"`);
      expect(error.message).toContain('CIDR');
    }
  });

  it('takes up to a /16, and refuses more', () => {
    expect(parseTargets(['10.0.0.0/16']).size).toBe(65_534);
    expect(parseTargets(['10.0.0.0-10.0.255.255']).size).toBe(65_536);
    expect(refusal(() => parseTargets(['10.0.0.0/15'])).code).toBe('CCTV_ERR_TOO_MANY_TARGETS');
    expect(refusal(() => parseTargets(['10.0.0.0/16', '10.1.0.0/24'])).code).toBe('CCTV_ERR_TOO_MANY_TARGETS');
  });

  it('holds a /16 as a range: membership by search, addresses generated as they are read', () => {
    const wide = parseTargets(['10.0.0.0/16']);
    expect(wide.size).toBe(65_534);
    expect(wide.has('10.0.128.7')).toBe(true);
    expect(wide.has('10.1.0.1')).toBe(false);
    const first = wide.addresses();
    expect([first.next().value, first.next().value]).toEqual(['10.0.0.1', '10.0.0.2']);
    let count = 0;
    let last = '';
    for (const ip of wide.addresses()) {
      count++;
      last = ip;
    }
    expect([count, last]).toEqual([65_534, '10.0.255.254']);
  });
});

describe('targets active probes may touch', () => {
  const LAB = ['198.18.0.1/24'];

  it('names why an address is no single device: broadcast, multicast, unspecified, loopback, reserved, a subnet’s network and broadcast', () => {
    const reasons = ['255.255.255.255', '224.0.0.1', '239.255.255.250', '0.0.0.0', '127.0.0.1', '240.0.0.1', '198.18.0.0', '198.18.0.255', '198.18.0.10', '198.18.1.0'].map(
      (ip) => [ip, unprobeableReason(ip, LAB)],
    );
    expect(reasons).toEqual([
      ['255.255.255.255', 'broadcast'],
      ['224.0.0.1', 'multicast'],
      ['239.255.255.250', 'multicast'],
      ['0.0.0.0', 'unspecified'],
      ['127.0.0.1', 'loopback'],
      ['240.0.0.1', 'reserved'],
      ['198.18.0.0', 'subnet-network'],
      ['198.18.0.255', 'subnet-broadcast'],
      ['198.18.0.10', null],
      ['198.18.1.0', null],
    ]);
    // A /31 (RFC 3021) and a /32 have no network or broadcast address.
    expect(unprobeableReason('198.18.0.30', ['198.18.0.30/31'])).toBeNull();
    expect(unprobeableReason('198.18.0.31', ['198.18.0.30/31'])).toBeNull();
  });

  it('leaves them out of the addresses probed and lists them, consecutive ones as one run', () => {
    const named = parseTargets(['255.255.255.255', '224.0.0.1', '239.255.255.250', '0.0.0.0', '198.18.0.250-198.18.1.2', '224.0.0.0/28']);
    const { targets, skipped } = probeableTargets(named, LAB);
    expect([...targets.addresses()]).toEqual(['198.18.0.250', '198.18.0.251', '198.18.0.252', '198.18.0.253', '198.18.0.254', '198.18.1.0', '198.18.1.1', '198.18.1.2']);
    expect(targets.has('198.18.0.255')).toBe(false);
    expect(targets.has('239.255.255.250')).toBe(false);
    expect(targets.size).toBe(8);
    expect(targets.specs).toEqual(named.specs);
    expect(skipped).toEqual([
      { addresses: '0.0.0.0', reason: 'unspecified' },
      { addresses: '198.18.0.255', reason: 'subnet-broadcast' },
      { addresses: '224.0.0.1-224.0.0.14', reason: 'multicast' },
      { addresses: '239.255.255.250', reason: 'multicast' },
      { addresses: '255.255.255.255', reason: 'broadcast' },
    ]);
  });

  it('keeps a set with nothing to skip as it is', () => {
    const named = parseTargets(['198.18.0.0/24']);
    expect(probeableTargets(named, LAB)).toEqual({ targets: named, skipped: [] });
  });
});

describe('IPv6 targets (issue 14)', () => {
  it('takes single addresses (canonical, a link-local one with its interface), a /120 and a short range', () => {
    expect([...parseTargets(['FDCC:7A6E:01AB:0:0:0:0:10']).addresses()]).toEqual(['fdcc:7a6e:1ab::10']);
    expect([...parseTargets(['fe80::2a57:beff:fe6a:1c90%eth0']).addresses()]).toEqual(['fe80::2a57:beff:fe6a:1c90%eth0']);
    const block = parseTargets(['fdcc:7a6e:1ab::/120']);
    expect(block.size).toBe(256);
    expect([...block.addresses()].slice(0, 2)).toEqual(['fdcc:7a6e:1ab::', 'fdcc:7a6e:1ab::1']);
    expect([...block.addresses()].at(-1)).toBe('fdcc:7a6e:1ab::ff');
    const mixed = parseTargets(['198.18.0.10', 'fdcc:7a6e:1ab::10-fdcc:7a6e:1ab::12']);
    expect([...mixed.addresses()]).toEqual(['198.18.0.10', 'fdcc:7a6e:1ab::10', 'fdcc:7a6e:1ab::11', 'fdcc:7a6e:1ab::12']);
    expect([mixed.has('fdcc:7a6e:1ab:0::11'), mixed.has('fdcc:7a6e:1ab::13'), mixed.has('198.18.0.10')]).toEqual([true, false, true]);
  });

  it('refuses a /64 with a coded error that says why and what finds its devices instead', () => {
    const error = refusal(() => parseTargets(['fdcc:7a6e:1ab::/64']));
    expect(error.code).toBe('CCTV_ERR_IPV6_RANGE_TOO_LARGE');
    expect(error.message).toContain('18446744073709551616 IPv6 addresses');
    expect(error.message).toContain('WS-Discovery on FF02::C and the IPv6 neighbour table');
    expect(refusal(() => parseTargets(['fdcc:7a6e:1ab::/119'])).code).toBe('CCTV_ERR_IPV6_RANGE_TOO_LARGE');
    expect(refusal(() => parseTargets(['fdcc::1-fdcc::1:0'])).code).toBe('CCTV_ERR_IPV6_RANGE_TOO_LARGE');
  });

  it('refuses garbage, a link-local address without its interface, and addresses that name no device', () => {
    for (const [spec, why] of [
      ['fe80::1', 'name the interface it is on'],
      ['fdcc::zz', 'is not an IPv6 address'],
      ['fe80::1%eth0/bad', 'not an interface name'],
      ['fdcc::1/129', 'prefix length must be 0 to 128'],
      ['fdcc::9-fdcc::1', 'ends before it starts'],
      ['fe80::1%eth0-fe80::2%eth1', 'same interface'],
      ['ff02::c', 'multicast'],
      ['::1', 'loopback'],
      ['::', 'unspecified'],
    ] as const) {
      const error = refusal(() => parseTargets([spec]));
      expect([spec, error.code, error.message.includes(why)]).toEqual([spec, 'CCTV_ERR_BAD_TARGET', true]);
    }
  });

  it('keeps IPv6 targets through probeableTargets when IPv4 addresses are left out', () => {
    const { targets, skipped } = probeableTargets(parseTargets(['198.18.0.0/30', 'fdcc:7a6e:1ab::10']), ['198.18.0.1/24']);
    expect(skipped).toEqual([]);
    expect([...targets.addresses()]).toEqual(['198.18.0.1', '198.18.0.2', 'fdcc:7a6e:1ab::10']);
    const narrowed = probeableTargets(parseTargets(['198.18.0.255', 'fdcc:7a6e:1ab::10']), ['198.18.0.1/24']);
    expect([...narrowed.targets.addresses()]).toEqual(['fdcc:7a6e:1ab::10']);
    expect(narrowed.skipped).toEqual([{ addresses: '198.18.0.255', reason: 'subnet-broadcast' }]);
  });
});
