/**
 * Where the daemon's alerts go (daemon.yaml `alerts:`), each sink one entry:
 *
 *   { type: webhook, url, auth?, caFile?, certFile?, keyFile?, timeoutMs? }
 *       POSTs each sweep's alerts as JSON (cctv-agent/alerts/v1) through a durable outbox, with the
 *       push store's auth, TLS, Idempotency-Key, retry and dead-letter rules (store/http.ts);
 *   { type: syslog, host, port?, transport: udp|tcp|tls, facility?, caFile?, timeoutMs?, maxMessageOctets? }
 *       sends each alert as an RFC 5424 message carrying a CEF line (syslog.ts), in the background,
 *       with bounded retries over TCP/TLS; best effort.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { AUTH_SPEC_SCHEMA, HTTP_URL_SPEC_SCHEMA, readPublicFile, safeAddress } from '../store/auth.js';
import { httpConfig, openHttpOutbox, type HttpBody, type HttpStoreConfig } from '../store/http.js';
import type { OutboxStore } from '../store/outbox.js';
import type { Inventory } from '../types.js';
import type { Alert } from './alerts.js';
import {
  DEFAULT_SYSLOG_FACILITY,
  DEFAULT_SYSLOG_PORTS,
  DEFAULT_UDP_MAX_MESSAGE_OCTETS,
  MIN_UDP_MAX_MESSAGE_OCTETS,
  syslogMessage,
  syslogQueue,
  type SyslogTarget,
  type SyslogTransport,
} from './syslog.js';

export const ALERTS_SCHEMA_ID = 'cctv-agent/alerts/v1';

/** The http store's keys (url, auth, caFile, certFile, keyFile, timeoutMs), as `type: webhook`. */
export type WebhookSinkConfig = Omit<HttpStoreConfig, 'type'> & { type: 'webhook' };

export interface SyslogSinkConfig {
  type: 'syslog';
  host: string;
  port?: number;
  transport: SyslogTransport;
  facility?: number;
  caFile?: string;
  timeoutMs?: number;
  /** UDP: the largest message sent, in octets (default 2048, at least 480: RFC 5426 §3.2). */
  maxMessageOctets?: number;
}

export type AlertSinkConfig = WebhookSinkConfig | SyslogSinkConfig;

const FILE = { type: 'string', minLength: 1 } as const;
const TIMEOUT = { type: 'integer', minimum: 100, maximum: 600_000 } as const;

/** JSON Schema (draft 2020-12) of one `alerts:` entry. */
export const ALERT_SINK_SCHEMA = {
  oneOf: [
    {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'url'],
      properties: { type: { const: 'webhook' }, url: HTTP_URL_SPEC_SCHEMA, auth: AUTH_SPEC_SCHEMA, caFile: FILE, certFile: FILE, keyFile: FILE, timeoutMs: TIMEOUT },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'host', 'transport'],
      properties: {
        type: { const: 'syslog' },
        host: { type: 'string', minLength: 1 },
        port: { type: 'integer', minimum: 1, maximum: 65535 },
        transport: { enum: ['udp', 'tcp', 'tls'] },
        // RFC 5424 §6.2.1: facilities 0 (kern) to 23 (local7).
        facility: { type: 'integer', minimum: 0, maximum: 23 },
        caFile: FILE,
        timeoutMs: TIMEOUT,
        // RFC 5426 §3.2: 480 octets every IPv4 receiver must take; 65507 the largest UDP payload over IPv4.
        maxMessageOctets: { type: 'integer', minimum: MIN_UDP_MAX_MESSAGE_OCTETS, maximum: 65_507 },
      },
    },
  ],
} as const;

/** Per-connection limit of a syslog sink over TCP or TLS. */
const DEFAULT_SYSLOG_TIMEOUT_MS = 10_000;

export interface AlertSink {
  /** As logs name it: `webhook:https://…/path`, `syslog+tls:host:6514`. */
  readonly label: string;
  /** Hands the sweep's alerts over: queued durably (webhook), or queued in memory to be sent (syslog). */
  send(inventory: Inventory, alerts: readonly Alert[]): Promise<void>;
  flush(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** The webhook's JSON body: every alert of one sweep; nothing is sent for a sweep without alerts. */
const webhookBody: HttpBody = (entry) =>
  entry.alerts?.length
    ? JSON.stringify({ schema: ALERTS_SCHEMA_ID, id: entry.id, savedAt: entry.savedAt, site: entry.inventory.scan.site, scanId: entry.inventory.scan.id, alerts: entry.alerts })
    : null;

function sinkLabel(config: AlertSinkConfig): string {
  return config.type === 'webhook'
    ? `webhook:${safeAddress(config.url)}`
    : `syslog+${config.transport}:${config.host}:${config.port ?? DEFAULT_SYSLOG_PORTS[config.transport]}`;
}

/**
 * Opens every sink; a webhook keeps its outbox under `stateDir/alerts/webhook-<digest of its entry>`.
 * `syslogRetryPauseMs`: the first pause before a syslog retry (tests shorten it).
 */
export async function openAlertSinks(configs: readonly AlertSinkConfig[], context: SinkContext): Promise<AlertSink[]> {
  const sinks: AlertSink[] = [];
  try {
    for (const config of configs) sinks.push(await openSink(config, context));
  } catch (error) {
    await Promise.all(sinks.map((s) => s.close()));
    throw error;
  }
  return sinks;
}

interface SinkContext {
  log: Logger;
  stateDir: string;
  syslogRetryPauseMs?: number;
}

async function openSink(config: AlertSinkConfig, { log, stateDir, syslogRetryPauseMs: retryPauseMs }: SinkContext): Promise<AlertSink> {
  const label = sinkLabel(config);
  if (config.type === 'webhook') {
    const { type: _webhook, ...http } = config;
    const digest = createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 12);
    const outbox: OutboxStore = await openHttpOutbox(httpConfig({ ...http, type: 'http' }), { log, stateDir: join(stateDir, 'alerts', `webhook-${digest}`) }, { name: 'webhook', body: webhookBody });
    return {
      label,
      async send(inventory, alerts) {
        if (alerts.length > 0) await outbox.saveAlerts(inventory, alerts);
      },
      flush: (ms) => outbox.flush(ms),
      close: () => outbox.close(),
    };
  }
  const target: SyslogTarget = {
    host: config.host,
    port: config.port ?? DEFAULT_SYSLOG_PORTS[config.transport],
    transport: config.transport,
    facility: config.facility ?? DEFAULT_SYSLOG_FACILITY,
    timeoutMs: config.timeoutMs ?? DEFAULT_SYSLOG_TIMEOUT_MS,
    maxMessageOctets: config.maxMessageOctets ?? DEFAULT_UDP_MAX_MESSAGE_OCTETS,
    ...(config.caFile ? { ca: await readPublicFile(config.caFile) } : {}),
  };
  const queue = syslogQueue(target, log.child({ module: 'alerts/syslog', sink: label }), retryPauseMs);
  const maxOctets = target.transport === 'udp' ? target.maxMessageOctets : undefined;
  return {
    label,
    send(_inventory, alerts) {
      queue.send(alerts.map((a) => syslogMessage(a, target.facility, undefined, undefined, maxOctets)));
      return Promise.resolve();
    },
    flush: (ms) => queue.flush(ms),
    close: () => queue.close(),
  };
}
