/**
 * A flooding device, for the flood lab test only (tests/integration/flood.test.ts starts it in a
 * lab namespace for one scan and stops it; it is no profile, so no other lab test ever sees it):
 * `node flooder.js --ip IP --mac MAC --waves W --per-wave N --gap-ms G --delay-ms D --ready-file FILE`.
 *
 * It answers each discovery request (SADP inquiry, DHIP search, WS-Discovery Probe, SSDP M-SEARCH,
 * mDNS query) with a burst of valid-looking replies to the requester, starting D ms after the
 * request: W waves of N replies sent back to back, G ms apart, each reply with a new identity (serial, endpoint, USN, instance name): the shape of a broken or
 * hostile device that would make an unbounded agent keep everything. One burst per protocol and
 * requester. Waves rather than an even rate: a busy machine delays timers, and a wave is sent
 * whole however late it starts, so each wave arrives at thousands of replies a second. SIGTERM
 * prints `SENT {"sadp":…,…} MS <first to last send>` and exits 0.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { DHIP_MULTICAST_ADDRESS, DHIP_PORT, DHIP_SEARCH_METHOD } from '../../../agent/protocols/dhip.js';
import { SADP_MULTICAST_ADDRESS, SADP_PORT } from '../../../agent/protocols/sadp.js';
import { buildDhipReply, parseDhipRequest } from './codecs/dhip-device.js';
import { buildSadpProbeMatch, parseSadpProbe } from './codecs/sadp-device.js';
import { instanceResponse, MDNS_GROUP, MDNS_PORT } from './responders/mdns.js';
import { sadpMac } from './responders/sadp.js';
import { SSDP_GROUP, SSDP_PORT } from './responders/ssdp.js';
import { buildProbeMatches, WSD_GROUP, WSD_PORT } from './responders/ws-discovery.js';
import { parseSoap, text } from './xml.js';

interface Options {
  ip: string;
  mac: string;
  waves: number;
  perWave: number;
  gapMs: number;
  delayMs: number;
  readyFile: string;
}

function options(): Options {
  const args = process.argv.slice(2);
  const value = (name: string): string => {
    const at = args.indexOf(`--${name}`);
    const v = at >= 0 ? args[at + 1] : undefined;
    if (v === undefined) {
      process.stderr.write(`flooder: --${name} is required\n`);
      process.exit(2);
    }
    return v;
  };
  return { ip: value('ip'), mac: value('mac'), waves: Number(value('waves')), perWave: Number(value('per-wave')), gapMs: Number(value('gap-ms')), delayMs: Number(value('delay-ms')), readyFile: value('ready-file') };
}

/**
 * For a request: what builds the reply with identity number `n` (the request is read once, so a
 * burst costs little more than its sends), or null when the datagram is no request to answer.
 */
type Replier = (request: Buffer) => ((n: number) => Buffer) | null;

interface Protocol {
  name: string;
  port: number;
  group: string;
  /** Replies go to the group, not to the requester (mDNS answers by multicast, RFC 6762 §6). */
  multicastReplies?: boolean;
  reply: Replier;
}

