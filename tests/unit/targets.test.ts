import { describe, expect, it } from 'vitest';
import { AgentError } from '../../agent/errors.js';
import { parseTargets } from '../../agent/targets.js';

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
    expect(set.addresses()).toEqual(['198.18.0.1', '198.18.0.2']);
    expect(parseTargets(['198.18.0.0/24']).size).toBe(254);
  });

  it('accepts single addresses, ranges, /31 and /32, and de-duplicates overlaps in order', () => {
    const set = parseTargets(['198.18.0.20', '198.18.0.9-198.18.0.11', '198.18.0.10/32', '198.18.0.30/31']);
    expect(set.addresses()).toEqual(['198.18.0.9', '198.18.0.10', '198.18.0.11', '198.18.0.20', '198.18.0.30', '198.18.0.31']);
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

  it('refuses a sweep larger than a /20', () => {
    expect(parseTargets(['10.0.0.0/20']).size).toBe(4094);
    expect(errorOf(() => parseTargets(['10.0.0.0/16'])).code).toBe('CCTV_ERR_TOO_MANY_TARGETS');
  });
});
