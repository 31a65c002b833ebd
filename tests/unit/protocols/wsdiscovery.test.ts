import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  buildProbe,
  isOnvifMatch,
  parseProbeMatches,
  probeMatchesBodyDigest,
  probeMatchFields,
  PROBE_TYPES,
  scopeFields,
  WSD_LIST_CAPS,
  WSD_MAX_MESSAGE_BYTES,
} from '../../../agent/protocols/wsdiscovery.js';
import { parseUntrustedXml, xmlChild, xmlText } from '../../../agent/protocols/xml.js';
import { seededRandom } from '../../seeded-random.js';
import { xaddrForResponder } from '../../../agent/discovery/onvif.js';

const fixture = (name: string, relatesTo = 'urn:uuid:probe-1'): Buffer =>
  Buffer.from(readFileSync(new URL(`../../fixtures/wsdiscovery/${name}`, import.meta.url), 'utf8').replace('RELATES_TO', relatesTo));

describe('buildProbe', () => {
  it('builds a SOAP 1.2 WS-Discovery Probe for the asked type with its MessageID', () => {
    const probe = buildProbe(PROBE_TYPES.networkVideoTransmitter, 'urn:uuid:11111111-2222-4333-8444-555555555555');
    const doc = parseUntrustedXml(probe.bytes, 65536);
    const envelope = xmlChild(doc, 'Envelope');
    expect(xmlText(xmlChild(xmlChild(envelope, 'Header'), 'MessageID'))).toBe('urn:uuid:11111111-2222-4333-8444-555555555555');
    expect(xmlText(xmlChild(xmlChild(envelope, 'Header'), 'Action'))).toBe('http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe');
    expect(xmlText(xmlChild(xmlChild(xmlChild(envelope, 'Body'), 'Probe'), 'Types'))).toBe('dn:NetworkVideoTransmitter');
    expect(probe.bytes.toString()).toContain('xmlns:dn="http://www.onvif.org/ver10/network/wsdl"');
  });

  it('gives every probe a fresh MessageID by default', () => {
    expect(buildProbe(PROBE_TYPES.device).messageId).not.toBe(buildProbe(PROBE_TYPES.device).messageId);
    expect(buildProbe(PROBE_TYPES.device).messageId).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
  });
});

