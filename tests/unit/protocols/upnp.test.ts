import { readFileSync } from 'node:fs';
import ssdp from 'node-ssdp';
import { describe, expect, it } from 'vitest';
import {
  buildMSearchIpv6,
  descriptionFields,
  descriptionUrl,
  parseDeviceDescription,
  parseSsdpAlive,
  parseSsdpResponse,
  SSDP_MAX_MESSAGE_BYTES,
  ssdpAnnouncement,
  UPNP_DESCRIPTION_MAX_BYTES,
  UPNP_MAX_VALUE_LENGTH,
} from '../../../agent/protocols/upnp.js';
import { seededRandom } from '../../seeded-random.js';
import { cleanDeviceText } from '../../../agent/safe-text.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../../fixtures/upnp/${name}`, import.meta.url));

/**
 * node-ssdp's own header parser (the map the discoverer's 'response' / 'advertise-alive' handlers
 * receive). Constructing a Client opens no socket; only start() does.
 */
const nodeSsdpParser = new ssdp.Client() as unknown as { _getHeaders(message: string): Record<string, unknown> };
const headersOf = (bytes: Buffer): Record<string, unknown> => nodeSsdpParser._getHeaders(bytes.toString());

describe('ssdpAnnouncement', () => {
  it('reads a Synology DSM M-SEARCH answer: SERVER, ST, USN, LOCATION', () => {
    expect(ssdpAnnouncement(headersOf(fixture('synology-msearch-response.txt')))).toEqual({
      server: 'Synology/DSM/128.65.194.253',
      target: 'upnp:rootdevice',
      usn: 'uuid:73796E6F-6473-6D00-0000-001132b0b142::upnp:rootdevice',
      location: 'http://128.65.194.253:4000/ssdp/desc-DSM-eth0.xml',
    });
  });

  it('reads an Axis (libupnp) answer for its own service type', () => {
    expect(ssdpAnnouncement(headersOf(fixture('axis-msearch-response.txt')))).toEqual({
      server: 'Linux/2.6.35, UPnP/1.0, Portable SDK for UPnP devices/1.6.18',
      target: 'urn:axis-com:service:BasicService:1',
      usn: 'uuid:Upnp-BasicDevice-1_0-ACCC8E270AD8::urn:axis-com:service:BasicService:1',
      location: 'http://192.168.1.102:45895/rootdesc1.xml',
    });
  });

  it('takes NT as the target of a NOTIFY announcement', () => {
    const announcement = ssdpAnnouncement(headersOf(fixture('axis-notify-byebye.txt')));
    expect(announcement?.target).toBe('urn:axis-com:service:BasicService:1');
    expect(announcement?.usn).toBe('uuid:Upnp-BasicDevice-1_0-ACCC8E270AD8::urn:axis-com:service:BasicService:1');
  });

  it('returns null when neither USN nor LOCATION is usable', () => {
    expect(ssdpAnnouncement({})).toBeNull();
    expect(ssdpAnnouncement({ SERVER: 'Linux/3.10 UPnP/1.0', ST: 'upnp:rootdevice' })).toBeNull();
    expect(ssdpAnnouncement({ USN: '   ', LOCATION: '\u0000\u0001' })).toBeNull();
    expect(ssdpAnnouncement({ USN: 42, LOCATION: ['http://198.18.0.10/'] })).toBeNull();
  });

  it('keeps values as sent (cleaned later, as fields), drops over-long and empty ones, ignores inherited keys', () => {
    const announcement = ssdpAnnouncement({
      USN: 'uuid:abc\u0000\u001b[31m::upnp:rootdevice',
      SERVER: 'x'.repeat(UPNP_MAX_VALUE_LENGTH + 1),
      LOCATION: `http://198.18.0.10/${'a'.repeat(UPNP_MAX_VALUE_LENGTH)}`,
      ST: 'upnp:rootdevice\tsecond',
    });
    expect(announcement).toEqual({ server: null, target: 'upnp:rootdevice\tsecond', usn: 'uuid:abc\u0000\u001b[31m::upnp:rootdevice', location: null });
    const inherited = Object.create({ USN: 'uuid:from-the-prototype' }) as Record<string, unknown>;
    expect(ssdpAnnouncement(inherited)).toBeNull();
  });

  it('never throws on garbage datagrams and keeps only short values with something printable', () => {
    const random = seededRandom(1900);
    for (let i = 0; i < 500; i++) {
      const bytes = Buffer.alloc(1 + Math.floor(random() * 1500), 0);
      for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(random() * 256);
      // Half of the cases look like an SSDP answer with random header lines.
      const datagram = i % 2 === 0 ? Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nUSN: '), bytes, Buffer.from('\r\nLOCATION: '), bytes]) : bytes;
      const announcement = ssdpAnnouncement(headersOf(datagram));
      for (const value of Object.values(announcement ?? {})) {
        if (value === null) continue;
        expect(value.length).toBeLessThanOrEqual(UPNP_MAX_VALUE_LENGTH);
        expect(cleanDeviceText(value)).not.toBe('');
      }
    }
  });
});

