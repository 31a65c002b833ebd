/**
 * A hostile device (profile key `hostile`): it hears SADP inquiries and DHIP searches like a
 * Hikvision or Dahua device, and unicast WS-Discovery probes, and answers each with a burst of
 * replies a scanner must survive: binary garbage, truncated and oversized messages, XML with a DTD
 * and entity expansion, lying DHIP length fields, the request echoed back, WS-Discovery answers
 * for another client, and duplicates. Its would-be-valid SADP and DHIP replies (the profile's
 * `sadpClaim`/`dhipClaim`, which copy a real device's identity) only ever come from a port other
 * than the service's, or over the size cap: a scanner that checks neither would record a
 * Hikvision or Dahua device that is not there.
 *
 * Its WS-Discovery socket is bound to the device's own address, so it answers unicast probes only
 * (the agent probes every TARGET by unicast). It stays silent to multicast probes, so the lab's
 * simulator-fidelity tests, which probe by multicast and expect only well-formed answers, never
 * hear it. Every valid reply it sends is a WS-Discovery ProbeMatches with the generic defaults of
 * the HappyTime ONVIF server (`wsDiscovery`), sent `duplicates` times, whose XAddr names another
 * host.
 */
import { randomUUID } from 'node:crypto';
import type { RemoteInfo } from 'node:dgram';
import { DHIP_HEADER_LENGTH, DHIP_MULTICAST_ADDRESS, DHIP_PORT, DHIP_SEARCH_METHOD } from '../../../../agent/protocols/dhip.js';
import { buildDhipReply, parseDhipRequest } from '../codecs/dhip-device.js';
import { SADP_MULTICAST_ADDRESS, SADP_PORT, SADP_PROBE_MATCH_ELEMENTS, type SadpProbeMatchElements } from '../../../../agent/protocols/sadp.js';
import { buildSadpProbeMatch, parseSadpProbe } from '../codecs/sadp-device.js';
import type { WsDiscoveryProfile } from '../profile.js';
import { ProfileError } from '../profile.js';
import { ServiceSocket } from '../udp-service.js';
import { parseSoap, text } from '../xml.js';
import type { DhipDeviceInfo } from './dhip.js';
import type { Responder, ResponderContext, RunningResponder } from './types.js';
import { buildProbeMatches, WSD_PORT } from './ws-discovery.js';

/** Profile key `hostile`. */
export interface HostileProfile {
  /** Where each value comes from (a URL or `owner/repo path@commit`, or "invented"). */
  source?: string[];
  /** ProbeMatch elements of the SADP reply it fakes (any element, MAC and IPv4Address included). */
  sadpClaim: SadpProbeMatchElements;
  /** The MAC and deviceInfo of the DHIP reply it fakes. */
  dhipClaim: { mac: string; deviceInfo: DhipDeviceInfo };
  /** Its WS-Discovery ProbeMatch (answerTypes and maxDelayMs are not used). */
  wsDiscovery: WsDiscoveryProfile;
  /** How many copies of each duplicated reply it sends. */
  duplicates: number;
}

/** Bytes added to a faked reply to take it over the agent's 16 KiB cap, still under one UDP datagram. */
const OVERSIZE_PADDING = 40_000;
const ELEMENT_NAMES: ReadonlySet<string> = new Set(SADP_PROBE_MATCH_ELEMENTS);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function checkHostileProfile(v: unknown, where: string): HostileProfile {
  if (!isObject(v)) throw new ProfileError(`${where}: expected an object`);
  if (!isObject(v.sadpClaim)) throw new ProfileError(`${where}.sadpClaim: expected an object`);
  for (const [name, value] of Object.entries(v.sadpClaim)) {
    if (!ELEMENT_NAMES.has(name) || typeof value !== 'string') throw new ProfileError(`${where}.sadpClaim.${name}: expected a ProbeMatch element with a string value`);
  }
  const dhip = v.dhipClaim;
  if (!isObject(dhip) || typeof dhip.mac !== 'string' || !isObject(dhip.deviceInfo)) throw new ProfileError(`${where}.dhipClaim: expected {mac, deviceInfo}`);
  const wsd = v.wsDiscovery;
  if (!isObject(wsd) || typeof wsd.endpointReference !== 'string' || !Array.isArray(wsd.types) || !Array.isArray(wsd.scopes) || !Array.isArray(wsd.xaddrs)) {
    throw new ProfileError(`${where}.wsDiscovery: expected {endpointReference, types, scopes, xaddrs, metadataVersion}`);
  }
  if (typeof v.duplicates !== 'number' || !Number.isInteger(v.duplicates) || v.duplicates < 1 || v.duplicates > 10) throw new ProfileError(`${where}.duplicates: expected an integer 1..10`);
  return v as unknown as HostileProfile;
}