describe('parseProbeMatches', () => {
  it('reads a Hikvision ProbeMatches: endpoint, types, scopes, XAddrs, RelatesTo', () => {
    const parsed = parseProbeMatches(fixture('hikvision-probematches.xml'));
    expect(parsed?.relatesTo).toBe('urn:uuid:probe-1');
    expect(parsed?.matches).toHaveLength(1);
    const match = parsed!.matches[0]!;
    expect(match.endpoint).toBe('urn:uuid:3fa1fe68-b915-4053-a3e1-2857be123456');
    expect(match.types).toEqual(['dn:NetworkVideoTransmitter', 'tds:Device']);
    expect(match.xaddrs).toEqual(['http://198.18.0.10/onvif/device_service']);
    expect(match.metadataVersion).toBe('10');
    expect(isOnvifMatch(match)).toBe(true);
    const fields = probeMatchFields(match);
    expect(fields['onvif.scope.name']).toEqual(['HIKVISION DS-2CD2143G2-I']);
    expect(fields['onvif.scope.hardware']).toEqual(['DS-2CD2143G2-I']);
    expect(fields['onvif.scope.location']).toEqual(['city/hangzhou']);
    expect(fields['onvif.scope.mac']).toEqual(['28:57:be:12:34:56']);
    expect(fields['onvif.scope.profile']).toEqual(['Streaming']);
    expect(fields['onvif.scope']).toContain('onvif://www.onvif.org/name/HIKVISION DS-2CD2143G2-I');
  });

  it('reads a reply to the IPv6 Probe: bracketed link-local and unique-local XAddrs, the link-local one usable with the zone', () => {
    const match = parseProbeMatches(fixture('hikvision-probematches-ipv6.xml'))!.matches[0]!;
    const xaddrs = probeMatchFields(match)['onvif.xaddr'] as string[];
    expect(xaddrs).toEqual(['http://[fe80::2a57:beff:fe12:3456]/onvif/device_service', 'http://[fdcc:7a6e:1ab::10]/onvif/device_service']);
    // Heard from its link-local address on eth0: that XAddr is its own; the unique-local one is not where it answered from.
    expect(xaddrForResponder('fe80::2a57:beff:fe12:3456%eth0', xaddrs)?.href).toBe('http://[fe80::2a57:beff:fe12:3456]/onvif/device_service');
    expect(xaddrForResponder('fe80::1%eth0', xaddrs)).toBeNull();
    // Cut anywhere, it parses to nothing rather than throwing.
    const bytes = fixture('hikvision-probematches-ipv6.xml');
    for (let cut = 0; cut < bytes.length; cut += 97) expect(() => parseProbeMatches(bytes.subarray(0, cut))).not.toThrow();
  });

  it('reads a pretty-printed Dahua reply and keeps only http(s) XAddrs, IPv4 and IPv6', () => {
    const match = parseProbeMatches(fixture('dahua-probematches.xml'))!.matches[0]!;
    const fields = probeMatchFields(match);
    expect(fields['onvif.xaddr']).toEqual([
      'http://198.18.0.20/onvif/device_service',
      'http://[fe80::aed:edff:fe87:427a]/onvif/device_service',
      'https://198.18.0.20/onvif/device_service',
    ]);
    expect(fields['onvif.scope.name']).toEqual(['Dahua']);
    expect(fields['onvif.scope.location']).toEqual(['country/china']);
    expect(fields['onvif.scope.profile']).toEqual(['Streaming', 'T']);
    expect(fields['onvif.scope.type']).toEqual(['Network_Video_Transmitter']);
  });

  it('processes every ProbeMatch and skips one without an EndpointReference', () => {
    const parsed = parseProbeMatches(fixture('two-matches.xml'))!;
    expect(parsed.matches.map((m) => m.endpoint)).toEqual(['urn:uuid:00000000-0000-4000-8000-0000000000aa']);
    expect(probeMatchFields(parsed.matches[0]!)['onvif.scope.hardware']).toEqual(['DS-7608NI-I2/8P']);
    expect(isOnvifMatch(parsed.matches[0]!)).toBe(true);
  });

  it('keeps at most WSD_LIST_CAPS items of each list, counting the rest, before any is parsed', () => {
    const junk = (n: number): string => Array.from({ length: n }, (_, i) => (i % 36).toString(36)).join(' ');
    // One 64 KiB datagram: ~30,000 junk XAddrs after the real one (the shape of the attack).
    const xaddrs = fixture('hikvision-probematches.xml').toString('utf8').replace('/onvif/device_service</wsdd:XAddrs>', `/onvif/device_service ${junk(30_000)}</wsdd:XAddrs>`);
    expect(xaddrs.length).toBeLessThanOrEqual(WSD_MAX_MESSAGE_BYTES);
    const parsed = parseProbeMatches(Buffer.from(xaddrs))!;
    expect(parsed.matches[0]!.xaddrs).toHaveLength(WSD_LIST_CAPS.xaddrs);
    expect(probeMatchFields(parsed.matches[0]!)['onvif.xaddr']).toEqual(['http://198.18.0.10/onvif/device_service']);
    expect(parsed.dropped).toEqual({ matches: 0, types: 0, scopes: 0, xaddrs: 30_001 - WSD_LIST_CAPS.xaddrs });

    const lists = fixture('hikvision-probematches.xml')
      .toString('utf8')
      .replace('tds:Device</wsdd:Types>', `tds:Device ${junk(100)}</wsdd:Types>`)
      .replace('city/hangzhou</wsdd:Scopes>', `city/hangzhou ${junk(1000)}</wsdd:Scopes>`);
    const many = parseProbeMatches(Buffer.from(lists))!;
    expect(many.matches[0]!.types.slice(0, 2)).toEqual(['dn:NetworkVideoTransmitter', 'tds:Device']);
    expect(probeMatchFields(many.matches[0]!)['onvif.scope.name']).toEqual(['HIKVISION DS-2CD2143G2-I']);
    expect(many.dropped).toEqual({ matches: 0, types: 102 - WSD_LIST_CAPS.types, scopes: 1006 - WSD_LIST_CAPS.scopes, xaddrs: 0 });

    const match = /<wsdd:ProbeMatch>.*<\/wsdd:ProbeMatch>/.exec(fixture('hikvision-probematches.xml').toString('utf8'))![0];
    const matches = fixture('hikvision-probematches.xml').toString('utf8').replace(match, match.repeat(40));
    expect(parseProbeMatches(Buffer.from(matches))!.dropped.matches).toBe(40 - WSD_LIST_CAPS.matches);
  });

  it('parses a printer reply but does not call it an ONVIF device', () => {
    const match = parseProbeMatches(fixture('printer-probematches.xml'))!.matches[0]!;
    expect(match.types).toEqual(['wsdp:Device', 'wprt:PrintDeviceType']);
    expect(isOnvifMatch(match)).toBe(false);
  });

  it('returns null for a Probe, for non-XML, for entity declarations and for oversized input', () => {
    expect(parseProbeMatches(buildProbe(PROBE_TYPES.device).bytes)).toBeNull();
    expect(parseProbeMatches(Buffer.from('M-SEARCH * HTTP/1.1\r\n\r\n'))).toBeNull();
    const laughs =
      '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>' +
      '<s:Envelope xmlns:s="x"><s:Body><d:ProbeMatches xmlns:d="y"><d:ProbeMatch><d:Scopes>&b;</d:Scopes></d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>';
    expect(parseProbeMatches(Buffer.from(laughs))).toBeNull();
    const huge = fixture('hikvision-probematches.xml').toString().replace('</wsdd:XAddrs>', `${' '.repeat(70_000)}</wsdd:XAddrs>`);
    expect(parseProbeMatches(Buffer.from(huge))).toBeNull();
  });

  it('never throws on truncations of a real reply or on random bytes', () => {
    const real = fixture('hikvision-probematches.xml');
    for (let cut = 0; cut < real.length; cut += 7) expect(() => parseProbeMatches(real.subarray(0, cut))).not.toThrow();
    const random = seededRandom(2026);
    for (let i = 0; i < 500; i++) {
      const bytes = Buffer.from(Array.from({ length: 1 + Math.floor(random() * 600) }, () => Math.floor(random() * 256)));
      expect(() => parseProbeMatches(bytes)).not.toThrow();
    }
  });
});

