/**
 * Credentials as an ONVIF device checks them: HTTP Digest (RFC 7616, qop=auth) and
 * WS-Security UsernameToken (PasswordDigest = Base64(SHA-1(nonce + created + password))).
 */
import { createHash, randomBytes } from 'node:crypto';
import { child, text, type XmlNode } from './xml.js';

export interface Credentials {
  username: string;
  password: string;
}

/**
 * A nonce shaped like Hikvision's (hex of `<4 hex>:<8 hex>:` followed by 32 hex digits), e.g.
 * `396539323a38326531323232323a2974d610e80a9fd6cab88e14e7592747` quoted in the onvif package
 * (lib/cam.js comment on Hikvision rawHeaders).
 */
export function hikvisionNonce(): string {
  const head = `${randomBytes(2).toString('hex')}:${(Date.now() >>> 0).toString(16).padStart(8, '0')}:`;
  return Buffer.from(head, 'latin1').toString('hex') + randomBytes(16).toString('hex');
}

/** Parses `Digest k="v", k2=v2` into a map (keys lower-cased). */
export function parseDigest(header: string): Record<string, string> | null {
  const m = /^\s*Digest\s+(.*)$/is.exec(header);
  if (!m || m[1] === undefined) return null;
  const out: Record<string, string> = {};
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))\s*(?:,|$)/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[1])) !== null) {
    const key = p[1];
    if (key === undefined) continue;
    out[key.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
  }
  return out;
}

const hashOf = (alg: string, s: string): string =>
  createHash(alg.toUpperCase().startsWith('SHA-256') ? 'sha256' : 'md5').update(s, 'utf8').digest('hex');

/** True when the Authorization header is a valid Digest answer for these credentials. */
export function verifyDigest(
  authorization: string | undefined,
  method: string,
  realm: string,
  creds: Credentials | undefined,
  knownNonce: (nonce: string) => boolean,
): boolean {
  if (!authorization || !creds) return false;
  const d = parseDigest(authorization);
  if (!d) return false;
  const { username, nonce, uri, response } = d;
  if (username !== creds.username || d.realm !== realm || !nonce || !uri || !response) return false;
  if (!knownNonce(nonce)) return false;
  const alg = d.algorithm ?? 'MD5';
  const ha1 = hashOf(alg, `${username}:${realm}:${creds.password}`);
  const ha2 = hashOf(alg, `${method}:${uri}`);
  const expected =
    d.qop === 'auth'
      ? hashOf(alg, `${ha1}:${nonce}:${d.nc ?? ''}:${d.cnonce ?? ''}:auth:${ha2}`)
      : hashOf(alg, `${ha1}:${nonce}:${ha2}`);
  return expected === response.toLowerCase();
}

/**
 * How far a PasswordDigest token's Created may be from the device's own clock. ONVIF Core §5.12.2
 * has the device judge a token by its own time; five minutes is the freshness guideline of the
 * WSS UsernameToken Profile 1.0 (Nonce and Created).
 */
export const CREATED_WINDOW_MS = 5 * 60 * 1000;

/**
 * True when the SOAP Header carries a valid WS-Security UsernameToken for these credentials; a
 * PasswordDigest token must also have been Created within CREATED_WINDOW_MS of `deviceNowMs`.
 */
export function verifyUsernameToken(header: XmlNode, creds: Credentials | undefined, deviceNowMs: number): boolean {
  if (!creds) return false;
  const token = child(child(header, 'Security'), 'UsernameToken');
  if (!token) return false;
  if (text(token, 'Username') !== creds.username) return false;
  const password = text(token, 'Password') ?? '';
  const pwNode = child(token, 'Password');
  const type = typeof pwNode?.['@_Type'] === 'string' ? (pwNode['@_Type'] as string) : '';
  if (type.endsWith('#PasswordText')) return password === creds.password;
  const nonce = text(token, 'Nonce') ?? '';
  const created = text(token, 'Created') ?? '';
  const createdMs = Date.parse(created);
  if (!Number.isFinite(createdMs) || Math.abs(createdMs - deviceNowMs) > CREATED_WINDOW_MS) return false;
  const digest = createHash('sha1')
    .update(Buffer.concat([Buffer.from(nonce, 'base64'), Buffer.from(created + creds.password, 'utf8')]))
    .digest('base64');
  return digest === password;
}
