import { describe, expect, it } from 'vitest';
import { describeAddress, withoutZone } from '../../agent/net/ip-address.js';

describe('describeAddress (issue 14: addressDetails)', () => {
  it('names family and scope, and keeps a link-local zone apart', () => {
    expect(describeAddress('198.18.0.10')).toEqual({ family: 'ipv4', address: '198.18.0.10', scope: 'global' });
    expect(describeAddress('192.168.1.64')).toEqual({ family: 'ipv4', address: '192.168.1.64', scope: 'private' });
    expect(describeAddress('172.31.0.1')?.scope).toBe('private');
    expect(describeAddress('172.32.0.1')?.scope).toBe('global');
    expect(describeAddress('169.254.7.1')?.scope).toBe('link-local');
    expect(describeAddress('fe80::2a57:beff:fe6a:1c90%eth0')).toEqual({ family: 'ipv6', address: 'fe80::2a57:beff:fe6a:1c90', scope: 'link-local', zone: 'eth0' });
    expect(describeAddress('fdcc:7a6e:1ab::10')).toEqual({ family: 'ipv6', address: 'fdcc:7a6e:1ab::10', scope: 'private' });
    expect(describeAddress('2001:db8::10')).toEqual({ family: 'ipv6', address: '2001:db8::10', scope: 'global' });
  });

  it('refuses what is no address', () => {
    for (const junk of ['', 'eth0', '198.18.0.300', 'fe80::zz%eth0', '%eth0']) expect(describeAddress(junk), junk).toBeNull();
    expect(withoutZone('fe80::1%eth0')).toBe('fe80::1');
    expect(withoutZone('198.18.0.1')).toBe('198.18.0.1');
  });
});
