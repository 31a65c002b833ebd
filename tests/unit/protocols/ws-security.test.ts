import { describe, expect, it } from 'vitest';
import { buildDeviceRequest } from '../../../agent/protocols/onvif-soap.js';
import { createdTimestamp, passwordDigest, usernameTokenHeader } from '../../../agent/protocols/ws-security.js';
import { parseUntrustedXml, xmlAttr, xmlChild, xmlText } from '../../../agent/protocols/xml.js';
import { verifyUsernameToken } from '../../lab/sim/auth.js';
import { parseSoap } from '../../lab/sim/xml.js';

describe('WS-Security UsernameToken PasswordDigest', () => {
  it('matches the worked example of the ONVIF Application Programmer’s Guide (authentication chapter)', () => {
    // Nonce LKqI6G/AikKCQrN0zqZFlg==, Created 2010-09-16T07:50:45Z, password "userpassword".
    expect(passwordDigest(Buffer.from('LKqI6G/AikKCQrN0zqZFlg==', 'base64'), '2010-09-16T07:50:45Z', 'userpassword')).toBe('tuOSpGlFlIXsozq4HFNeeGeFLEI=');
  });

  it('writes Created in UTC without fractions', () => {
    expect(createdTimestamp(Date.UTC(2010, 8, 16, 7, 50, 45, 678))).toBe('2010-09-16T07:50:45Z');
  });

  it('builds a Security header whose token carries the device time, the nonce and the digest', () => {
    const nonce = Buffer.from('LKqI6G/AikKCQrN0zqZFlg==', 'base64');
    const header = usernameTokenHeader({ username: 'ad<min>', password: 'userpassword', deviceTimeMs: Date.UTC(2010, 8, 16, 7, 50, 45), nonce });
    const token = xmlChild(xmlChild(parseUntrustedXml(header, 4096), 'Security'), 'UsernameToken');
    expect(xmlText(xmlChild(token, 'Username'))).toBe('ad<min>');
    expect(xmlText(xmlChild(token, 'Password'))).toBe('tuOSpGlFlIXsozq4HFNeeGeFLEI=');
    expect(xmlAttr(xmlChild(token, 'Password'), 'Type')).toMatch(/#PasswordDigest$/);
    expect(xmlText(xmlChild(token, 'Nonce'))).toBe('LKqI6G/AikKCQrN0zqZFlg==');
    expect(xmlText(xmlChild(token, 'Created'))).toBe('2010-09-16T07:50:45Z');
  });

  it('is accepted by the lab devices’ independent verifier only when signed with the device’s clock', () => {
    const credentials = { username: 'admin', password: 'lab-Amcrest-12345' };
    const deviceNow = Date.now() + 4 * 3600_000; // a camera four hours ahead
    const request = (signedAt: number): string =>
      buildDeviceRequest('GetDeviceInformation', usernameTokenHeader({ ...credentials, deviceTimeMs: signedAt }));
    const header = (xml: string): Record<string, unknown> => parseSoap(xml)!.header;
    expect(verifyUsernameToken(header(request(deviceNow)), credentials, deviceNow)).toBe(true);
    expect(verifyUsernameToken(header(request(Date.now())), credentials, deviceNow)).toBe(false);
    expect(verifyUsernameToken(header(request(deviceNow)), { ...credentials, password: 'wrong' }, deviceNow)).toBe(false);
  });
});
