/**
 * mDNS / DNS-SD responder (RFC 6762, RFC 6763) publishing the profile's service instances with
 * bonjour-service, bound to 0.0.0.0:5353 and joined to 224.0.0.251 on the device's interface.
 * It answers queries by multicast, also legacy ones from other source ports (seen with tcpdump in a
 * network-namespace lab: nmap 7.93 queried from a random port and got its answer only by multicast),
 * which is enough for the agent: it queries from port 5353. Instances are announced without
 * probing first (`probe: false`), so the device is ready at once. A device with the `ipv6` key
 * publishes the same instances over IPv6 too, on [FF02::FB]:5353 on eth0 (RFC 6762 §3), from its
 * link-local address, with its A and AAAA records (bonjour-service names every address of the
 * namespace's interfaces).
 *
 * A profile with `hostile` instead answers every query with malformed packets (random bytes, a
 * truncated header, a compression-pointer loop, counts the packet does not hold) and with two
 * well-formed answers that test the agent's bounds: a TXT record with duplicate, boolean, empty,
 * over-long, control-character and invalid keys and more keys than the agent keeps, and A
 * records outside the lab subnet.
 */
import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { RemoteInfo } from 'node:dgram';
import Bonjour from 'bonjour-service';
import type { SimLog } from '../log.js';
import type { LabProfile } from '../profile.js';
import { ServiceSocket } from '../udp-service.js';
import type { Responder, ResponderContext, RunningResponder } from './types.js';

export const MDNS_GROUP = '224.0.0.251';
export const MDNS_GROUP_IPV6 = 'ff02::fb';
export const MDNS_PORT = 5353;
const PUBLISH_TIMEOUT_MS = 3000;

export interface MdnsService {
  /** Instance name (RFC 6763 §4.1), e.g. `AXIS P3245-LV - ACCC8E123456`. */
  name: string;
  /** `_<service>._tcp` or `_<service>._udp`. */
  type: string;
  port: number;
  txt?: Record<string, string>;
}

export interface MdnsProfile {
  /** Where the values come from (public source, or "invented"). */
  source?: string[];
  /** Host name of the SRV and A records, e.g. `axis-accc8e123456.local`. */
  host: string;
  services: MdnsService[];
}

export interface HostileMdnsProfile {
  hostile: {
    /** IPv4 address outside the lab subnet that the hostile answers name. */
    offSubnetAddress: string;
  };
}

type MdnsSection = MdnsProfile | HostileMdnsProfile;

const SERVICE_TYPE = /^_([a-z0-9][a-z0-9-]{0,14})\._(tcp|udp)$/;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkSection(v: unknown, where: string): MdnsSection {
  if (!isObj(v)) throw new Error(`${where}: expected an object`);
  if (v.hostile !== undefined) {
    if (!isObj(v.hostile) || typeof v.hostile.offSubnetAddress !== 'string') throw new Error(`${where}.hostile: expected {offSubnetAddress}`);
    return v as unknown as HostileMdnsProfile;
  }
  if (typeof v.host !== 'string' || !v.host.endsWith('.local')) throw new Error(`${where}.host: expected a name ending in .local`);
  if (!Array.isArray(v.services) || v.services.length === 0) throw new Error(`${where}.services: expected a non-empty list`);
  v.services.forEach((s: unknown, i) => {
    if (!isObj(s) || typeof s.name !== 'string' || typeof s.type !== 'string' || !SERVICE_TYPE.test(s.type) || typeof s.port !== 'number' || s.port < 1) {
      throw new Error(`${where}.services[${i}]: expected {name, type: "_x._tcp", port >= 1, txt?}`);
    }
    if (s.txt !== undefined && (!isObj(s.txt) || !Object.values(s.txt).every((t) => typeof t === 'string'))) {
      throw new Error(`${where}.services[${i}].txt: expected key → string`);
    }
  });
  return v as unknown as MdnsProfile;
}

