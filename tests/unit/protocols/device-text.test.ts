/**
 * Clean at ingest: every codec's device-supplied strings lose their control and bidirectional
 * formatting characters where they become observation fields (agent/safe-text.ts), the field says
 * which were cleaned, and the device's evidence records it.
 */
import { describe, expect, it } from 'vitest';
import { parseDhipReply } from '../../../agent/protocols/dhip.js';
import { parseDeviceInformation, parseSoapEnvelope, parseScopes } from '../../../agent/protocols/onvif-soap.js';
import { parseSadpReply } from '../../../agent/protocols/sadp.js';
import { parseProbeMatches, probeMatchFields, otherResponderFields, scopeFields } from '../../../agent/protocols/wsdiscovery.js';
import { loadKnowledge } from '../../../agent/knowledge/index.js';
import { buildDevice, CLEANED_TEXT_RULE_ID } from '../../../agent/pipeline/assess.js';
import { cleanDeviceFields, cleanDeviceText, CLEANED_FIELD, hasUnsafeText } from '../../../agent/safe-text.js';
import type { Fields, Observation } from '../../../agent/types.js';
import { buildDhipReply } from '../../lab/sim/codecs/dhip-device.js';
import { buildSadpProbeMatch } from '../../lab/sim/codecs/sadp-device.js';

/** What a hostile device puts in its strings: clear screen, a window title (OSC … BEL), BEL, a right-to-left override, an 8-bit CSI, an isolate. */
const HOSTILE = '\x1b[2J\x1b]0;owned\x07\u202eX\u009b1m\u2066';
const CLEANED = '[2J]0;ownedX1m';

/** Every value of `fields` is free of the characters cleaning removes. */
function expectClean(fields: Fields): void {
  for (const value of Object.values(fields)) for (const item of Array.isArray(value) ? value : [value]) expect(hasUnsafeText(item), JSON.stringify(item)).toBe(false);
}

describe('cleanDeviceText and cleanDeviceFields', () => {
  it('removes controls and bidi formatting, makes separators spaces, trims', () => {
    expect(cleanDeviceText(`DS-2CD${HOSTILE}`)).toBe(`DS-2CD${CLEANED}`);
    expect(cleanDeviceText('\u0000V5.5.0\u0000\u0000 build\tA\r\nB\u0085C \u200e\u200f\u061c')).toBe('V5.5.0 build A  B C');
    expect(cleanDeviceText('  plain  ')).toBe('plain');
  });

  it('names only the fields it changed, keeps the others exactly, drops list items that were nothing else', () => {
    const fields = cleanDeviceFields({ 'a.model': `M${HOSTILE}`, 'a.plain': ' as sent ', 'a.list': ['ok', '\u202e', `x${HOSTILE}`] });
    expect(fields).toEqual({ 'a.model': `M${CLEANED}`, 'a.plain': ' as sent ', 'a.list': ['ok', `x${CLEANED}`], [CLEANED_FIELD]: ['a.list', 'a.model'] });
    // A second pass (a discoverer adding a header to a codec's fields) keeps what the first recorded.
    expect(cleanDeviceFields({ ...fields, 'a.server': 'web\x07' })[CLEANED_FIELD]).toEqual(['a.list', 'a.model', 'a.server']);
    expect(cleanDeviceFields({ 'a.plain': 'x' })).toEqual({ 'a.plain': 'x' });
  });
});

