/**
 * RTSP codec (pure: builds and parses bytes, no sockets). RTSP 1.0 (RFC 2326) and 2.0 (RFC 7826)
 * share HTTP/1.1's message syntax: a status line, header fields, a blank line, and a body whose
 * length Content-Length gives (RFC 2326 §4.3, §12.14; RFC 7826 §8).
 *
 * The agent sends only OPTIONS and DESCRIBE, never credentials: what a camera's RTSP server
 * says before anyone logs in (its Server header, its methods, its WWW-Authenticate realms)
 * already identifies the firmware.
 */
import type { Fields } from '../types.js';
import { cleanDeviceFields } from '../safe-text.js';
import { withoutZone } from '../net/ip-address.js';
import { challengeRealms, parseChallenges, type AuthChallenge } from './http-auth.js';

/** An OPTIONS or DESCRIBE answer is well under this; bigger is not worth reading. */
export const RTSP_MAX_RESPONSE_BYTES = 16 * 1024;
/** Header fields kept from one response; a real server sends about ten. */
const MAX_HEADER_FIELDS = 64;

export type RtspMethod = 'OPTIONS' | 'DESCRIBE';

/** The User-Agent the agent announces itself with (RFC 2326 §12.41): it hides nothing. */
const RTSP_USER_AGENT = 'cctv-agent (CCTV inventory)';

/**
 * `rtsp://198.18.0.10:554/`, the presentation URL probed (IPv6 hosts in brackets). A link-local
 * address's zone names the scanner's interface, which means nothing to the device: it is left out
 * (RFC 6874 §4: a zone identifier is not sent on the wire in a URI), as the HTTP client's Host does.
 */
export function rtspUrl(host: string, port: number): string {
  const address = withoutZone(host);
  return `rtsp://${address.includes(':') ? `[${address}]` : address}:${port}/`;
}

