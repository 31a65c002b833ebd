/**
 * HTTP authentication, client side (pure: no I/O). Shared by HTTP and RTSP, which uses the same
 * framework (RFC 2326 §D / RFC 7826 §19):
 * - parsing `WWW-Authenticate` challenges (RFC 7235 §4.1, §2.1);
 * - answering a Digest challenge (RFC 7616 §3.4, qop=auth, algorithms MD5 and SHA-256).
 *
 * Challenges come off the wire and are untrusted: parsing is linear, bounded and never throws.
 */
import { createHash } from 'node:crypto';

/** One challenge: its scheme and parameters (names lower-cased, values unquoted). */
export interface AuthChallenge {
  /** As sent, e.g. `Digest`, `Basic`. */
  readonly scheme: string;
  /** Null-prototype map, so a parameter named `__proto__` is just a key. */
  readonly params: Readonly<Record<string, string>>;
}

/** More challenges or parameters than this is not a real device: the rest is ignored. */
const MAX_CHALLENGES = 16;
const MAX_PARAMS = 32;

/** RFC 7230 §3.2.6 tchar. */
const TCHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;
/** RFC 7235 §2.1 token68 characters. */
const TOKEN68_CHAR = /[A-Za-z0-9\-._~+/]/;

class Scanner {
  at = 0;
  constructor(readonly text: string) {}

  get done(): boolean {
    return this.at >= this.text.length;
  }

  peek(): string {
    return this.text[this.at] ?? '';
  }

  skipSpace(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.at++;
  }

  /** Skips spaces and list commas (RFC 7230 §7: empty list elements are allowed). */
  skipSeparators(): void {
    while (this.peek() === ' ' || this.peek() === '\t' || this.peek() === ',') this.at++;
  }

  token(): string {
    const start = this.at;
    while (TCHAR.test(this.peek())) this.at++;
    return this.text.slice(start, this.at);
  }

  /** A quoted-string (RFC 7230 §3.2.6) with its escapes removed; an unterminated one runs to the end. */
  quoted(): string {
    this.at++; // opening quote
    let out = '';
    while (!this.done && this.peek() !== '"') {
      if (this.peek() === '\\' && this.at + 1 < this.text.length) this.at++;
      out += this.peek();
      this.at++;
    }
    this.at++; // closing quote
    return out;
  }

  /** A lenient unquoted value: up to the next comma or space (firmware writes `stale=FALSE`, `qop=auth`). */
  bare(): string {
    const start = this.at;
    while (!this.done && this.peek() !== ',' && this.peek() !== ' ' && this.peek() !== '\t') this.at++;
    return this.text.slice(start, this.at);
  }
}

/** True when, at the scanner's position, an auth-param (`name = value`) starts rather than a new challenge. */
function atAuthParam(s: Scanner): boolean {
  const save = s.at;
  const name = s.token();
  s.skipSpace();
  const isParam = name.length > 0 && s.peek() === '=';
  s.at = save;
  return isParam;
}

/**
 * Every challenge in the given `WWW-Authenticate` header values (a header may carry several
 * challenges, and a response several headers: Hikvision RTSP sends `Digest …` then `Basic …`).
 * Unparseable text is skipped; never throws.
 */
export function parseChallenges(headerValues: readonly string[]): AuthChallenge[] {
  const challenges: AuthChallenge[] = [];
  for (const value of headerValues) {
    const s = new Scanner(value);
    while (challenges.length < MAX_CHALLENGES) {
      s.skipSeparators();
      if (s.done) break;
      const scheme = s.token();
      if (!scheme) {
        s.at++; // not a token character: skip it
        continue;
      }
      const params: Record<string, string> = Object.create(null) as Record<string, string>;
      s.skipSpace();
      if (!atAuthParam(s) && TOKEN68_CHAR.test(s.peek())) {
        // token68 (RFC 7235 §2.1): kept whole, it carries no parameters a scan uses.
        while (TOKEN68_CHAR.test(s.peek()) || s.peek() === '=') s.at++;
      }
      let count = 0;
      for (;;) {
        s.skipSeparators();
        if (s.done || !atAuthParam(s)) break;
        const name = s.token().toLowerCase();
        s.skipSpace();
        s.at++; // '='
        s.skipSpace();
        const paramValue = s.peek() === '"' ? s.quoted() : s.bare();
        if (count++ < MAX_PARAMS && !(name in params)) params[name] = paramValue;
      }
      challenges.push({ scheme, params });
    }
  }
  return challenges;
}

