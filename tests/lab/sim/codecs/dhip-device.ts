/**
 * The device side of DHIP discovery, for the lab simulators and the codec's round-trip tests:
 * parse the request a camera receives, build the `client.notifyDevInfo` it answers with. Test
 * code only: the agent never parses requests nor builds replies (agent/protocols/dhip.ts is its
 * client-side codec, and can build no request but the search).
 */
import { normaliseMac } from '../../../../agent/net/mac.js';
import {
  DHIP_HEADER_LENGTH,
  DHIP_MAGIC,
  DHIP_MAX_PACKET_BYTES,
  DHIP_NOTIFY_METHOD,
  parseDhipPacket,
} from '../../../../agent/protocols/dhip.js';

/** A request as a device (or the lab simulator) receives it. */
export interface DhipRequest {
  method: string;
  /** `params` when it is an object; null when absent (AMP-Research's 62-byte search has none). */
  params: Record<string, unknown> | null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses a request packet; null unless it is a valid DHIP packet whose JSON has a string `method`.
 * Any method is returned: the simulator answers only DHIP_SEARCH_METHOD.
 */
export function parseDhipRequest(buf: Buffer): DhipRequest | null {
  const json = parseDhipPacket(buf)?.json;
  if (!json) return null;
  const method = Object.hasOwn(json, 'method') ? json['method'] : undefined;
  if (typeof method !== 'string' || method.length === 0) return null;
  const params = Object.hasOwn(json, 'params') ? json['params'] : undefined;
  if (params !== undefined && params !== null && !isObject(params)) return null;
  return { method, params: isObject(params) ? params : null };
}

/** JSON values a simulated deviceInfo may hold. */
export type DhipJson = string | number | boolean | null | readonly DhipJson[] | { readonly [key: string]: DhipJson };

/** A uint64 LE whose high half is zero, as DHIP's two length fields are written. */
function lengthField(length: number): Buffer {
  const field = Buffer.alloc(8);
  field.writeUInt32LE(length, 0);
  return field;
}

/**
 * A `client.notifyDevInfo` reply as a device sends it:
 * `{"mac":…,"method":"client.notifyDevInfo","params":{"deviceInfo":{…}}}` followed by `\n\0`
 * (the tail `0a 00` of the Haicam capture), both lengths counting the tail (UniversalScanner
 * requires length = datagram size − 32), session and request ids 0 (the header table of
 * agent/protocols/dhip.ts). `deviceInfo` keys keep their order. Throws a RangeError when `mac` is
 * not a MAC address or the packet would exceed DHIP_MAX_PACKET_BYTES.
 */
export function buildDhipReply(deviceInfo: { readonly [key: string]: DhipJson }, mac: string): Buffer {
  const normalised = normaliseMac(mac);
  if (!normalised) throw new RangeError(`DHIP reply MAC must be a MAC address, got ${JSON.stringify(mac)}`);
  const json = JSON.stringify({ mac: normalised, method: DHIP_NOTIFY_METHOD, params: { deviceInfo } });
  const body = Buffer.from(`${json}\n\0`, 'utf8');
  const headerLength = Buffer.alloc(4);
  headerLength.writeUInt32LE(DHIP_HEADER_LENGTH, 0);
  const ids = Buffer.alloc(8);
  const packet = Buffer.concat([headerLength, Buffer.from(DHIP_MAGIC, 'latin1'), ids, lengthField(body.length), lengthField(body.length), body]);
  if (packet.length > DHIP_MAX_PACKET_BYTES) throw new RangeError(`DHIP reply would be ${packet.length} bytes, over ${DHIP_MAX_PACKET_BYTES}`);
  return packet;
}
