import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createTcpServer } from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { createServer as createHttpsServer } from 'node:https';
import { createHttpDiscoverer } from '../../agent/discovery/http.js';
import { TlsHandshakes } from '../../agent/discovery/probe-passes.js';
import { certificateFields, createTlsDiscoverer, fetchCertificate, rfc4514, subjectAltNames } from '../../agent/discovery/tls.js';
import type { ScanContext } from '../../agent/discovery/types.js';
import type { Observation } from '../../agent/types.js';
import { loopbackContext } from '../support/scan-context.js';
import { checkedEmit } from '../support/declared-emits.js';
import { listenOnLoopback } from '../support/loopback-server.js';

// Real TLS on 127.0.0.1 with the lab-only certificates of tests/lab/certs/ (generated with openssl,
// vendor default names; see its README). X509Certificate of the same files is the independent check.
const labCert = (name: string): Buffer => readFileSync(new URL(`../lab/certs/${name}`, import.meta.url));

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

async function listen(server: ReturnType<typeof createTcpServer>): Promise<number> {
  const { port, close } = await listenOnLoopback(server);
  closers.push(close);
  return port;
}

/** A TLS server presenting tests/lab/certs/NAME.crt; it says nothing after the handshake. */
function tlsServer(name: string, versions: Pick<TlsOptions, 'minVersion' | 'maxVersion' | 'ciphers'> = {}): Promise<number> {
  const server = createTlsServer({ key: labCert(`${name}.key`), cert: labCert(`${name}.crt`), ...versions }, (socket) => socket.on('error', () => undefined));
  server.on('tlsClientError', () => undefined);
  return listen(server);
}

function context(seen: Observation[], over: Partial<ScanContext> = {}): ScanContext {
  return loopbackContext({ seen, ...over });
}

function portObservation(port: number, probes: string[] = ['http', 'tls']): Observation {
  return { source: 'tcp-connect', ip: '127.0.0.1', port, at: new Date().toISOString(), status: 'ok', fields: { 'port.state': 'open', 'port.service': 'https', 'port.probes': probes } };
}

async function probe(seen: Observation[], over: Partial<ScanContext> = {}, timeoutMs = 1000): Promise<Observation[]> {
  const observations: Observation[] = [];
  const discoverer = createTlsDiscoverer({ timeoutMs });
  await discoverer.run(context(seen, over), checkedEmit(discoverer, observations));
  return observations;
}

describe('rfc4514 and subjectAltNames', () => {
  it('turns Node\'s multi-line name into the RFC 4514 single line, escapes kept', () => {
    expect(rfc4514('C=CN\nST=ZheJiang\nL=HangZhou\nO=HIKVISION\nOU=DVRNVR\nCN=www.hikvision.com')).toBe(
      'CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,L=HangZhou,ST=ZheJiang,C=CN',
    );
    expect(rfc4514('C=CN\nO=Zhejiang Dahua Technology Co.\\,Ltd.\nCN=NVR')).toBe('CN=NVR,O=Zhejiang Dahua Technology Co.\\,Ltd.,C=CN');
    expect(rfc4514(`CN=${'x'.repeat(5000)}`)).toHaveLength(1024);
  });

  it('splits subjectAltName entries', () => {
    expect(subjectAltNames('DNS:hosttcp.lab.invalid, IP Address:198.18.0.66')).toEqual(['DNS:hosttcp.lab.invalid', 'IP Address:198.18.0.66']);
    expect(subjectAltNames(undefined)).toEqual([]);
    expect(subjectAltNames(Array.from({ length: 100 }, (_, i) => `DNS:h${i}`).join(', '))).toHaveLength(32);
  });
});

