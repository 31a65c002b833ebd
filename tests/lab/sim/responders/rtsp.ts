/**
 * RTSP server (RFC 2326, RTSP/1.0 over TCP) on the profile's port (default 554), answering what
 * a camera answers before anyone logs in:
 * - OPTIONS: 200 with `Public:` (the profile's method list);
 * - DESCRIBE: with `challenges`, 401 and one `WWW-Authenticate` per challenge, in order (Hikvision:
 *   Digest realm="Hikvision" then Basic realm="/"; Dahua: Basic realm="device"); without, 200
 *   with a small SDP description (application/sdp);
 * - any other method of the Public list: 455 Method Not Valid in This State (no session exists);
 *   anything else: 501 Not Implemented; a request that is not RTSP: 400, and the connection closes.
 * Every answer echoes CSeq and carries `Server:` when the profile gives one. Credentials are never
 * checked: the agent sends none over RTSP. Connections persist (RFC 2326 §1.1) until the client
 * closes them or stays idle for IDLE_MS. A device with the `ipv6` key listens over IPv6 too (listen.ts).
 *
 * Profile key `rtsp` (checked here, where the protocol lives):
 *   { "port"?: number, "serverHeader"?: string, "public": string[],
 *     "challenges"?: [{ "scheme": "Digest" | "Basic", "realm": string }], "sessionName"?: string,
 *     "source"?: string }
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { listenOn, tcpListenHosts } from '../listen.js';
import { excerpt } from '../log.js';
import { ProfileError } from '../profile.js';
import type { Responder, ResponderContext, RunningResponder } from './types.js';

export interface RtspChallenge {
  scheme: 'Digest' | 'Basic';
  realm: string;
}

export interface RtspProfile {
  /** Default 554 (RFC 2326 §3.2). */
  port?: number;
  /** `Server:` on every answer; omitted when absent (Hikvision's RTSP server sends none). */
  serverHeader?: string;
  /** Methods listed in the OPTIONS answer's `Public:`. */
  public: string[];
  /** DESCRIBE is refused with these challenges; absent or empty: DESCRIBE is answered openly. */
  challenges?: RtspChallenge[];
  /** SDP session name (`s=`) of an open DESCRIBE; default "Media Presentation". */
  sessionName?: string;
  /** Where these values come from (a URL or `owner/repo path@commit`, or "invented"). */
  source?: string;
}

/** A request bigger than this is not from a real client: 400 and close. */
const MAX_REQUEST_BYTES = 8 * 1024;
const IDLE_MS = 30_000;

const REASONS: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  455: 'Method Not Valid in This State',
  501: 'Not Implemented',
};

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates the profile's `rtsp` section; throws ProfileError. */
export function checkRtspProfile(v: unknown, where: string): RtspProfile {
  if (!isObj(v)) throw new ProfileError(`${where}: expected an object`);
  if (v.port !== undefined && !(Number.isInteger(v.port) && (v.port as number) > 0 && (v.port as number) < 65536)) {
    throw new ProfileError(`${where}.port: expected a TCP port number`);
  }
  if (v.serverHeader !== undefined && (typeof v.serverHeader !== 'string' || v.serverHeader === '')) {
    throw new ProfileError(`${where}.serverHeader: expected a non-empty string`);
  }
  if (!Array.isArray(v.public) || !v.public.every((m) => typeof m === 'string' && /^[A-Z_]+$/.test(m))) {
    throw new ProfileError(`${where}.public: expected an array of upper-case method names`);
  }
  if (v.challenges !== undefined) {
    if (!Array.isArray(v.challenges)) throw new ProfileError(`${where}.challenges: expected an array`);
    for (const c of v.challenges) {
      if (!isObj(c) || (c.scheme !== 'Digest' && c.scheme !== 'Basic') || typeof c.realm !== 'string') {
        throw new ProfileError(`${where}.challenges: each entry is {scheme: "Digest" | "Basic", realm: string}`);
      }
    }
  }
  if (v.sessionName !== undefined && typeof v.sessionName !== 'string') throw new ProfileError(`${where}.sessionName: expected a string`);
  if (v.source !== undefined && typeof v.source !== 'string') throw new ProfileError(`${where}.source: expected a string`);
  return v as unknown as RtspProfile;
}

interface Request {
  method: string;
  url: string;
  cseq: string | null;
}

/** Parses the head of one request (request line and header fields); null when it is not RTSP/1.0. */
function parseRequest(head: string): Request | null {
  const lines = head.split('\r\n');
  const line = /^([A-Z_]{1,32}) (\S{1,2048}) RTSP\/1\.0$/.exec(lines[0] ?? '');
  if (!line) return null;
  const cseq = lines.slice(1).find((l) => /^cseq\s*:/i.test(l));
  return { method: line[1] as string, url: line[2] as string, cseq: cseq ? cseq.slice(cseq.indexOf(':') + 1).trim() : null };
}

