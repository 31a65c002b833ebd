/**
 * Hikvision SADP (Search Active Devices Protocol) codec. Pure: builds and parses bytes, no sockets.
 *
 * Transport: UDP, multicast 239.255.255.250:37020 (some tools also broadcast to
 * 255.255.255.255:37020). The client sends a one-line XML `<Probe>`; every Hikvision-firmware
 * device on the segment answers with a `<ProbeMatch>` document (cameronnewman/hikvision-tooling
 * internal/sadp/scanner.go@01508629e5db733d8233d4b41eedba028a2d4da9, julienblitte/UniversalScanner
 * UniversalScanner/Hikvision.cs@fb7ae672dad96c2aedf377e21002a19e83a8df37,
 * Haicam/Haicam golang/libs/onvif/haicam_test/discoverytest.go@307e0a3735f0df74237b5e903be7edfe3341c6d1).
 *
 * Safety: the same port carries state-changing commands (`activate`, `update`, `reboot`,
 * `restore`, `resetPassword`, `exchangecode`, …). This module can only ever produce the read-only
 * `inquiry` probe: the `<Types>` value is a constant, the only input is a validated UUID, and no
 * general-purpose probe builder is exported.
 */
import { isIPv4 } from 'node:net';
import { normaliseMac } from '../net/mac.js';
import type { Fields } from '../types.js';
import { cleanDeviceFields } from '../safe-text.js';
import { leafElements, parseUntrustedXml, xmlRoot } from './xml.js';

export const SADP_MULTICAST_ADDRESS = '239.255.255.250';
export const SADP_PORT = 37020;
/**
 * A real ProbeMatch is about 1.5 KiB; anything over 16 KiB is not one. The cap must sit below
 * what one UDP datagram can carry (65,507 bytes), or it would never refuse anything.
 */
export const SADP_MAX_MESSAGE_BYTES = 16 * 1024;
/** The only probe type this agent sends. */
export const SADP_INQUIRY = 'inquiry';

const UUID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The SADP inquiry probe, byte for byte as Hikvision's tools send it (hikvision-tooling
 * `internal/sadp/commands.go`):
 * `<?xml version="1.0" encoding="utf-8"?><Probe><Uuid>UUID</Uuid><Types>inquiry</Types></Probe>`,
 * with the UUID in upper case. Throws a RangeError when `uuid` is not an 8-4-4-4-12 hex UUID
 * (a programming error: pass `crypto.randomUUID()`).
 */
export function buildSadpInquiry(uuid: string): Buffer {
  if (typeof uuid !== 'string' || !UUID_SHAPE.test(uuid)) {
    throw new RangeError(`SADP probe UUID must look like 8-4-4-4-12 hex digits, got ${JSON.stringify(uuid)}`);
  }
  return Buffer.from(
    `<?xml version="1.0" encoding="utf-8"?><Probe><Uuid>${uuid.toUpperCase()}</Uuid><Types>${SADP_INQUIRY}</Types></Probe>`,
    'utf8',
  );
}

/**
 * ProbeMatch child elements in the order a DS-2CD2385G1-I (firmware V5.6.2 build 190701) sends
 * them (Haicam/Haicam golang/libs/onvif/haicam_test/discoverytest.go@307e0a3735f0df74237b5e903be7edfe3341c6d1),
 * then `OEMInfo`, which hikvision-tooling parses
 * but that capture does not carry.
 */
