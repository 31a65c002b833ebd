/**
 * WS-Discovery codec (pure: builds and parses bytes, no sockets).
 *
 * ONVIF devices implement the 2005/04 WS-Discovery draft over SOAP 1.2 / UDP
 * (ONVIF Core Specification §7.3 "Device discovery"): a client multicasts a Probe to
 * 239.255.255.250:3702 and each matching device answers with a unicast ProbeMatches.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Fields } from '../types.js';
import { cleanDeviceFields } from '../safe-text.js';
import { parseUntrustedXml, xmlChild, xmlChildren, xmlText, type XmlNode } from './xml.js';

export const WSD_MULTICAST_ADDRESS = '239.255.255.250';
/**
 * The IPv6 group: FF02::C, link-local scope (WS-Discovery 1.1 §2.4,
 * http://docs.oasis-open.org/ws-dd/discovery/1.1/os/wsdd-discovery-1.1-spec-os.html; ONVIF Core
 * §7.3 uses the same groups), sent on one interface at a time.
 */
export const WSD_MULTICAST_ADDRESS_IPV6 = 'ff02::c';
export const WSD_PORT = 3702;
/** A ProbeMatches for one device is well under 8 KiB; anything bigger is not a real answer. */
export const WSD_MAX_MESSAGE_BYTES = 64 * 1024;

const NS_DISCOVERY = 'http://schemas.xmlsoap.org/ws/2005/04/discovery';
const NS_ADDRESSING = 'http://schemas.xmlsoap.org/ws/2004/08/addressing';

/**
 * Types a Probe asks for. ONVIF Core §7.3.2: a device answers a Probe for
 * `dn:NetworkVideoTransmitter` (cameras, encoders) and `tds:Device` (every ONVIF device, NVRs too).
 */
export const PROBE_TYPES = {
  networkVideoTransmitter: 'dn:NetworkVideoTransmitter',
  device: 'tds:Device',
} as const;
export type ProbeType = (typeof PROBE_TYPES)[keyof typeof PROBE_TYPES];

export interface WsdProbe {
  messageId: string;
  bytes: Buffer;
}

export function buildProbe(type: ProbeType, messageId = `urn:uuid:${randomUUID()}`): WsdProbe {
  const xml =
    '<?xml version="1.0" encoding="UTF-8"?>' +
    `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="${NS_ADDRESSING}" xmlns:d="${NS_DISCOVERY}"` +
    ' xmlns:dn="http://www.onvif.org/ver10/network/wsdl" xmlns:tds="http://www.onvif.org/ver10/device/wsdl">' +
    '<s:Header>' +
    `<a:Action s:mustUnderstand="1">${NS_DISCOVERY}/Probe</a:Action>` +
    `<a:MessageID>${messageId}</a:MessageID>` +
    `<a:ReplyTo><a:Address>${NS_ADDRESSING}/role/anonymous</a:Address></a:ReplyTo>` +
    '<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>' +
    '</s:Header>' +
    `<s:Body><d:Probe><d:Types>${type}</d:Types></d:Probe></s:Body>` +
    '</s:Envelope>';
  return { messageId, bytes: Buffer.from(xml, 'utf8') };
}

/**
 * Caps on the lists of one message, applied before any item is parsed: one 64 KiB datagram can
 * carry some 30,000 junk XAddrs, each of which would otherwise be URL-parsed. Real devices stay
 * far below them (ONVIF Core §7.3.2: a device advertises its types, about ten scopes and one
 * XAddr per address it serves on).
 */
export const WSD_LIST_CAPS = {
  /** ProbeMatch elements per ProbeMatches: one per device; a discovery proxy answers for a few. */
  matches: 16,
  /** Types per match: `dn:NetworkVideoTransmitter tds:Device` and a vendor's own one or two. */
  types: 16,
  /** Scopes per match: cameras send 6 to 20 (type, name, hardware, location, profile…). */
  scopes: 64,
  /** XAddrs per match: one per address (IPv4, IPv6, HTTPS), rarely more than four. */
  xaddrs: 8,
} as const;
export type WsdList = keyof typeof WSD_LIST_CAPS;

/** One device's answer (a ProbeMatches may carry several). */
export interface ProbeMatch {
  endpoint: string;
  types: string[];
  scopes: string[];
  xaddrs: string[];
  metadataVersion: string | null;
}

export interface ProbeMatches {
  relatesTo: string | null;
  messageId: string | null;
  matches: ProbeMatch[];
  /** Items left out at WSD_LIST_CAPS, per list (0 when none). */
  dropped: Record<WsdList, number>;
}

/** The first `max` whitespace-separated words of `text`, and how many more there were. */
function words(text: string | null, max: number): { kept: string[]; more: number } {
  const kept: string[] = [];
  let more = 0;
  for (const match of (text ?? '').matchAll(/\S+/g)) {
    if (kept.length < max) kept.push(match[0]);
    else more++;
  }
  return { kept, more };
}

