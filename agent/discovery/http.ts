/**
 * HTTP(S) pages that identify a device without logging in (phase 'probe'): on every open port the
 * connect phase marked for `http` (fingerprints/ports.yaml), a few GETs from
 * fingerprints/http-probes.yaml — `/`, the favicon, Hikvision's ISAPI deviceInfo (answered 401
 * without credentials, which is the point), the Hikvision login page. One observation per
 * (ip, port, path): status `ok`, `auth-required` (401), `timeout`, `refused`, `protocol-error` or
 * `error`, with the fields agent/protocols/http-page.ts reads from the answer.
 *
 * Safety: GET only, never credentials; a redirect is recorded, never followed (Node's client does
 * not follow, and no code here does); bodies are capped and every exchange has a deadline; a
 * port that times out or does not speak HTTP is not asked again; each host has its own deadline;
 * every request waits for the scan's shared --rate. A port whose probes include `tls` is asked
 * over HTTPS (the certificate is not checked: this identifies, it does not trust).
 */
import type { HttpProbeData } from '../knowledge/tables.js';
import { httpRequest } from '../net/http-client.js';
import { forEachLimited, sharedRateLimiter, signalScope } from '../net/rate-limiter.js';
import { pageFields } from '../protocols/http-page.js';
import { activeProbeHosts, type Discoverer, type ScanContext } from './types.js';
import type { Observation } from '../types.js';

export type { HttpProbeData } from '../knowledge/tables.js';

export interface HttpProbeOptions {
  /** Paths and markers; the knowledge base's http-probes.yaml by default. */
  data?: HttpProbeData;
  /** Whole exchange, connect to last byte. */
  timeoutMs?: number;
  /** Body bytes kept per answer. */
  maxBodyBytes?: number;
  /** Hosts asked at once (each host's requests go one after another). */
  hostConcurrency?: number;
  /** Everything one host may take. */
  hostDeadlineMs?: number;
}

const DEFAULTS = {
  timeoutMs: 3000,
  maxBodyBytes: 256 * 1024,
  hostConcurrency: 16,
  hostDeadlineMs: 12_000,
} as const;

/** Says who is asking; devices log it. */
const USER_AGENT = 'cctv-agent (CCTV inventory; no login)';

export interface HttpTarget {
  ip: string;
  port: number;
  tls: boolean;
}

/** The open ports marked for `http`, on hosts active probes may touch, grouped by host. */
export function httpTargets(ctx: ScanContext): Map<string, HttpTarget[]> {
  const allowed = new Set(activeProbeHosts(ctx));
  const byHost = new Map<string, HttpTarget[]>();
  for (const o of ctx.seen) {
    const probes = o.fields['port.probes'];
    if (o.source !== 'ports' || o.port === undefined || !Array.isArray(probes) || !probes.includes('http')) continue;
    if (!allowed.has(o.ip)) continue;
    const list = byHost.get(o.ip) ?? [];
    if (!list.some((t) => t.port === o.port)) list.push({ ip: o.ip, port: o.port, tls: probes.includes('tls') });
    byHost.set(o.ip, list);
  }
  for (const list of byHost.values()) list.sort((a, b) => a.port - b.port);
  return byHost;
}

/** `http://198.18.0.10:80/path`; IPv6 literals bracketed. */
function targetUrl(target: HttpTarget, path: string): URL {
  const host = target.ip.includes(':') ? `[${target.ip}]` : target.ip;
  return new URL(`${target.tls ? 'https' : 'http'}://${host}:${target.port}${path}`);
}

export function createHttpDiscoverer(options: HttpProbeOptions = {}): Discoverer {
  const timeoutMs = options.timeoutMs ?? DEFAULTS.timeoutMs;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULTS.maxBodyBytes;
  const hostConcurrency = options.hostConcurrency ?? DEFAULTS.hostConcurrency;
  const hostDeadlineMs = options.hostDeadlineMs ?? DEFAULTS.hostDeadlineMs;

  return {
    name: 'http',
    phase: 'probe',
    method: 'http-pages',
    description: 'HTTP(S) GET of a few identifying pages and the favicon on open web ports, without credentials',

    async run(ctx: ScanContext, emit: (o: Observation) => void): Promise<void> {
      if (!ctx.active) return;
      const log = ctx.log.child({ module: 'http' });
      const data = options.data ?? ctx.knowledge.httpProbes;
      const markers = data.markers.map((m) => m.text);
      const limiter = sharedRateLimiter(ctx);
      const hosts = [...httpTargets(ctx).entries()];
      let requests = 0;

      const askPort = async (target: HttpTarget, signal: AbortSignal): Promise<void> => {
        for (const { path, purpose } of data.paths) {
          if (!(await limiter.take(signal))) return;
          requests++;
          const url = targetUrl(target, path);
          const result = await httpRequest({
            url,
            method: 'GET',
            headers: { 'User-Agent': USER_AGENT, Accept: '*/*' },
            timeoutMs,
            maxBodyBytes,
            signal,
          });
          const at = new Date().toISOString();
          if (!result.ok) {
            // Cut short by the host's or the scan's deadline: that is a timeout, not a fault.
            const status = signal.aborted ? 'timeout' : result.status;
            log.debug({ url: url.href, status, reason: result.reason }, 'HTTP probe failed');
            emit({ source: 'http', ip: target.ip, port: target.port, at, status, fields: { 'http.path': path } });
            // A port that does not answer HTTP in time, or answers something else, is left alone.
            return;
          }
          const { response } = result;
          const fields = pageFields(
            { path, purpose, status: response.status, headers: response.headers, body: response.body, truncated: response.truncated },
            markers,
          );
          emit({ source: 'http', ip: target.ip, port: target.port, at, status: response.status === 401 ? 'auth-required' : 'ok', fields });
        }
      };

      await forEachLimited(hosts, hostConcurrency, ctx.signal, async ([ip, targets]) => {
        const hostDeadline = signalScope(ctx.signal, hostDeadlineMs);
        try {
          for (const target of targets) {
            if (hostDeadline.signal.aborted) break;
            await askPort(target, hostDeadline.signal);
          }
          if (hostDeadline.signal.aborted && !ctx.signal.aborted) log.info({ ip, deadlineMs: hostDeadlineMs }, 'HTTP probes of this host stopped at its deadline');
        } finally {
          hostDeadline.dispose();
        }
      });
      log.info({ hosts: hosts.length, requests }, 'HTTP probes finished');
    },
  };
}

export const httpPages: Discoverer = createHttpDiscoverer();
