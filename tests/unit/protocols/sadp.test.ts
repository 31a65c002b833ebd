import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SADP_MAX_MESSAGE_BYTES, SADP_PROBE_MATCH_ELEMENTS, buildSadpInquiry, lenientBoolean, parseSadpReply, type SadpProbeMatchElements } from '../../../agent/protocols/sadp.js';
import { buildSadpProbeMatch, parseSadpProbe } from '../../lab/sim/codecs/sadp-device.js';
import { seededRandom } from '../../seeded-random.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../../fixtures/sadp/${name}`, import.meta.url));
const haicam = fixture('ds-2cd2385g1-i.probematch.xml');
const selftest = fixture('universalscanner-selftest.probematch.xml');

describe('buildSadpInquiry', () => {
  it('builds exactly the inquiry probe, UUID upper-cased', () => {
    const probe = buildSadpInquiry('e8ecfe09-90e4-44c0-842b-703f46b58c81');
    expect(probe.equals(fixture('inquiry.probe.xml'))).toBe(true);
    expect(probe.toString('utf8')).toBe(
      '<?xml version="1.0" encoding="utf-8"?><Probe><Uuid>E8ECFE09-90E4-44C0-842B-703F46B58C81</Uuid><Types>inquiry</Types></Probe>',
    );
  });

  it('accepts crypto.randomUUID() output', () => {
    const uuid = randomUUID();
    expect(parseSadpProbe(buildSadpInquiry(uuid))).toEqual({ uuid: uuid.toUpperCase(), types: 'inquiry' });
  });

  it('refuses anything that is not a plain UUID, so nothing can be injected into the probe', () => {
    const bad = [
      '',
      'not-a-uuid',
      'e8ecfe09-90e4-44c0-842b-703f46b58c8',
      'e8ecfe09-90e4-44c0-842b-703f46b58c81 ',
      '{e8ecfe09-90e4-44c0-842b-703f46b58c81}',
      'e8ecfe0990e444c0842b703f46b58c81',
      'e8ecfe09-90e4-44c0-842b-703f46b58c81</Uuid><Types>reboot</Types><Uuid>x',
      'g8ecfe09-90e4-44c0-842b-703f46b58c81',
      undefined as unknown as string,
      42 as unknown as string,
    ];
    for (const uuid of bad) expect(() => buildSadpInquiry(uuid)).toThrow(RangeError);
  });

  it('takes no argument that could change the probe type', () => {
    expect(buildSadpInquiry.length).toBe(1);
    const text = buildSadpInquiry('00000000-0000-0000-0000-000000000000').toString('utf8');
    expect(text.match(/<Types>([^<]*)<\/Types>/)?.[1]).toBe('inquiry');
  });
});