describe('fetchCertificate and certificateFields', () => {
  it('reads the Hikvision factory certificate: subject, issuer, self-signed, validity, fingerprint', async () => {
    const port = await tlsServer('hikvision-default');
    const result = await fetchCertificate('127.0.0.1', port, 2000);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const expected = new X509Certificate(labCert('hikvision-default.crt'));
    expect(certificateFields(result.cert)).toEqual({
      'tls.subject': 'CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,L=HangZhou,ST=ZheJiang,C=CN',
      'tls.issuer': 'CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,L=HangZhou,ST=ZheJiang,C=CN',
      'tls.notBefore': new Date(expected.validFrom).toISOString(),
      'tls.notAfter': new Date(expected.validTo).toISOString(),
      'tls.fingerprint256': expected.fingerprint256.toLowerCase(),
      'tls.selfSigned': 'true',
    });
  });

  it('reads a CA-issued Dahua leaf (issuer with no-break spaces), not self-signed', async () => {
    const port = await tlsServer('dahua-198.18.0.20');
    const result = await fetchCertificate('127.0.0.1', port, 2000);
    if (!result.ok) throw new Error(result.reason);
    const fields = certificateFields(result.cert);
    expect(fields['tls.subject']).toBe('CN=198.18.0.20,C=CN');
    expect(fields['tls.issuer']).toBe('CN=Dahua\u00a0Device\u00a0NVR\u00a0CA,O=Zhejiang\u00a0Dahua\u00a0Technology\u00a0Co.\\,Ltd.,L=Hangzhou,ST=Zhejiang,C=CN');
    expect(fields['tls.selfSigned']).toBe('false');
  });

  it('reads the certificate of old firmware that speaks TLS 1.0 only, connection after connection', async () => {
    // OpenSSL 3 allows TLS 1.0 at security level 0 only, on either side.
    const port = await tlsServer('hikvision-default', { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' });
    for (let i = 0; i < 2; i++) {
      const result = await fetchCertificate('127.0.0.1', port, 2000);
      if (!result.ok) throw new Error(result.reason);
      expect(result.protocol).toBe('TLSv1');
      expect(certificateFields(result.cert)['tls.subject']).toContain('CN=www.hikvision.com');
    }
  });

  it('reads subjectAltNames', async () => {
    const port = await tlsServer('hosttcp');
    const result = await fetchCertificate('127.0.0.1', port, 2000);
    if (!result.ok) throw new Error(result.reason);
    expect(certificateFields(result.cert)['tls.san']).toEqual(['DNS:hosttcp.lab.invalid', 'IP Address:198.18.0.66']);
  });

  it('fails cleanly on garbage, silence and a closed port', async () => {
    const garbage = await listen(createTcpServer((s) => s.once('data', () => s.end(Buffer.alloc(512, 0)))));
    expect(await fetchCertificate('127.0.0.1', garbage, 2000)).toMatchObject({ ok: false, status: 'protocol-error' });
    const reset = await listen(createTcpServer((s) => s.once('data', () => s.resetAndDestroy())));
    expect(await fetchCertificate('127.0.0.1', reset, 2000)).toMatchObject({ ok: false, status: 'protocol-error' });
    const silent = await listen(createTcpServer(() => undefined));
    const t0 = Date.now();
    expect(await fetchCertificate('127.0.0.1', silent, 300)).toMatchObject({ ok: false, status: 'timeout' });
    expect(Date.now() - t0).toBeLessThan(1000);
    const closed = await listen(createTcpServer());
    closers.pop()?.();
    await new Promise((r) => setTimeout(r, 20));
    expect(await fetchCertificate('127.0.0.1', closed, 1000)).toMatchObject({ ok: false, status: 'refused' });
  });
});

describe('the TLS discoverer', () => {
  it('emits one observation per port marked tls, with the certificate fields', async () => {
    const hik = await tlsServer('hikvision-default');
    const silent = await listen(createTcpServer(() => undefined));
    const plain = await tlsServer('hosttcp');
    const observations = await probe([portObservation(hik), portObservation(silent), portObservation(plain, ['http'])], {}, 300);
    expect(observations).toHaveLength(2);
    const byPort = new Map(observations.map((o) => [o.port, o]));
    expect(byPort.get(hik)).toMatchObject({ source: 'tls-certificate', status: 'ok', fields: { 'tls.subject': expect.stringContaining('CN=www.hikvision.com'), 'tls.protocol': expect.stringMatching(/^TLSv1/) } });
    expect(byPort.get(silent)).toMatchObject({ source: 'tls-certificate', status: 'timeout', fields: {} });
  });

  it('sends nothing with --no-active', async () => {
    let connections = 0;
    const port = await listen(createTcpServer(() => connections++));
    expect(await probe([portObservation(port)], { active: false })).toEqual([]);
    expect(connections).toBe(0);
  });

  it("reads a web port's certificate from the HTTPS page probe's handshake, and handshakes itself where that probe made none", async () => {
    let handshakes = 0;
    const server = createHttpsServer({ key: labCert('hikvision-default.key'), cert: labCert('hikvision-default.crt') }, (_req, res) => res.writeHead(404).end());
    server.on('secureConnection', () => handshakes++);
    const web = await listen(server);
    const certOnly = await tlsServer('dahua-198.18.0.20');
    const ctx = context([portObservation(web), portObservation(certOnly)], { tlsHandshakes: new TlsHandshakes() });
    const pages: Observation[] = [];
    const certificates: Observation[] = [];
    const tls = createTlsDiscoverer({ timeoutMs: 1000 });
    // The page probe asks only the first port; the second it never reaches, so it tells nothing of it.
    const http = createHttpDiscoverer({ timeoutMs: 1000 });
    await Promise.all([tls.run(ctx, checkedEmit(tls, certificates)), http.run({ ...ctx, seen: [portObservation(web)] }, checkedEmit(http, pages))]);
    expect(pages.length).toBeGreaterThan(0);
    expect(handshakes).toBe(1);
    const byPort = new Map(certificates.map((o) => [o.port, o]));
    expect(byPort.get(web)?.fields['tls.subject']).toBe('CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,L=HangZhou,ST=ZheJiang,C=CN');
    expect(byPort.get(certOnly)?.fields['tls.issuer']).toMatch(/Dahua/);
    expect(certificates).toHaveLength(2);
  });
});