describe('SSDP over IPv6 (issue 14)', () => {
  // The answer the lab's Hikvision sends to an M-SEARCH on [FF02::C]:1900 (HTTPU, UDA 2.0 §1.3.3).
  const answer = Buffer.from(
    'HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nLOCATION: http://198.18.0.10:80/upnp/devicedesc.xml\r\nSERVER: Linux/3.10 UPnP/1.0 HIKVISION/1.0\r\n' +
      'DATE: Sat, 05 Dec 2026 18:00:00 GMT\r\nEXT: \r\nST: upnp:rootdevice\r\nUSN: uuid:a0d1b2c3-1dd2-11b2-8000-2857be6a1c10::upnp:rootdevice\r\n\r\n',
    'latin1',
  );

  it('builds a read-only M-SEARCH that names the IPv6 group as HOST', () => {
    expect(buildMSearchIpv6('ssdp:all').toString('ascii')).toBe('M-SEARCH * HTTP/1.1\r\nHOST: [FF02::C]:1900\r\nMAN: "ssdp:discover"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n');
  });

  it('reads an answer into the headers ssdpAnnouncement takes', () => {
    const parsed = parseSsdpResponse(answer);
    expect(parsed?.status).toBe(200);
    expect(ssdpAnnouncement(parsed!.headers)).toEqual({
      server: 'Linux/3.10 UPnP/1.0 HIKVISION/1.0',
      target: 'upnp:rootdevice',
      usn: 'uuid:a0d1b2c3-1dd2-11b2-8000-2857be6a1c10::upnp:rootdevice',
      location: 'http://198.18.0.10:80/upnp/devicedesc.xml',
    });
    // Header names are case-insensitive (RFC 9110 §5.1); the first of a repeated header wins.
    expect(parseSsdpResponse(Buffer.from('HTTP/1.1 200 OK\nusn: a\nUSN: b\n\n'))?.headers).toEqual({ USN: 'a' });
  });

  it('refuses what is no HTTP response, and never throws on garbage or on an oversized datagram', () => {
    for (const junk of ['', 'M-SEARCH * HTTP/1.1\r\n\r\n', 'NOTIFY * HTTP/1.1\r\n', 'HTTP/2 200 OK\r\n', 'HTTP/1.1 2000 OK\r\n']) expect(parseSsdpResponse(Buffer.from(junk)), junk).toBeNull();
    expect(parseSsdpResponse(Buffer.concat([answer, Buffer.alloc(SSDP_MAX_MESSAGE_BYTES)]))).toBeNull();
    const random = seededRandom(14);
    for (let i = 0; i < 200; i++) {
      const bytes = Buffer.from(Array.from({ length: Math.floor(random() * 600) }, () => Math.floor(random() * 256)));
      expect(() => parseSsdpResponse(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\n'), bytes]))).not.toThrow();
    }
    // A link-local responder, known with its zone, owns a LOCATION on its plain address.
    expect(descriptionUrl('http://[fe80::1]:49152/d.xml', 'fe80::1%eth0')?.href).toBe('http://[fe80::1]:49152/d.xml');
  });
});

describe('SSDP NOTIFY heard over IPv6 (issue 14)', () => {
  // UDA 2.0 §1.2.2's ssdp:alive, as a dual-stack Synology sends it to [FF02::C]:1900: the header set
  // of the Synology capture (tests/fixtures/upnp/README.md) with NT/NTS in place of ST.
  const alive = Buffer.from(
    'NOTIFY * HTTP/1.1\r\nHOST: [FF02::C]:1900\r\nCACHE-CONTROL: max-age=1800\r\nLOCATION: http://198.18.0.45:5000/ssdp/desc-DSM-eth0.xml\r\n' +
      'OPT: "http://schemas.upnp.org/upnp/1/0/"; ns=01\r\n01-NLS: 1\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\nSERVER: Synology/DSM/198.18.0.45\r\n' +
      'USN: uuid:73796E6F-6473-6D00-0000-001132a50045::upnp:rootdevice\r\nBOOTID.UPNP.ORG: 1\r\nCONFIGID.UPNP.ORG: 1337\r\n\r\n',
    'latin1',
  );

  it('reads an ssdp:alive into the headers ssdpAnnouncement takes, NT as its target', () => {
    const headers = parseSsdpAlive(alive);
    expect(headers).toMatchObject({ HOST: '[FF02::C]:1900', NTS: 'ssdp:alive' });
    expect(ssdpAnnouncement(headers!)).toEqual({
      server: 'Synology/DSM/198.18.0.45',
      target: 'upnp:rootdevice',
      usn: 'uuid:73796E6F-6473-6D00-0000-001132a50045::upnp:rootdevice',
      location: 'http://198.18.0.45:5000/ssdp/desc-DSM-eth0.xml',
    });
  });

  it('refuses byebye (a real Axis one), answers, searches, garbage and oversized datagrams, never throwing', () => {
    expect(parseSsdpAlive(fixture('axis-notify-byebye.txt'))).toBeNull();
    expect(parseSsdpAlive(fixture('synology-msearch-response.txt'))).toBeNull();
    expect(parseSsdpAlive(buildMSearchIpv6('ssdp:all'))).toBeNull();
    // UDA 2.0 §1.2.4: ssdp:update announces a new BOOTID, not a device that is here.
    expect(parseSsdpAlive(Buffer.from(alive.toString('latin1').replace('ssdp:alive', 'ssdp:update'), 'latin1'))).toBeNull();
    for (const junk of ['', 'NOTIFY * HTTP/1.1', 'notify * HTTP/1.1\r\nNTS: ssdp:alive\r\n\r\n', 'NOTIFY / HTTP/1.1\r\nNTS: ssdp:alive\r\n\r\n']) {
      expect(parseSsdpAlive(Buffer.from(junk)), junk).toBeNull();
    }
    expect(parseSsdpAlive(Buffer.concat([alive, Buffer.alloc(SSDP_MAX_MESSAGE_BYTES)]))).toBeNull();
    // The NTS line past the header lines read is never seen.
    expect(parseSsdpAlive(Buffer.from(`NOTIFY * HTTP/1.1\r\n${'X-Pad: 1\r\n'.repeat(40)}NTS: ssdp:alive\r\n\r\n`))).toBeNull();
    const random = seededRandom(1402);
    for (let i = 0; i < 200; i++) {
      const bytes = Buffer.from(Array.from({ length: Math.floor(random() * 600) }, () => Math.floor(random() * 256)));
      const headers = parseSsdpAlive(Buffer.concat([Buffer.from('NOTIFY * HTTP/1.1\r\nNTS: ssdp:alive\r\n'), bytes]));
      expect(headers?.NTS).toBe('ssdp:alive');
      expect(() => ssdpAnnouncement(headers!)).not.toThrow();
    }
  });
});

describe('descriptionUrl', () => {
  it('accepts an http(s) LOCATION on the responder’s own address', () => {
    expect(descriptionUrl('http://198.18.0.47:5000/ssdp/desc-DSM-eth0.xml', '198.18.0.47')?.href).toBe('http://198.18.0.47:5000/ssdp/desc-DSM-eth0.xml');
    expect(descriptionUrl('https://198.18.0.47/desc.xml', '198.18.0.47')?.port).toBe('');
    expect(descriptionUrl('http://[fe80::1]:80/d.xml', 'fe80::1')?.hostname).toBe('[fe80::1]');
  });

  it('refuses a LOCATION naming another host, a name, credentials or another scheme', () => {
    expect(descriptionUrl('http://198.18.0.10/desc.xml', '198.18.0.47')).toBeNull();
    expect(descriptionUrl('http://nas.local:5000/desc.xml', '198.18.0.47')).toBeNull();
    expect(descriptionUrl('http://admin:admin@198.18.0.47/desc.xml', '198.18.0.47')).toBeNull();
    expect(descriptionUrl('ftp://198.18.0.47/desc.xml', '198.18.0.47')).toBeNull();
    expect(descriptionUrl('file:///etc/passwd', '198.18.0.47')).toBeNull();
    expect(descriptionUrl('not a url', '198.18.0.47')).toBeNull();
    expect(descriptionUrl('', '198.18.0.47')).toBeNull();
  });

  it('compares the address the URL really names (integer and octal IPv4 forms)', () => {
    // 3323068427 = 198.18.0.11; 0306.022.0.012 = 198.18.0.10 (WHATWG URL host parsing).
    expect(descriptionUrl('http://3323068427/desc.xml', '198.18.0.11')?.hostname).toBe('198.18.0.11');
    expect(descriptionUrl('http://3323068427/desc.xml', '198.18.0.47')).toBeNull();
    expect(descriptionUrl('http://0306.022.0.012/desc.xml', '198.18.0.10')?.hostname).toBe('198.18.0.10');
    expect(descriptionUrl('http://0306.022.0.012/desc.xml', '198.18.0.47')).toBeNull();
  });
});

describe('parseDeviceDescription', () => {
  it('reads a Synology NAS root device', () => {
    const description = parseDeviceDescription(fixture('synology-ds216plusII.xml'));
    expect(description).toEqual({
      deviceType: 'urn:schemas-upnp-org:device:Basic:1',
      friendlyName: 'NAS (DS216+II)',
      manufacturer: 'Synology',
      modelName: 'DS216+II',
      modelNumber: 'DS216+II 6.2-25426',
      modelDescription: 'Synology NAS',
      serialNumber: '0011325e4496',
      udn: 'uuid:73796E6F-6473-6D00-0000-0011325e4496',
      presentationURL: 'http://192.168.0.2:5000/',
    });
  });

  it('reads the NAS media server description, which has no modelNumber', () => {
    const description = parseDeviceDescription(fixture('synology-ds216plusII-mediaserver.xml'));
    expect(description).toMatchObject({
      deviceType: 'urn:schemas-upnp-org:device:MediaServer:1',
      manufacturer: 'Synology Inc.',
      modelName: 'DS216+II',
      modelNumber: null,
      serialNumber: '1650O6N558101',
    });
  });

  it('reads an Axis camera', () => {
    expect(parseDeviceDescription(fixture('axis-m1014.xml'))).toMatchObject({
      friendlyName: 'AXIS M1014 - ACCC8E270AD8',
      manufacturer: 'AXIS',
      modelName: 'AXIS M1014',
      modelNumber: 'M1014',
      modelDescription: 'AXIS M1014 Fixed Network Camera',
      serialNumber: 'ACCC8E270AD8',
      udn: 'uuid:Upnp-BasicDevice-1_0-ACCC8E270AD8',
    });
  });

  it('reads the root device only, trims values and treats a blank serial as absent (Netgear router)', () => {
    expect(parseDeviceDescription(fixture('netgear-dg834gv4.xml'))).toEqual({
      deviceType: 'urn:schemas-upnp-org:device:InternetGatewayDevice:1',
      friendlyName: 'NETGEAR DG834GV4 Router',
      manufacturer: 'NETGEAR',
      modelName: 'NETGEAR DG834GV4 Router',
      modelNumber: '5.01.16',
      modelDescription: 'NETGEAR DG834GV4 Router',
      serialNumber: null,
      udn: 'uuid:824ff22b-8c7d-41c5-a131-44f534e12555',
      presentationURL: 'http://192.168.0.1/',
    });
  });

  it('refuses descriptions with a DTD: internal entity expansion and external entities', () => {
    expect(parseDeviceDescription(fixture('entity-expansion.xml'))).toBeNull();
    expect(parseDeviceDescription(fixture('external-entity.xml'))).toBeNull();
  });

  it('refuses a description over the size cap without reading it', () => {
    const padding = ' '.repeat(UPNP_DESCRIPTION_MAX_BYTES);
    const huge = fixture('synology-ds216plusII.xml').toString().replace('<device>', `<device>${padding}`);
    expect(parseDeviceDescription(huge)).toBeNull();
    expect(parseDeviceDescription(fixture('synology-ds216plusII.xml'))).not.toBeNull();
  });

  it('refuses documents that are not a UPnP description', () => {
    expect(parseDeviceDescription('<html><body>404 Not Found</body></html>')).toBeNull();
    expect(parseDeviceDescription('<root xmlns="urn:schemas-upnp-org:device-1-0"><specVersion/></root>')).toBeNull();
    expect(parseDeviceDescription('')).toBeNull();
    expect(parseDeviceDescription('{"manufacturer":"Synology"}')).toBeNull();
  });

  it('drops over-long and control-character-only values but keeps the rest', () => {
    const xml =
      '<root><device>' +
      `<friendlyName>${'N'.repeat(UPNP_MAX_VALUE_LENGTH + 1)}</friendlyName>` +
      '<manufacturer>Synology&#x1b;[0m</manufacturer>' +
      '<modelName>&#x7;</modelName>' +
      '<serialNumber><![CDATA[0011325e4496]]></serialNumber>' +
      '</device></root>';
    const description = parseDeviceDescription(xml);
    expect(description).toMatchObject({ friendlyName: null, manufacturer: 'Synology\x1b[0m', modelName: null, serialNumber: '0011325e4496' });
    // The value is cleaned where it becomes a field, and the field says so.
    expect(descriptionFields(description!)).toEqual({ 'upnp.manufacturer': 'Synology[0m', 'upnp.serialNumber': '0011325e4496', 'text.cleaned': ['upnp.manufacturer'] });
  });

  it('never throws on truncated or random input', () => {
    const whole = fixture('synology-ds216plusII.xml');
    for (let cut = 0; cut < whole.length; cut += 7) {
      const result = parseDeviceDescription(whole.subarray(0, cut));
      // Only a cut inside the trailing blank lines can still be a complete document.
      if (result !== null) expect(cut).toBeGreaterThan(whole.toString().lastIndexOf('</root>'));
    }
    const random = seededRandom(2026);
    for (let i = 0; i < 300; i++) {
      const bytes = Buffer.alloc(Math.floor(random() * 2048));
      for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(random() * 256);
      expect(() => parseDeviceDescription(bytes)).not.toThrow();
      const spliced = Buffer.concat([whole.subarray(0, 300), bytes, whole.subarray(300)]);
      expect(() => parseDeviceDescription(spliced)).not.toThrow();
    }
  });
});

describe('descriptionFields', () => {
  it('maps every present member to its upnp.* field and leaves absent ones out', () => {
    const description = parseDeviceDescription(fixture('synology-ds216plusII-mediaserver.xml'));
    expect(descriptionFields(description!)).toEqual({
      'upnp.deviceType': 'urn:schemas-upnp-org:device:MediaServer:1',
      'upnp.friendlyName': 'NAS',
      'upnp.manufacturer': 'Synology Inc.',
      'upnp.modelName': 'DS216+II',
      'upnp.modelDescription': 'Synology DLNA/UPnP Media Server',
      'upnp.serialNumber': '1650O6N558101',
      'upnp.udn': 'uuid:0011325e-4496-0011-9644-96445e321100',
      'upnp.presentationURL': 'http://192.168.0.2:5000/',
    });
  });
});
