import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  buildDeviceRequest,
  deviceAction,
  isNotAuthorizedFault,
  parseDeviceClock,
  parseDeviceInformation,
  parseNetworkInterfaces,
  parseScopes,
  parseSoapEnvelope,
} from '../../../agent/protocols/onvif-soap.js';
import type { XmlNode } from '../../../agent/protocols/xml.js';
import { seededRandom } from '../../seeded-random.js';

const fixture = (name: string): string => readFileSync(new URL(`../../fixtures/onvif/${name}`, import.meta.url), 'utf8');

describe('ONVIF device-service codec', () => {
  it('builds a SOAP 1.2 request naming the call in the device namespace', () => {
    const xml = buildDeviceRequest('GetDeviceInformation');
    expect(xml).toContain('<tds:GetDeviceInformation/>');
    expect(xml).toContain('xmlns:tds="http://www.onvif.org/ver10/device/wsdl"');
    expect(xml).toContain('http://www.w3.org/2003/05/soap-envelope');
  });

  it('reads GetDeviceInformation into onvif.device.* fields', () => {
    const outcome = parseSoapEnvelope(fixture('device-information.xml'));
    expect(outcome.kind).toBe('response');
    if (outcome.kind !== 'response') return;
    expect(parseDeviceInformation(outcome.body)).toEqual({
      'onvif.device.manufacturer': 'LTS',
      'onvif.device.model': 'CMIP8242W-28M',
      'onvif.device.firmware': 'V5.6.5 build 200316',
      'onvif.device.serial': 'CMIP8242W-28M20200321AAWRE12345678',
      'onvif.device.hardwareId': '88',
    });
    expect(parseDeviceClock(outcome.body)).toBeNull();
  });

  it('reads the device clock from GetSystemDateAndTime as UTC', () => {
    const outcome = parseSoapEnvelope(fixture('system-date-and-time.xml'));
    if (outcome.kind !== 'response') throw new Error(`expected a response, got ${outcome.kind}`);
    expect(parseDeviceClock(outcome.body)).toEqual({ utcMs: Date.UTC(2026, 10, 28, 7, 5, 9), dateTimeType: 'Manual' });
    expect(parseDeviceInformation(outcome.body)).toBeNull();
  });

  it('recognises the ter:NotAuthorized fault', () => {
    const outcome = parseSoapEnvelope(fixture('not-authorized-fault.xml'));
    expect(outcome).toMatchObject({ kind: 'fault', code: 'env:Sender', subcodes: ['ter:NotAuthorized'], reason: 'Sender not Authorized' });
    expect(isNotAuthorizedFault(outcome)).toBe(true);
    expect(isNotAuthorizedFault(parseSoapEnvelope(fixture('device-information.xml')))).toBe(false);
  });

  it('calls anything that is not a SOAP envelope malformed, without throwing', () => {
    expect(parseSoapEnvelope('<html><body>401</body></html>').kind).toBe('malformed');
    expect(parseSoapEnvelope('').kind).toBe('malformed');
    expect(parseSoapEnvelope('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>').kind).toBe('malformed');
    const real = fixture('device-information.xml');
    for (let cut = 0; cut < real.length; cut += 5) expect(() => parseSoapEnvelope(real.slice(0, cut))).not.toThrow();
    const random = seededRandom(7);
    for (let i = 0; i < 300; i++) {
      const text = Array.from({ length: 200 }, () => String.fromCharCode(32 + Math.floor(random() * 95))).join('');
      expect(() => parseSoapEnvelope(`<Envelope><Body>${text}</Body></Envelope>`)).not.toThrow();
    }
  });

  it('rejects an impossible clock rather than inventing a date', () => {
    const broken = fixture('system-date-and-time.xml').replace('<tt:Year>2026</tt:Year>', '<tt:Year>soon</tt:Year>');
    const outcome = parseSoapEnvelope(broken);
    if (outcome.kind !== 'response') throw new Error('expected a response');
    expect(parseDeviceClock(outcome.body)).toBeNull();
  });

  it('puts a WS-Security block into the SOAP Header only when given one', () => {
    expect(buildDeviceRequest('GetScopes')).not.toContain('Header');
    const xml = buildDeviceRequest('GetScopes', '<wsse:Security xmlns:wsse="urn:x">t</wsse:Security>');
    expect(xml).toContain('<s:Header><wsse:Security xmlns:wsse="urn:x">t</wsse:Security></s:Header><s:Body><tds:GetScopes/></s:Body>');
    expect(deviceAction('GetNetworkInterfaces')).toBe('http://www.onvif.org/ver10/device/wsdl/GetNetworkInterfaces');
  });
});

function body(name: string): XmlNode {
  const outcome = parseSoapEnvelope(fixture(name));
  if (outcome.kind !== 'response') throw new Error(`${name}: expected a response, got ${outcome.kind}`);
  return outcome.body;
}

describe('GetNetworkInterfaces and GetScopes', () => {
  it('reads each interface: token, enabled, MAC in colon form, configured IPv4 addresses', () => {
    expect(parseNetworkInterfaces(body('network-interfaces.xml'))).toEqual([
      { token: 'eth0', enabled: true, mac: '58:03:fb:76:a1:bc', ipv4: ['192.168.1.64'] },
    ]);
    expect(parseNetworkInterfaces(body('network-interfaces-two.xml'))).toEqual([
      { token: 'eth0', enabled: true, mac: '08:ed:ed:5a:20:20', ipv4: ['10.20.30.41'] },
      { token: 'wlan0', enabled: false, mac: '08:ed:ed:5a:20:21', ipv4: ['192.168.1.108'] },
      { token: 'eth1', enabled: true, mac: null, ipv4: [] },
    ]);
    expect(parseNetworkInterfaces(body('device-information.xml'))).toBeNull();
  });

  it('reads every ScopeItem, still percent-encoded as sent', () => {
    expect(parseScopes(body('scopes.xml'))).toEqual([
      'onvif://www.onvif.org/type/video_encoder',
      'onvif://www.onvif.org/Profile/Streaming',
      'onvif://www.onvif.org/MAC/58:03:fb:76:a1:bc',
      'onvif://www.onvif.org/hardware/DS-2CD2043G2-I',
      'onvif://www.onvif.org/name/HIKVISION%20DS-2CD2043G2-I',
      'onvif://www.onvif.org/location/city/hangzhou',
    ]);
    expect(parseScopes(body('network-interfaces.xml'))).toBeNull();
  });

  it('survives truncated and mangled answers without throwing', () => {
    for (const name of ['network-interfaces.xml', 'network-interfaces-two.xml', 'scopes.xml']) {
      const real = fixture(name);
      for (let cut = 0; cut < real.length; cut += 7) {
        const outcome = parseSoapEnvelope(real.slice(0, cut));
        if (outcome.kind === 'response') {
          expect(() => parseNetworkInterfaces(outcome.body)).not.toThrow();
          expect(() => parseScopes(outcome.body)).not.toThrow();
        }
      }
    }
    const odd = parseSoapEnvelope(fixture('network-interfaces.xml').replace('58:03:fb:76:a1:bc', 'zz:zz:zz:zz:zz:zz'));
    if (odd.kind !== 'response') throw new Error('expected a response');
    expect(parseNetworkInterfaces(odd.body)?.[0]?.mac).toBeNull();
  });
});
