/**
 * The one TLS context every connection to a device shares, the certificate reads
 * (discovery/tls.ts) and the HTTPS pages and ONVIF calls (net/http-client.ts) alike. Without it
 * Node builds a context per connection (tls.connect passes its options to tls.createSecureContext):
 * building them took 1.1 s of the agent's CPU on the crowd /22, profiled (BENCHMARKS.md "Entries
 * given back"). TLS 1.0 and up, and OpenSSL security level 0: the small keys and SHA-1 signatures
 * of old camera firmware are accepted, since the agent identifies devices, it does not trust them
 * (certificates are not checked either: each caller passes rejectUnauthorized: false).
 */
import type { X509Certificate } from 'node:crypto';
import tls from 'node:tls';

/** A TLS server's certificate, as a handshake with it showed it. */
export interface TlsPeer {
  readonly cert: X509Certificate;
  /** The protocol version negotiated (`TLSv1.2`…), when known. */
  readonly protocol: string | null;
}

let context: tls.SecureContext | undefined;

export function deviceTlsContext(): tls.SecureContext {
  context ??= tls.createSecureContext({ minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' });
  return context;
}
