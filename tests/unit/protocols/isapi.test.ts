import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ISAPI_MAX_RESPONSE_BYTES, isIsapiAnswer, parseIsapiDeviceInfo } from '../../../agent/protocols/isapi.js';
import { seededRandom } from '../../seeded-random.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../../fixtures/isapi/${name}`, import.meta.url));
const userCheck401 = readFileSync(new URL('../../fixtures/http/hikvision/isapi-usercheck-401.xml', import.meta.url));

describe('parseIsapiDeviceInfo', () => {
  it('reads a Hikvision camera: model, serial, MAC, firmware with its build, type, manufacturer, namespace', () => {
    expect(parseIsapiDeviceInfo(fixture('ds-2cd2366g2-isu-sl.deviceinfo.xml'))).toEqual({
      'isapi.model': 'DS-2CD2366G2-ISU/SL',
      'isapi.serial': 'DS-2CD2366G2-ISU/SL20210726AAWRG41390691',
      'isapi.mac': '44:a6:42:46:67:24',
      'isapi.firmware': 'V5.7.13 build 230504',
      'isapi.deviceType': 'IPCamera',
      'isapi.manufacturer': 'hikvision',
      'isapi.subSerial': 'G41390691',
      'isapi.namespace': 'http://www.hikvision.com/ver20/XMLSchema',
    });
  });

  it('reads a recorder and a door station in the newer isapi.org namespace', () => {
    expect(parseIsapiDeviceInfo(fixture('ds-7608ni-i2.deviceinfo.xml'))).toMatchObject({
      'isapi.model': 'DS-7608NI-I2',
      'isapi.firmware': 'V4.31.108 build 210823',
      'isapi.deviceType': 'NVR',
    });
    expect(parseIsapiDeviceInfo(fixture('ds-kv8213-wme1.deviceinfo.xml'))).toMatchObject({
      'isapi.model': 'DS-KV8213-WME1(C)',
      'isapi.deviceType': 'VIS',
      'isapi.namespace': 'http://www.isapi.org/ver20/XMLSchema',
    });
  });

  it('reads an OEM answer with only some elements, and leaves out what it lacks', () => {
    expect(parseIsapiDeviceInfo(fixture('acr4-40-oem.deviceinfo.xml'))).toEqual({
      'isapi.model': 'ACR4-40',
      'isapi.serial': 'ACR4-4004xxx',
      'isapi.namespace': 'http://www.std-cgi.com/ver20/XMLSchema',
    });
  });

  it('keeps the version alone when no release date is given, and drops empty and overlong values', () => {
    const xml = `<DeviceInfo><model></model><firmwareVersion>V5.5.0</firmwareVersion><serialNumber>${'A'.repeat(129)}</serialNumber></DeviceInfo>`;
    expect(parseIsapiDeviceInfo(xml)).toEqual({ 'isapi.firmware': 'V5.5.0' });
  });

  it('is not a DeviceInfo: a 401 userCheck, a ResponseStatus, HTML, garbage, an entity bomb, an oversized body', () => {
    expect(parseIsapiDeviceInfo(userCheck401)).toBeNull();
    expect(parseIsapiDeviceInfo(fixture('response-status.xml'))).toBeNull();
    expect(parseIsapiDeviceInfo('<html><body>401</body></html>')).toBeNull();
    expect(parseIsapiDeviceInfo('<!DOCTYPE d [<!ENTITY a "aaaa">]><DeviceInfo><model>&a;</model></DeviceInfo>')).toBeNull();
    expect(parseIsapiDeviceInfo(`<DeviceInfo><model>${'x'.repeat(ISAPI_MAX_RESPONSE_BYTES)}</model></DeviceInfo>`)).toBeNull();
    const random = seededRandom(11);
    for (let i = 0; i < 200; i++) {
      const bytes = Buffer.from(Array.from({ length: Math.floor(random() * 300) }, () => Math.floor(random() * 256)));
      expect(() => parseIsapiDeviceInfo(bytes)).not.toThrow();
    }
    const whole = fixture('ds-7608ni-i2.deviceinfo.xml');
    for (let cut = 0; cut < whole.length; cut += 37) expect(parseIsapiDeviceInfo(whole.subarray(0, cut))).toBeNull();
  });
});

describe('isIsapiAnswer', () => {
  it('knows the ISAPI documents and nothing else', () => {
    expect(isIsapiAnswer(userCheck401)).toBe(true);
    expect(isIsapiAnswer(fixture('response-status.xml'))).toBe(true);
    expect(isIsapiAnswer(fixture('ds-7608ni-i2.deviceinfo.xml'))).toBe(true);
    expect(isIsapiAnswer('<html><head><title>Document Error: Unauthorized</title></head></html>')).toBe(false);
    expect(isIsapiAnswer('')).toBe(false);
    expect(isIsapiAnswer('Error\r\nAuthorization Failed!\r\n')).toBe(false);
  });
});
