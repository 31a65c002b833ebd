/**
 * Pure helpers for what a device's web server answers (no sockets here; agent/discovery/http.ts
 * does the I/O): the page title, which known page markers a body contains, the challenges of a
 * `WWW-Authenticate` header (RFC 7235 §4.1), and favicon hashes, MD5 and the "favicon hash"
 * Shodan and nuclei templates use (`http.favicon.hash:999357577` in
 * https://github.com/projectdiscovery/nuclei-templates/blob/main/http/cves/2021/CVE-2021-36260.yaml): MurmurHash3
 * x86_32, seed 0, over the base64 encoding of the icon with a newline after every 76 characters
 * and at the end (Python `base64.encodebytes`, RFC 2045 §6.8 line length), as a signed integer.
 *
 * Everything here takes untrusted input: lengths are capped, searches are linear (indexOf, no
 * backtracking regexes over bodies), and nothing throws on garbage.
 */
import { createHash } from 'node:crypto';
import { TextDecoder } from 'node:util';
import type { Fields } from '../types.js';
import { cleanDeviceFields } from '../safe-text.js';

/** Longest title kept (characters, after whitespace is collapsed). */
export const MAX_TITLE_LENGTH = 200;
/** Only this much of a body is searched for the title (bytes). */
export const TITLE_SEARCH_BYTES = 64 * 1024;
/** Longest header value kept in a field (characters). */
export const MAX_HEADER_VALUE_LENGTH = 256;
/** A `WWW-Authenticate` value longer than this is parsed only this far. */
export const MAX_CHALLENGE_HEADER_LENGTH = 2048;
/** At most this many challenges are read from one header. */
export const MAX_CHALLENGES = 8;

/**
 * A header or title value, trimmed and capped. Its control characters are removed where it becomes
 * an observation field (cleanDeviceFields in pageFields), which records that they were there.
 */
export function cappedText(value: string, max: number = MAX_HEADER_VALUE_LENGTH): string {
  const text = value.trim();
  return text.length > max ? text.slice(0, max) : text;
}

/** The charset a Content-Type names (`text/html; charset=GB2312` → `gb2312`), if any. */
function declaredCharset(contentType: string | undefined): string | null {
  const m = contentType ? /;\s*charset\s*=\s*"?([A-Za-z0-9._:-]{1,40})"?/i.exec(contentType) : null;
  return m ? (m[1] as string).toLowerCase() : null;
}

/**
 * A body as text: the charset the Content-Type declares when Node knows it (GB2312 pages are
 * common on PRC devices), else UTF-8. Malformed bytes become U+FFFD; a UTF-8 BOM is dropped.
 */
export function decodeBody(body: Buffer, contentType?: string): string {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(declaredCharset(contentType) ?? 'utf-8', { fatal: false, ignoreBOM: false });
  } catch {
    decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: false });
  }
  return decoder.decode(body);
}

const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

/** The few HTML character references a title uses (HTML §13.5); unknown ones stay as written. */
function decodeEntities(text: string): string {
  return text.replace(/&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,6});/g, (whole, ref: string) => {
    if (ref.startsWith('#')) {
      const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[ref.toLowerCase()] ?? whole;
  });
}

/**
 * The text of the first `<title>` element, whitespace collapsed, entities decoded, capped; null
 * when there is none (or it is empty). Found with indexOf on a lower-cased copy, so a body full of
 * unclosed `<title` tags costs one linear pass, not a quadratic regex.
 */
export function pageTitle(text: string): string | null {
  const head = text.length > TITLE_SEARCH_BYTES ? text.slice(0, TITLE_SEARCH_BYTES) : text;
  const lower = head.toLowerCase();
  let open = lower.indexOf('<title');
  // `<titlefoo>` is not a title element: the tag name must end there.
  while (open >= 0 && /[a-z0-9-]/.test(lower.charAt(open + 6))) open = lower.indexOf('<title', open + 6);
  if (open < 0) return null;
  const contentStart = lower.indexOf('>', open);
  if (contentStart < 0) return null;
  const close = lower.indexOf('</title', contentStart);
  if (close < 0) return null;
  const title = cappedText(decodeEntities(head.slice(contentStart + 1, close)).replace(/\s+/g, ' '), MAX_TITLE_LENGTH);
  return title || null;
}