/** One bonjour-service publisher of every service of `cfg`; resolves once each instance is announced. */
async function publish(options: object, cfg: MdnsProfile, log: SimLog, family: string): Promise<Bonjour> {
  // bonjour-service types its options as a ServiceConfig; they really go to multicast-dns.
  const bonjour = new Bonjour(options as Partial<Bonjour.ServiceConfig>, (err: unknown) => log.warn(`mdns (${family}) send failed: ${String(err)}`));
  const socket = (bonjour as unknown as { server: { mdns: EventEmitter } }).server.mdns;
  socket.on('error', (err: Error) => log.warn(`mdns (${family}) socket error: ${err.message}`));
  socket.on('warning', (err: Error) => log.warn(`mdns (${family}) malformed packet ignored: ${err.message}`));
  socket.on('query', (query: { questions: { name: string; type: string }[] }, rinfo: RemoteInfo) =>
    log.info(`query ${query.questions.map((q) => `${q.name} ${q.type}`).join(', ')} from ${rinfo.address}:${rinfo.port}`),
  );

  const published = cfg.services.map((s) => {
    const [, name, protocol] = SERVICE_TYPE.exec(s.type) as RegExpExecArray;
    const service = bonjour.publish({ name: s.name, type: name as string, protocol: protocol as 'tcp' | 'udp', port: s.port, host: cfg.host, txt: s.txt, probe: false });
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`mdns (${family}): ${s.name} ${s.type} not announced within ${PUBLISH_TIMEOUT_MS} ms`)), PUBLISH_TIMEOUT_MS);
      service.once('up', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  });
  await Promise.all(published);
  log.info(`published (${family}) ${cfg.services.map((s) => `"${s.name}" ${s.type}:${s.port}`).join(', ')} as ${cfg.host}`);
  return bonjour;
}

async function startPublisher(ctx: ResponderContext, cfg: MdnsProfile, log: SimLog): Promise<RunningResponder> {
  const publishers = [await publish({ interface: ctx.profile.ip, bind: '0.0.0.0' }, cfg, log, 'IPv4')];
  if (ctx.profile.ipv6) {
    publishers.push(await publish({ type: 'udp6', ip: MDNS_GROUP_IPV6, interface: '::%eth0', bind: `${MDNS_GROUP_IPV6}%eth0` }, cfg, log, 'IPv6'));
  }
  const types = cfg.services.map((s) => s.type).join(' ');
  return {
    endpoints: [
      `mdns udp 0.0.0.0:${MDNS_PORT} + group ${MDNS_GROUP} on ${ctx.profile.ip}: ${types}`,
      ...(ctx.profile.ipv6 ? [`mdns udp [${MDNS_GROUP_IPV6}%eth0]:${MDNS_PORT} + group ${MDNS_GROUP_IPV6} on eth0: ${types}`] : []),
    ],
    close: () => Promise.all(publishers.map((bonjour) => new Promise<void>((resolve) => bonjour.unpublishAll(() => bonjour.destroy(() => resolve()))))).then(() => undefined),
  };
}

// --- A minimal DNS message encoder (RFC 1035 §4.1), names uncompressed, for the hostile answers.

const TYPE = { A: 1, PTR: 12, TXT: 16, SRV: 33 } as const;
const CLASS_IN = 1;

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function dnsName(name: string): Buffer {
  return Buffer.concat([...name.split('.').map((label) => Buffer.concat([Buffer.from([Buffer.byteLength(label)]), Buffer.from(label)])), Buffer.from([0])]);
}

function record(name: string, type: number, data: Buffer): Buffer {
  const ttl = Buffer.alloc(4);
  ttl.writeUInt32BE(120);
  return Buffer.concat([dnsName(name), u16(type), u16(CLASS_IN), ttl, u16(data.length), data]);
}

/** An mDNS response (RFC 6762 §18: ID 0, QR and AA set) with these answer and additional records. */
function response(answers: Buffer[], additionals: Buffer[]): Buffer {
  return Buffer.concat([u16(0), u16(0x8400), u16(0), u16(answers.length), u16(0), u16(additionals.length), ...answers, ...additionals]);
}