/** An RTSP/1.0 request with no credentials; DESCRIBE asks for SDP (RFC 2326 §10.2). */
export function buildRtspRequest(method: RtspMethod, url: string, cseq: number): Buffer {
  const lines = [`${method} ${url} RTSP/1.0`, `CSeq: ${cseq}`, `User-Agent: ${RTSP_USER_AGENT}`];
  if (method === 'DESCRIBE') lines.push('Accept: application/sdp');
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

export interface RtspResponse {
  /** `1.0` or `2.0`. */
  readonly version: string;
  readonly status: number;
  readonly reason: string;
  /** Header fields in order: names lower-cased; values trimmed, continuation lines joined (control characters are removed in rtspFields). */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly cseq: number | null;
  readonly server: string | null;
  /** Methods listed in Public (RFC 2326 §12.28), upper-cased, in order. */
  readonly public: string[];
  /** Every WWW-Authenticate challenge, across all such headers. */
  readonly challenges: AuthChallenge[];
  readonly body: Buffer;
}

/** Where the header section ends and the body starts, or null when the blank line has not arrived. */
function headerEnd(bytes: Buffer): { end: number; bodyStart: number } | null {
  const crlf = bytes.indexOf('\r\n\r\n');
  const lf = bytes.indexOf('\n\n');
  if (crlf === -1 && lf === -1) return null;
  // Lenient: some firmware ends lines with a bare LF.
  if (crlf !== -1 && (lf === -1 || crlf < lf)) return { end: crlf, bodyStart: crlf + 4 };
  return { end: lf, bodyStart: lf + 2 };
}

function contentLength(headers: ReadonlyArray<readonly [string, string]>): number | null {
  const value = headers.find(([name]) => name === 'content-length')?.[1];
  if (value === undefined) return 0;
  return /^\d{1,9}$/.test(value) ? Number(value) : null;
}

const STATUS_LINE = /^RTSP\/(\d\.\d) (\d{3})(?: ([\x20-\x7e\x80-\xff]*))?$/;

function parseHead(text: string): Omit<RtspResponse, 'body'> & { contentLength: number | null } | null {
  const lines = text.split(/\r?\n/);
  const status = STATUS_LINE.exec((lines[0] ?? '').trimEnd());
  if (!status) return null;
  const headers: Array<[string, string]> = [];
  for (const line of lines.slice(1)) {
    if (/^[ \t]/.test(line) && headers.length > 0) {
      // obs-fold (RFC 2616 §2.2, which RFC 2326 inherits): the line continues the previous value.
      const last = headers[headers.length - 1]!;
      last[1] = `${last[1]} ${line.trim()}`.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue; // not a header field: ignored
    if (headers.length >= MAX_HEADER_FIELDS) break;
    headers.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
  }
  const all = (name: string): string[] => headers.filter(([n]) => n === name).map(([, v]) => v);
  const cseq = all('cseq')[0];
  return {
    version: status[1] as string,
    status: Number(status[2]),
    reason: (status[3] ?? '').trim(),
    headers,
    cseq: cseq !== undefined && /^\d{1,9}$/.test(cseq) ? Number(cseq) : null,
    server: all('server')[0] || null,
    public: all('public')
      .flatMap((v) => v.split(','))
      .map((m) => m.trim().toUpperCase())
      .filter((m) => /^[A-Z_]{1,32}$/.test(m)),
    challenges: parseChallenges(all('www-authenticate')),
    contentLength: contentLength(headers),
  };
}

export type RtspFraming =
  /** The bytes so far hold a whole response of `length` bytes. */
  | { kind: 'complete'; length: number }
  | { kind: 'incomplete' }
  /** Not an RTSP response, or one that cannot be delimited (a bad Content-Length). */
  | { kind: 'invalid' };

/** Tells a reader whether one whole response has arrived. Never throws. */
export function rtspFraming(bytes: Buffer): RtspFraming {
  // A status line that cannot be RTSP is known from the first bytes.
  if (!'RTSP/'.startsWith(bytes.subarray(0, 5).toString('latin1'))) return { kind: 'invalid' };
  const end = headerEnd(bytes);
  if (!end) return { kind: 'incomplete' };
  const head = parseHead(bytes.subarray(0, end.end).toString('latin1'));
  if (!head || head.contentLength === null) return { kind: 'invalid' };
  const length = end.bodyStart + head.contentLength;
  return bytes.length >= length ? { kind: 'complete', length } : { kind: 'incomplete' };
}

/**
 * Parses one RTSP response. The header section must be complete; the body is whatever follows
 * it, up to Content-Length (a truncated body is kept as far as it goes). Null for anything that
 * is not an RTSP response. Header text is read as Latin-1, byte for byte. Never throws.
 */
export function parseRtspResponse(bytes: Buffer): RtspResponse | null {
  const end = headerEnd(bytes);
  if (!end) return null;
  const head = parseHead(bytes.subarray(0, end.end).toString('latin1'));
  if (!head) return null;
  const { contentLength: length, ...response } = head;
  return { ...response, body: bytes.subarray(end.bodyStart, end.bodyStart + (length ?? 0)) };
}

/**
 * The observation fields of one exchange:
 *   rtsp.method       OPTIONS | DESCRIBE
 *   rtsp.status       the status code, e.g. `401`
 *   rtsp.server       the Server header
 *   rtsp.public       methods the server lists (OPTIONS)
 *   rtsp.auth.scheme  scheme of each WWW-Authenticate challenge (`Digest`, `Basic`)
 *   rtsp.auth.realm   realm of each challenge (Hikvision: `Hikvision` and `/`)
 */
export function rtspFields(method: RtspMethod, response: RtspResponse): Fields {
  const fields: Fields = { 'rtsp.method': method, 'rtsp.status': String(response.status) };
  if (response.server) fields['rtsp.server'] = response.server;
  if (response.public.length > 0) fields['rtsp.public'] = response.public;
  if (response.challenges.length > 0) {
    fields['rtsp.auth.scheme'] = [...new Set(response.challenges.map((c) => c.scheme))];
    const realms = challengeRealms(response.challenges);
    if (realms.length > 0) fields['rtsp.auth.realm'] = realms;
  }
  return cleanDeviceFields(fields);
}
