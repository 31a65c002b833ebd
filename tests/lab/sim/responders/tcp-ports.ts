/**
 * Plain TCP listeners: vendor ports the agent only connects to (Hikvision SDK 8000, Dahua DVRIP
 * 37777), and the misbehaviours of a hostile device, each bounded so the simulator itself stays
 * healthy. One behaviour per listener:
 *   accept             read and discard, close when the client does (Dahua 37777: the DHIP reply
 *                      gives the port, no public source gives a greeting)
 *   hikvision-sdk      answer the first bytes received with the 16-byte header nmap matches as
 *                      "Hikvision IPCam control port" (nmap/nmap nmap-service-probes@db4aefddfa348ec815ffa83a109c97e05db88766),
 *                      then close
 *   silent             accept and never answer (the client must time out)
 *   reset              accept, then reset the connection at once (RST)
 *   tls-garbage        answer the first bytes (a ClientHello) with bytes that are not TLS, then close
 *   endless-http-body  answer the first bytes with a 200 and a body that never ends (paced by TCP
 *                      back-pressure, stopped after MAX_ENDLESS_BYTES)
 *   huge-http-header   answer the first bytes with a status line and a header line far over any
 *                      client's header limit (HUGE_HEADER_BYTES), then close
 * With "tls": NAME the listener first does a TLS handshake with tests/lab/certs/NAME (lab-only
 * keys), then behaves as above on the decrypted stream.
 *
 * Profile key `tcp` (checked here, where the protocol lives):
 *   { "listeners": [ { "port": 8000, "behaviour": "hikvision-sdk", "tls"?: "hosttcp" } ], "source": string[] }
 */
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { ProfileError } from '../profile.js';
import type { SimLog } from '../log.js';
import { labCertificate } from './tls.js';
import type { Responder, ResponderContext, RunningResponder } from './types.js';

export const BEHAVIOURS = ['accept', 'hikvision-sdk', 'silent', 'reset', 'tls-garbage', 'endless-http-body', 'huge-http-header'] as const;
export type Behaviour = (typeof BEHAVIOURS)[number];

export interface TcpListener {
  port: number;
  behaviour: Behaviour;
  tls?: string;
}

export interface TcpProfile {
  listeners: TcpListener[];
  source: string[];
}

/** nmap-service-probes: `match ipcam m|^\0\0\0\x10\0\0\0\x1e\0\0\0\x1e\0\0\0\0| p/Hikvision IPCam control port/`. */
const HIKVISION_SDK_REPLY = Buffer.from([0, 0, 0, 0x10, 0, 0, 0, 0x1e, 0, 0, 0, 0x1e, 0, 0, 0, 0]);
/** An endless body stops here (the agent stops reading at 256 KiB). */
const MAX_ENDLESS_BYTES = 64 * 1024 * 1024;
/** Far over Node's 16 KiB header limit and the agent's. */
const HUGE_HEADER_BYTES = 1024 * 1024;
/** Connections left idle this long are closed. */
const IDLE_MS = 60_000;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates the profile's `tcp` section; throws ProfileError. */
export function checkTcpProfile(v: unknown, where: string): TcpProfile {
  if (!isObj(v)) throw new ProfileError(`${where}: expected an object`);
  if (!Array.isArray(v.listeners) || v.listeners.length === 0) throw new ProfileError(`${where}.listeners: expected a non-empty array`);
  const ports = new Set<number>();
  v.listeners.forEach((l: unknown, i: number) => {
    const at = `${where}.listeners[${i}]`;
    if (!isObj(l)) throw new ProfileError(`${at}: expected an object`);
    if (typeof l.port !== 'number' || !Number.isInteger(l.port) || l.port < 1 || l.port > 65535 || ports.has(l.port)) {
      throw new ProfileError(`${at}.port: expected a TCP port not used by another listener`);
    }
    ports.add(l.port);
    if (!BEHAVIOURS.includes(l.behaviour as Behaviour)) throw new ProfileError(`${at}.behaviour: one of ${BEHAVIOURS.join(', ')}`);
    if (l.tls !== undefined && (typeof l.tls !== 'string' || !/^[a-z0-9.-]+$/.test(l.tls))) throw new ProfileError(`${at}.tls: a certificate basename in tests/lab/certs/`);
  });
  if (!Array.isArray(v.source) || !v.source.every((s) => typeof s === 'string')) throw new ProfileError(`${where}.source: expected an array of strings`);
  return v as unknown as TcpProfile;
}