/** The realm of each challenge that names one, in order, without repeats. */
export function challengeRealms(challenges: readonly AuthChallenge[]): string[] {
  return [...new Set(challenges.map((c) => c.params.realm).filter((r): r is string => r !== undefined))];
}

/** Digest algorithms this client answers (RFC 7616 §3.3; the `-sess` variants are not used by cameras). */
export type DigestAlgorithm = 'MD5' | 'SHA-256';

/** A Digest challenge this client can answer: qop=auth offered, a supported algorithm. */
export interface DigestChallenge {
  readonly realm: string;
  readonly nonce: string;
  readonly opaque: string | null;
  readonly algorithm: DigestAlgorithm;
  /** Whether the challenge named its algorithm: only then is it echoed (RFC 7616 §3.4; some embedded servers refuse it otherwise). */
  readonly algorithmNamed: boolean;
}

function digestChallengeOf(c: AuthChallenge): DigestChallenge | null {
  if (c.scheme.toLowerCase() !== 'digest') return null;
  const { realm, nonce, opaque, qop } = c.params;
  if (realm === undefined || !nonce) return null;
  // RFC 7616 §3.3: qop is a list; this client does qop=auth only (no auth-int, no RFC 2069 form).
  if (!qop?.split(',').some((q) => q.trim().toLowerCase() === 'auth')) return null;
  const named = (c.params.algorithm ?? 'MD5').toUpperCase();
  const algorithm: DigestAlgorithm | null = named === 'MD5' ? 'MD5' : named === 'SHA-256' ? 'SHA-256' : null;
  if (!algorithm) return null;
  return { realm, nonce, opaque: opaque ?? null, algorithm, algorithmNamed: c.params.algorithm !== undefined };
}

/** The Digest challenge to answer: SHA-256 when offered (the stronger hash), else MD5; null when none can be answered. */
export function chooseDigestChallenge(challenges: readonly AuthChallenge[]): DigestChallenge | null {
  const usable = challenges.map(digestChallengeOf).filter((c): c is DigestChallenge => c !== null);
  return usable.find((c) => c.algorithm === 'SHA-256') ?? usable[0] ?? null;
}

export interface DigestAnswer {
  readonly challenge: DigestChallenge;
  readonly username: string;
  readonly password: string;
  readonly method: string;
  /** The request-target exactly as sent (RFC 7616 §3.4.6), e.g. `/onvif/device_service`. */
  readonly uri: string;
  /** Client nonce (RFC 7616 §3.4: cnonce), printable ASCII without quotes. */
  readonly cnonce: string;
  /** How many requests this client has made with the challenge's nonce, 1 for the first. */
  readonly nonceCount: number;
}

function hash(algorithm: DigestAlgorithm, text: string): string {
  return createHash(algorithm === 'SHA-256' ? 'sha256' : 'md5').update(text, 'utf8').digest('hex');
}

/** A quoted-string (RFC 7230 §3.2.6): `"` and `\` escaped. */
function quote(value: string): string {
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/**
 * The `Authorization` header value answering a Digest challenge (RFC 7616 §3.4):
 *   response = H( H(username:realm:password) : nonce : nc : cnonce : auth : H(method:uri) )
 * A username outside printable ASCII is sent as `username*` (RFC 7616 §3.4.4, RFC 5987 encoding).
 */
export function digestAuthorization(a: DigestAnswer): string {
  const { challenge: c } = a;
  const nc = a.nonceCount.toString(16).padStart(8, '0');
  const ha1 = hash(c.algorithm, `${a.username}:${c.realm}:${a.password}`);
  const ha2 = hash(c.algorithm, `${a.method}:${a.uri}`);
  const response = hash(c.algorithm, `${ha1}:${c.nonce}:${nc}:${a.cnonce}:auth:${ha2}`);
  const user = /^[\x20-\x7e]*$/.test(a.username)
    ? `username=${quote(a.username)}`
    : `username*=UTF-8''${encodeURIComponent(a.username)}`;
  const parts = [
    user,
    `realm=${quote(c.realm)}`,
    `uri=${quote(a.uri)}`,
    ...(c.algorithmNamed ? [`algorithm=${c.algorithm}`] : []),
    `nonce=${quote(c.nonce)}`,
    `nc=${nc}`,
    `cnonce=${quote(a.cnonce)}`,
    'qop=auth',
    `response=${quote(response)}`,
    ...(c.opaque !== null ? [`opaque=${quote(c.opaque)}`] : []),
  ];
  return `Digest ${parts.join(', ')}`;
}
