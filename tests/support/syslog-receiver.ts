/**
 * A loopback syslog receiver for the alerts' tests: UDP (one message a datagram, RFC 5426), TCP
 * or TLS (RFC 5425; RFC 6587 octet-counted frames, split strictly when the connection ends).
 * Records each message as received.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import type { SyslogTransport } from '../../agent/alerts/syslog.js';
import { splitOctetCounted } from './cef-parser.js';

export interface SyslogReceiver {
  port: number;
  messages: string[];
  /** Resolves once `count` messages arrived (rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<string[]>;
  close(): Promise<void>;
}

/** `port`: 0 for any free one, or a chosen one (a server that comes up where a sender already tries). */
export async function startSyslogReceiver(transport: SyslogTransport, credentials?: { key: string; cert: string }, port = 0): Promise<SyslogReceiver> {
  const messages: string[] = [];
  const waiters: Array<() => void> = [];
  const arrived = (list: string[]): void => {
    messages.push(...list);
    for (const w of waiters.splice(0)) w();
  };
  let close: () => Promise<void>;
  if (transport === 'udp') {
    const socket = dgram.createSocket('udp4');
    socket.on('message', (datagram) => arrived([datagram.toString('utf8')]));
    await new Promise<void>((resolve) => socket.bind(port, '127.0.0.1', resolve));
    port = socket.address().port;
    close = () => new Promise((resolve) => socket.close(() => resolve()));
  } else {
    const onConnection = (socket: net.Socket): void => {
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('end', () => arrived(splitOctetCounted(Buffer.concat(chunks))));
    };
    const server = transport === 'tls' ? tls.createServer({ ...credentials }, onConnection) : net.createServer(onConnection);
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
    close = () => new Promise((resolve) => server.close(() => resolve()));
  }
  return {
    port,
    messages,
    async waitFor(count, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`${messages.length} of ${count} syslog messages arrived within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return messages.slice(0, count);
    },
    close: () => close(),
  };
}