/** DHIP framing by hand (the codec's framer is private): header length, magic, both lengths. */
function frameDhip(body: Buffer): Buffer {
  const header = Buffer.alloc(DHIP_HEADER_LENGTH);
  header.writeUInt32LE(DHIP_HEADER_LENGTH, 0x00);
  header.write('DHIP', 0x04, 'latin1');
  header.writeUInt32LE(body.length, 0x10);
  header.writeUInt32LE(body.length, 0x18);
  return Buffer.concat([header, body]);
}

function withWord(packet: Buffer, offset: number, value: number): Buffer {
  const copy = Buffer.from(packet);
  copy.writeUInt32LE(value >>> 0, offset);
  return copy;
}

/** The SADP burst answering one inquiry: [what, bytes] sent from port 37020. */
function sadpBurst(cfg: HostileProfile, inquiry: Buffer, uuid: string): Array<[string, Buffer]> {
  const claim = buildSadpProbeMatch({ ...cfg.sadpClaim, Uuid: uuid, Types: 'inquiry' });
  const claimText = claim.toString('utf8');
  return [
    ['binary garbage', Buffer.from([0x00, 0xff, 0x13, 0x37, 0x80, 0x81, 0x3c, 0x3e])],
    ['not XML', Buffer.from('HTTP/1.1 200 OK\r\n\r\n<ProbeMatch')],
    ['truncated ProbeMatch', claim.subarray(0, Math.floor(claim.length / 2))],
    ['ProbeMatch with no identifying element', Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<ProbeMatch><Uuid>${uuid}</Uuid>\n<Types>inquiry</Types>\n</ProbeMatch>\n`)],
    [
      'ProbeMatch with a DTD and entity expansion',
      Buffer.from(`<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "DS-2CD2385G1-I"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><ProbeMatch><DeviceDescription>&b;</DeviceDescription><DeviceSN>&b;</DeviceSN></ProbeMatch>`),
    ],
    ['oversized ProbeMatch', Buffer.from(claimText.replace('</ProbeMatch>', `<Padding>${'A'.repeat(OVERSIZE_PADDING)}</Padding>\n</ProbeMatch>`))],
    ['its inquiry echoed back', inquiry],
  ];
}

/** The DHIP burst answering one search: [what, bytes] sent from port 37810. */
function dhipBurst(cfg: HostileProfile, search: Buffer): Array<[string, Buffer]> {
  const claim = buildDhipReply(cfg.dhipClaim.deviceInfo, cfg.dhipClaim.mac);
  const bodyLength = claim.readUInt32LE(0x10);
  const oversized = JSON.stringify({
    mac: cfg.dhipClaim.mac,
    method: 'client.notifyDevInfo',
    params: { deviceInfo: { ...cfg.dhipClaim.deviceInfo, Padding: 'A'.repeat(OVERSIZE_PADDING) } },
  });
  return [
    ['shorter than a header', claim.subarray(0, 10)],
    ['wrong magic', Buffer.concat([claim.subarray(0, 4), Buffer.from('DHIX'), claim.subarray(8)])],
    ['header length not 0x20', withWord(claim, 0x00, 0x24)],
    ['lying length: shorter than declared', claim.subarray(0, claim.length - 40)],
    ['lying length: JSON after the declared body', Buffer.concat([claim, Buffer.from('{"method":"client.notifyDevInfo"}')])],
    ['the two length fields differ', withWord(claim, 0x18, bodyLength + 1)],
    ['high half of a length set', withWord(claim, 0x14, 1)],
    ['body is not JSON', frameDhip(Buffer.from('<html>client.notifyDevInfo</html>\n'))],
    ['body is a JSON array', frameDhip(Buffer.from('[{"method":"client.notifyDevInfo"}]\n'))],
    ['its search echoed back', search],
    ['oversized notifyDevInfo', frameDhip(Buffer.from(`${oversized}\n\0`))],
  ];
}

/** The WS-Discovery burst answering one unicast probe (all but the duplicates). */
function wsdBurst(cfg: HostileProfile, messageId: string, seq: { instanceId: number; messageNumber: number }): Array<[string, Buffer]> {
  const valid = buildProbeMatches(cfg.wsDiscovery, messageId, seq);
  return [
    ['not XML', Buffer.from('\u0000\u00ffnot xml <<<')],
    ['truncated ProbeMatches', Buffer.from(valid.slice(0, Math.floor(valid.length / 2)))],
    [
      'ProbeMatches with a DTD and entity expansion',
      Buffer.from(valid.replace('<env:Envelope', '<!DOCTYPE env:Envelope [<!ENTITY a "IP-Camera"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]><env:Envelope').replace('name/IP-Camera', 'name/&b;')),
    ],
    ['oversized, thousands of unclosed elements', Buffer.from(`<?xml version="1.0"?>${'<x>'.repeat(15_000)}`)],
    ['ProbeMatches for another client', Buffer.from(buildProbeMatches(cfg.wsDiscovery, `urn:uuid:${randomUUID()}`, seq))],
  ];
}

export const hostileResponder: Responder = {
  key: 'hostile',
  description: 'hostile device: malformed, oversized, lying and duplicate SADP/DHIP/WS-Discovery replies',
  async start(ctx: ResponderContext): Promise<RunningResponder> {
    const cfg = checkHostileProfile(ctx.profile.hostile, `profile ${ctx.profile.name}.hostile`);
    const log = ctx.log.child('hostile');
    const ip = ctx.profile.ip;
    const seq = { instanceId: Math.floor(Date.now() / 1000), messageNumber: 0 };
    const send = (socket: ServiceSocket, burst: Array<[string, Buffer]>, to: RemoteInfo, protocol: string): void => {
      for (const [what, bytes] of burst) socket.reply(bytes, to, `${protocol}: ${what}`);
    };

    // The valid-looking SADP/DHIP replies leave from this socket: an ephemeral port, not 37020/37810.
    const wrongPort = await ServiceSocket.open({ port: 0, ip, log, onMessage: () => undefined });

    const sadpService = await ServiceSocket.open({
      port: SADP_PORT,
      ip,
      group: SADP_MULTICAST_ADDRESS,
      log,
      onMessage(msg, rinfo, socket) {
        const probe = parseSadpProbe(msg);
        if (!probe) return;
        send(socket, sadpBurst(cfg, msg, probe.uuid), rinfo, 'SADP');
        const claim = buildSadpProbeMatch({ ...cfg.sadpClaim, Uuid: probe.uuid, Types: probe.types });
        for (let i = 0; i < cfg.duplicates; i++) wrongPort.reply(claim, rinfo, 'SADP: valid ProbeMatch from a wrong source port');
      },
    });

    const dhipService = await ServiceSocket.open({
      port: DHIP_PORT,
      ip,
      group: DHIP_MULTICAST_ADDRESS,
      log,
      onMessage(msg, rinfo, socket) {
        if (parseDhipRequest(msg)?.method !== DHIP_SEARCH_METHOD) return;
        send(socket, dhipBurst(cfg, msg), rinfo, 'DHIP');
        const claim = buildDhipReply(cfg.dhipClaim.deviceInfo, cfg.dhipClaim.mac);
        for (let i = 0; i < cfg.duplicates; i++) wrongPort.reply(claim, rinfo, 'DHIP: valid notifyDevInfo from a wrong source port');
      },
    });

    const wsdService = await ServiceSocket.open({
      port: WSD_PORT,
      ip,
      log,
      onMessage(msg, rinfo, socket) {
        const soap = parseSoap(msg.toString('utf8'));
        const messageId = soap?.operation === 'Probe' ? text(soap.header, 'MessageID') : undefined;
        if (!messageId) return;
        send(socket, wsdBurst(cfg, messageId, seq), rinfo, 'WS-Discovery');
        seq.messageNumber += 1;
        const valid = Buffer.from(buildProbeMatches(cfg.wsDiscovery, messageId, seq));
        for (let i = 0; i < cfg.duplicates; i++) socket.reply(valid, rinfo, 'WS-Discovery: valid ProbeMatches, duplicated');
      },
    });

    const services = [sadpService, dhipService, wsdService, wrongPort];
    return {
      endpoints: services.map((s) => s.endpoint),
      close: async () => {
        await Promise.all(services.map((s) => s.close()));
      },
    };
  },
};
