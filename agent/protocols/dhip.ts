/**
 * Dahua DHIP discovery ("DHDiscover", the ConfigTool protocol) codec. Pure: builds and parses
 * bytes, no sockets.
 *
 * Transport: UDP, multicast 239.255.255.251:37810 (also sent as broadcast). The client sends a
 * `DHDiscover.search` request; every Dahua-firmware device answers with `client.notifyDevInfo`
 * (mcw0/DahuaConsole net.py@5f8f35b13437d06e6e9b01f63bc151303939eda2, julienblitte/UniversalScanner
 * UniversalScanner/Dahua2.cs@fb7ae672dad96c2aedf377e21002a19e83a8df37, the capture in
 * https://github.com/Phenomite/AMP-Research/blob/33ed112b9812c82124a71ab5fe6399ea1b021bed/DVR%20IP%20Camera%20port%2037810/README.md
 * and Haicam/Haicam golang/libs/onvif/haicam_test/discoverytest.go@307e0a3735f0df74237b5e903be7edfe3341c6d1).
 *
 * Packet = 32-byte header + UTF-8 JSON body. The search request this module builds:
 * ```
 * 00000000: 2000 0000 4448 4950 0000 0000 0000 0000   ...DHIP........
 * 00000010: 3b00 0000 0000 0000 3b00 0000 0000 0000  ;.......;.......
 * 00000020: 7b22 6d65 7468 6f64 223a 2244 4844 6973  {"method":"DHDis
 * 00000030: 636f 7665 722e 7365 6172 6368 222c 2270  cover.search","p
 * 00000040: 6172 616d 7322 3a7b 226d 6163 223a 2222  arams":{"mac":""
 * 00000050: 2c22 756e 6922 3a31 7d7d 0a              ,"uni":1}}.
 * ```
 * | offset | size | value                                                                     |
 * |--------|------|---------------------------------------------------------------------------|
 * | 0x00   | 4    | uint32 LE header length, always 0x20 (`20 00 00 00`)                      |
 * | 0x04   | 4    | ASCII magic `DHIP` (`44 48 49 50`)                                        |
 * | 0x08   | 4    | uint32 LE session id (0 in discovery)                                     |
 * | 0x0c   | 4    | uint32 LE request id (0 in discovery)                                     |
 * | 0x10   | 8    | body length in this packet: uint32 LE + 4 zero bytes (a uint64 LE)         |
 * | 0x18   | 8    | expected total body length: uint32 LE + 4 zero bytes; equal for UDP        |
 * | 0x20   | n    | JSON body, possibly followed by `\n` and/or NUL                           |
 *
 * DahuaConsole packs the first 8 bytes as `p64(0x2000000044484950, endian='big')`, i.e. bytes
 * `20 00 00 00 44 48 49 50`: the same thing as "uint32 LE 0x20, then `DHIP`" (UniversalScanner's
 * `Dahua2Header`: `headerSize = 0x20`, `headerMagic = NetworkToHostOrder(0x44484950)`).
 * DahuaConsole's debug output labels 0x08/0x0c/0x10/0x18 "SessionID, ID, RCVLEN, EXPLEN".
 *
 * Safety: the same port accepts state-changing methods (`DHDiscover.setConfig`, `DevInit.account`,
 * `PasswdFind.resetPassword`, …). The only request this module can build is the constant
 * `DHDiscover.search`; there is no general-purpose request encoder.
 */
import { isIPv4 } from 'node:net';
import type { Fields } from '../types.js';
import { cleanDeviceFields } from '../safe-text.js';
import { normaliseMac } from '../net/mac.js';

export const DHIP_MULTICAST_ADDRESS = '239.255.255.251';
export const DHIP_PORT = 37810;
export const DHIP_HEADER_LENGTH = 32;
/**
 * A notifyDevInfo reply is under 1 KiB; anything over 16 KiB is not one. The cap must sit below
 * what one UDP datagram can carry (65,507 bytes), or it would never refuse anything.
 */
export const DHIP_MAX_PACKET_BYTES = 16 * 1024;
export const DHIP_MAGIC = 'DHIP';
export const DHIP_SEARCH_METHOD = 'DHDiscover.search';
export const DHIP_NOTIFY_METHOD = 'client.notifyDevInfo';

/** The search body (DahuaConsole's request, compact, newline-terminated like UniversalScanner's). */
const SEARCH_BODY = `{"method":"${DHIP_SEARCH_METHOD}","params":{"mac":"","uni":1}}\n`;

