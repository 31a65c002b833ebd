import { describe, expect, it } from 'vitest';
import { AgentError } from '../../agent/errors.js';
import { parseTargets, probeableTargets, unprobeableReason } from '../../agent/targets.js';

function errorOf(fn: () => unknown): AgentError {
  try {
    fn();
  } catch (error) {
    if (error instanceof AgentError) return error;
    throw error;
  }
  throw new Error('expected an AgentError');
}

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
      const error = errorOf(() => parseTargets([bad]));
      expect(error.code).toBe('CCTV_ERR_BAD_TARGET');
      expect(error.exitCode).toBe(2);
      expect(error.message).toContain(`"${bad}"`);
      expect(error.message).toContain('CIDR');
    }
  });

  it('takes up to a /16, and refuses more', () => {
    expect(parseTargets(['10.0.0.0/16']).size).toBe(65_534);
    expect(parseTargets(['10.0.0.0-10.0.255.255']).size).toBe(65_536);
    expect(errorOf(() => parseTargets(['10.0.0.0/15'])).code).toBe('CCTV_ERR_TOO_MANY_TARGETS');
    expect(errorOf(() => parseTargets(['10.0.0.0/16', '10.1.0.0/24'])).code).toBe('CCTV_ERR_TOO_MANY_TARGETS');
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