describe('parseSadpReply: fixtures', () => {
  it('DS-2CD2385G1-I (Haicam capture) → exact fields', () => {
    const reply = parseSadpReply(haicam);
    expect(reply?.fields).toEqual({
      'sadp.uuid': 'e8ecfe09-90e4-44c0-842b-703f46b58c81',
      'sadp.types': 'inquiry',
      'sadp.deviceType': '141945',
      'sadp.model': 'DS-2CD2385G1-I',
      'sadp.serial': 'DS-2CD2385G1-I20200414AAWRE33842150',
      'sadp.mac': '58:50:ed:1f:e3:85',
      'sadp.ipv4': '192.168.124.40',
      'sadp.ipv4Mask': '255.255.255.0',
      'sadp.ipv4Gateway': '192.168.124.1',
      'sadp.firmware': 'V5.6.2build 190701',
      'sadp.dsp': 'V7.3 build 190626',
      'sadp.bootTime': '1970-01-15 02:44:11',
      'sadp.activated': 'true',
      'sadp.oemCode': '1',
      'sadp.commandPort': '8000',
      'sadp.httpPort': '80',
      'sadp.sdkOverTlsPort': '8443',
      'sadp.dhcp': 'true',
      'sadp.analogChannels': '0',
      'sadp.digitalChannels': '1',
    });
    expect(reply).toMatchObject({
      model: 'DS-2CD2385G1-I',
      mac: '58:50:ed:1f:e3:85',
      activated: true,
      dhcp: true,
      oemInfo: null,
      oemCode: '1',
      commandPort: 8000,
      httpPort: 80,
      sdkOverTlsPort: 8443,
      analogChannels: 0,
      digitalChannels: 1,
    });
    // Every element is kept verbatim, including the ones not interpreted and the `flase` quirk.
    expect(Object.keys(reply!.elements)).toEqual(SADP_PROBE_MATCH_ELEMENTS.filter((e) => e !== 'OEMInfo'));
    expect(reply!.elements['HCPlatformEnable']).toBe('flase');
    expect(reply!.elements['Salt']).toBe('d8eebc414effc857bed4c3cc203c8b4413f60b00a9f4acc410084358d5fd3f91');
  });

  it('UniversalScanner self-test (older field set) → the fields it has, none invented', () => {
    expect(parseSadpReply(selftest)?.fields).toEqual({
      'sadp.uuid': '11223344-5566-7788-9900-112233445566',
      'sadp.types': 'inquiry',
      'sadp.deviceType': '123456',
      'sadp.model': 'Virtual',
      'sadp.serial': 'Virtual-123456789',
      'sadp.mac': '00:11:22:33:44:55',
      'sadp.ipv4': '127.0.0.1',
      'sadp.ipv4Mask': '255.0.0.0',
      'sadp.ipv4Gateway': '127.0.0.1',
      'sadp.firmware': 'V1.0build 200101',
      'sadp.dsp': 'V1.0build 200101',
      'sadp.bootTime': '1970-01-01 00:00:00',
      'sadp.activated': 'true',
      'sadp.commandPort': '8000',
      'sadp.httpPort': '80',
      'sadp.dhcp': 'false',
      'sadp.analogChannels': '0',
      'sadp.digitalChannels': '1',
    });
  });
});

describe('parseSadpReply: leniency', () => {
  const reply = (inner: string): ReturnType<typeof parseSadpReply> =>
    parseSadpReply(Buffer.from(`<?xml version="1.0" encoding="UTF-8"?><ProbeMatch>${inner}</ProbeMatch>`));

  it('reads the firmware misspelling flase as false, and rejects unknown booleans', () => {
    expect(reply('<MAC>58-50-ED-1F-E3-85</MAC><Activated>flase</Activated><DHCP>FALSE</DHCP>')).toMatchObject({
      activated: false,
      dhcp: false,
      fields: { 'sadp.activated': 'false', 'sadp.dhcp': 'false', 'sadp.mac': '58:50:ed:1f:e3:85' },
    });
    const r = reply('<MAC>58-50-ed-1f-e3-85</MAC><Activated>maybe</Activated>');
    expect(r?.activated).toBeNull();
    expect(r?.fields['sadp.activated']).toBeUndefined();
  });

  it('tolerates missing fields, whitespace, indentation, CRLF, a trailing NUL and unknown elements', () => {
    const text =
      '<?xml version="1.0" encoding="UTF-8"?>\r\n<ProbeMatch>\r\n\t<Uuid> abc </Uuid>\r\n\t<DeviceDescription>\n  DS-7608NI-I2/8P \n</DeviceDescription>\r\n' +
      '\t<Support>0x1f</Support>\r\n\t<OEMInfo>OEM-X</OEMInfo>\r\n\t<Extra><Nested>1</Nested></Extra>\r\n</ProbeMatch>\r\n\0';
    const r = parseSadpReply(Buffer.from(text));
    expect(r?.fields).toEqual({ 'sadp.uuid': 'abc', 'sadp.model': 'DS-7608NI-I2/8P', 'sadp.oemInfo': 'OEM-X' });
    expect(r?.elements['Support']).toBe('0x1f');
    expect(r?.elements['Extra']).toBeUndefined(); // only text-only elements are kept
  });

  it('drops unusable values instead of failing the reply', () => {
    const r = reply(
      '<MAC>not-a-mac</MAC><IPv4Address>999.1.1.1</IPv4Address><HttpPort>99999</HttpPort><CommandPort>-1</CommandPort>' +
        '<SDKOverTLSPort>8443abc</SDKOverTLSPort><DigitalChannelNum>01</DigitalChannelNum><DeviceSN>SN1</DeviceSN><DeviceType></DeviceType>',
    );
    expect(r?.fields).toEqual({ 'sadp.serial': 'SN1', 'sadp.digitalChannels': '1' });
    expect(r).toMatchObject({ mac: null, ipv4: null, httpPort: null, commandPort: null, sdkOverTlsPort: null, deviceType: null });
  });

  it('keeps the first of repeated elements', () => {
    expect(reply('<DeviceSN>first</DeviceSN><DeviceSN>second</DeviceSN>')?.serial).toBe('first');
  });

  it('decodes escaped characters in values', () => {
    expect(reply('<DeviceDescription>A&amp;B &lt;1&gt;</DeviceDescription>')?.model).toBe('A&B <1>');
  });

  it('returns null for documents that are not SADP replies', () => {
    const notReplies = [
      '<ProbeMatch/>',
      '<ProbeMatch><Uuid>x</Uuid><Types>inquiry</Types></ProbeMatch>', // nothing identifying
      '<ProbeMatch><MAC></MAC><DeviceSN>  </DeviceSN></ProbeMatch>',
      '<?xml version="1.0" encoding="utf-8"?><Probe><Uuid>X</Uuid><Types>inquiry</Types></Probe>',
      '<ProbeMatches><ProbeMatch><MAC>58-50-ed-1f-e3-85</MAC></ProbeMatch></ProbeMatches>',
      '<s:Envelope xmlns:s="urn:s"><s:Body><d:ProbeMatches xmlns:d="urn:d"><d:ProbeMatch><d:XAddrs>http://x/</d:XAddrs></d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>',
      '{"mac":"58-50-ed-1f-e3-85"}',
      '',
    ];
    for (const text of notReplies) expect(parseSadpReply(Buffer.from(text)), text).toBeNull();
  });
});

