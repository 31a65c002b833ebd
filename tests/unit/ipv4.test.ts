import { describe, expect, it } from 'vitest';
import { cidrRange, inCidr, intToIpv4, ipv4ToInt, parseCidr } from '../../agent/net/ipv4.js';
import { seededRandom } from '../seeded-random.js';

describe('ipv4', () => {
  it('converts addresses to unsigned integers and back', () => {
    for (const ip of ['0.0.0.0', '198.18.0.10', '255.255.255.255']) expect(intToIpv4(ipv4ToInt(ip))).toBe(ip);
    expect(ipv4ToInt('255.255.255.255')).toBe(2 ** 32 - 1);
  });

  it('reads every octet of an address, whatever its digits', () => {
    const random = seededRandom(0x1b4);
    for (let n = 0; n < 2000; n++) {
      const octets = Array.from({ length: 4 }, () => Math.floor(random() * 256));
      expect(ipv4ToInt(octets.join('.'))).toBe(((octets[0]! * 256 + octets[1]!) * 256 + octets[2]!) * 256 + octets[3]!);
    }
  });

  it('finds the block holding an address, whatever host bits the address has', () => {
    const { first, last } = cidrRange(ipv4ToInt('198.18.0.77'), 26);
    expect([intToIpv4(first), intToIpv4(last)]).toEqual(['198.18.0.64', '198.18.0.127']);
    expect(cidrRange(ipv4ToInt('10.1.2.3'), 0)).toEqual({ first: 0, last: 2 ** 32 - 1 });
    expect(cidrRange(ipv4ToInt('10.1.2.3'), 32)).toEqual({ first: ipv4ToInt('10.1.2.3'), last: ipv4ToInt('10.1.2.3') });
  });

  it('parses A.B.C.D/N and nothing else', () => {
    expect(parseCidr('198.18.0.9/24')).toEqual({ first: ipv4ToInt('198.18.0.0'), last: ipv4ToInt('198.18.0.255'), bits: 24 });
    for (const bad of ['198.18.0.0', '198.18.0.0/33', '198.18.0/24', '198.18.0.256/24', '198.18.0.0/-1', '::1/128', '']) expect(parseCidr(bad), bad).toBeNull();
  });

  it('tells whether an address is on a subnet', () => {
    expect(inCidr('198.18.0.200', '198.18.0.1/24')).toBe(true);
    expect(inCidr('198.18.1.1', '198.18.0.1/24')).toBe(false);
    expect(inCidr('fe80::1', '198.18.0.1/24')).toBe(false);
    expect(inCidr('198.18.0.2', 'not-a-cidr')).toBe(false);
  });

  it('answers the same for a subnet asked again after a thousand others, garbage among them', () => {
    const others = Array.from({ length: 1000 }, (_, i) => (i % 10 === 0 ? `garbage-${i}` : `10.${i >> 8}.${i & 255}.0/24`));
    expect(others.map((cidr) => inCidr('10.0.5.7', cidr)).filter(Boolean)).toHaveLength(1);
    expect([inCidr('198.18.0.200', '198.18.0.1/24'), inCidr('198.18.1.1', '198.18.0.1/24'), inCidr('198.18.0.2', 'not-a-cidr')]).toEqual([true, false, false]);
    expect(inCidr('10.0.5.7', '10.0.5.0/24')).toBe(true);
  });
});