function protocols(o: Options): Protocol[] {
  const serial = (n: number): string => `FLOOD${String(n).padStart(9, '0')}`;
  return [
    {
      name: 'sadp',
      port: SADP_PORT,
      group: SADP_MULTICAST_ADDRESS,
      reply(request) {
        const probe = parseSadpProbe(request);
        if (!probe) return null;
        return (n) => buildSadpProbeMatch({
          Uuid: probe.uuid,
          Types: probe.types,
          DeviceType: '141945',
          DeviceDescription: 'DS-2CD2143G2-I',
          DeviceSN: `DS-2CD2143G2-I${serial(n)}`,
          MAC: sadpMac(o.mac),
          IPv4Address: o.ip,
          SoftwareVersion: 'V5.7.3build 220112',
        });
      },
    },
    {
      name: 'dhip',
      port: DHIP_PORT,
      group: DHIP_MULTICAST_ADDRESS,
      reply(request) {
        if (parseDhipRequest(request)?.method !== DHIP_SEARCH_METHOD) return null;
        return (n) => buildDhipReply({ DeviceClass: 'IPC', DeviceType: 'IPC-HDW1431T1-S4', SerialNo: serial(n), Vendor: 'General', IPv4Address: { IPAddress: o.ip } }, o.mac);
      },
    },
    {
      name: 'ws-discovery',
      port: WSD_PORT,
      group: WSD_GROUP,
      reply(request) {
        const soap = parseSoap(request.toString('utf8'));
        const messageId = soap?.operation === 'Probe' ? text(soap.header, 'MessageID') : undefined;
        if (messageId === undefined) return null;
        return (n) => Buffer.from(buildProbeMatches(
          {
            endpointReference: `urn:uuid:f1000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`,
            types: ['dn:NetworkVideoTransmitter', 'tds:Device'],
            scopes: ['onvif://www.onvif.org/type/video_encoder', `onvif://www.onvif.org/name/FLOOD%20${serial(n)}`],
            xaddrs: [`http://${o.ip}/onvif/device_service`],
            metadataVersion: 1,
            answerTypes: '*',
          },
          messageId,
          { instanceId: 1, messageNumber: n },
        ), 'utf8');
      },
    },
    {
      name: 'ssdp',
      port: SSDP_PORT,
      group: SSDP_GROUP,
      reply(request) {
        if (!request.toString('latin1').startsWith('M-SEARCH * HTTP/1.1')) return null;
        return (n) => Buffer.from(`${[
          'HTTP/1.1 200 OK',
          'CACHE-CONTROL: max-age=1800',
          'EXT:',
          `LOCATION: http://${o.ip}:49152/description.xml`,
          'SERVER: Linux/3.10 UPnP/1.0 FLOOD/1.0',
          'ST: upnp:rootdevice',
          `USN: uuid:f1000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}::upnp:rootdevice`,
        ].join('\r\n')}\r\n\r\n`, 'latin1');
      },
    },
    {
      name: 'mdns',
      port: MDNS_PORT,
      group: MDNS_GROUP,
      multicastReplies: true,
      reply(request) {
        // A query (QR bit clear) asking at least one question.
        if (request.length < 12 || (request[2]! & 0x80) !== 0 || request.readUInt16BE(4) === 0) return null;
        return (n) => instanceResponse({ service: '_http._tcp', name: `flood ${serial(n)}`, host: `flood-${n}.local`, port: 80, txt: [Buffer.from(`sn=${serial(n)}`)], addresses: [o.ip] });
      },
    },
  ];
}

async function main(): Promise<void> {
  const o = options();
  const sent: Record<string, number> = {};
  const timers = new Set<NodeJS.Timeout>();
  const sockets: Socket[] = [];
  let identity = 0;
  let first = 0;
  let last = 0;

  const burst = (socket: Socket, protocol: Protocol, reply: (n: number) => Buffer, to: RemoteInfo): void => {
    let waves = 0;
    const wave = (): void => {
      first ||= Date.now();
      for (let i = 0; i < o.perWave; i++) socket.send(reply(++identity), to.port, to.address);
      last = Date.now();
      sent[protocol.name] = (sent[protocol.name] ?? 0) + o.perWave;
      if (++waves >= o.waves) return;
      // A gap of 0 yields to the sockets only (setImmediate): timers come late on a busy machine.
      if (o.gapMs > 0) later(wave, o.gapMs);
      else setImmediate(wave);
    };
    later(wave, o.delayMs);
  };
  const later = (fn: () => void, ms: number): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };

  for (const protocol of protocols(o)) {
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    sockets.push(socket);
    const bursting = new Set<string>();
    socket.on('error', () => undefined);
    socket.on('message', (request, rinfo) => {
      const key = `${rinfo.address}:${rinfo.port}`;
      if (bursting.has(key)) return;
      const reply = protocol.reply(request);
      if (reply === null) return;
      bursting.add(key);
      burst(socket, protocol, reply, protocol.multicastReplies ? { ...rinfo, address: protocol.group, port: protocol.port } : rinfo);
    });
    await new Promise<void>((resolve) => socket.bind(protocol.port, '0.0.0.0', resolve));
    socket.addMembership(protocol.group, o.ip);
    socket.setMulticastInterface(o.ip);
  }

  process.on('SIGTERM', () => {
    for (const t of timers) clearTimeout(t);
    for (const s of sockets) s.close();
    process.stdout.write(`SENT ${JSON.stringify(sent)} MS ${last - first}\n`, () => process.exit(0));
  });
  writeFileSync(o.readyFile, String(process.pid));
  process.stdout.write('READY\n');
}

void main();
