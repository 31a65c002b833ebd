/**
 * SSDP answers and UPnP device descriptions (pure: no sockets, no I/O).
 *
 * UPnP Device Architecture 1.1 (UDA):
 * - §1.3.2: a control point multicasts `M-SEARCH * HTTP/1.1` to 239.255.255.250:1900 and each
 *   matching device answers by unicast with `HTTP/1.1 200 OK` carrying ST (search target), USN
 *   (unique service name), LOCATION (URL of its description) and SERVER (`OS/version UPnP/1.x
 *   product/version`);
 * - §1.2.2: devices also multicast `NOTIFY * HTTP/1.1` announcements with NT instead of ST and
 *   NTS `ssdp:alive` / `ssdp:byebye`;
 * - §2.3: the description at LOCATION is XML `<root xmlns="urn:schemas-upnp-org:device-1-0">`
 *   whose `<device>` holds deviceType, friendlyName, manufacturer, modelDescription, modelName,
 *   modelNumber, serialNumber, UDN and presentationURL (embedded devices sit in its deviceList).
 *
 * Header maps come from node-ssdp (upper-cased header names, string values). Everything here is
 * untrusted: values are length-capped, their control characters are removed where they become
 * observation fields (cleanDeviceFields), and descriptions go through parseUntrustedXml (size cap,
 * no DTD, no entities).
 */
import type { Fields } from '../types.js';
import { cleanDeviceFields, cleanDeviceText } from '../safe-text.js';
import { parseUntrustedXml, xmlChild, xmlRoot, xmlText } from './xml.js';

/** UDA 1.1 §1.3.2: `ssdp:all` makes every device answer for each of its services; `upnp:rootdevice` once per root device. */
export const SSDP_SEARCH_TARGETS = ['ssdp:all', 'upnp:rootdevice'] as const;

/** A description of a real device is a few KiB; a bigger one is dropped unread (UDA sets no limit). */
export const UPNP_DESCRIPTION_MAX_BYTES = 256 * 1024;

/** Longest header or description value kept; a longer one is treated as absent. */
export const UPNP_MAX_VALUE_LENGTH = 512;

/** What one SSDP answer (M-SEARCH response) or announcement (NOTIFY) says. */
export interface SsdpAnnouncement {
  /** SERVER header. */
  server: string | null;
  /** ST of an answer, NT of an announcement. */
  target: string | null;
  usn: string | null;
  location: string | null;
}

/**
 * A value fit to keep: a string, trimmed, not over the cap, and not empty once cleaned. It is kept
 * as sent, so that the fields it becomes record what cleaning removed (cleanDeviceFields).
 */
function keptValue(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const text = value.trim();
  return cleanDeviceText(text).length > 0 && text.length <= UPNP_MAX_VALUE_LENGTH ? text : null;
}

function header(headers: Readonly<Record<string, unknown>>, name: string): string | null {
  return Object.hasOwn(headers, name) ? keptValue(headers[name]) : null;
}

/**
 * The four headers that identify an SSDP answer or announcement, from node-ssdp's header map.
 * Returns null when neither USN nor LOCATION is usable: such a datagram identifies nothing.
 */
export function ssdpAnnouncement(headers: Readonly<Record<string, unknown>>): SsdpAnnouncement | null {
  const announcement: SsdpAnnouncement = {
    server: header(headers, 'SERVER'),
    target: header(headers, 'ST') ?? header(headers, 'NT'),
    usn: header(headers, 'USN'),
    location: header(headers, 'LOCATION'),
  };
  return announcement.usn === null && announcement.location === null ? null : announcement;
}

/**
 * The IPv6 SSDP group of link-local scope and its port: [FF02::C]:1900 (UPnP Device Architecture
 * 2.0 §1.1.2, https://openconnectivity.org/upnp-specs/UPnP-arch-DeviceArchitecture-v2.0-20200417.pdf).
 */
export const SSDP_MULTICAST_ADDRESS_IPV6 = 'ff02::c';
export const SSDP_PORT = 1900;
/** An SSDP answer is a few hundred bytes; a datagram over this is no answer (one UDP payload at most). */
export const SSDP_MAX_MESSAGE_BYTES = 8 * 1024;
/** Header lines read from one datagram; the rest are ignored. */
const SSDP_MAX_HEADER_LINES = 32;

/** A multicast M-SEARCH to the IPv6 group (UDA 2.0 §1.3.2: HOST names the group, MX 1 s, read-only). */
export function buildMSearchIpv6(target: string): Buffer {
  return Buffer.from(
    ['M-SEARCH * HTTP/1.1', `HOST: [${SSDP_MULTICAST_ADDRESS_IPV6.toUpperCase()}]:${SSDP_PORT}`, 'MAN: "ssdp:discover"', 'MX: 1', `ST: ${target}`, '', ''].join('\r\n'),
    'ascii',
  );
}