/** Decodes percent-escapes (`HIKVISION%20DS-2CD2143G2-I`); a malformed escape keeps the raw text. */
function percentDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Parses a ProbeMatches message; null when the bytes are not one. */
export function parseProbeMatches(bytes: Buffer): ProbeMatches | null {
  const doc = parseUntrustedXml(bytes, WSD_MAX_MESSAGE_BYTES);
  const envelope = xmlChild(doc, 'Envelope');
  const body = xmlChild(envelope, 'Body');
  const probeMatches = xmlChild(body, 'ProbeMatches');
  if (!probeMatches) return null;
  const header = xmlChild(envelope, 'Header');
  const matches: ProbeMatch[] = [];
  const dropped: Record<WsdList, number> = { matches: 0, types: 0, scopes: 0, xaddrs: 0 };
  const list = (match: XmlNode, element: string, cap: Exclude<WsdList, 'matches'>): string[] => {
    const { kept, more } = words(xmlText(xmlChild(match, element)), WSD_LIST_CAPS[cap]);
    dropped[cap] += more;
    return kept;
  };
  const elements = xmlChildren(probeMatches, 'ProbeMatch');
  dropped.matches = Math.max(0, elements.length - WSD_LIST_CAPS.matches);
  for (const match of elements.slice(0, WSD_LIST_CAPS.matches)) {
    const endpoint = xmlText(xmlChild(xmlChild(match, 'EndpointReference'), 'Address'));
    if (!endpoint) continue; // WS-Discovery §5.3: an EndpointReference is required
    matches.push({
      endpoint: endpoint.trim(),
      types: list(match, 'Types', 'types'),
      scopes: list(match, 'Scopes', 'scopes'),
      xaddrs: list(match, 'XAddrs', 'xaddrs'),
      metadataVersion: xmlText(xmlChild(match, 'MetadataVersion'))?.trim() || null,
    });
  }
  return {
    relatesTo: xmlText(xmlChild(header, 'RelatesTo'))?.trim() || null,
    messageId: xmlText(xmlChild(header, 'MessageID'))?.trim() || null,
    matches,
    dropped,
  };
}

/**
 * A digest of a ProbeMatches datagram from its first `Body` on. A device answers each of our Probes
 * (two types, each sent twice: SOAP-over-UDP's MULTICAST_UDP_REPEAT) with the same body under a new
 * header (MessageID, RelatesTo, AppSequence), and of what parseProbeMatches reads only RelatesTo
 * and MessageID are in the header (the discoverer uses RelatesTo, to keep its own replies): two of
 * our replies from one sender with one digest say the same. A datagram without `Body` is digested
 * whole.
 */
export function probeMatchesBodyDigest(bytes: Buffer): string {
  const at = bytes.indexOf('Body');
  return createHash('sha256')
    .update(at < 0 ? bytes : bytes.subarray(at))
    .digest('base64');
}

/** True when the match advertises an ONVIF device type (a camera, encoder or recorder). */
export function isOnvifMatch(match: ProbeMatch): boolean {
  const local = match.types.map((t) => t.slice(t.indexOf(':') + 1));
  if (local.includes('NetworkVideoTransmitter')) return true;
  return local.includes('Device') && match.scopes.some((s) => s.toLowerCase().startsWith(ONVIF_SCOPE_PREFIX));
}

const ONVIF_SCOPE_PREFIX = 'onvif://www.onvif.org/';
/** ONVIF Core §7.3.2.2 scope categories, and the field each one fills. */
const SCOPE_FIELDS: Record<string, string> = {
  name: 'onvif.scope.name',
  hardware: 'onvif.scope.hardware',
  location: 'onvif.scope.location',
  type: 'onvif.scope.type',
  profile: 'onvif.scope.profile',
  mac: 'onvif.scope.mac',
};

/** Splits ONVIF scopes into their categories; values are percent-decoded, then cleaned (a decoded `%1B` is an ESC). */
export function scopeFields(scopes: readonly string[]): Fields {
  const fields: Record<string, string[]> = { 'onvif.scope': scopes.map(percentDecode) };
  for (const scope of scopes) {
    if (!scope.toLowerCase().startsWith(ONVIF_SCOPE_PREFIX)) continue;
    const rest = scope.slice(ONVIF_SCOPE_PREFIX.length);
    const slash = rest.indexOf('/');
    if (slash <= 0) continue;
    const field = SCOPE_FIELDS[rest.slice(0, slash).toLowerCase()];
    const value = percentDecode(rest.slice(slash + 1)).trim();
    if (field && value) (fields[field] ??= []).push(value);
  }
  return cleanDeviceFields(fields);
}

/** Keeps the XAddrs that are http(s) URLs (IPv4 or IPv6 hosts); drops anything else. */
export function validXaddrs(xaddrs: readonly string[]): string[] {
  return xaddrs.filter((x) => {
    try {
      const url = new URL(x);
      return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname.length > 0;
    } catch {
      return false;
    }
  });
}

/** The observation fields one ProbeMatch yields. */
export function probeMatchFields(match: ProbeMatch): Fields {
  return cleanDeviceFields({
    'onvif.endpoint': match.endpoint,
    'onvif.types': match.types,
    'onvif.xaddr': validXaddrs(match.xaddrs),
    ...(match.metadataVersion ? { 'onvif.metadataVersion': match.metadataVersion } : {}),
    ...scopeFields(match.scopes),
  });
}

/** The one field of a responder that is not an ONVIF device (a printer, a PC): its Types. */
export function otherResponderFields(match: ProbeMatch): Fields {
  return cleanDeviceFields({ 'wsd.types': match.types });
}
