/**
 * A small HTTP(S) client for talking to untrusted devices: every response body is capped,
 * every exchange has a deadline, and failures come back as a ProbeStatus, never as a throw.
 */
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import type { ProbeStatus } from '../types.js';
import { withoutZone } from './ip-address.js';

/**
 * The URL of `path` on the device at `ip` (an IPv6 literal bracketed, RFC 3986 §3.2.2). A link-local
 * address's zone (`fe80::1%eth0`) is left out: the WHATWG URL that Node's HTTP client takes has no
 * zone syntax, so the zone travels apart (HttpRequest.zone; ip-address.ts zoneOf).
 */
export function deviceUrl(scheme: 'http' | 'https', ip: string, port: number, path: string): URL {
  const address = withoutZone(ip);
  return new URL(`${scheme}://${address.includes(':') ? `[${address}]` : address}:${port}${path}`);
}


export interface HttpRequest {
  url: URL;
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Whole exchange, connect to last byte. */
  timeoutMs: number;
  /** Bytes of body kept; the connection is dropped past this. */
  maxBodyBytes: number;
  signal?: AbortSignal;
  /**
   * The interface of an IPv6 link-local host (deviceUrl): the connection goes to the URL's address
   * on that interface, and the Host header names the address without it.
   */
  zone?: string;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** True when the body was cut at maxBodyBytes. */
  truncated: boolean;
}

export type HttpResult = { ok: true; response: HttpResponse } | { ok: false; status: ProbeStatus; reason: string };

function failureStatus(error: NodeJS.ErrnoException): ProbeStatus {
  if (error.code === 'ECONNREFUSED') return 'refused';
  if (error.code === 'ETIMEDOUT' || error.name === 'TimeoutError') return 'timeout';
  if (error.code === 'HPE_INVALID_CONSTANT' || error.code?.startsWith('HPE_')) return 'protocol-error';
  return 'error';
}

/** The TLS context every HTTPS request shares (Node's defaults; tls.connect would build one per connection). */
let httpsContext: tls.SecureContext | undefined;
function sharedHttpsContext(): tls.SecureContext {
  httpsContext ??= tls.createSecureContext();
  return httpsContext;
}

export function httpRequest(request: HttpRequest): Promise<HttpResult> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: HttpResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const transport = request.url.protocol === 'https:' ? https : http;
    const zoned = request.zone === undefined ? {} : { hostname: `${request.url.hostname.replace(/^\[|\]$/g, '')}%${request.zone}` };
    const req = transport.request(request.url, {
      ...zoned,
      method: request.method,
      headers: {
        ...(request.zone === undefined ? {} : { Host: request.url.host }),
        ...request.headers,
        ...(request.body !== undefined ? { 'Content-Length': String(Buffer.byteLength(request.body)) } : {}),
        Connection: 'close',
      },
      // A fresh connection per request, never Node's keep-alive pool: a device that answers HTTP/1.1
      // without `Connection: close` and then closes anyway would leave a dead socket in the pool, and
      // the next request to it fails with "socket hang up" (RFC 9112 §9.6: a client must not reuse
      // a connection the server closed). The `Connection: close` header alone does not stop the pool.
      agent: false,
      // Devices present self-signed certificates; this client identifies, it does not trust.
      rejectUnauthorized: false,
      // One TLS context for every HTTPS request instead of one built per connection.
      ...(transport === https ? { secureContext: sharedHttpsContext() } : {}),
      // Guards against header floods (Node's own limit is 16 KiB).
      maxHeaderSize: 16 * 1024,
      signal: request.signal,
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish({ ok: false, status: 'timeout', reason: `no complete answer within ${request.timeoutMs} ms` });
    }, request.timeoutMs);
    req.on('error', (error: NodeJS.ErrnoException) =>
      finish({ ok: false, status: failureStatus(error), reason: error.message }),
    );
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      const done = (): void =>
        finish({ ok: true, response: { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), truncated } });
      res.on('data', (chunk: Buffer) => {
        if (truncated) return;
        const room = request.maxBodyBytes - size;
        if (chunk.length >= room) {
          chunks.push(chunk.subarray(0, room));
          size += room;
          truncated = true;
          done();
          res.destroy();
          return;
        }
        chunks.push(chunk);
        size += chunk.length;
      });
      res.on('end', done);
      res.on('error', (error: NodeJS.ErrnoException) =>
        finish({ ok: false, status: failureStatus(error), reason: error.message }),
      );
    });
    req.end(request.body);
  });
}