/** The markers (literal, case-sensitive strings) that occur in `text`, in the order given. */
export function findMarkers(text: string, markers: readonly string[]): string[] {
  return markers.filter((m) => m.length > 0 && text.includes(m));
}

export interface AuthChallenge {
  /** Auth scheme as sent (`Digest`, `Basic`…). */
  scheme: string;
  /** The `realm` parameter, unquoted; null when absent. */
  realm: string | null;
}

const TOKEN_CHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;

/**
 * The challenges of a `WWW-Authenticate` value (RFC 7235 §4.1: `challenge = auth-scheme [ 1*SP (
 * token68 / #auth-param ) ]`, several challenges comma-separated; Node joins repeated headers
 * with ", "). Only the scheme and the realm are kept; a malformed tail is ignored.
 */
export function parseChallenges(header: string): AuthChallenge[] {
  const s = header.length > MAX_CHALLENGE_HEADER_LENGTH ? header.slice(0, MAX_CHALLENGE_HEADER_LENGTH) : header;
  const challenges: AuthChallenge[] = [];
  let i = 0;
  const skipBlanks = (): void => {
    while (s.charAt(i) === ' ' || s.charAt(i) === '\t') i++;
  };
  const token = (): string => {
    const start = i;
    while (i < s.length && TOKEN_CHAR.test(s.charAt(i))) i++;
    return s.slice(start, i);
  };
  // RFC 7230 §3.2.6 quoted-string with quoted-pair; i is at the opening quote.
  const quoted = (): string => {
    let out = '';
    for (i++; i < s.length && s.charAt(i) !== '"'; i++) {
      if (s.charAt(i) === '\\' && i + 1 < s.length) i++;
      out += s.charAt(i);
    }
    i++;
    return out;
  };
  let current: AuthChallenge | null = null;
  // A token that is not a parameter name starts a challenge only at the start or after a comma;
  // elsewhere it is the token68 of the current challenge (RFC 7235 §2.1).
  let afterComma = true;
  while (i < s.length) {
    const c = s.charAt(i);
    if (c === ',') {
      afterComma = true;
      i++;
      continue;
    }
    if (c === '"') {
      quoted();
      continue;
    }
    const name = token();
    if (!name) {
      i++; // whitespace or a character no rule allows: step over it
      continue;
    }
    skipBlanks();
    if (s.charAt(i) === '=') {
      i++;
      skipBlanks();
      const next = s.charAt(i);
      if (next === '"' || TOKEN_CHAR.test(next)) {
        const value = next === '"' ? quoted() : token();
        if (current && current.realm === null && name.toLowerCase() === 'realm') current.realm = value;
      } else {
        while (s.charAt(i) === '=') i++; // token68 padding
      }
    } else if (afterComma || !current) {
      if (challenges.length === MAX_CHALLENGES) break;
      current = { scheme: name, realm: null };
      challenges.push(current);
    }
    afterComma = false;
  }
  return challenges;
}

/** MD5 of a favicon, lower-case hex (the form recog, nmap's favicon-db and Ingram's rules use). */
export function md5Hex(bytes: Buffer): string {
  return createHash('md5').update(bytes).digest('hex');
}

/** Base64 with a newline after every 76 characters and at the end, as Python's base64.encodebytes. */
export function base64Lines(bytes: Buffer): string {
  const flat = bytes.toString('base64');
  let out = '';
  for (let i = 0; i < flat.length; i += 76) out += `${flat.slice(i, i + 76)}\n`;
  return out;
}