/**
 * The start line and headers of an SSDP datagram (HTTP over UDP, UDA 2.0 §1.1.2), header names
 * upper-cased as node-ssdp hands them to ssdpAnnouncement, the first of a repeated header kept;
 * null when the datagram is over SSDP_MAX_MESSAGE_BYTES. At most SSDP_MAX_HEADER_LINES header
 * lines are read.
 */
function parseSsdpMessage(bytes: Buffer): { startLine: string; headers: Record<string, string> } | null {
  if (bytes.length > SSDP_MAX_MESSAGE_BYTES) return null;
  const lines = bytes.toString('latin1').split(/\r?\n/);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1, 1 + SSDP_MAX_HEADER_LINES)) {
    if (line === '') break;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toUpperCase();
    if (!Object.hasOwn(headers, name)) headers[name] = line.slice(colon + 1).trim();
  }
  return { startLine: lines[0] ?? '', headers };
}

/**
 * An M-SEARCH answer (HTTP over UDP, UDA 2.0 §1.3.3): its status and its headers; null when the
 * datagram is not an HTTP/1.x response (or is over SSDP_MAX_MESSAGE_BYTES).
 */
export function parseSsdpResponse(bytes: Buffer): { status: number; headers: Record<string, string> } | null {
  const message = parseSsdpMessage(bytes);
  const status = message && /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(message.startLine);
  return message && status ? { status: Number(status[1]), headers: message.headers } : null;
}

/**
 * The headers of an `ssdp:alive` announcement (UDA 2.0 §1.2.2: `NOTIFY * HTTP/1.1` with NTS
 * `ssdp:alive`, multicast to the group, over IPv6 to [FF02::C]:1900); null for anything else: an
 * `ssdp:byebye` or `ssdp:update` (§1.2.3, §1.2.4: they announce no device that is here now), an
 * M-SEARCH, an answer, garbage, or a datagram over SSDP_MAX_MESSAGE_BYTES.
 */
export function parseSsdpAlive(bytes: Buffer): Record<string, string> | null {
  const message = parseSsdpMessage(bytes);
  if (!message || message.startLine !== 'NOTIFY * HTTP/1.1') return null;
  return message.headers['NTS'] === 'ssdp:alive' ? message.headers : null;
}

/**
 * The URL to fetch a responder's description from: LOCATION when it is an http(s) URL without
 * credentials whose host IS the responder's own address (compared after WHATWG URL parsing, so
 * `http://3323068427/` is read as the address it really names). Anything else is null: a device
 * must not be able to point the agent at another host.
 */
export function descriptionUrl(location: string, responderIp: string): URL | null {
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.username !== '' || url.password !== '') return null;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  // An IPv6 link-local responder is known with its zone (`fe80::1%eth0`), which no URL carries.
  return host === responderIp.split('%')[0] ? url : null;
}

/** The root device of a UPnP description (UDA 1.1 §2.3); null members were absent, empty or unusable. */
export interface UpnpDescription {
  deviceType: string | null;
  friendlyName: string | null;
  manufacturer: string | null;
  modelName: string | null;
  modelNumber: string | null;
  modelDescription: string | null;
  serialNumber: string | null;
  udn: string | null;
  presentationURL: string | null;
}

/**
 * Parses a device description. Only the root device is read (embedded devices describe parts of
 * it, e.g. a NAS's media server). Returns null when the document is refused by parseUntrustedXml
 * (over UPNP_DESCRIPTION_MAX_BYTES, a DTD or entity declaration, not well-formed), when its root
 * element is not `root`, or when it has no `device`.
 */
export function parseDeviceDescription(input: Buffer | string): UpnpDescription | null {
  const root = xmlRoot(parseUntrustedXml(input, UPNP_DESCRIPTION_MAX_BYTES));
  if (root?.name !== 'root') return null;
  const device = xmlChild(root, 'device');
  if (!device) return null;
  const value = (element: string): string | null => keptValue(xmlText(xmlChild(device, element)));
  return {
    deviceType: value('deviceType'),
    friendlyName: value('friendlyName'),
    manufacturer: value('manufacturer'),
    modelName: value('modelName'),
    modelNumber: value('modelNumber'),
    modelDescription: value('modelDescription'),
    serialNumber: value('serialNumber'),
    udn: value('UDN'),
    presentationURL: value('presentationURL'),
  };
}

/** Observation fields (`upnp.*`, see fingerprints/fields.yaml) for the members that are present. */
export function descriptionFields(description: UpnpDescription): Fields {
  const fields: Fields = {};
  const put = (name: string, value: string | null): void => {
    if (value !== null) fields[name] = value;
  };
  put('upnp.deviceType', description.deviceType);
  put('upnp.friendlyName', description.friendlyName);
  put('upnp.manufacturer', description.manufacturer);
  put('upnp.modelName', description.modelName);
  put('upnp.modelNumber', description.modelNumber);
  put('upnp.modelDescription', description.modelDescription);
  put('upnp.serialNumber', description.serialNumber);
  put('upnp.udn', description.udn);
  put('upnp.presentationURL', description.presentationURL);
  return cleanDeviceFields(fields);
}
