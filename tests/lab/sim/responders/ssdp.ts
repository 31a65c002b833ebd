/**
 * SSDP root device (UPnP Device Architecture 1.1 §1) and its description (§2.3).
 *
 * Listens on UDP 1900 joined to 239.255.255.250 on the device's interface. Each M-SEARCH
 * (`MAN: "ssdp:discover"`, an ST) gets one unicast `HTTP/1.1 200 OK` per matching target, from
 * port 1900 to the sender (§1.3.3): for `ssdp:all` the root device, the UDN, the device type and
 * each service type; for `upnp:rootdevice` / a UDN / a type only that one. With
 * `notifyIntervalMs` the device also multicasts `NOTIFY ssdp:alive` for each of them (§1.2.2),
 * with the `ipv6` key to [FF02::C]:1900 as well.
 * The description is served at LOCATION through the shared HTTP host.
 *
 * A profile with `hostile` instead answers every M-SEARCH with garbage, junk headers and
 * LOCATIONs that must not be followed (another host, a disguised other host, credentials, a
 * redirect), or that must cost no more than their caps (an endless description, a slow drip, an
 * entity bomb), on its own HTTP server; and it multicasts NOTIFYs, one valid (pointing at another
 * host) and one garbage.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { RemoteInfo } from 'node:dgram';
import type { Socket } from 'node:net';
import { excerpt, type SimLog } from '../log.js';
import type { LabProfile } from '../profile.js';
import { ServiceSocket } from '../udp-service.js';
import { esc } from '../xml.js';
import type { Responder, ResponderContext, RunningResponder } from './types.js';

export const SSDP_GROUP = '239.255.255.250';
export const SSDP_GROUP_IPV6 = 'ff02::c';
export const SSDP_PORT = 1900;
const MAX_AGE_SECONDS = 1800;

export interface SsdpProfile {
  /** Where the values come from (public source, or "invented"). */
  source?: string[];
  /** SERVER header of every answer and announcement. */
  server: string;
  /** Unique device name, `uuid:…`. */
  udn: string;
  /** UPnP device type URN of the root device. */
  deviceType: string;
  /** Service type URNs the device answers for besides the root device, the UDN and the device type. */
  serviceTypes?: string[];
  /** Extra headers sent with every answer (OPT, 01-NLS, X-User-Agent…), as the vendor sends them. */
  headers?: Record<string, string>;
  /** Where the description is served, on the device's own address. */
  location: { port: number; path: string };
  /** HTTP Server header of the description answer; absent: the port's own (shared with other responders). */
  httpServer?: string;
  /** Root-device elements after deviceType, in document order (friendlyName, manufacturer, modelName…). */
  description: Record<string, string>;
  /** Answers wait a random 0..min(maxDelayMs, MX s), as UDA 1.1 §1.3.3 asks; default 0. */
  maxDelayMs?: number;
  /** Multicast NOTIFY ssdp:alive every this many ms; absent: the device only answers. */
  notifyIntervalMs?: number;
}

export interface HostileSsdpProfile {
  hostile: {
    /** Port of the device's own (misbehaving) HTTP server. */
    httpPort: number;
    /** Another lab host the LOCATIONs point at; the agent must never fetch from it. */
    otherHost: string;
    notifyIntervalMs: number;
  };
}

type SsdpSection = SsdpProfile | HostileSsdpProfile;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkSection(v: unknown, where: string): SsdpSection {
  if (!isObj(v)) throw new Error(`${where}: expected an object`);
  if (v.hostile !== undefined) {
    const h = v.hostile;
    if (!isObj(h) || typeof h.httpPort !== 'number' || typeof h.otherHost !== 'string' || typeof h.notifyIntervalMs !== 'number') {
      throw new Error(`${where}.hostile: expected {httpPort, otherHost, notifyIntervalMs}`);
    }
    return v as unknown as HostileSsdpProfile;
  }
  for (const key of ['server', 'udn', 'deviceType']) {
    if (typeof v[key] !== 'string' || v[key] === '') throw new Error(`${where}.${key}: expected a non-empty string`);
  }
  if (!/^uuid:/.test(v.udn as string)) throw new Error(`${where}.udn: expected uuid:…`);
  const location = v.location;
  if (!isObj(location) || typeof location.port !== 'number' || typeof location.path !== 'string' || !location.path.startsWith('/')) {
    throw new Error(`${where}.location: expected {port, path: "/…"}`);
  }
  if (!isObj(v.description) || !Object.entries(v.description).every(([k, val]) => /^[A-Za-z][A-Za-z0-9]*$/.test(k) && typeof val === 'string')) {
    throw new Error(`${where}.description: expected element name → string`);
  }
  return v as unknown as SsdpProfile;
}

