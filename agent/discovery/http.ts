/**
 * HTTP(S) pages that identify a device without logging in (phase 'probe'): on every open port the
 * connect phase marked for `http` (fingerprints/ports.yaml), a few GETs from
 * fingerprints/http-probes.yaml — `/`, the favicon, Hikvision's ISAPI deviceInfo (answered 401
 * without credentials, which is the point; old firmware answers it whole, and then its identity is
 * read: agent/protocols/isapi.ts), the Hikvision login page. One observation per
 * (ip, port, path): status `ok`, `auth-required` (401), `timeout`, `refused`, `protocol-error` or
 * `error`, with the fields agent/protocols/http-page.ts reads from the answer.
 *
 * Safety: GET only, never credentials; a redirect is recorded, never followed (Node's client does
 * not follow, and no code here does); bodies are capped and every exchange has a deadline; a
 * port that times out or does not speak HTTP is not asked again; each host has its own deadline;
 * every request waits for the scan's shared --rate. A port whose probes include `tls` is asked
 * over HTTPS (the certificate is not checked: this identifies, it does not trust).
 *
 * A host's plain web ports (80, 8080) are asked before its TLS ones (443, 8443), each kind in port
 * order. A TLS port whose first page comes back exactly as a plain port's of the same host
 * did (status, Server header and body alike) serves the same web interface: its other pages are
 * not asked again, one request instead of all of them (cameras serve one web application on both).
 */
import type { HttpProbeData } from '../knowledge/tables.js';
import { deviceUrl, httpRequest, KeptConnection } from '../net/http-client.js';
import type { TlsPeer } from '../net/device-tls.js';
import { zoneOf } from '../net/ip-address.js';
import { pageFields } from '../protocols/http-page.js';
import { parseIsapiDeviceInfo } from '../protocols/isapi.js';
import { openPortsFor, probeHosts, withDefaults, type ItemProbe } from './probe-hosts.js';
import { asTheyCome, claimUnprobed, portsSwept } from './probe-passes.js';
import type { Discoverer, ScanContext } from './types.js';
import type { Observation } from '../types.js';
import { cleanDeviceFields, CLEANED_FIELD } from '../safe-text.js';

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
  // Each host sees one request at a time. 64 hosts at once were no faster on the 1,000-device
  // crowd than 16 (its probes are bound by CPU, not by waiting: BENCHMARKS.md "Probes beside the sweep").
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

/** The open ports marked for `http`, on hosts active probes may touch, grouped by host: plain ones first, each kind in port order. */
export function httpTargets(ctx: ScanContext): Map<string, HttpTarget[]> {
  const byHost = new Map<string, HttpTarget[]>();
  for (const { ip, port, probes } of openPortsFor(ctx, 'http')) {
    const target = { ip, port, tls: probes.includes('tls') };
    const list = byHost.get(ip);
    if (list) list.push(target);
    else byHost.set(ip, [target]);
  }
  for (const list of byHost.values()) list.sort((a, b) => Number(a.tls) - Number(b.tls) || a.port - b.port);
  return byHost;
}

/** A port's answer to the first page, to tell a TLS port that serves a plain port's web interface. */
interface FirstAnswer {
  status: number;
  /** The Server header's values, one per line. */
  server: string;
  body: Buffer;
  truncated: boolean;
}

function sameAnswer(a: FirstAnswer, b: FirstAnswer): boolean {
  return a.status === b.status && a.server === b.server && a.truncated === b.truncated && a.body.equals(b.body);
}

/** `http://198.18.0.10:80/path`; IPv6 literals bracketed, a link-local one's zone apart (deviceUrl). */
function targetUrl(target: HttpTarget, path: string): URL {
  return deviceUrl(target.tls ? 'https' : 'http', target.ip, target.port, path);
}