/** One service instance as an mDNS response: PTR answer, SRV, TXT and A records as additionals (RFC 6763 §12.1). */
export function instanceResponse(opts: { service: string; name: string; host: string; port: number; txt: Buffer[]; addresses: string[] }): Buffer {
  const fqdn = `${opts.name}.${opts.service}.local`;
  const srv = Buffer.concat([u16(0), u16(0), u16(opts.port), dnsName(opts.host)]);
  const txt = Buffer.concat(opts.txt.map((s) => Buffer.concat([Buffer.from([s.length]), s])));
  return response(
    [record(`${opts.service}.local`, TYPE.PTR, dnsName(fqdn))],
    [
      record(fqdn, TYPE.SRV, srv),
      record(fqdn, TYPE.TXT, txt),
      ...opts.addresses.map((a) => record(opts.host, TYPE.A, Buffer.from(a.split('.').map(Number)))),
    ],
  );
}

/** TXT strings breaking every rule a reader must cope with (RFC 6763 §6). */
function hostileTxt(): Buffer[] {
  return [
    'txtvers=1',
    'Vendor=First',
    'vendor=Second',
    'bool',
    '',
    'dotted.key=x',
    `long=${'L'.repeat(250)}`,
    'ctl=a\u0000b\u001bc',
    ...Array.from({ length: 40 }, (_, i) => `k${String(i).padStart(2, '0')}=${i}`),
  ].map((s) => Buffer.from(s, 'latin1'));
}

async function startHostile(ctx: ResponderContext, cfg: HostileMdnsProfile['hostile'], log: SimLog): Promise<RunningResponder> {
  const { ip } = ctx.profile;
  const group = { address: MDNS_GROUP, port: MDNS_PORT, family: 'IPv4', size: 0 } as RemoteInfo;
  const answers = (): [string, Buffer][] => [
    ['random bytes', randomBytes(300)],
    ['truncated header', Buffer.from([0, 0, 0x84, 0, 0])],
    // An answer whose name is a compression pointer to itself (offset 12).
    ['pointer loop', Buffer.concat([u16(0), u16(0x8400), u16(0), u16(1), u16(0), u16(0), Buffer.from([0xc0, 0x0c]), u16(TYPE.A), u16(CLASS_IN)])],
    ['counts beyond the packet', Buffer.concat([u16(0), u16(0x8400), u16(0), u16(0xffff), u16(0xffff), u16(0xffff), Buffer.from([3, 0x61, 0x62])])],
    ['TXT bounds, one address off the subnet', instanceResponse({ service: '_http._tcp', name: 'hostmc web', host: 'hostmc.local', port: 8080, txt: hostileTxt(), addresses: [ip, cfg.offSubnetAddress] })],
    ['only an address off the subnet', instanceResponse({ service: '_rtsp._tcp', name: 'hostmc stream', host: 'elsewhere.local', port: 554, txt: [], addresses: [cfg.offSubnetAddress] })],
  ];
  const service = await ServiceSocket.open({
    port: MDNS_PORT,
    ip,
    group: MDNS_GROUP,
    log,
    onMessage(msg: Buffer, rinfo: RemoteInfo, socket: ServiceSocket) {
      // Only queries (QR bit clear, RFC 1035 §4.1.1) get the treatment; answers of other devices are ignored.
      if (msg.length < 12 || (msg[2] as number) & 0x80) return;
      log.info(`query (${msg.length} bytes) from ${rinfo.address}:${rinfo.port}`);
      for (const [what, bytes] of answers()) socket.reply(bytes, group, `hostile mdns: ${what}`);
    },
  });
  return { endpoints: [service.endpoint], close: () => service.close() };
}

export const mdnsResponder: Responder = {
  key: 'mdns',
  description: 'mDNS / DNS-SD responder (UDP 5353, 224.0.0.251)',
  async start(ctx: ResponderContext): Promise<RunningResponder> {
    const cfg = checkSection((ctx.profile as LabProfile).mdns, `profile ${ctx.profile.name}.mdns`);
    const log = ctx.log.child('mdns');
    return 'hostile' in cfg ? startHostile(ctx, cfg.hostile, log) : startPublisher(ctx, cfg, log);
  },
};