function challengeHeader(c: RtspChallenge): string {
  // Hikvision's form (nmap "Hikvision DVR rtspd"): Digest realm="…", nonce="…", stale="FALSE".
  return c.scheme === 'Digest' ? `Digest realm="${c.realm}", nonce="${randomBytes(16).toString('hex')}", stale="FALSE"` : `Basic realm="${c.realm}"`;
}

function sdp(cfg: RtspProfile, ip: string): string {
  return [
    'v=0',
    `o=- ${Date.now()} 1 IN IP4 ${ip}`,
    `s=${cfg.sessionName ?? 'Media Presentation'}`,
    'c=IN IP4 0.0.0.0',
    't=0 0',
    'm=video 0 RTP/AVP 96',
    'a=rtpmap:96 H264/90000',
    'a=control:trackID=1',
    '',
  ].join('\r\n');
}

export const rtspResponder: Responder = {
  key: 'rtsp',
  description: 'RTSP/1.0 server: OPTIONS and DESCRIBE as a camera answers them before login',
  async start(ctx: ResponderContext): Promise<RunningResponder> {
    const cfg = checkRtspProfile(ctx.profile.rtsp, `profile ${ctx.profile.name}.rtsp`);
    const log = ctx.log.child('rtsp');
    const port = cfg.port ?? 554;
    const sockets = new Set<Socket>();

    const answer = (req: Request): { status: number; headers: string[]; body: string } => {
      if (req.method === 'OPTIONS') return { status: 200, headers: [`Public: ${cfg.public.join(', ')}`], body: '' };
      if (req.method === 'DESCRIBE') {
        if (cfg.challenges && cfg.challenges.length > 0) {
          return { status: 401, headers: cfg.challenges.map((c) => `WWW-Authenticate: ${challengeHeader(c)}`), body: '' };
        }
        return { status: 200, headers: ['Content-Type: application/sdp', `Content-Base: ${req.url}`], body: sdp(cfg, ctx.profile.ip) };
      }
      return { status: cfg.public.includes(req.method) ? 455 : 501, headers: [], body: '' };
    };

    const send = (socket: Socket, status: number, cseq: string | null, headers: string[], body: string): void => {
      const lines = [
        `RTSP/1.0 ${status} ${REASONS[status] ?? 'Unknown'}`,
        ...(cseq !== null ? [`CSeq: ${cseq}`] : []),
        ...headers,
        ...(cfg.serverHeader ? [`Server: ${cfg.serverHeader}`] : []),
        ...(body ? [`Content-Length: ${Buffer.byteLength(body)}`] : []),
      ];
      socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
    };

    const onConnection = (socket: Socket): void => {
      sockets.add(socket);
      const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
      let buffer = Buffer.alloc(0);
      socket.setTimeout(IDLE_MS, () => socket.destroy());
      socket.on('error', (e) => log.warn(`${remote}: socket error: ${e.message}`));
      socket.on('close', () => sockets.delete(socket));
      socket.on('data', (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk]);
        for (let end = buffer.indexOf('\r\n\r\n'); end !== -1; end = buffer.indexOf('\r\n\r\n')) {
          const head = buffer.subarray(0, end).toString('latin1');
          const req = parseRequest(head);
          if (!req) {
            log.warn(`${remote}: not an RTSP request ${excerpt(head)} -> 400, closed`);
            send(socket, 400, null, [], '');
            socket.end();
            return;
          }
          // A request body (none is expected for these methods) is skipped by its Content-Length.
          const length = /\r\ncontent-length\s*:\s*(\d{1,6})/i.exec(head);
          const bodyEnd = end + 4 + (length ? Number(length[1]) : 0);
          if (buffer.length < bodyEnd) break;
          buffer = buffer.subarray(bodyEnd);
          const reply = answer(req);
          log.info(`${req.method} ${req.url} from ${remote} -> ${reply.status}`);
          send(socket, reply.status, req.cseq, reply.headers, reply.body);
        }
        if (buffer.length > MAX_REQUEST_BYTES) {
          log.warn(`${remote}: request over ${MAX_REQUEST_BYTES} bytes ${excerpt(buffer)} -> 400, closed`);
          send(socket, 400, null, [], '');
          socket.end();
        }
      });
    };
    const hosts = tcpListenHosts(ctx);
    const servers: Server[] = [];
    for (const host of hosts) {
      const server = createServer(onConnection);
      server.on('error', (e) => log.warn(`server error: ${e.message}`));
      await listenOn(server, port, host);
      servers.push(server);
    }
    return {
      endpoints: hosts.map((h) => `rtsp tcp ${h}:${port}`),
      close: async () => {
        for (const s of sockets) s.destroy();
        await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
      },
    };
  },
};