describe('scopeFields', () => {
  it('keeps a malformed percent-escape as raw text and ignores non-ONVIF scopes', () => {
    const fields = scopeFields(['onvif://www.onvif.org/name/50%ZZoff', 'ldap:///ou=cams', 'onvif://www.onvif.org/hardware/']);
    expect(fields['onvif.scope.name']).toEqual(['50%ZZoff']);
    expect(fields['onvif.scope.hardware']).toBeUndefined();
    expect(fields['onvif.scope']).toHaveLength(3);
  });
});

describe('probeMatchesBodyDigest', () => {
  it('is the same for one device\'s answers to different Probes (new header, same body) and differs when the body does', () => {
    const first = fixture('hikvision-probematches.xml', 'urn:uuid:probe-1');
    const second = Buffer.from(fixture('hikvision-probematches.xml', 'urn:uuid:probe-2').toString().replace('2857be123456</wsa:MessageID>', '2857be654321</wsa:MessageID>'));
    expect(second.equals(first)).toBe(false);
    expect(probeMatchesBodyDigest(second)).toBe(probeMatchesBodyDigest(first));
    const moved = Buffer.from(first.toString().replace('http://198.18.0.10/onvif', 'http://198.18.0.11/onvif'));
    expect(probeMatchesBodyDigest(moved)).not.toBe(probeMatchesBodyDigest(first));
    expect(probeMatchesBodyDigest(fixture('dahua-probematches.xml'))).not.toBe(probeMatchesBodyDigest(first));
    // No Body at all: the whole datagram is digested, so any change tells.
    expect(probeMatchesBodyDigest(Buffer.from('<x>1</x>'))).not.toBe(probeMatchesBodyDigest(Buffer.from('<x>2</x>')));
  });
});