export function createHttpDiscoverer(options: HttpProbeOptions = {}): Discoverer<'http-pages'> {
  const { timeoutMs, maxBodyBytes, hostConcurrency, hostDeadlineMs } = withDefaults(options, DEFAULTS);

  /** Asks every web port its pages, host after host (see the module comment). */
  const askPages = async (ctx: ScanContext, emit: (o: Observation) => void): Promise<void> => {
    if (!ctx.active) return;
    const log = ctx.log.child({ module: 'http-pages' });
    const data = options.data ?? ctx.knowledge.httpProbes;
    const markers = data.markers.map((m) => m.text);
    let hostCount = 0;
    // A host's pages are asked port after port: only once every port of it is known.
    const hosts = asTheyCome(ctx, (view) => {
      const found = [...httpTargets(view)]
        .filter(([ip]) => portsSwept(view, ip))
        .map(([ip, targets]) => [ip, claimUnprobed(view, 'http-pages', targets, (t) => `${t.ip} ${t.port}`)] as const)
        .filter(([, targets]) => targets.length > 0);
      hostCount += found.length;
      return found;
    });
    let requests = 0;
    let sameInterfacePorts = 0;

    /** Asks the port's pages; returns its answer to the first one, when it answered. */
    const askPort = async (target: HttpTarget, probe: ItemProbe, plainFirstAnswers: readonly FirstAnswer[]): Promise<FirstAnswer | null> => {
      // The port's pages are asked over one connection when the device keeps it (GETs: sent again on a new one if it did not).
      const connection = new KeptConnection(target.tls);
      try {
        return await askPortOver(connection, target, probe, plainFirstAnswers);
      } finally {
        connection.close();
        // No handshake there (refused, silent, cut short): the certificate probe makes its own.
        if (target.tls) ctx.tlsHandshakes?.tell(target.ip, target.port, null);
      }
    };

    const askPortOver = async (
      connection: KeptConnection,
      target: HttpTarget,
      { signal, limiter }: ItemProbe,
      plainFirstAnswers: readonly FirstAnswer[],
    ): Promise<FirstAnswer | null> => {
      let firstAnswer: FirstAnswer | null = null;
      for (const { path, purpose } of data.paths) {
        if (firstAnswer && plainFirstAnswers.some((plain) => sameAnswer(plain, firstAnswer as FirstAnswer))) {
          sameInterfacePorts++;
          log.debug({ ip: target.ip, port: target.port }, 'TLS port serves the same web interface as a plain one: its other pages are not asked again');
          return firstAnswer;
        }
        if (!(await limiter.take(signal))) return firstAnswer;
        requests++;
        const url = targetUrl(target, path);
        const exchange = httpRequest({
          url,
          zone: zoneOf(target.ip),
          method: 'GET',
          headers: { 'User-Agent': USER_AGENT, Accept: '*/*' },
          timeoutMs,
          maxBodyBytes,
          signal,
          connection,
          // The port's first handshake shows its certificate to the certificate probe (probe-passes.ts TlsHandshakes).
          ...(target.tls && ctx.tlsHandshakes ? { onTlsPeer: (peer: TlsPeer) => ctx.tlsHandshakes?.tell(target.ip, target.port, peer) } : {}),
        });
        // The port's first request tells the ONVIF guess at this port whether it is worth asking (probe-passes.ts PortSilence).
        ctx.portSilence?.asking(target.ip, target.port, exchange.then((r) => !r.ok && r.status === 'timeout'));
        const result = await exchange;
        const at = new Date().toISOString();
        if (!result.ok) {
          // Cut short by the host's or the scan's deadline: that is a timeout, not a fault.
          const status = signal.aborted ? 'timeout' : result.status;
          log.debug({ url: url.href, status, reason: result.reason }, 'HTTP probe failed');
          emit({ source: 'http-pages', ip: target.ip, port: target.port, at, status, fields: { 'http.path': path } });
          // A port that does not answer HTTP in time, or answers something else, is left alone.
          return firstAnswer;
        }
        const { response } = result;
        firstAnswer ??= { status: response.status, server: [response.headers.server ?? []].flat().join('\n'), body: response.body, truncated: response.truncated };
        const fields = pageFields(
          { path, purpose, status: response.status, headers: response.headers, body: response.body, truncated: response.truncated },
          markers,
        );
        // Old firmware gives its ISAPI DeviceInfo away without a login: the whole identity, read as the credentialed read would.
        const deviceInfo = response.status === 200 ? parseIsapiDeviceInfo(response.body) : null;
        const all = deviceInfo ? cleanDeviceFields({ ...fields, ...deviceInfo, 'vendorapi.name': 'hikvision-isapi', 'vendorapi.auth': 'open' }) : fields;
        emit({ source: 'http-pages', ip: target.ip, port: target.port, at, status: response.status === 401 ? 'auth-required' : 'ok', fields: all });
      }
      return firstAnswer;
    };

    await probeHosts(ctx, hosts, { concurrency: hostConcurrency, deadlineMs: hostDeadlineMs }, ([ip]) => ip, async ([ip, targets], host) => {
      const plainFirstAnswers: FirstAnswer[] = [];
      for (const target of targets) {
        if (host.signal.aborted) break;
        const first = await askPort(target, host, target.tls ? plainFirstAnswers : []);
        if (first && !target.tls) plainFirstAnswers.push(first);
      }
      if (host.signal.aborted && !ctx.signal.aborted) log.info({ ip, deadlineMs: hostDeadlineMs }, 'HTTP probes of this host stopped at its deadline');
    });
    log.info({ hosts: hostCount, requests, sameInterfacePorts }, 'HTTP probes finished');
  };

  return {
    name: 'http-pages',
    phase: 'probe',
    evidence: 'http',
    emits: [
      'http.path', 'http.status', 'http.header.server', 'http.header.wwwAuthenticate', 'http.header.location', 'http.header.etag',
      'http.header.p3p', 'http.auth.scheme', 'http.auth.realm', 'http.title', 'http.marker', 'http.favicon.md5', 'http.favicon.mmh3',
      'http.body.bytes', 'http.body.truncated', 'isapi.model', 'isapi.serial', 'isapi.mac', 'isapi.firmware', 'isapi.deviceType',
      'isapi.manufacturer', 'isapi.oemCode', 'isapi.subSerial', 'isapi.namespace', 'vendorapi.name', 'vendorapi.auth', CLEANED_FIELD,
    ],
    description: 'HTTP(S) GET of a few identifying pages and the favicon on open web ports, without credentials',
    incremental: true,

    async run(ctx: ScanContext, emit: (o: Observation) => void): Promise<void> {
      try {
        await askPages(ctx, emit);
      } finally {
        // Ports this probe never handshook: the certificate probe reads them itself.
        ctx.tlsHandshakes?.close();
      }
    },
  };
}

export const httpPages: Discoverer<'http-pages'> = createHttpDiscoverer();