/** Writes `total` bytes of `chunk`-sized pieces, waiting for 'drain' (TCP back-pressure). */
function pump(socket: Socket, makeChunk: () => Buffer, total: number, then: () => void): void {
  let sent = 0;
  const more = (): void => {
    while (sent < total && !socket.destroyed) {
      const chunk = makeChunk();
      sent += chunk.length;
      if (!socket.write(chunk)) {
        socket.once('drain', more);
        return;
      }
    }
    if (!socket.destroyed) then();
  };
  more();
}

function behave(socket: Socket, behaviour: Behaviour, log: SimLog, tag: string): void {
  socket.setTimeout(IDLE_MS, () => socket.destroy());
  socket.on('error', (e) => log.info(`${tag}: ${e.message}`));
  switch (behaviour) {
    case 'reset':
      socket.resetAndDestroy();
      return;
    case 'silent':
    case 'accept':
      socket.resume(); // read and discard
      return;
    default:
      break;
  }
  socket.once('data', () => {
    socket.resume();
    if (behaviour === 'hikvision-sdk') socket.end(HIKVISION_SDK_REPLY);
    else if (behaviour === 'tls-garbage') {
      // Deterministic bytes whose first one (0x00) is no TLS record type (RFC 8446 §5.1).
      const garbage = Buffer.alloc(1024);
      for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 131 + 7) & 0xff;
      garbage[0] = 0;
      socket.end(garbage);
    } else if (behaviour === 'endless-http-body') {
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html><body>');
      const chunk = Buffer.alloc(16 * 1024, 'A');
      pump(socket, () => chunk, MAX_ENDLESS_BYTES, () => socket.end());
    } else if (behaviour === 'huge-http-header') {
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Filler: ');
      const chunk = Buffer.alloc(16 * 1024, 'B');
      pump(socket, () => chunk, HUGE_HEADER_BYTES, () => socket.end('\r\n\r\n'));
    }
  });
}

export const tcpPortsResponder: Responder = {
  key: 'tcp',
  description: 'plain TCP listeners: vendor SDK ports and hostile behaviours',
  async start(ctx: ResponderContext): Promise<RunningResponder> {
    const cfg = checkTcpProfile(ctx.profile.tcp, `profile ${ctx.profile.name}.tcp`);
    const log = ctx.log.child('tcp');
    const servers: Server[] = [];
    const sockets = new Set<Socket>();
    for (const listener of cfg.listeners) {
      const onSocket = (socket: Socket): void => {
        const tag = `tcp :${listener.port} ${listener.behaviour} from ${socket.remoteAddress}`;
        log.info(tag);
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
        behave(socket, listener.behaviour, log, tag);
      };
      const server = listener.tls ? createTlsServer(labCertificate(listener.tls), onSocket) : createTcpServer(onSocket);
      server.on('error', (e) => log.warn(`tcp :${listener.port} server error: ${e.message}`));
      if (listener.tls) server.on('tlsClientError', (e) => log.info(`tcp :${listener.port} TLS client error: ${e.message}`));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port: listener.port, host: ctx.bindAddress }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      servers.push(server);
    }
    return {
      endpoints: cfg.listeners.map((l) => `tcp :${l.port} ${l.behaviour}${l.tls ? ` over TLS (${l.tls})` : ''}`),
      close: async () => {
        for (const s of sockets) s.destroy();
        await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      },
    };
  },
};
