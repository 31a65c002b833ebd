/**
 * TLS server certificates (phase 'probe'): on every open port the connect phase marked for `tls`
 * (fingerprints/ports.yaml), one handshake, the server's certificate read with Node's
 * X509Certificate, and the connection closed before any application data. A port also marked for
 * `http` is handshaken by the HTTPS page probe anyway: when the scan runs both, the certificate is
 * read from that handshake (ScanContext.tlsHandshakes), and only where that probe made none is the
 * port handshaken here. Vendor default
 * certificates are strong tells (Hikvision `CN=www.hikvision.com,OU=DVRNVR,…`: rapid7/recog
 * xml/x509_subjects.xml@14fa1a7211e7fb5707c7a1b421a07d6c2cf4eec5; Dahua's "Dahua Device NVR CA"
 * issuer: https://github.com/D4-project/Plum-Island/issues/204).
 *
 * The certificate is read, not trusted: no chain check (rejectUnauthorized false), no SNI for an
 * IP address (RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted in HostName"), and
 * old protocol versions and ciphers are allowed, since camera firmware is often years old; none of
 * that matters when no data is exchanged. Names are written in the RFC 4514 string form
 * (`CN=…,OU=…,O=…,L=…,ST=…,C=…`: the last RDN of the certificate first, special characters
 * backslash-escaped), which is also OpenSSL's RFC 2253 output and what recog's x509 databases match.
 */
import tls from 'node:tls';
import type { X509Certificate } from 'node:crypto';
import { deviceTlsContext, type TlsPeer } from '../net/device-tls.js';
import { cappedText } from '../protocols/http-page.js';
import { cleanDeviceFields, CLEANED_FIELD } from '../safe-text.js';
import { exchangeDeadline } from '../net/abort.js';
import { AsyncQueue } from '../net/rate-limiter.js';
import { openPortsFor, probeHosts, withDefaults, type ItemProbe, type OpenPort } from './probe-hosts.js';
import { asTheyCome, claimUnprobed, portsSwept } from './probe-passes.js';
import type { Discoverer, ScanContext } from './types.js';
import type { Fields, Observation, ProbeStatus } from '../types.js';

/** Longest distinguished name kept (characters). */
export const MAX_NAME_LENGTH = 1024;
/** At most this many subjectAltName entries are kept. */
export const MAX_SAN_ENTRIES = 32;

/**
 * Node's multi-line name (one RDN per line in certificate order, values already escaped per RFC
 * 2253 §2.4, control characters hex-escaped) → the RFC 4514 single-line form: RDNs reversed,
 * comma-separated.
 */
export function rfc4514(nodeName: string): string {
  const rdns = nodeName.split('\n').filter((line) => line.length > 0);
  return cappedText(rdns.reverse().join(','), MAX_NAME_LENGTH);
}

/** `DNS:cam.local, IP Address:192.0.2.7` → ['DNS:cam.local', 'IP Address:192.0.2.7']. */
export function subjectAltNames(san: string | undefined): string[] {
  if (!san) return [];
  // Entries are ", "-separated; a comma inside a (quoted) value is not followed by "Type:".
  return san
    .split(/, (?=[A-Za-z][A-Za-z ]*:)/)
    .map((entry) => cappedText(entry))
    .filter(Boolean)
    .slice(0, MAX_SAN_ENTRIES);
}

/** The observation fields of a server certificate (fingerprints/fields.yaml lists them). */
export function certificateFields(cert: X509Certificate): Fields {
  const fields: Fields = {
    'tls.subject': rfc4514(cert.subject),
    'tls.issuer': rfc4514(cert.issuer),
    'tls.notBefore': new Date(cert.validFrom).toISOString(),
    'tls.notAfter': new Date(cert.validTo).toISOString(),
    'tls.fingerprint256': cert.fingerprint256.toLowerCase(),
    // Issued by its own subject AND signed by its own key (a CA-signed leaf can share a name).
    'tls.selfSigned': String(cert.checkIssued(cert) && cert.verify(cert.publicKey)),
  };
  const san = subjectAltNames(cert.subjectAltName);
  if (san.length) fields['tls.san'] = san;
  // Node hex-escapes control characters in names (RFC 2253 §2.4) but not bidirectional ones.
  return cleanDeviceFields(fields);
}

export type HandshakeResult =
  | { ok: true; cert: X509Certificate; protocol: string | null }
  | { ok: false; status: ProbeStatus; reason: string };