describe('parseSadpProbe', () => {
  it('parses probes of any type so a simulator can decide what to answer', () => {
    expect(parseSadpProbe(fixture('inquiry.probe.xml'))).toEqual({ uuid: 'E8ECFE09-90E4-44C0-842B-703F46B58C81', types: 'inquiry' });
    expect(parseSadpProbe(Buffer.from('<Probe><Uuid>u</Uuid><Types>reboot</Types></Probe>'))).toEqual({ uuid: 'u', types: 'reboot' });
  });

  it('returns null for anything else', () => {
    for (const text of ['<Probe><Uuid>u</Uuid></Probe>', '<Probe><Types>inquiry</Types></Probe>', '<Probe><Uuid></Uuid><Types>inquiry</Types></Probe>', '<X><Uuid>u</Uuid><Types>inquiry</Types></X>']) {
      expect(parseSadpProbe(Buffer.from(text)), text).toBeNull();
    }
    expect(parseSadpProbe(haicam)).toBeNull();
  });
});

describe('buildSadpProbeMatch', () => {
  it('reproduces the DS-2CD2385G1-I fixture byte for byte from its parsed elements', () => {
    const parsed = parseSadpReply(haicam);
    expect(buildSadpProbeMatch(parsed!.elements as SadpProbeMatchElements).equals(haicam)).toBe(true);
  });

  it('writes elements in capture order whatever the input order, and escapes values', () => {
    const built = buildSadpProbeMatch({ MAC: '58-50-ed-1f-e3-85', OEMInfo: 'A&B', Uuid: 'U', DeviceDescription: '<m>' }).toString('utf8');
    expect(built).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n<ProbeMatch><Uuid>U</Uuid>\n<DeviceDescription>&lt;m&gt;</DeviceDescription>\n' +
        '<MAC>58-50-ed-1f-e3-85</MAC>\n<OEMInfo>A&amp;B</OEMInfo>\n</ProbeMatch>\n',
    );
  });

  it('round-trips: build → parse gives back every value', () => {
    const elements: SadpProbeMatchElements = {
      Uuid: 'E8ECFE09-90E4-44C0-842B-703F46B58C81',
      Types: 'inquiry',
      DeviceType: '0123',
      DeviceDescription: 'DS-7608NI-I2/8P',
      DeviceSN: 'DS-7608NI-I2/8P0820210719CCRRJ00000000WCVU',
      CommandPort: '8000',
      HttpPort: '80',
      MAC: '24-28-fd-22-c3-19',
      IPv4Address: '198.18.0.10',
      DHCP: 'false',
      SoftwareVersion: 'V4.82.000 build 240224',
      Activated: 'false',
      DetailOEMCode: '1',
      OEMInfo: 'X & "Y"',
      SDKOverTLSPort: '8443',
    };
    const reply = parseSadpReply(buildSadpProbeMatch(elements));
    expect(reply?.elements).toEqual(elements);
    expect(reply).toMatchObject({ deviceType: '0123', mac: '24:28:fd:22:c3:19', activated: false, oemInfo: 'X & "Y"' });
  });
});