export const SADP_PROBE_MATCH_ELEMENTS = [
  'Uuid',
  'Types',
  'DeviceType',
  'DeviceDescription',
  'DeviceSN',
  'CommandPort',
  'HttpPort',
  'MAC',
  'IPv4Address',
  'IPv4SubnetMask',
  'IPv4Gateway',
  'IPv6Address',
  'IPv6Gateway',
  'IPv6MaskLen',
  'DHCP',
  'AnalogChannelNum',
  'DigitalChannelNum',
  'SoftwareVersion',
  'DSPVersion',
  'BootTime',
  'Encrypt',
  'ResetAbility',
  'DiskNumber',
  'Activated',
  'PasswordResetAbility',
  'PasswordResetModeSecond',
  'DetailOEMCode',
  'SupportSecurityQuestion',
  'SupportHCPlatform',
  'HCPlatformEnable',
  'IsModifyVerificationCode',
  'Salt',
  'DeviceLock',
  'SDKOverTLSPort',
  'SDKServerStatus',
  'SDKOverTLSServerStatus',
  'SupportMailBox',
  'OEMInfo',
] as const;
export type SadpElementName = (typeof SADP_PROBE_MATCH_ELEMENTS)[number];
/** ProbeMatch element values by name; omitted elements are absent from the reply. */
export type SadpProbeMatchElements = { readonly [K in SadpElementName]?: string };

/** A parsed ProbeMatch. Typed members are null when the element is missing or unusable. */
export interface SadpReply {
  /** Echo of the probe's UUID. */
  uuid: string | null;
  /** Echo of the probe type (`inquiry`). */
  types: string | null;
  /** DeviceType: often a numeric type code (`141945`), not a model. */
  deviceType: string | null;
  /** DeviceDescription: the model, e.g. `DS-2CD2385G1-I`. */
  model: string | null;
  /** DeviceSN, e.g. `DS-2CD2385G1-I20200414AAWRE33842150`. */
  serial: string | null;
  /** MAC in lower-case colon form (the wire has `58-50-ed-1f-e3-85`). */
  mac: string | null;
  ipv4: string | null;
  /** IPv4SubnetMask, dotted (`255.255.255.0`); whether it is a contiguous mask is the pipeline's business. */
  ipv4Mask: string | null;
  /** IPv4Gateway. */
  ipv4Gateway: string | null;
  /** SoftwareVersion, e.g. `V5.6.2build 190701`. */
  firmware: string | null;
  /** DSPVersion, e.g. `V7.3 build 190626`. */
  dsp: string | null;
  bootTime: string | null;
  /** false = factory default, no password set. */
  activated: boolean | null;
  dhcp: boolean | null;
  oemInfo: string | null;
  /** DetailOEMCode (`1` on Hikvision-branded units). */
  oemCode: string | null;
  commandPort: number | null;
  httpPort: number | null;
  sdkOverTlsPort: number | null;
  analogChannels: number | null;
  digitalChannels: number | null;
  /**
   * Every child element that holds text, by name, values trimmed but otherwise as sent (first
   * occurrence wins). Null-prototype object. Includes elements this codec does not interpret.
   */
  elements: Readonly<Record<string, string>>;
  /** Child elements past SADP_MAX_ELEMENTS, left unread (0 for a real reply). */
  elementsDropped: number;
  /** The observation fields (`sadp.*`), only for values that are present and usable. */
  fields: Fields;
}

/**
 * Child elements of a ProbeMatch read, in document order; the rest is not looked at. The captures
 * cited above carry about 30 (SADP_PROBE_MATCH_ELEMENTS lists them), so twice that leaves room for
 * firmware that adds some, while a 16 KiB datagram of empty elements (over a thousand) costs no more.
 */
export const SADP_MAX_ELEMENTS = 64;

/** Elements at least one of which a ProbeMatch must carry to count as an SADP reply. */
const IDENTIFYING_ELEMENTS = ['MAC', 'IPv4Address', 'DeviceSN', 'DeviceDescription'] as const;

/**
 * Parses an SADP `<ProbeMatch>` reply. Null for anything else (other roots, WS-Discovery
 * ProbeMatches, a ProbeMatch carrying none of MAC / IPv4Address / DeviceSN / DeviceDescription),
 * for malformed XML and for input over {@link SADP_MAX_MESSAGE_BYTES}. Lenient with the firmware's
 * quirks: `flase`, missing elements, padding whitespace, a trailing NUL. Never throws.
 */
