/**
 * One HTTP server per TCP port, shared by the responders that answer on it (ONVIF on
 * /onvif/device_service now; vendor web pages, ISAPI, CGI… on the same port later).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { SimLog } from './log.js';

export interface HttpRequest {
  readonly req: IncomingMessage;
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly body: Buffer;
  readonly remote: string;
}

export interface HttpReply {
  status: number;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
}

export type HttpHandler = (req: HttpRequest) => HttpReply | Promise<HttpReply>;

const MAX_BODY = 1 << 20;

interface Route {
  /** Exact path, or a prefix when it ends with '*'. */
  path: string;
  handler: HttpHandler;
}

export class HttpHost {
  private readonly routes = new Map<number, Route[]>();
  private readonly servers: Server[] = [];
  /** Headers sent with every answer on a port (e.g. the vendor's Server: line). */
  private readonly portHeaders = new Map<number, Record<string, string>>();

  constructor(private readonly log: SimLog) {}

  route(port: number, path: string, handler: HttpHandler): void {
    const list = this.routes.get(port) ?? [];
    if (list.some((r) => r.path === path)) throw new Error(`HTTP route ${port}${path} registered twice`);
    list.push({ path, handler });
    this.routes.set(port, list);
  }

  setPortHeaders(port: number, headers: Record<string, string>): void {
    this.portHeaders.set(port, { ...this.portHeaders.get(port), ...headers });
  }

  ports(): number[] {
    return [...this.routes.keys()];
  }

  /**
   * Starts listening on every port that has a route, on `host`; with `ipv6`, on [::] too (IPv6
   * only, so an IPv4 client is still seen at its plain IPv4 address, not as ::ffff:…).
   */
  async listen(host = '0.0.0.0', ipv6 = false): Promise<void> {
    for (const port of this.routes.keys()) {
      await this.listenOn(port, host);
      if (ipv6) await this.listenOn(port, '::');
    }
  }

  private async listenOn(port: number, host: string): Promise<void> {
    const server = createServer((req, res) => void this.dispatch(port, req, res));
    server.on('clientError', (err, socket) => {
      this.log.warn(`http :${port} client error: ${err.message}`);
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      else socket.destroy();
    });
    server.on('error', (err) => this.log.warn(`http :${port} server error: ${err.message}`));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host, ipv6Only: host === '::' }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.servers.push(server);
    this.log.info(`http listening on ${host}:${port}`);
  }

  async close(): Promise<void> {
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
  }

  private async dispatch(port: number, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const remote = req.socket.remoteAddress ?? '?';
    req.on('error', (e) => this.log.warn(`http :${port} request error from ${remote}: ${e.message}`));
    res.on('error', (e) => this.log.warn(`http :${port} response error to ${remote}: ${e.message}`));
    try {
      const body = await readBody(req);
      if (body === null) {
        this.send(port, res, { status: 413, headers: { Connection: 'close' }, body: '' });
        req.destroy();
        return;
      }
      const url = new URL(req.url ?? '/', 'http://device');
      const request: HttpRequest = {
        req,
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        body,
        remote,
      };
      const route = (this.routes.get(port) ?? []).find((r) =>
        r.path.endsWith('*') ? url.pathname.startsWith(r.path.slice(0, -1)) : url.pathname === r.path,
      );
      const reply = route
        ? await route.handler(request)
        : { status: 404, headers: { 'Content-Type': 'text/html' }, body: '<html><body><h1>404 Not Found</h1></body></html>' };
      if (!route) this.log.info(`http ${request.method} ${url.pathname} from ${remote} -> 404`);
      this.send(port, res, reply);
    } catch (e) {
      this.log.warn(`http :${port} handler failed: ${(e as Error).stack ?? String(e)}`);
      if (!res.headersSent) this.send(port, res, { status: 500, body: '' });
      else res.destroy();
    }
  }

  private send(port: number, res: ServerResponse, reply: HttpReply): void {
    const body = reply.body ?? '';
    const headers: Record<string, string | string[] | number> = { ...this.portHeaders.get(port), ...reply.headers };
    headers['Content-Length'] = Buffer.byteLength(body);
    res.writeHead(reply.status, headers);
    res.end(body);
  }
}

function readBody(req: IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > MAX_BODY) {
        done = true;
        resolve(null);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!done) resolve(Buffer.concat(chunks));
    });
    req.on('error', (e) => {
      if (!done) reject(e);
    });
  });
}
