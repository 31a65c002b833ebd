/** agent/normalise.ts: one comparison form for verify, the fingerprint matcher and the merge's model veto. */
import { describe, expect, it } from 'vitest';
import { comparableMac, comparableModel, comparableText, readComparisonRules } from '../../agent/normalise.js';
import { fingerprintDevice } from '../../agent/fingerprint/match.js';
import { loadKnowledge } from '../../agent/knowledge/index.js';
import type { Observation } from '../../agent/types.js';

const rules = readComparisonRules();
const sameModel = (a: string, b: string): boolean => comparableModel(a, rules) === comparableModel(b, rules);

describe('comparison normalisation', () => {
  it('ignores case, spaces, underscores and hyphens', () => {
    expect(comparableText('MODEL IP 4000i')).toBe(comparableText('MODEL_IP_4000i'));
    expect(comparableText(' model-ip-4000I ')).toBe(comparableText('MODEL IP 4000i'));
    expect(sameModel('MODEL IP 4000i', 'MODEL_IP_4000i')).toBe(true);
  });

  it('drops the vendor prefixes comparison.yaml lists, only where a separator follows them', () => {
    expect(rules.modelPrefixes).toEqual(expect.arrayContaining(['DS-', 'DH-', 'DHI-']));
    expect(sameModel('DS-2CD2143G0-I', '2CD2143G0-I')).toBe(true);
    expect(sameModel('DH-IPC-HDW1230T2', 'IPC-HDW1230T2')).toBe(true);
    expect(sameModel('DHI-VTO2111D-P-S2', 'vto2111d-p-s2')).toBe(true);
    // DH-IPC-… is IPC-…, not the PC-… a DHI- prefix would leave of it.
    expect(comparableModel('DH-IPC-HDW1230T2', rules)).toBe('ipchdw1230t2');
    expect(comparableModel('DS-', rules)).toBe('ds');
  });

  it('keeps a real model difference', () => {
    expect(sameModel('DS-2CD2143G0-I', 'DS-2CD2143G2-I')).toBe(false);
    expect(sameModel('DS-2CD2143G0-I', 'DH-2CD2143G0-IS')).toBe(false);
  });

  it('compares MACs in any notation, and firmware whatever its build spacing', () => {
    expect(comparableMac('58-50-ED-1F-E3-85')).toBe(comparableMac('5850.ed1f.e385'));
    expect(comparableText('V5.5.0 build 170725')).toBe(comparableText('V5.5.0_build170725'));
    expect(comparableText('V5.5.0 build 170725')).not.toBe(comparableText('V5.5.0 build 170726'));
  });

  it('lets the fingerprint matcher count a model with and without its prefix as one value', () => {
    const at = '2026-11-28T10:00:00.000Z';
    const info = (ip: string, model: string): Observation => ({ source: 'onvif-device-service', ip, port: 80, at, status: 'ok', fields: { 'onvif.device.model': model } });
    // Two readings of one model outnumber a third model that sorts first: one value, shown as read.
    const fp = fingerprintDevice(loadKnowledge(), { macs: [], observations: [info('198.18.0.9', 'DS-2CD2143G0-I'), info('198.18.0.9', '2CD2143G0-I'), info('198.18.0.9', '0000-OTHER')] });
    expect(['DS-2CD2143G0-I', '2CD2143G0-I']).toContain(fp.identity.model);
  });
});