describe('every codec cleans at its boundary', () => {
  it('ONVIF GetDeviceInformation and GetScopes', () => {
    const xml =
      '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><s:Body>' +
      `<tds:GetDeviceInformationResponse><tds:Manufacturer>HIK&#x1b;[2J</tds:Manufacturer><tds:Model>DS\u202e-2CD</tds:Model>` +
      '<tds:FirmwareVersion>V5&#x7;</tds:FirmwareVersion><tds:SerialNumber>S1</tds:SerialNumber></tds:GetDeviceInformationResponse>' +
      '</s:Body></s:Envelope>';
    const outcome = parseSoapEnvelope(xml);
    if (outcome.kind !== 'response') throw new Error(`expected a response, got ${outcome.kind}`);
    expect(parseDeviceInformation(outcome.body)).toEqual({
      'onvif.device.manufacturer': 'HIK[2J',
      'onvif.device.model': 'DS-2CD',
      'onvif.device.firmware': 'V5',
      'onvif.device.serial': 'S1',
      [CLEANED_FIELD]: ['onvif.device.firmware', 'onvif.device.manufacturer', 'onvif.device.model'],
    });
    const scopes = parseSoapEnvelope(
      '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><s:Body><tds:GetScopesResponse>' +
        '<tds:Scopes><tt:ScopeItem xmlns:tt="http://www.onvif.org/ver10/schema">onvif://www.onvif.org/hardware/DS%1B%5B2J%E2%80%AE</tt:ScopeItem></tds:Scopes>' +
        '</tds:GetScopesResponse></s:Body></s:Envelope>',
    );
    if (scopes.kind !== 'response') throw new Error(`expected a response, got ${scopes.kind}`);
    const fields = scopeFields(parseScopes(scopes.body) ?? []);
    expect(fields['onvif.scope.hardware']).toEqual(['DS[2J']);
    expectClean(fields);
  });

  it('WS-Discovery: percent-decoded scopes, types and the other responders’ types', () => {
    const xml =
      '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing">' +
      '<s:Body><d:ProbeMatches><d:ProbeMatch><a:EndpointReference><a:Address>urn:uuid:1</a:Address></a:EndpointReference>' +
      '<d:Types>dn:NetworkVideoTransmitter</d:Types>' +
      '<d:Scopes>onvif://www.onvif.org/name/HIKVISION%1B%5D0%3Bowned%07%E2%80%AE onvif://www.onvif.org/hardware/DS-2CD%C2%9B2J</d:Scopes>' +
      '<d:XAddrs>http://198.18.0.10/onvif/device_service</d:XAddrs></d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>';
    const match = parseProbeMatches(Buffer.from(xml))?.matches[0];
    if (!match) throw new Error('no ProbeMatch');
    const fields = probeMatchFields(match);
    expect(fields['onvif.scope.name']).toEqual(['HIKVISION]0;owned']);
    expect(fields['onvif.scope.hardware']).toEqual(['DS-2CD2J']);
    expect(fields[CLEANED_FIELD]).toEqual(['onvif.scope', 'onvif.scope.hardware', 'onvif.scope.name']);
    expectClean(fields);
    expect(otherResponderFields({ ...match, types: ['wsdp:Device\u202e'] })).toEqual({ 'wsd.types': ['wsdp:Device'], [CLEANED_FIELD]: ['wsd.types'] });
  });

  it('SADP ProbeMatch elements', () => {
    const reply = parseSadpReply(buildSadpProbeMatch({ DeviceDescription: `DS-2CD${HOSTILE}`, DeviceSN: 'SN\u202e1', MAC: '58-50-ed-1f-e3-85', SoftwareVersion: 'V5.6.2\u0085build 190701' }));
    expect(reply?.fields).toMatchObject({ 'sadp.model': `DS-2CD${CLEANED}`, 'sadp.serial': 'SN1', 'sadp.firmware': 'V5.6.2 build 190701' });
    expect(reply?.fields[CLEANED_FIELD]).toEqual(['sadp.firmware', 'sadp.model', 'sadp.serial']);
    expectClean(reply!.fields);
  });

  it('DHIP scalars', () => {
    const reply = parseDhipReply(buildDhipReply({ DeviceType: `IPC${HOSTILE}`, SerialNo: '7J\u202e0', Vendor: 'Private\x07', Version: '2.800' }, 'e0:50:8b:00:00:01'));
    expect(reply?.fields).toMatchObject({ 'dhip.deviceType': `IPC${CLEANED}`, 'dhip.serial': '7J0', 'dhip.vendor': 'Private', 'dhip.version': '2.800' });
    expect(reply?.fields[CLEANED_FIELD]).toEqual(['dhip.deviceType', 'dhip.serial', 'dhip.vendor']);
    expectClean(reply!.fields);
  });
});

describe('the device records what cleaning removed', () => {
  it('as evidence that supports no vendor, one piece per cleaned field and source', () => {
    const db = loadKnowledge();
    const at = '2026-12-05T10:00:00.000Z';
    const observations: Observation[] = [
      { source: 'sadp', ip: '198.18.0.10', at, status: 'ok', fields: parseSadpReply(buildSadpProbeMatch({ DeviceDescription: `DS-2CD2143G2-I${HOSTILE}`, MAC: '58-50-ed-1f-e3-85' }))!.fields },
      { source: 'onvif-device-service', ip: '198.18.0.10', at, status: 'ok', fields: cleanDeviceFields({ 'onvif.device.model': 'DS-2CD2143G2-I\u202e', 'onvif.call': 'GetDeviceInformation' }) },
    ];
    const device = buildDevice(db, { ip: '198.18.0.10', addresses: ['198.18.0.10'], mac: '58:50:ed:1f:e3:85', observations });
    expect(device.evidence.filter((e) => e.rule === CLEANED_TEXT_RULE_ID)).toEqual([
      { source: 'onvif', detail: 'onvif.device.model contained control or bidirectional formatting characters, removed', supports: null, rule: CLEANED_TEXT_RULE_ID, confidence: 0 },
      { source: 'sadp', detail: 'sadp.model contained control or bidirectional formatting characters, removed', supports: null, rule: CLEANED_TEXT_RULE_ID, confidence: 0 },
    ]);
    expect(hasUnsafeText(JSON.stringify(device))).toBe(false);
    expect(device.identity.model).toBe('DS-2CD2143G2-I');
  });
});
