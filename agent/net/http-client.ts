/**
 * A small HTTP(S) client for talking to untrusted devices: every response body is capped,
 * every exchange has a deadline, and failures come back as a ProbeStatus, never as a throw.
 */
import http from 'node:http';
import https from 'node:https';
import { TLSSocket } from 'node:tls';
import type { ProbeStatus } from '../types.js';
import { exchangeDeadline } from './abort.js';
import { deviceTlsContext, type TlsPeer } from './device-tls.js';
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
  /**
   * The port's kept connection, for a request that may be sent twice (RFC 9110 §9.2.2 idempotent,
   * or a read-only ONVIF call); absent: a connection of its own.
   */
  connection?: KeptConnection;
  /**
   * HTTPS: called with the server's certificate when a new connection for this request completes
   * its handshake (not on a reused one), so the handshake's certificate is read without another.
   */
  onTlsPeer?: (peer: TlsPeer) => void;
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

/**
 * The least time a request on a kept connection is given to start its answer before the connection
 * is judged dead and the request is sent again on a new one; the device's slowest answer so far,
 * times REUSED_ANSWER_FACTOR, when that is longer.
 */
const REUSED_ANSWER_MIN_MS = 500;
const REUSED_ANSWER_FACTOR = 4;

/**
 * One device port's connection, kept open from one request to the next (HTTP/1.1 persistence,
 * RFC 9112 §9.3): a device asked four pages costs one TCP connection and one TLS handshake instead
 * of four. Many embedded servers answer HTTP/1.1 without `Connection: close` and then close anyway,
 * or leave the socket open and never answer on it (tests/support/closing-http-server.ts plays
 * both): a request on the kept connection that fails before its answer starts — an error, or no
 * answer within REUSED_ANSWER_MIN_MS or four times the device's slowest answer — is sent once more
 * on a new connection (RFC 9112 §9.3.1 allows that for idempotent requests; the probes only read),
 * and the device is given a new connection per request from then on, as before this existed.
 * Close it when the port's requests are done: its socket is not left open.
 */
export class KeptConnection {
  private readonly agent: http.Agent;
  private reusable = true;
  private slowestAnswerMs = 0;

  constructor(tlsPort: boolean) {
    const options = { keepAlive: true, maxSockets: 1, maxFreeSockets: 1 };
    this.agent = tlsPort ? new https.Agent({ ...options, maxCachedSessions: 1 }) : new http.Agent(options);
  }

  /** The agent to send on, or undefined once the device showed it does not keep connections. */
  get current(): http.Agent | undefined {
    return this.reusable ? this.agent : undefined;
  }

  /** How long a request on a reused socket may wait for its answer to start. */
  get reusedAnswerMs(): number {
    return Math.max(REUSED_ANSWER_MIN_MS, REUSED_ANSWER_FACTOR * this.slowestAnswerMs);
  }

  /** Records how long an answer on this connection took to start. */
  answered(ms: number): void {
    this.slowestAnswerMs = Math.max(this.slowestAnswerMs, ms);
  }

  /** The kept socket failed: new connections from now on. */
  giveUp(): void {
    this.reusable = false;
    this.agent.destroy();
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * One exchange: on `request.connection` when given (a reused socket that fails before its answer
 * starts sends the request once more on a new connection: KeptConnection), else on a connection
 * of its own.
 */
export async function httpRequest(request: HttpRequest): Promise<HttpResult> {
  const kept = request.connection;
  const agent = kept?.current;
  if (kept && agent) {
    const { result, keptSocketFailed } = await exchange(request, { agent, kept });
    if (!keptSocketFailed) return result;
    kept.giveUp();
  }
  return (await exchange(request, undefined)).result;
}

/**
 * `keptSocketFailed`: the request went out on a reused socket of a kept connection and failed
 * before its answer started (not cut short by the caller's signal).
 */
function exchange(
  request: HttpRequest,
  on: { agent: http.Agent; kept: KeptConnection } | undefined,
): Promise<{ result: HttpResult; keptSocketFailed: boolean }> {
  return new Promise((resolve) => {
    let settled = false;
    let reused = false;
    let answerStarted = false;
    const sentAt = Date.now();
    const finish = (result: HttpResult): void => {
      if (settled) return;
      settled = true;
      cancelDeadline();
      cancelReusedDeadline();
      // Before the answer started, a failure on a reused socket is the kept connection's, not the device's answer.
      resolve({ result, keptSocketFailed: reused && !answerStarted && !result.ok && request.signal?.aborted !== true });
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
        ...(on ? {} : { Connection: 'close' }),
      },
      // Without a kept connection, a fresh one per request, never Node's global keep-alive pool: a
      // device that answers HTTP/1.1 without `Connection: close` and then closes anyway would leave a
      // dead socket in the pool, and the next request to it fails with "socket hang up" (RFC 9112
      // §9.6: a client must not reuse a connection the server closed). The `Connection: close`
      // header alone does not stop the pool. A KeptConnection sends again on a new socket instead.
      agent: on ? on.agent : false,
      // Devices present self-signed certificates; this client identifies, it does not trust.
      rejectUnauthorized: false,
      // One TLS context for every connection to a device instead of one built per connection; old firmware's TLS accepted.
      ...(transport === https ? { secureContext: deviceTlsContext() } : {}),
      // Guards against header floods (Node's own limit is 16 KiB).
      maxHeaderSize: 16 * 1024,
      signal: request.signal,
    });
    const cancelDeadline = exchangeDeadline(request.timeoutMs, () => {
      req.destroy();
      finish({ ok: false, status: 'timeout', reason: `no complete answer within ${request.timeoutMs} ms` });
    });
    let cancelReusedDeadline = (): void => undefined;
    req.on('socket', (socket) => {
      const { onTlsPeer } = request;
      if (onTlsPeer && socket instanceof TLSSocket && !req.reusedSocket) {
        socket.once('secureConnect', () => {
          const cert = socket.getPeerX509Certificate();
          if (cert) onTlsPeer({ cert, protocol: socket.getProtocol() });
        });
      }
      if (!on || !req.reusedSocket) return;
      reused = true;
      cancelReusedDeadline = exchangeDeadline(on.kept.reusedAnswerMs, () => {
        req.destroy();
        finish({ ok: false, status: 'timeout', reason: `no answer on the kept connection within ${on.kept.reusedAnswerMs} ms` });
      });
    });
    req.on('error', (error: NodeJS.ErrnoException) =>
      finish({ ok: false, status: failureStatus(error), reason: error.message }),
    );
    req.on('response', (res) => {
      answerStarted = true;
      cancelReusedDeadline();
      on?.kept.answered(Date.now() - sentAt);
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