/** One TLS handshake to read the server certificate; the socket is closed at once. Never rejects. */
export function fetchCertificate(ip: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<HandshakeResult> {
  return new Promise((resolvePromise) => {
    let settled = false;
    const socket = tls.connect({ host: ip, port, rejectUnauthorized: false, secureContext: deviceTlsContext() });
    const finish = (result: HandshakeResult): void => {
      if (settled) return;
      settled = true;
      cancelDeadline();
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolvePromise(result);
    };
    const onAbort = (): void => finish({ ok: false, status: 'timeout', reason: 'the deadline passed' });
    const cancelDeadline = exchangeDeadline(timeoutMs, () => finish({ ok: false, status: 'timeout', reason: `no handshake within ${timeoutMs} ms` }));
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
    socket.once('secureConnect', () => {
      const cert = socket.getPeerX509Certificate();
      if (cert) finish({ ok: true, cert, protocol: socket.getProtocol() });
      else finish({ ok: false, status: 'protocol-error', reason: 'the server sent no certificate' });
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') finish({ ok: false, status: 'refused', reason: error.message });
      else if (error.code === 'ETIMEDOUT') finish({ ok: false, status: 'timeout', reason: error.message });
      // OpenSSL errors (ERR_SSL_*), a reset or a close mid-handshake: the port does not speak TLS.
      else if (error.code?.startsWith('ERR_SSL') || error.code === 'ECONNRESET' || error.code === 'EPIPE' || /socket disconnected/i.test(error.message)) {
        finish({ ok: false, status: 'protocol-error', reason: error.message });
      } else finish({ ok: false, status: 'error', reason: error.message });
    });
  });
}

export interface TlsProbeOptions {
  /** Connect and handshake together. */
  timeoutMs?: number;
  /** Ports handshaken at once. */
  concurrency?: number;
}

/** One handshake per port; 32 ports at once were no faster on the 1,000-device crowd than 16 (BENCHMARKS.md "Probes beside the sweep"). */
const DEFAULTS = { timeoutMs: 3000, concurrency: 16 } as const;

export function createTlsDiscoverer(options: TlsProbeOptions = {}): Discoverer<'tls-certificate'> {
  const { timeoutMs, concurrency } = withDefaults(options, DEFAULTS);

  return {
    name: 'tls-certificate',
    phase: 'probe',
    evidence: 'tls',
    emits: ['tls.subject', 'tls.issuer', 'tls.san', 'tls.notBefore', 'tls.notAfter', 'tls.fingerprint256', 'tls.selfSigned', 'tls.protocol', CLEANED_FIELD],
    description: 'TLS handshake on open TLS ports to read the server certificate (subject, issuer, validity)',
    incremental: true,

    async run(ctx: ScanContext, emit: (o: Observation) => void): Promise<void> {
      if (!ctx.active) return;
      const log = ctx.log.child({ module: 'tls-certificate' });
      let ports = 0;
      let certificates = 0;
      let fromPageProbe = 0;
      const record = (ip: string, port: number, peer: TlsPeer): void => {
        certificates++;
        const fields = certificateFields(peer.cert);
        if (peer.protocol) fields['tls.protocol'] = peer.protocol;
        emit({ source: 'tls-certificate', ip, port, at: new Date().toISOString(), status: 'ok', fields });
      };
      // A web port's certificate comes from the HTTPS page probe's own handshake there
      // (TlsHandshakes); it is handshaken here only when that probe made none.
      const handshakes = ctx.tlsHandshakes;
      const told: Promise<void>[] = [];
      const unhandshaken = new AsyncQueue<OpenPort>();
      const targets = asTheyCome(ctx, (view) => {
        const found = claimUnprobed(view, 'tls-certificate', openPortsFor(view, 'tls').filter((t) => portsSwept(view, t.ip)), (t) => `${t.ip} ${t.port}`);
        ports += found.length;
        if (!handshakes) return found;
        for (const target of found.filter((t) => t.probes.includes('http'))) {
          told.push(
            handshakes.peer(target.ip, target.port, ctx.signal).then((peer) => {
              if (!peer) return unhandshaken.push(target);
              fromPageProbe++;
              record(target.ip, target.port, peer);
            }),
          );
        }
        return found.filter((t) => !t.probes.includes('http'));
      });
      const handshake = async ({ ip, port }: OpenPort, { signal, limiter }: ItemProbe): Promise<void> => {
        if (!(await limiter.take(signal))) return;
        // One handshake per port, bounded by its own timeout and by the scan's deadline.
        const result = await fetchCertificate(ip, port, timeoutMs, signal);
        if (result.ok) return record(ip, port, result);
        log.debug({ ip, port, status: result.status, reason: result.reason }, 'TLS handshake failed');
        emit({ source: 'tls-certificate', ip, port, at: new Date().toISOString(), status: result.status, fields: {} });
      };
      const byHost = (target: OpenPort): string => target.ip;
      await Promise.all([
        probeHosts(ctx, targets, { concurrency }, byHost, handshake).then(async () => {
          await Promise.all(told);
          unhandshaken.close();
        }),
        probeHosts(ctx, unhandshaken, { concurrency }, byHost, handshake),
      ]);
      log.info({ ports, certificates, fromPageProbe }, 'TLS probes finished');
    },
  };
}

export const tlsCertificates: Discoverer<'tls-certificate'> = createTlsDiscoverer();