/** Header map of an SSDP request (RFC 7230-style lines; names case-insensitive). */
function parseRequest(text: string): { method: string; headers: Map<string, string> } | null {
  const lines = text.split(/\r?\n/);
  const start = /^([A-Z-]+) \* HTTP\/1\.1$/.exec(lines[0] ?? '');
  if (!start) return null;
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toUpperCase(), line.slice(colon + 1).trim());
  }
  return { method: start[1] as string, headers };
}

function message(startLine: string, headers: [string, string][]): Buffer {
  return Buffer.from(`${startLine}\r\n${headers.map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`, 'utf8');
}

/** (target, USN) pairs of the root device, UDA 1.1 §1.3.3 (the same set §1.2.2 announces). */
function targets(cfg: SsdpProfile): [string, string][] {
  return [
    ['upnp:rootdevice', `${cfg.udn}::upnp:rootdevice`],
    [cfg.udn, cfg.udn],
    [cfg.deviceType, `${cfg.udn}::${cfg.deviceType}`],
    ...(cfg.serviceTypes ?? []).map((t): [string, string] => [t, `${cfg.udn}::${t}`]),
  ];
}

function descriptionXml(cfg: SsdpProfile): string {
  const elements = Object.entries(cfg.description)
    .map(([name, value]) => `\t\t<${name}>${esc(value)}</${name}>\n`)
    .join('');
  return (
    '<?xml version="1.0"?>\n<root xmlns="urn:schemas-upnp-org:device-1-0">\n' +
    '\t<specVersion>\n\t\t<major>1</major>\n\t\t<minor>0</minor>\n\t</specVersion>\n' +
    `\t<device>\n\t\t<deviceType>${esc(cfg.deviceType)}</deviceType>\n${elements}\t\t<UDN>${esc(cfg.udn)}</UDN>\n\t</device>\n</root>\n`
  );
}

async function startRootDevice(ctx: ResponderContext, cfg: SsdpProfile, log: SimLog): Promise<RunningResponder> {
  const { profile } = ctx;
  const location = `http://${profile.ip}:${cfg.location.port}${cfg.location.path}`;
  const common = (): [string, string][] => [
    ['CACHE-CONTROL', `max-age=${MAX_AGE_SECONDS}`],
    ['LOCATION', location],
    ['SERVER', cfg.server],
    ...Object.entries(cfg.headers ?? {}),
  ];
  const xml = descriptionXml(cfg);
  ctx.http.route(cfg.location.port, cfg.location.path, (req) => {
    log.info(`description ${req.method} ${req.path} from ${req.remote}`);
    return {
      status: 200,
      headers: { 'Content-Type': 'text/xml; charset="utf-8"', ...(cfg.httpServer ? { Server: cfg.httpServer } : {}) },
      body: xml,
    };
  });

  const onMessage = (msg: Buffer, rinfo: RemoteInfo, socket: ServiceSocket): void => {
    const from = `${rinfo.address}:${rinfo.port}`;
    const request = parseRequest(msg.toString('utf8'));
    if (!request) {
      log.warn(`ignored malformed datagram (${msg.length} bytes) from ${from}: ${excerpt(msg)}`);
      return;
    }
    if (request.method !== 'M-SEARCH') return; // NOTIFYs of other devices, own multicast echoes
    const st = request.headers.get('ST');
    if (request.headers.get('MAN') !== '"ssdp:discover"' || !st) {
      log.info(`ignored M-SEARCH without MAN "ssdp:discover" / ST from ${from}`);
      return;
    }
    const mx = Number(request.headers.get('MX') ?? '1');
    const maxDelay = Math.min(cfg.maxDelayMs ?? 0, Number.isFinite(mx) && mx > 0 ? mx * 1000 : 1000);
    const matching = targets(cfg).filter(([target]) => st === 'ssdp:all' || st === target);
    for (const [target, usn] of matching) {
      const answer = message('HTTP/1.1 200 OK', [...common(), ['DATE', new Date().toUTCString()], ['EXT', ''], ['ST', target], ['USN', usn]]);
      socket.reply(answer, rinfo, `M-SEARCH ${st} answer ${target}`, maxDelay);
    }
  };
  const service = await ServiceSocket.open({ port: SSDP_PORT, ip: profile.ip, group: SSDP_GROUP, log, onMessage });
  // A device with the `ipv6` key answers M-SEARCHes to [FF02::C]:1900 too (UDA 2.0 §1.1.2), with
  // the same answers (its LOCATION stays its IPv4 description, as on a dual-stack device).
  const service6 = profile.ipv6 ? await ServiceSocket.open({ port: SSDP_PORT, ip: profile.ip, group: SSDP_GROUP_IPV6, ipv6Interface: 'eth0', log, onMessage }) : null;

  let notifier: NodeJS.Timeout | undefined;
  if (cfg.notifyIntervalMs) {
    const group = { address: SSDP_GROUP, port: SSDP_PORT, family: 'IPv4', size: 0 } as RemoteInfo;
    // Over IPv6 to [FF02::C]:1900 on eth0 (UDA 2.0 §1.2.2), HOST naming that group, from the
    // device's link-local address.
    const group6 = { address: `${SSDP_GROUP_IPV6}%eth0`, port: SSDP_PORT, family: 'IPv6', size: 0 } as RemoteInfo;
    notifier = setInterval(() => {
      for (const [target, usn] of targets(cfg)) {
        const alive = (host: string): Buffer => message('NOTIFY * HTTP/1.1', [['HOST', host], ...common(), ['NT', target], ['NTS', 'ssdp:alive'], ['USN', usn]]);
        service.reply(alive(`${SSDP_GROUP}:${SSDP_PORT}`), group, `NOTIFY ${target}`);
        service6?.reply(alive(`[${SSDP_GROUP_IPV6.toUpperCase()}]:${SSDP_PORT}`), group6, `NOTIFY over IPv6 ${target}`);
      }
    }, cfg.notifyIntervalMs);
  }

  return {
    endpoints: [service.endpoint, ...(service6 ? [service6.endpoint] : []), `description ${location}`],
    close: async () => {
      clearInterval(notifier);
      await Promise.all([service.close(), service6?.close()]);
    },
  };
}

