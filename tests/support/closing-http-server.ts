/**
 * A loopback device web server written on raw TCP, behaving as many embedded servers do: it answers
 * each connection's first request with HTTP/1.1 and no `Connection: close` (so the client may
 * believe the connection persists, RFC 9112 §9.3), then closes the socket, at once or `lingerMs`
 * later, never answering anything else sent on it. A client that keeps the connection for its next
 * request finds it dead ("socket hang up").
 */
import { createServer, type AddressInfo, type Server } from 'node:net';

export interface ClosingRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface ClosingAnswer {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

export interface ClosingHttpServer {
  port: number;
  /** Every request read, in arrival order. */
  requests: ClosingRequest[];
  /** TCP connections accepted: one per request when the client never reuses one. */
  connections: number;
  /** Requests sent on a connection after its answer (a client reusing it): never answered. */
  unanswered: number;
  close(): Promise<void>;
}

/** Bytes of one request the server reads before giving up on it (these tests send small ones). */
const MAX_REQUEST_BYTES = 1024 * 1024;

function parseRequest(raw: Buffer): ClosingRequest | null {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [start = '', ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const [method = '', path = ''] = start.split(' ');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  const body = raw.subarray(end + 4);
  if (body.length < length) return null;
  return { method, path, headers, body: body.subarray(0, length).toString('utf8') };
}

export async function startClosingHttpServer(
  answer: (request: ClosingRequest) => ClosingAnswer,
  options: { lingerMs?: number } = {},
): Promise<ClosingHttpServer> {
  const state = { requests: [] as ClosingRequest[], connections: 0, unanswered: 0 };
  const server: Server = createServer((socket) => {
    state.connections++;
    let raw = Buffer.alloc(0);
    let answered = false;
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      if (answered) return void state.unanswered++;
      raw = Buffer.concat([raw, chunk]);
      if (raw.length > MAX_REQUEST_BYTES) return void socket.destroy();
      const request = parseRequest(raw);
      if (!request) return;
      answered = true;
      state.requests.push(request);
      const { status, headers = {}, body } = answer(request);
      const head = Object.entries({ ...headers, 'Content-Length': String(Buffer.byteLength(body)) }).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      socket.write(`HTTP/1.1 ${status} OK\r\n${head}\r\n${body}`);
      setTimeout(() => socket.destroy(), options.lingerMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get requests() {
      return state.requests;
    },
    get connections() {
      return state.connections;
    },
    get unanswered() {
      return state.unanswered;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