/** MurmurHash3 x86_32 (Austin Appleby, SMHasher MurmurHash3.cpp) as a signed 32-bit integer, like Python mmh3.hash. */
export function murmurHash3x86_32(data: Buffer, seed = 0): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed >>> 0;
  const blocks = data.length >>> 2;
  for (let b = 0; b < blocks; b++) {
    let k = data.readUInt32LE(b * 4);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  // The last 1-3 bytes, little-endian, mixed like a block (without the h rotation).
  const tail = blocks * 4;
  const rest = data.length & 3;
  if (rest > 0) {
    let k = 0;
    for (let j = rest - 1; j >= 0; j--) k = (k << 8) | (data[tail + j] as number);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= data.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/** The Shodan-style favicon hash: mmh3 of base64Lines(icon). */
export function faviconHash(bytes: Buffer): number {
  return murmurHash3x86_32(Buffer.from(base64Lines(bytes), 'ascii'));
}

/** What the probe asked for: an ordinary page, or the favicon (hashed instead of searched). */
export type PagePurpose = 'page' | 'favicon';

export interface PageAnswer {
  /** Request path, e.g. `/ISAPI/System/deviceInfo`. */
  path: string;
  purpose: PagePurpose;
  status: number;
  /** Node's header object (names lower-case; repeated headers joined). */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  body: Buffer;
  /** The body was cut at the size cap. */
  truncated: boolean;
}

function headerText(headers: PageAnswer['headers'], name: string): string | null {
  const raw = headers[name];
  const value = Array.isArray(raw) ? raw.join(', ') : raw;
  if (value === undefined) return null;
  const text = cappedText(value);
  return text || null;
}

/** The header fields kept, by the name they are read under (Node lower-cases names). */
const KEPT_HEADERS: readonly (readonly [string, string])[] = [
  ['server', 'http.header.server'],
  ['www-authenticate', 'http.header.wwwAuthenticate'],
  ['location', 'http.header.location'],
  ['etag', 'http.header.etag'],
  ['p3p', 'http.header.p3p'],
];

/**
 * The observation fields of one HTTP answer (fingerprints/fields.yaml lists them): status, a few
 * headers, the challenges' schemes and realms, the title and the markers of a page, or the hashes
 * of a favicon. Never the body itself.
 */
export function pageFields(answer: PageAnswer, markers: readonly string[]): Fields {
  const fields: Fields = { 'http.path': answer.path, 'http.status': String(answer.status) };
  for (const [header, field] of KEPT_HEADERS) {
    const value = headerText(answer.headers, header);
    if (value) fields[field] = value;
  }
  const challengeHeader = answer.headers['www-authenticate'];
  if (challengeHeader !== undefined) {
    const challenges = parseChallenges(Array.isArray(challengeHeader) ? challengeHeader.join(', ') : challengeHeader);
    const schemes = [...new Set(challenges.map((c) => cappedText(c.scheme)).filter(Boolean))];
    const realms = [...new Set(challenges.map((c) => (c.realm === null ? '' : cappedText(c.realm))).filter(Boolean))];
    if (schemes.length) fields['http.auth.scheme'] = schemes;
    if (realms.length) fields['http.auth.realm'] = realms;
  }
  fields['http.body.bytes'] = String(answer.body.length);
  if (answer.truncated) fields['http.body.truncated'] = 'true';
  if (answer.purpose === 'favicon') {
    // Only a whole icon hashes to the published values; an error page is not an icon.
    if (answer.status === 200 && answer.body.length > 0 && !answer.truncated) {
      fields['http.favicon.md5'] = md5Hex(answer.body);
      fields['http.favicon.mmh3'] = String(faviconHash(answer.body));
    }
    return cleanDeviceFields(fields);
  }
  const text = decodeBody(answer.body, headerText(answer.headers, 'content-type') ?? undefined);
  const title = pageTitle(text);
  if (title) fields['http.title'] = title;
  const found = findMarkers(text, markers);
  if (found.length) fields['http.marker'] = found;
  return cleanDeviceFields(fields);
}
