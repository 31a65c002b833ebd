import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { magicBoxFields, magicBoxTarget, parseKeyValueLines } from '../../../agent/protocols/dahua-cgi.js';
import { seededRandom } from '../../seeded-random.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../../fixtures/dahua-cgi/${name}`, import.meta.url));

describe('magicBoxFields', () => {
  it('getSystemInfo: model, serial, hardware version and update serial of a Dahua camera and an Amcrest doorbell', () => {
    expect(magicBoxFields('getSystemInfo', fixture('ipc-hdw5831r-ze.getSystemInfo.txt'))).toEqual({
      'dahua.cgi.model': 'IPC-HDW5831R-ZE',
      'dahua.cgi.serial': '4X7C5A1ZAG21L3F',
      'dahua.cgi.hardwareVersion': '1.00',
      'dahua.cgi.updateSerial': 'IPC-HDW5830R-Z',
    });
    expect(magicBoxFields('getSystemInfo', fixture('amcrest-ad410.getSystemInfo.txt'))).toMatchObject({ 'dahua.cgi.model': 'AD410', 'dahua.cgi.updateSerial': 'DB6I' });
  });

  it('getSoftwareVersion: the version and its build date, in both forms firmware writes', () => {
    expect(magicBoxFields('getSoftwareVersion', fixture('getSoftwareVersion.build.txt'))).toEqual({
      'dahua.cgi.firmware': '2.800.0000016.0.R',
      'dahua.cgi.firmwareBuild': '2020-06-05',
    });
    expect(magicBoxFields('getSoftwareVersion', fixture('getSoftwareVersion.builddate.txt'))).toEqual({
      'dahua.cgi.firmware': '2.420.AC00.15.R',
      'dahua.cgi.firmwareBuild': '2016-09-08',
    });
  });

  it('getDeviceType and getVendor', () => {
    expect(magicBoxFields('getDeviceType', fixture('getDeviceType.txt'))).toEqual({ 'dahua.cgi.type': 'IPC-HDW5831R-ZE' });
    expect(magicBoxFields('getDeviceType', fixture('getDeviceType.generic.txt'))).toEqual({ 'dahua.cgi.type': 'IP Camera' });
    expect(magicBoxFields('getVendor', fixture('getVendor.txt'))).toEqual({ 'dahua.cgi.vendor': 'Dahua' });
  });

  it('an error page, another action\'s answer, HTML or garbage is no answer, and nothing throws', () => {
    expect(magicBoxFields('getSystemInfo', fixture('authorization-failed.txt'))).toBeNull();
    expect(magicBoxFields('getVendor', fixture('getDeviceType.txt'))).toBeNull();
    expect(magicBoxFields('getSystemInfo', '<html><body><h1>404 Not Found</h1></body></html>')).toBeNull();
    const random = seededRandom(7);
    for (let i = 0; i < 200; i++) {
      const bytes = Buffer.from(Array.from({ length: Math.floor(random() * 400) }, () => Math.floor(random() * 256)));
      expect(() => magicBoxFields('getSystemInfo', bytes)).not.toThrow();
    }
  });

  it('bounds what it reads: 64 lines, short keys and values, the first of a repeated key', () => {
    const many = `${Array.from({ length: 70 }, (_, i) => `k${i}=v`).join('\n')}\nserialNumber=LATE`;
    expect(magicBoxFields('getSystemInfo', many)).toBeNull();
    expect(magicBoxFields('getSystemInfo', `serialNumber=${'9'.repeat(129)}`)).toBeNull();
    expect(parseKeyValueLines('vendor=Dahua\nvendor=Other\n=x\n__proto__=y\nno equals')).toEqual(new Map([['vendor', 'Dahua']]));
  });

  it('names the request target of each action', () => {
    expect(magicBoxTarget('getSystemInfo')).toBe('/cgi-bin/magicBox.cgi?action=getSystemInfo');
  });
});