export function parseSadpReply(buf: Buffer): SadpReply | null {
  const root = xmlRoot(parseUntrustedXml(buf, SADP_MAX_MESSAGE_BYTES));
  if (!root || root.name !== 'ProbeMatch') return null;
  const elementsDropped = Math.max(0, root.children.length - SADP_MAX_ELEMENTS);
  const elements = leafElements({ ...root, children: root.children.slice(0, SADP_MAX_ELEMENTS) });
  if (!IDENTIFYING_ELEMENTS.some((name) => elements[name])) return null;

  const text = (name: SadpElementName): string | null => elements[name] || null;
  const reply: Omit<SadpReply, 'fields'> = {
    uuid: text('Uuid'),
    types: text('Types'),
    deviceType: text('DeviceType'),
    model: text('DeviceDescription'),
    serial: text('DeviceSN'),
    mac: normaliseMac(text('MAC')),
    ipv4: ipv4(text('IPv4Address')),
    ipv4Mask: ipv4(text('IPv4SubnetMask')),
    ipv4Gateway: ipv4(text('IPv4Gateway')),
    firmware: text('SoftwareVersion'),
    dsp: text('DSPVersion'),
    bootTime: text('BootTime'),
    activated: lenientBoolean(text('Activated')),
    dhcp: lenientBoolean(text('DHCP')),
    oemInfo: text('OEMInfo'),
    oemCode: text('DetailOEMCode'),
    commandPort: port(text('CommandPort')),
    httpPort: port(text('HttpPort')),
    sdkOverTlsPort: port(text('SDKOverTLSPort')),
    analogChannels: count(text('AnalogChannelNum')),
    digitalChannels: count(text('DigitalChannelNum')),
    elements,
    elementsDropped,
  };
  return { ...reply, fields: cleanDeviceFields(sadpFields(reply)) };
}

/** The `sadp.*` observation fields of a parsed reply (absent values are left out). */
function sadpFields(reply: Omit<SadpReply, 'fields' | 'elementsDropped'>): Fields {
  const entries: Array<[string, string | number | boolean | null]> = [
    ['sadp.uuid', reply.uuid],
    ['sadp.types', reply.types],
    ['sadp.deviceType', reply.deviceType],
    ['sadp.model', reply.model],
    ['sadp.serial', reply.serial],
    ['sadp.mac', reply.mac],
    ['sadp.ipv4', reply.ipv4],
    ['sadp.ipv4Mask', reply.ipv4Mask],
    ['sadp.ipv4Gateway', reply.ipv4Gateway],
    ['sadp.firmware', reply.firmware],
    ['sadp.dsp', reply.dsp],
    ['sadp.bootTime', reply.bootTime],
    ['sadp.activated', reply.activated],
    ['sadp.oemInfo', reply.oemInfo],
    ['sadp.oemCode', reply.oemCode],
    ['sadp.commandPort', reply.commandPort],
    ['sadp.httpPort', reply.httpPort],
    ['sadp.sdkOverTlsPort', reply.sdkOverTlsPort],
    ['sadp.dhcp', reply.dhcp],
    ['sadp.analogChannels', reply.analogChannels],
    ['sadp.digitalChannels', reply.digitalChannels],
  ];
  const fields: Fields = {};
  for (const [name, value] of entries) if (value !== null) fields[name] = String(value);
  return fields;
}

/** `true`/`false` as SADP firmware spells them, including its `flase`; null when unrecognised. */
export function lenientBoolean(value: string | null): boolean | null {
  switch (value?.trim().toLowerCase()) {
    case 'true':
    case '1':
    case 'yes':
      return true;
    case 'false':
    case 'flase':
    case 'fasle':
    case '0':
    case 'no':
      return false;
    default:
      return null;
  }
}

function ipv4(value: string | null): string | null {
  return value !== null && isIPv4(value) ? value : null;
}

/** A decimal count (no sign, up to 9 digits); leading zeros are accepted and dropped. */
function count(value: string | null): number | null {
  return value !== null && /^[0-9]{1,9}$/.test(value) ? Number.parseInt(value, 10) : null;
}

function port(value: string | null): number | null {
  const n = count(value);
  return n !== null && n <= 65535 ? n : null;
}
