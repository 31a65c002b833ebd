/**
 * HTTPS with the vendor's factory certificate (tests/lab/certs/, lab-only keys): a TLS server on
 * the profile's ports (default 443) that presents the certificate and answers the same pages as
 * the profile's `http` section (responders/http-pages.ts); any other path, or every path when the
 * profile has no `http` section, gets a 404. A device with the `ipv6` key listens over IPv6 too
 * (listen.ts). Each handshake is logged with the client's address, so a test can tell which family
 * a certificate was read over.
 *
 * Profile key `tls` (checked here, where the protocol lives):
 *   { "ports"?: number[]                default [443]
 *     "certificate": "hikvision-default" basename of NAME.crt + NAME.key in tests/lab/certs/
 *     "source": string[] }
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { HttpReply } from '../http-host.js';
import { listenOn, tcpListenHosts } from '../listen.js';
import { ProfileError } from '../profile.js';
import { pageReplies, repoPath } from './http-pages.js';
import type { Responder, ResponderContext, RunningResponder } from './types.js';

export interface TlsProfile {
  ports?: number[];
  certificate: string;
  source: string[];
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates the profile's `tls` section; throws ProfileError. */
export function checkTlsProfile(v: unknown, where: string): TlsProfile {
  if (!isObj(v)) throw new ProfileError(`${where}: expected an object`);
  if (v.ports !== undefined && !(Array.isArray(v.ports) && v.ports.length > 0 && v.ports.every((p) => Number.isInteger(p) && p >= 1 && p <= 65535))) {
    throw new ProfileError(`${where}.ports: expected a non-empty array of TCP ports`);
  }
  if (typeof v.certificate !== 'string' || !/^[a-z0-9.-]+$/.test(v.certificate)) throw new ProfileError(`${where}.certificate: expected a file basename in tests/lab/certs/`);
  if (!Array.isArray(v.source) || !v.source.every((s) => typeof s === 'string')) throw new ProfileError(`${where}.source: expected an array of strings`);
  return v as unknown as TlsProfile;
}

/** A certificate pair of tests/lab/certs/. */
export function labCertificate(name: string): { key: Buffer; cert: Buffer } {
  return { key: readFileSync(repoPath('tests', 'lab', 'certs', `${name}.key`)), cert: readFileSync(repoPath('tests', 'lab', 'certs', `${name}.crt`)) };
}

const NOT_FOUND: HttpReply = { status: 404, headers: { 'Content-Type': 'text/html' }, body: '<html><body><h1>404 Not Found</h1></body></html>' };

export const tlsResponder: Responder = {
  key: 'tls',
  description: 'HTTPS with the vendor factory certificate (lab-only keys)',
  async start(ctx: ResponderContext): Promise<RunningResponder> {
    const cfg = checkTlsProfile(ctx.profile.tls, `profile ${ctx.profile.name}.tls`);
    const log = ctx.log.child('tls');
    const pages = ctx.profile.http !== undefined ? pageReplies(ctx.profile) : new Map<string, HttpReply>();
    const credentials = labCertificate(cfg.certificate);
    const servers: Server[] = [];
    const hosts = tcpListenHosts(ctx);
    for (const port of cfg.ports ?? [443]) {
      for (const host of hosts) {
        const server = createServer(credentials, (req, res) => {
          const path = new URL(req.url ?? '/', 'https://device').pathname;
          const reply = pages.get(path) ?? NOT_FOUND;
          log.info(`https :${port} ${req.method} ${path} from ${req.socket.remoteAddress} -> ${reply.status}`);
          const body = reply.body ?? '';
          res.writeHead(reply.status, { ...reply.headers, 'Content-Length': Buffer.byteLength(body) });
          res.end(body);
        });
        // A client that is not TLS, or leaves mid-handshake, is logged and dropped (never a crash).
        server.on('tlsClientError', (err, socket) => {
          log.warn(`https :${port} TLS client error from ${socket.remoteAddress}: ${err.message}`);
          socket.destroy();
        });
        server.on('clientError', (err, socket) => {
          log.warn(`https :${port} client error: ${err.message}`);
          socket.destroy();
        });
        server.on('secureConnection', (socket) => log.info(`https :${port} TLS handshake from ${socket.remoteAddress}`));
        await listenOn(server, port, host);
        servers.push(server);
      }
    }
    return {
      endpoints: (cfg.ports ?? [443]).flatMap((p) => hosts.map((h) => `https ${h}:${p} (${cfg.certificate})`)),
      close: async () => {
        await Promise.all(
          servers.map(
            (s) =>
              new Promise<void>((resolve) => {
                s.close(() => resolve());
                s.closeAllConnections();
              }),
          ),
        );
      },
    };
  },
};