/** Paths of the hostile device's own HTTP server, each misbehaving in one way. */
const HOSTILE_PATHS = ['/endless.xml', '/drip.xml', '/entities.xml', '/redirect.xml'] as const;

const ENTITY_BOMB =
  '<?xml version="1.0"?>\n<!DOCTYPE root [\n <!ENTITY a "aaaaaaaaaa">\n <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">\n' +
  ' <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">\n <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">\n]>\n' +
  '<root xmlns="urn:schemas-upnp-org:device-1-0"><device><manufacturer>&d;</manufacturer><modelName>&d;</modelName></device></root>\n';

function hostileHttp(log: SimLog, otherHost: string): { server: Server; sockets: Set<Socket>; timers: Set<NodeJS.Timeout> } {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer((req, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    log.info(`hostile http ${req.method} ${path} from ${req.socket.remoteAddress}`);
    res.on('error', () => undefined);
    switch (path) {
      case '/endless.xml': {
        // A description that never ends: 64 KiB of whitespace after the start, for as long as the client reads.
        res.writeHead(200, { 'Content-Type': 'text/xml' });
        res.write('<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0"><device><friendlyName>');
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        const pump = (): void => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once('drain', pump);
        };
        pump();
        return;
      }
      case '/drip.xml': {
        // One byte every 500 ms: never complete within any sane timeout.
        res.writeHead(200, { 'Content-Type': 'text/xml' });
        const timer = setInterval(() => {
          if (res.destroyed) {
            clearInterval(timer);
            timers.delete(timer);
          } else res.write(' ');
        }, 500);
        timers.add(timer);
        return;
      }
      case '/entities.xml':
        res.writeHead(200, { 'Content-Type': 'text/xml' });
        res.end(ENTITY_BOMB);
        return;
      case '/redirect.xml':
        res.writeHead(302, { Location: `http://${otherHost}/hostmc-trap/redirected.xml`, 'Content-Length': '0' });
        res.end();
        return;
      default:
        res.writeHead(404, { 'Content-Length': '0' });
        res.end();
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  return { server, sockets, timers };
}

async function startHostile(ctx: ResponderContext, cfg: HostileSsdpProfile['hostile'], log: SimLog): Promise<RunningResponder> {
  const { ip } = ctx.profile;
  const http = hostileHttp(log, cfg.otherHost);
  await new Promise<void>((resolve, reject) => {
    http.server.once('error', reject);
    http.server.listen({ port: cfg.httpPort, host: ip }, () => resolve());
  });

  const [a, b, c, d] = cfg.otherHost.split('.').map(Number) as [number, number, number, number];
  const otherHostAsInteger = ((a * 256 + b) * 256 + c) * 256 + d;
  const base = 'uuid:6f3e3c39-0000-4000-8000-020000000249';
  // Answers carrying a LOCATION: [USN suffix, LOCATION].
  const locations: [string, string][] = [
    ['elsewhere', `http://${cfg.otherHost}/hostmc-trap/desc.xml`],
    ['elsewhere-as-integer', `http://${otherHostAsInteger}/hostmc-trap/integer.xml`],
    ['credentials', `http://admin:admin@${ip}:${cfg.httpPort}/hostmc-trap/credentials.xml`],
    ['not-http', `file:///etc/passwd`],
    ...HOSTILE_PATHS.map((p): [string, string] => [p.slice(1, -4), `http://${ip}:${cfg.httpPort}${p}`]),
  ];

  const service = await ServiceSocket.open({
    port: SSDP_PORT,
    ip,
    group: SSDP_GROUP,
    log,
    onMessage(msg: Buffer, rinfo: RemoteInfo, socket: ServiceSocket) {
      const request = parseRequest(msg.toString('utf8'));
      if (request?.method !== 'M-SEARCH') return;
      socket.reply(randomBytes(512), rinfo, 'garbage answer');
      // An answer whose only identifying headers are unusable: over-long, control characters, no colon.
      const junk = Buffer.from(
        'HTTP/1.1 200 OK\r\n' +
          `SERVER: ${'X'.repeat(5000)}\r\n` +
          'USN: \u0000\u0001\u0002\r\n' +
          `LOCATION: ${'\u0007'.repeat(40)}\r\n` +
          'this line has no colon\r\n'.repeat(200) +
          '\r\n',
        'latin1',
      );
      socket.reply(junk, rinfo, 'junk-header answer');
      for (const [suffix, location] of locations) {
        const answer = message('HTTP/1.1 200 OK', [
          ['CACHE-CONTROL', `max-age=${MAX_AGE_SECONDS}`],
          ['EXT', ''],
          ['LOCATION', location],
          ['SERVER', 'Linux/5.4 UPnP/1.0 lab-hostile/1.0'],
          ['ST', `urn:lab-hostile:${suffix}`],
          ['USN', `${base}::urn:lab-hostile:${suffix}`],
        ]);
        socket.reply(answer, rinfo, `hostile answer ${suffix}`);
      }
    },
  });

  const group = { address: SSDP_GROUP, port: SSDP_PORT, family: 'IPv4', size: 0 } as RemoteInfo;
  const notifier = setInterval(() => {
    const notify = message('NOTIFY * HTTP/1.1', [
      ['HOST', `${SSDP_GROUP}:${SSDP_PORT}`],
      ['CACHE-CONTROL', `max-age=${MAX_AGE_SECONDS}`],
      ['LOCATION', `http://${cfg.otherHost}/hostmc-trap/notify.xml`],
      ['NT', 'upnp:rootdevice'],
      ['NTS', 'ssdp:alive'],
      ['SERVER', 'Linux/5.4 UPnP/1.0 lab-hostile/1.0'],
      ['USN', `${base}::upnp:rootdevice`],
    ]);
    service.reply(notify, group, 'NOTIFY (LOCATION on another host)');
    service.reply(Buffer.concat([Buffer.from('NOTIFY * HTTP/1.1\r\nNTS: ssdp:alive\r\n'), randomBytes(256)]), group, 'garbage NOTIFY');
  }, cfg.notifyIntervalMs);

  return {
    endpoints: [service.endpoint, `hostile http ${ip}:${cfg.httpPort} ${HOSTILE_PATHS.join(' ')}`],
    close: async () => {
      clearInterval(notifier);
      for (const t of http.timers) clearInterval(t);
      for (const s of http.sockets) s.destroy();
      await Promise.all([service.close(), new Promise<void>((resolve) => http.server.close(() => resolve()))]);
    },
  };
}

export const ssdpResponder: Responder = {
  key: 'ssdp',
  description: 'SSDP root device (UDP 1900, 239.255.255.250) with its UPnP description over HTTP',
  async start(ctx: ResponderContext): Promise<RunningResponder> {
    const cfg = checkSection((ctx.profile as LabProfile).ssdp, `profile ${ctx.profile.name}.ssdp`);
    const log = ctx.log.child('ssdp');
    return 'hostile' in cfg ? startHostile(ctx, cfg.hostile, log) : startRootDevice(ctx, cfg, log);
  },
};
