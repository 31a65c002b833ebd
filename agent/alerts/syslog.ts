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
 * Over UDP a message is kept within `maxMessageOctets` (default 2048) by shortening the free-text
 * CEF values (cef.ts cefLine): RFC 5426 §3.2 says IPv4 receivers MUST take datagrams of 480 octets,
 * IPv6 ones 1180, and all SHOULD take 2048; a larger datagram may be truncated (RFC 5424 §6.1),
 * which would cut a CEF line mid-field, or fragmented and lost.
 *
 * Over TCP and TLS a batch whose connection fails (refused, reset, timed out) is sent again on a
 * new connection, SYSLOG_ATTEMPTS times in all with a doubling pause (syslogQueue); a batch cut mid-way
 * may then arrive twice, which the CEF externalId (the same on a resend) lets the SIEM fold. A
 * certificate that cannot be verified is not retried. No acknowledgement exists beyond TCP's, so
 * this is still best effort; the webhook is the sink with a durable outbox.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import type { Logger } from '../log.js';
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
  /** UDP: the largest message sent (octets). */
  maxMessageOctets: number;
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

/**
 * RFC 5426 §3.2: "All syslog receivers SHOULD be able to receive datagrams with message sizes of
 * up to and including 2048 octets"; 480 is what every IPv4 receiver MUST take (the lowest allowed).
 */
export const DEFAULT_UDP_MAX_MESSAGE_OCTETS = 2048;
export const MIN_UDP_MAX_MESSAGE_OCTETS = 480;

/** One alert as one RFC 5424 message, of at most `maxOctets` when its free-text CEF values can be cut that far. */
export function syslogMessage(alert: Alert, facility: number, host = hostname(), pid = process.pid, maxOctets = Number.POSITIVE_INFINITY): string {
  const pri = facility * 8 + syslogSeverity(cefSeverity(alert));
  const timestamp = new Date(alert.at).toISOString();
  const header = `<${pri}>1 ${timestamp} ${headerField(host, 255)} ${APP_NAME} ${pid} ${headerField(alert.type, 32)} - `;
  return `${header}${cefLine(alert, maxOctets - Buffer.byteLength(header, 'utf8'))}`;
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
    const timer = setTimeout(
      () => finish(Object.assign(new Error(`no connection to ${target.host}:${target.port} within ${target.timeoutMs} ms`), { code: 'ETIMEDOUT' })),
      target.timeoutMs,
    );
    socket.once(target.transport === 'tls' ? 'secureConnect' : 'connect', () => {
      socket.end(Buffer.concat(messages.map(octetCounted)), () => finish());
    });
    socket.on('error', (error) => finish(error));
  });
}

/**
 * Attempts per batch over TCP/TLS: the first and two more, 1 s then 2 s later, which rides out a
 * SIEM collector restarting or a load balancer swapping its member without holding alerts for long.
 */
export const SYSLOG_ATTEMPTS = 3;
export const SYSLOG_FIRST_RETRY_PAUSE_MS = 1_000;
/**
 * Batches (one a sweep) waiting while the SIEM is unreachable; beyond this the newest batch is
 * dropped and logged. With each batch given up after its attempts, a queue this long means sweeps
 * far more often than the SIEM answers.
 */
export const MAX_QUEUED_SYSLOG_BATCHES = 32;

/** Connection failures worth a new connection; anything else (a certificate that does not verify) is not. */
const RETRYABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

export interface SyslogQueue {
  /** Queues the messages (one batch) and returns at once. */
  send(messages: readonly string[]): void;
  /** Whether every queued batch was sent or given up within `timeoutMs`. */
  flush(timeoutMs: number): Promise<boolean>;
  /** No more retries: the batch being sent gets its current attempt, the queued ones are dropped and logged. */
  close(): Promise<void>;
}

/**
 * Sends batches one after another in the background, so a sweep never waits for the SIEM, each
 * with SYSLOG_ATTEMPTS attempts over TCP/TLS (one over UDP: nothing tells a datagram was lost).
 */
export function syslogQueue(target: SyslogTarget, log: Logger, firstRetryPauseMs = SYSLOG_FIRST_RETRY_PAUSE_MS): SyslogQueue {
  let tail: Promise<void> = Promise.resolve();
  let queued = 0;
  let closed = false;
  const stopped = new AbortController();

  async function deliver(messages: readonly string[]): Promise<void> {
    const attempts = target.transport === 'udp' ? 1 : SYSLOG_ATTEMPTS;
    for (let attempt = 1; ; attempt++) {
      if (closed) {
        log.error({ alerts: messages.length }, 'alerts dropped: the syslog sink was closed (shutdown or reload) before they were sent');
        return;
      }
      try {
        await sendSyslog(target, messages);
        return;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? '';
        const why = (error as Error).message;
        if (attempt >= attempts || !RETRYABLE.has(code) || closed) {
          log.error({ alerts: messages.length, attempts: attempt, err: why }, 'alerts could not be sent to syslog and are dropped (the webhook sink is the one with a durable outbox)');
          return;
        }
        const pauseMs = firstRetryPauseMs * 2 ** (attempt - 1);
        log.warn({ alerts: messages.length, attempt, err: why, retryInMs: pauseMs }, 'syslog connection failed; will retry');
        await sleep(pauseMs, undefined, { signal: stopped.signal }).catch(() => undefined);
      }
    }
  }

  return {
    send(messages) {
      if (messages.length === 0) return;
      if (queued >= MAX_QUEUED_SYSLOG_BATCHES) {
        log.error({ alerts: messages.length, queued }, 'alerts dropped: too many batches already wait for the syslog server');
        return;
      }
      queued += 1;
      tail = tail.then(() => deliver(messages)).finally(() => (queued -= 1));
    },
    async flush(timeoutMs) {
      const done = tail.then(() => true);
      const late = sleep(timeoutMs, false, { ref: false });
      return Promise.race([done, late]);
    },
    async close() {
      closed = true;
      stopped.abort();
      await tail;
    },
  };
}