/** Frames a body with the 32-byte header (both lengths = body length, ids 0). Internal only. */
function frame(body: Buffer): Buffer {
  const header = Buffer.alloc(DHIP_HEADER_LENGTH);
  header.writeUInt32LE(DHIP_HEADER_LENGTH, 0x00);
  header.write(DHIP_MAGIC, 0x04, 'latin1');
  header.writeUInt32LE(body.length, 0x10);
  header.writeUInt32LE(body.length, 0x18);
  return Buffer.concat([header, body]);
}

/** The `DHDiscover.search` request (91 bytes, shown in the hexdump above). */
export function buildDhipSearch(): Buffer {
  return frame(Buffer.from(SEARCH_BODY, 'utf8'));
}

/** A DHIP packet whose header checked out and whose body is a JSON object. */
export interface DhipPacket {
  sessionId: number;
  requestId: number;
  /** Declared (and actual) body length, terminators included. */
  bodyLength: number;
  /** The body, parsed. Always a plain JSON object. */
  json: Record<string, unknown>;
}

/**
 * Checks the header and parses the JSON body. Null when: shorter than 32 bytes or longer than
 * {@link DHIP_MAX_PACKET_BYTES}; the header length is not 0x20 or the magic not `DHIP`; either
 * length field's high half is non-zero, the two lengths differ, a length is 0, or the body is
 * shorter than declared (truncated); bytes follow the declared body that are not NUL padding
 * (lying length); the body (after trailing NUL / whitespace) is not JSON, or not a JSON object.
 * Never throws.
 */
export function parseDhipPacket(buf: Buffer): DhipPacket | null {
  if (!Buffer.isBuffer(buf) || buf.length < DHIP_HEADER_LENGTH || buf.length > DHIP_MAX_PACKET_BYTES) return null;
  if (buf.readUInt32LE(0x00) !== DHIP_HEADER_LENGTH || buf.toString('latin1', 0x04, 0x08) !== DHIP_MAGIC) return null;
  const length = buf.readUInt32LE(0x10);
  const expected = buf.readUInt32LE(0x18);
  if (buf.readUInt32LE(0x14) !== 0 || buf.readUInt32LE(0x1c) !== 0) return null;
  if (length === 0 || length !== expected) return null;
  const end = DHIP_HEADER_LENGTH + length;
  if (end > buf.length) return null;
  for (let i = end; i < buf.length; i++) if (buf[i] !== 0) return null;

  let bodyEnd = end;
  while (bodyEnd > DHIP_HEADER_LENGTH && isTerminator(buf[bodyEnd - 1])) bodyEnd--;
  let json: unknown;
  try {
    json = JSON.parse(buf.toString('utf8', DHIP_HEADER_LENGTH, bodyEnd));
  } catch {
    return null;
  }
  if (!isObject(json)) return null;
  return { sessionId: buf.readUInt32LE(0x08), requestId: buf.readUInt32LE(0x0c), bodyLength: length, json };
}