describe('garbage in → null, never a throw', () => {
  it('every truncation of the fixture is null, except ones that only cut trailing whitespace', () => {
    const full = parseSadpReply(haicam);
    const text = haicam.toString('utf8');
    const complete = text.trimEnd().length;
    for (let len = 0; len < haicam.length; len++) {
      const result = parseSadpReply(haicam.subarray(0, len));
      if (len >= complete) expect(result).toEqual(full);
      else expect(result, `length ${len}`).toBeNull();
    }
  });

  it('random buffers (seeded) → null', () => {
    const rand = seededRandom(0x5adb);
    for (let i = 0; i < 3000; i++) {
      const buf = randomBuffer(rand, Math.floor(rand() * 1600));
      expect(parseSadpReply(buf)).toBeNull();
      expect(parseSadpProbe(buf)).toBeNull();
    }
  });

  it('random mutations of the fixture never throw', () => {
    const rand = seededRandom(0xf1a5e);
    for (let i = 0; i < 2000; i++) {
      const buf = Buffer.from(haicam);
      const flips = 1 + Math.floor(rand() * 8);
      for (let f = 0; f < flips; f++) buf[Math.floor(rand() * buf.length)] = Math.floor(rand() * 256);
      expect(() => parseSadpReply(buf)).not.toThrow();
    }
  });

  it('huge input is refused quickly', () => {
    const big = Buffer.concat([haicam, Buffer.alloc(SADP_MAX_MESSAGE_BYTES, 0x20)]);
    const start = performance.now();
    expect(parseSadpReply(big)).toBeNull();
    expect(parseSadpReply(Buffer.alloc(20 * 1024 * 1024, 0x41))).toBeNull();
    // The cap (a valid reply padded past it is refused) is the property; the bound only catches a hang.
    expect(performance.now() - start).toBeLessThan(2000);
  });

  it('DOCTYPE / ENTITY (billion laughs, XXE) → null, quickly', () => {
    const lol =
      '<?xml version="1.0"?><!DOCTYPE ProbeMatch [<!ENTITY a "aaaaaaaaaa">' +
      Array.from({ length: 9 }, (_, i) => `<!ENTITY ${'b'.repeat(i + 1)} "${`&${i === 0 ? 'a' : 'b'.repeat(i)};`.repeat(10)}">`).join('') +
      ']><ProbeMatch><MAC>58-50-ed-1f-e3-85</MAC><DeviceDescription>&bbbbbbbbb;</DeviceDescription></ProbeMatch>';
    const xxe =
      '<?xml version="1.0"?><!DOCTYPE ProbeMatch [<!ENTITY x SYSTEM "file:///etc/passwd">]><ProbeMatch><MAC>58-50-ed-1f-e3-85</MAC><DeviceSN>&x;</DeviceSN></ProbeMatch>';
    const start = performance.now();
    expect(parseSadpReply(Buffer.from(lol))).toBeNull();
    expect(parseSadpReply(Buffer.from(xxe))).toBeNull();
    expect(parseSadpProbe(Buffer.from('<!DOCTYPE Probe><Probe><Uuid>u</Uuid><Types>inquiry</Types></Probe>'))).toBeNull();
    expect(performance.now() - start).toBeLessThan(1000);
  });
});

describe('helpers', () => {
  it('lenientBoolean', () => {
    expect(['true', 'TRUE', ' True ', '1', 'yes'].map(lenientBoolean)).toEqual([true, true, true, true, true]);
    expect(['false', 'flase', 'fasle', '0', 'no'].map(lenientBoolean)).toEqual([false, false, false, false, false]);
    expect(['', 'maybe', null].map(lenientBoolean)).toEqual([null, null, null]);
  });
});

function randomBuffer(rand: () => number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  for (let i = 0; i < length; i++) buf[i] = Math.floor(rand() * 256);
  return buf;
}
