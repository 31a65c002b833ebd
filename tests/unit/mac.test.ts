import { describe, expect, it } from 'vitest';
import { normaliseMac } from '../../agent/net/mac.js';

describe('normaliseMac', () => {
  it('accepts colon, dash, Cisco-dot and bare forms in either case, octets without their leading zero', () => {
    for (const mac of ['58-50-ed-1f-e3-85', '58:50:ED:1F:E3:85', ' 5850ED1FE385 ', '5850.ed1f.e385', '58-50-ED-1F-E3-85']) {
      expect(normaliseMac(mac), mac).toBe('58:50:ed:1f:e3:85');
    }
    expect(normaliseMac('8-0-27-1-2-3')).toBe('08:00:27:01:02:03');
  });

  it('rejects what is not a MAC', () => {
    for (const bad of ['', '58-50-ed-1f-e3', '58-50-ed-1f-e3-85-00', '58:50-ed:1f-e3:85', 'zz-50-ed-1f-e3-85', '58--50-ed-1f-e3', '2857be12345g', '198.18.0.10', null, undefined]) {
      expect(normaliseMac(bad), String(bad)).toBeNull();
    }
  });
});