function isTerminator(byte: number | undefined): boolean {
  return byte === 0x00 || byte === 0x0a || byte === 0x0d || byte === 0x20 || byte === 0x09;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Own property of a parsed JSON object (never an inherited one such as `constructor`). */
function own(obj: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/** A parsed `client.notifyDevInfo` reply. Typed members are null when missing or unusable. */
export interface DhipReply {
  /** Top-level `mac`, lower-case colon form. */
  mac: string | null;
  /** DeviceClass, e.g. `IPC`, `MHDX`. */
  deviceClass: string | null;
  /** DeviceType: the model, e.g. `IPC-HDW1431T1-S4`. */
  model: string | null;
  /** SerialNo. */
  serial: string | null;
  /** Version: firmware, e.g. `2.800.0000000.13.R`. */
  version: string | null;
  /** Vendor / Manufacturer: the label (`Private`, `Intelbras`), not necessarily the maker. */
  vendor: string | null;
  manufacturer: string | null;
  machineName: string | null;
  /** IPv4Address.IPAddress. */
  ipv4: string | null;
  /** IPv4Address.SubnetMask, dotted (`255.255.255.0`). */
  ipv4Mask: string | null;
  /** IPv4Address.DefaultGateway. */
  ipv4Gateway: string | null;
  /** IPv4Address.DhcpEnable. */
  dhcp: boolean | null;
  httpPort: number | null;
  /** Port: the DVRIP/SDK TCP port (37777 by default). */
  port: number | null;
  /** `params.deviceInfo` as received. */
  deviceInfo: Readonly<Record<string, unknown>>;
  /** The observation fields (`dhip.*`), only for values that are present and usable. */
  fields: Fields;
}

/** deviceInfo key → field name, for the scalar members copied into `fields` as strings. */
const DEVICE_INFO_FIELDS: ReadonlyArray<readonly [string, string]> = [
  ['DeviceClass', 'dhip.deviceClass'],
  ['DeviceType', 'dhip.deviceType'],
  ['SerialNo', 'dhip.serial'],
  ['Version', 'dhip.version'],
  ['Vendor', 'dhip.vendor'],
  ['Manufacturer', 'dhip.manufacturer'],
  ['MachineName', 'dhip.machineName'],
  ['DeviceID', 'dhip.deviceId'],
  ['Init', 'dhip.init'],
  ['Find', 'dhip.find'],
  ['FindVersion', 'dhip.findVersion'],
  ['VideoInputChannels', 'dhip.videoInputChannels'],
  ['VideoOutputChannels', 'dhip.videoOutputChannels'],
  ['RemoteVideoInputChannels', 'dhip.remoteVideoInputChannels'],
  ['AlarmInputChannels', 'dhip.alarmInputChannels'],
  ['AlarmOutputChannels', 'dhip.alarmOutputChannels'],
  ['UnLoginFuncMask', 'dhip.unLoginFuncMask'],
];

/**
 * Parses a `client.notifyDevInfo` reply. Null unless the packet is valid (see
 * {@link parseDhipPacket}), `method` is `client.notifyDevInfo` and `params.deviceInfo` is an
 * object. Members of the wrong type are skipped, not fatal. Never throws.
 */
export function parseDhipReply(buf: Buffer): DhipReply | null {
  const packet = parseDhipPacket(buf);
  if (!packet || own(packet.json, 'method') !== DHIP_NOTIFY_METHOD) return null;
  const params = own(packet.json, 'params');
  if (!isObject(params)) return null;
  const info = own(params, 'deviceInfo');
  if (!isObject(info)) return null;
  const ipv4Info = own(info, 'IPv4Address');
  const ipv4Object = isObject(ipv4Info) ? ipv4Info : {};

  const str = (key: string): string | null => scalar(own(info, key));
  const ipv4Of = (key: string): string | null => {
    const value = scalar(own(ipv4Object, key));
    return value !== null && isIPv4(value) ? value : null;
  };
  const reply: Omit<DhipReply, 'fields'> = {
    mac: normaliseMac(scalar(own(packet.json, 'mac'))),
    deviceClass: str('DeviceClass'),
    model: str('DeviceType'),
    serial: str('SerialNo'),
    version: str('Version'),
    vendor: str('Vendor'),
    manufacturer: str('Manufacturer'),
    machineName: str('MachineName'),
    ipv4: ipv4Of('IPAddress'),
    ipv4Mask: ipv4Of('SubnetMask'),
    ipv4Gateway: ipv4Of('DefaultGateway'),
    dhcp: typeof own(ipv4Object, 'DhcpEnable') === 'boolean' ? (own(ipv4Object, 'DhcpEnable') as boolean) : null,
    httpPort: port(own(info, 'HttpPort')),
    port: port(own(info, 'Port')),
    deviceInfo: info,
  };

  const fields: Fields = {};
  if (reply.mac) fields['dhip.mac'] = reply.mac;
  for (const [key, field] of DEVICE_INFO_FIELDS) {
    const value = str(key);
    if (value !== null) fields[field] = value;
  }
  if (reply.ipv4) fields['dhip.ipv4'] = reply.ipv4;
  if (reply.ipv4Mask) fields['dhip.ipv4Mask'] = reply.ipv4Mask;
  if (reply.ipv4Gateway) fields['dhip.ipv4Gateway'] = reply.ipv4Gateway;
  if (reply.dhcp !== null) fields['dhip.dhcp'] = String(reply.dhcp);
  if (reply.httpPort !== null) fields['dhip.httpPort'] = String(reply.httpPort);
  if (reply.port !== null) fields['dhip.port'] = String(reply.port);
  return { ...reply, fields: cleanDeviceFields(fields) };
}

/** A JSON scalar as a non-empty trimmed string (numbers in decimal, booleans as true/false). */
function scalar(value: unknown): string | null {
  if (typeof value === 'string') return value.trim() || null;
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : null;
  if (typeof value === 'boolean') return String(value);
  return null;
}

function port(value: unknown): number | null {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^[0-9]{1,5}$/.test(value.trim()) ? Number(value) : NaN;
  return Number.isInteger(n) && n >= 0 && n <= 65535 ? n : null;
}
