/**
 * Alerts to a SIEM as syslog messages (RFC 5424) carrying one CEF line each (cef.ts), over UDP
 * (RFC 5426: one message a datagram), TCP (RFC 6587 §3.4.1 octet counting) or TLS (RFC 5425, which
 * requires octet counting; the server's certificate is always verified, against `caFile` or the
 * system CAs).
 *
 * A small codec of its own: syslog-client 1.1.1, the most used RFC 5424 client on npm, has no TLS
 * transport and frames TCP with a line feed (RFC 6587 §3.4.2), which RFC 5425 does not allow.
 *
 *   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG
 *
 * PRI = facility × 8 + severity (RFC 5424 §6.2.1), the severity from the alert's CEF severity;
 * TIMESTAMP the alert's time (RFC 3339, UTC); HOSTNAME this machine's name (printable ASCII, at most
 * 255); APP-NAME `cctv-agent`; MSGID the alert type; no structured data; MSG the CEF line, sent as
 * MSG-ANY (no byte order mark: SIEM CEF parsers read the line from its first byte).
 *
 * Best effort: a message that cannot be sent is logged and not retried (syslog keeps no
 * acknowledgement to retry on); the webhook is the sink with an outbox.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { hostname } from 'node:os';
import tls from 'node:tls';
import type { Alert } from './alerts.js';
import { cefLine, cefSeverity } from './cef.js';

export type SyslogTransport = 'udp' | 'tcp' | 'tls';

export interface SyslogTarget {
  host: string;
  port: number;
  transport: SyslogTransport;
  /** RFC 5424 facility code 0–23; default 16 (local0). */
  facility: number;
  /** PEM CA(s) for a TLS server, instead of the system ones. */
  ca?: string;
  timeoutMs: number;
}

export const DEFAULT_SYSLOG_FACILITY = 16;
/** Ports registered for syslog: 514/udp (RFC 5426), 6514/tcp over TLS (RFC 5425); 514/tcp by custom (RFC 6587). */
export const DEFAULT_SYSLOG_PORTS: Record<SyslogTransport, number> = { udp: 514, tcp: 514, tls: 6514 };
export const APP_NAME = 'cctv-agent';

/** RFC 5424 §6.2.1 severity of a CEF severity 0–10: 9–10 critical (2), 7–8 error (3), 5–6 warning (4), below notice (5). */
export function syslogSeverity(cef: number): number {
  if (cef >= 9) return 2;
  if (cef >= 7) return 3;
  if (cef >= 5) return 4;
  return 5;
}

/** HOSTNAME: PRINTUSASCII (33–126), 1–255 characters (RFC 5424 §6.2.4); "-" when there is nothing left. */
function headerField(value: string, max: number): string {
  const printable = value.replace(/[^\x21-\x7e]/g, '').slice(0, max);
  return printable === '' ? '-' : printable;
}

/** One alert as one RFC 5424 message. */
export function syslogMessage(alert: Alert, facility: number, host = hostname(), pid = process.pid): string {
  const pri = facility * 8 + syslogSeverity(cefSeverity(alert));
  const timestamp = new Date(alert.at).toISOString();
  return `<${pri}>1 ${timestamp} ${headerField(host, 255)} ${APP_NAME} ${pid} ${headerField(alert.type, 32)} - ${cefLine(alert)}`;
}

/** RFC 6587 §3.4.1 octet counting: "LENGTH SP MESSAGE", the length in octets. */
export function octetCounted(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}

/** Sends the messages; resolves when the last was handed to the network, rejects with the first error. */
export function sendSyslog(target: SyslogTarget, messages: readonly string[]): Promise<void> {
  if (messages.length === 0) return Promise.resolve();
  return target.transport === 'udp' ? sendUdp(target, messages) : sendStream(target, messages);
}

function sendUdp(target: SyslogTarget, messages: readonly string[]): Promise<void> {
  const socket = dgram.createSocket(net.isIPv6(target.host) ? 'udp6' : 'udp4');
  const sendOne = (message: string): Promise<void> =>
    new Promise((resolve, reject) => socket.send(Buffer.from(message, 'utf8'), target.port, target.host, (error) => (error ? reject(error) : resolve())));
  return (async () => {
    try {
      for (const message of messages) await sendOne(message);
    } finally {
      socket.close();
    }
  })();
}

function sendStream(target: SyslogTarget, messages: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket =
      target.transport === 'tls'
        ? tls.connect({ host: target.host, port: target.port, servername: net.isIP(target.host) ? undefined : target.host, ...(target.ca ? { ca: target.ca } : {}) })
        : net.connect({ host: target.host, port: target.port });
    let settled = false;
    const finish = (error?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) {
        socket.destroy();
        reject(error);
      } else resolve();
    };
    const timer = setTimeout(() => finish(new Error(`no connection to ${target.host}:${target.port} within ${target.timeoutMs} ms`)), target.timeoutMs);
    socket.once(target.transport === 'tls' ? 'secureConnect' : 'connect', () => {
      socket.end(Buffer.concat(messages.map(octetCounted)), () => finish());
    });
    socket.on('error', (error) => finish(error));
  });
}
