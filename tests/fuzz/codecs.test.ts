/**
 * Property-based fuzzing of every codec that reads bytes from the network: real captures
 * (tests/fixtures) mutated with protocol syntax, plus random bytes. Each parser must return its
 * declared "not one of mine" value (null, `malformed`, an empty list) instead of throwing, keep
 * to its declared bounds, and finish within the hang bound; builders must round-trip.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseNeighbourJson } from '../../agent/discovery/neighbours.js';
import { txtFields } from '../../agent/discovery/mdns.js';
import { cleanDeviceFields } from '../../agent/safe-text.js';
import { normaliseMac } from '../../agent/net/mac.js';
import { DHIP_MAX_PACKET_BYTES, parseDhipPacket, parseDhipReply } from '../../agent/protocols/dhip.js';
import { chooseDigestChallenge, parseChallenges } from '../../agent/protocols/http-auth.js';
import { MAX_TITLE_LENGTH, decodeBody, pageFields, pageTitle } from '../../agent/protocols/http-page.js';
import { parseDeviceInformation, parseNetworkInterfaces, parseScopes, parseSoapEnvelope } from '../../agent/protocols/onvif-soap.js';
import { RTSP_MAX_RESPONSE_BYTES, parseRtspResponse, rtspFields, rtspFraming } from '../../agent/protocols/rtsp.js';
import { SADP_MAX_MESSAGE_BYTES, parseSadpReply } from '../../agent/protocols/sadp.js';
import { ISAPI_MAX_RESPONSE_BYTES, isIsapiAnswer, parseIsapiDeviceInfo } from '../../agent/protocols/isapi.js';
import { MAGICBOX_ACTIONS, magicBoxFields } from '../../agent/protocols/dahua-cgi.js';
import { UPNP_DESCRIPTION_MAX_BYTES, UPNP_MAX_VALUE_LENGTH, descriptionFields, parseDeviceDescription, ssdpAnnouncement } from '../../agent/protocols/upnp.js';
import { WSD_MAX_MESSAGE_BYTES, isOnvifMatch, parseProbeMatches, probeMatchFields, scopeFields, validXaddrs } from '../../agent/protocols/wsdiscovery.js';
import { buildDhipReply } from '../lab/sim/codecs/dhip-device.js';
import { buildSadpProbeMatch } from '../lab/sim/codecs/sadp-device.js';
import { expectStringFields, fixtures, fuzz, protocolInput, xmlSafeText } from './fuzz-support.js';

const RUNS = 300;

describe('WS-Discovery ProbeMatches', () => {
  it('never throws; every match it returns yields string fields and only http(s) XAddrs', () => {
    fuzz(protocolInput(fixtures('wsdiscovery')), RUNS, (bytes) => {
      const parsed = parseProbeMatches(bytes);
      if (bytes.length > WSD_MAX_MESSAGE_BYTES) expect(parsed).toBeNull();
      for (const match of parsed?.matches ?? []) {
        expectStringFields(probeMatchFields(match));
        expectStringFields(scopeFields(match.scopes));
        isOnvifMatch(match);
        for (const xaddr of validXaddrs(match.xaddrs)) expect(new URL(xaddr).protocol).toMatch(/^https?:$/);
      }
    });
  });
});

describe('Hikvision SADP', () => {
  it('never throws on mutated replies; a reply over the size cap is refused', () => {
    fuzz(protocolInput(fixtures('sadp', '.probematch.xml')), RUNS, (bytes) => {
      const reply = parseSadpReply(bytes);
      if (bytes.length > SADP_MAX_MESSAGE_BYTES) expect(reply).toBeNull();
      if (reply) {
        expectStringFields(reply.fields);
        if (reply.mac !== null) expect(normaliseMac(reply.mac)).toBe(reply.mac);
      }
    });
  });

  it('round-trips what the simulator builds: model, serial and firmware come back as sent', () => {
    const elements = fc.record({ DeviceDescription: xmlSafeText, DeviceSN: xmlSafeText, SoftwareVersion: xmlSafeText });
    fuzz(elements, RUNS, (sent) => {
      const reply = parseSadpReply(buildSadpProbeMatch({ ...sent, MAC: '28-57-be-6a-1c-10' }));
      expect(reply).not.toBeNull();
      expect({ model: reply?.model, serial: reply?.serial, firmware: reply?.firmware }).toEqual({
        model: sent.DeviceDescription,
        serial: sent.DeviceSN,
        firmware: sent.SoftwareVersion,
      });
    });
  });
});

describe('Dahua DHIP', () => {
  it('never throws on mutated packets; a packet over the size cap is refused', () => {
    fuzz(protocolInput(fixtures('dhip', '.bin')), RUNS, (bytes) => {
      const packet = parseDhipPacket(bytes);
      const reply = parseDhipReply(bytes);
      if (bytes.length > DHIP_MAX_PACKET_BYTES) expect([packet, reply]).toEqual([null, null]);
      if (reply) expectStringFields(reply.fields);
    });
  });

  it('round-trips what the simulator builds', () => {
    const deviceInfo = fc.record({ DeviceType: xmlSafeText, SerialNo: xmlSafeText, Version: xmlSafeText, Vendor: xmlSafeText });
    fuzz(deviceInfo, RUNS, (sent) => {
      const reply = parseDhipReply(buildDhipReply(sent, '08:ed:ed:5a:20:20'));
      expect(reply).not.toBeNull();
      expect({ model: reply?.model, serial: reply?.serial, version: reply?.version, vendor: reply?.vendor, mac: reply?.mac }).toEqual({
        model: sent.DeviceType,
        serial: sent.SerialNo,
        version: sent.Version,
        vendor: sent.Vendor,
        mac: '08:ed:ed:5a:20:20',
      });
    });
  });
});

describe('UPnP and SSDP', () => {
  it('device descriptions: never throw, values within their cap, refused over the size cap', () => {
    fuzz(protocolInput(fixtures('upnp', '.xml')), RUNS, (bytes) => {
      const description = parseDeviceDescription(bytes);
      if (bytes.length > UPNP_DESCRIPTION_MAX_BYTES) expect(description).toBeNull();
      if (!description) return;
      for (const value of Object.values(description)) if (value !== null) expect(value.length).toBeLessThanOrEqual(UPNP_MAX_VALUE_LENGTH);
      expectStringFields(descriptionFields(description));
    });
  });

  it('SSDP header objects of any shape never throw', () => {
    const headerValue = fc.oneof(fc.string({ maxLength: 300 }), fc.constant(undefined), fc.array(fc.string()), fc.anything());
    const headers = fc.dictionary(fc.constantFrom('LOCATION', 'SERVER', 'ST', 'NT', 'USN', 'NTS', 'CACHE-CONTROL', '__proto__', 'x'), headerValue);
    fuzz(headers, RUNS, (h) => {
      ssdpAnnouncement(h);
    });
  });
});

describe('Hikvision ISAPI deviceInfo and the Dahua magicBox.cgi answers', () => {
  it('never throw; what they return is string fields, and an ISAPI body over the cap is refused', () => {
    fuzz(protocolInput(fixtures('isapi', '.xml')), RUNS, (bytes) => {
      const fields = parseIsapiDeviceInfo(bytes);
      if (bytes.length > ISAPI_MAX_RESPONSE_BYTES) expect(fields).toBeNull();
      if (fields) expectStringFields(fields);
      isIsapiAnswer(bytes);
    });
    fuzz(protocolInput(fixtures('dahua-cgi', '.txt')), RUNS, (bytes) => {
      for (const action of MAGICBOX_ACTIONS) {
        const fields = magicBoxFields(action, bytes);
        if (fields) expectStringFields(fields);
      }
    });
  });
});

describe('RTSP responses', () => {
  it('never throw; framing and parsing agree on refusing oversize input', () => {
    fuzz(protocolInput(fixtures('rtsp')), RUNS, (bytes) => {
      const framing = rtspFraming(bytes);
      const response = parseRtspResponse(bytes);
      if (bytes.length > RTSP_MAX_RESPONSE_BYTES) expect(response).toBeNull();
      expect(typeof framing).toBe('object');
      if (!response) return;
      for (const [name] of response.headers) expect(name).toBe(name.toLowerCase());
      expectStringFields(rtspFields('DESCRIBE', response));
      expectStringFields(rtspFields('OPTIONS', response));
    });
  });
});

const challengeHeader = protocolInput(
  [
    'Digest realm="IP Camera(C6497)", nonce="4e5468694e7a6b354e7a4d364f5749314e7a6b3d", stale="FALSE", qop="auth"',
    'Basic realm="DS-2CD2385G1-I"',
    'Digest realm="Login to 4M0C1A5PAZ00CF4", qop="auth", nonce="1416455206", opaque="a7ba3f31de5d0de1fa1c53d8e6a3ad0a0e3e1e71", algorithm=SHA-256',
  ].map((s) => Buffer.from(s)),
  400,
).map((b) => b.toString('utf8'));

describe('HTTP authentication challenges and pages', () => {
  it('challenge headers never throw; a chosen Digest challenge has a realm and a nonce', () => {
    fuzz(fc.array(challengeHeader, { maxLength: 4 }), RUNS, (headers) => {
      const challenges = parseChallenges(headers);
      const digest = chooseDigestChallenge(challenges);
      if (digest) expect(typeof digest.nonce).toBe('string');
    });
  });

  it('pages: bodies in any encoding never throw; titles keep to their cap', () => {
    const pages = fixtures('http/hikvision').concat(fixtures('http/dahua'), fixtures('http/axis'));
    const contentType = fc.constantFrom(undefined, 'text/html', 'text/html; charset=utf-8', 'text/html; charset=gb2312', 'text/html; charset=x-nonsense', 'application/xml');
    fuzz(fc.tuple(protocolInput(pages), contentType), RUNS, ([body, type]) => {
      const text = decodeBody(body, type);
      const title = pageTitle(text);
      if (title !== null) expect(title.length).toBeLessThanOrEqual(MAX_TITLE_LENGTH);
      const fields = pageFields(
        { path: '/', purpose: 'page', status: 401, headers: { server: text.slice(0, 300), 'www-authenticate': text.slice(0, 600), 'content-type': type }, body, truncated: false },
        ['Hikvision', 'doc/page/login.asp'],
      );
      expectStringFields(fields);
    });
  });
});

describe('ONVIF SOAP answers', () => {
  it('never throw; a response body yields string device fields', () => {
    fuzz(protocolInput(fixtures('onvif', '.xml')), RUNS, (bytes) => {
      const outcome = parseSoapEnvelope(bytes);
      expect(['response', 'fault', 'malformed']).toContain(outcome.kind);
      if (outcome.kind !== 'response') return;
      const info = parseDeviceInformation(outcome.body);
      if (info) expectStringFields(info);
      parseNetworkInterfaces(outcome.body);
      for (const scope of parseScopes(outcome.body) ?? []) expect(typeof scope).toBe('string');
    });
  });
});

const neighbourJson = Buffer.from(
  JSON.stringify([
    { dst: '198.18.0.10', dev: 'v-scan', lladdr: '28:57:be:6a:1c:10', used: [12, 3, 1], confirmed: 3, updated: 1, probes: 1, state: ['REACHABLE'] },
    { dst: '198.18.0.11', dev: 'v-scan', state: ['FAILED'] },
    { dst: 'fe80::1', dev: 'v-scan', lladdr: 'bc:ad:28:3e:51:11', state: ['STALE'], used: [900, 900, 900] },
  ]),
);

describe('other inputs from the host or the network', () => {
  it('neighbour table JSON never throws; every entry has a canonical MAC', () => {
    fuzz(protocolInput([neighbourJson]).map((b) => b.toString('utf8')), RUNS, (text) => {
      for (const entry of parseNeighbourJson(text)) expect(normaliseMac(entry.mac)).toBe(entry.mac);
    });
  });

  it('mDNS TXT data of any shape yields string fields, clean once the discoverer cleans them (mdns.ts)', () => {
    const txt = fc.oneof(fc.anything(), fc.array(fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a))), fc.dictionary(fc.string(), fc.string()));
    fuzz(txt, RUNS, (strings) => {
      expectStringFields(cleanDeviceFields(txtFields(strings)));
    });
  });

  it('MAC normalisation returns the canonical form or null', () => {
    fuzz(fc.string({ maxLength: 40 }), RUNS, (text) => {
      const mac = normaliseMac(text);
      if (mac !== null) expect(mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    });
  });
});
