/**
 * The daemon's health and metrics endpoint: `GET /healthz` (JSON) and `GET /metrics` (Prometheus
 * text 0.0.4). Bound to 127.0.0.1 by default; when a token is configured (required by the
 * configuration for any non-loopback address) every request must carry `Authorization: Bearer
 * TOKEN` (RFC 6750 §2.1), compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { agentError } from '../errors.js';
import type { Logger } from '../log.js';

export interface HealthServerOptions {
  host: string;
  port: number;
  token?: string;
  healthz: () => unknown;
  metrics: () => string;
  log: Logger;
}

export interface HealthServer {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Whether `authorization` carries `token` as a bearer token (always true when no token is set). */
export function isAuthorised(authorization: string | undefined, token: string | undefined): boolean {
  if (token === undefined) return true;
  const match = /^Bearer ([\x21-\x7e]+)$/.exec(authorization ?? '');
  if (!match?.[1]) return false;
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(match[1]), digest(token));
}

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const log = options.log.child({ module: 'daemon/health' });
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, type: string, body: string, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (!isAuthorised(req.headers.authorization, options.token)) {
      send(401, 'text/plain; charset=utf-8', 'a bearer token is required\n', { 'www-authenticate': 'Bearer realm="cctv-agent"' });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(405, 'text/plain; charset=utf-8', 'only GET and HEAD\n', { allow: 'GET, HEAD' });
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (path === '/healthz') send(200, 'application/json; charset=utf-8', `${JSON.stringify(options.healthz(), null, 2)}\n`);
      else if (path === '/metrics') send(200, METRICS_CONTENT_TYPE, options.metrics());
      else send(404, 'text/plain; charset=utf-8', 'not found: try /healthz or /metrics\n');
    } catch (error) {
      log.error({ err: String(error) }, 'health endpoint failed to answer');
      send(500, 'text/plain; charset=utf-8', 'internal error\n');
    }
  });
  server.headersTimeout = 5_000;
  server.requestTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(agentError('CCTV_ERR_HEALTH_UNAVAILABLE', `${options.host}:${options.port}`, error.code ?? error.message)),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  log.info({ host: address.address, port: address.port, token: options.token !== undefined }, 'health and metrics endpoint listening');
  return {
    host: address.address,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
