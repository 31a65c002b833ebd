/**
 * A loopback HTTP collector for the HTTP push store's tests, behaving as a careful receiver would:
 * - records each accepted document (parsed JSON) with its Idempotency-Key, in arrival order;
 * - answers 409 to a key it already accepted, and counts those repeats;
 * - answers 401 unless the request carries the Authorization header it was told to expect;
 * - answers 400 to a body that is not JSON or has no Idempotency-Key;
 * - can be switched down (connections refused) and up again on the same port;
 * - can be told to answer a chosen status to chosen documents (`override`);
 * - speaks HTTPS when given TLS options, and then records the client certificate's subject CN
 *   (mutual TLS with `requestCert` + `rejectUnauthorized`).
 */
import { createServer } from 'node:http';
import { createServer as createTlsServer, type ServerOptions as TlsServerOptions } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { switchableServer } from './switchable-server.js';

export interface ReceivedPush {
  key: string;
  authorization: string | undefined;
  /** The CN of the client certificate, over mutual TLS. */
  clientCn: string | undefined;
  body: {
    schema: string;
    id: string;
    savedAt: string;
    inventory: { scan: { id: string; site: string } } & Record<string, unknown>;
    events: Array<Record<string, unknown>>;
  };
}

export interface HttpReceiver {
  url: string;
  /** Documents accepted (2xx), in arrival order. */
  received: ReceivedPush[];
  /** Requests refused with 409 because their key had been accepted before. */
  repeats: string[];
  /**
   * Keys of documents accepted whose answer never reached the client (the connection was cut by
   * down() first): the sender cannot know they arrived, so sending them again is correct.
   */
  unanswered: string[];
  /** Every request, accepted or not: [status answered, Idempotency-Key]. */
  requests: Array<[number, string | undefined]>;
  /** When set, only requests with exactly this Authorization header are accepted. */
  requireAuthorization: string | undefined;
  /** When it returns a status, that is the answer (and the document is not accepted). */
  override: ((body: ReceivedPush['body']) => number | undefined) | undefined;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 16 * 1024 * 1024;

export async function startHttpReceiver(options: { tls?: TlsServerOptions } = {}): Promise<HttpReceiver> {
  const accepted = new Set<string>();
  const receiver: HttpReceiver = {
    url: '',
    received: [],
    repeats: [],
    unanswered: [],
    requests: [],
    requireAuthorization: undefined,
    override: undefined,
    down: () => stop(),
    up: () => (lifecycle.running ? Promise.resolve() : listen()),
    close: () => stop(),
  };

  const handler = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      const key = req.headers['idempotency-key'];
      const keyText = typeof key === 'string' ? key : undefined;
      const answer = (status: number, text: string): void => {
        receiver.requests.push([status, keyText]);
        res.writeHead(status, { 'Content-Type': 'text/plain' });
        res.end(text);
      };
      if (req.method !== 'POST') return answer(405, 'POST only');
      if (receiver.requireAuthorization !== undefined && req.headers.authorization !== receiver.requireAuthorization) {
        return answer(401, 'unauthorized');
      }
      if (size > MAX_BODY_BYTES) return answer(413, 'too large');
      let body: ReceivedPush['body'];
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ReceivedPush['body'];
      } catch {
        return answer(400, 'not JSON');
      }
      if (!keyText) return answer(400, 'no Idempotency-Key');
      if (req.headers['content-type'] !== 'application/json') return answer(415, 'JSON only');
      const forced = receiver.override?.(body);
      if (forced !== undefined) return answer(forced, `forced ${forced}`);
      if (accepted.has(keyText)) {
        receiver.repeats.push(keyText);
        return answer(409, 'already received');
      }
      accepted.add(keyText);
      const socket = req.socket as Partial<TLSSocket>;
      const cn: unknown = socket.getPeerCertificate?.()?.subject?.CN;
      receiver.received.push({ key: keyText, authorization: req.headers.authorization, clientCn: typeof cn === 'string' && cn !== '' ? cn : undefined, body });
      res.once('close', () => {
        if (!res.writableFinished) receiver.unanswered.push(keyText);
      });
      answer(201, 'stored');
    });
  };

  const lifecycle = switchableServer(() => (options.tls ? createTlsServer(options.tls, handler) : createServer(handler)));
  async function listen(): Promise<void> {
    const port = await lifecycle.start();
    receiver.url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}/inventory`;
  }
  const stop = (): Promise<void> => lifecycle.stop();
  await listen();
  return receiver;
}
