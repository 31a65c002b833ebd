import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  buildRtspRequest,
  parseRtspResponse,
  rtspFields,
  rtspFraming,
  rtspUrl,
  RTSP_MAX_RESPONSE_BYTES,
} from '../../../agent/protocols/rtsp.js';
import { seededRandom } from '../../seeded-random.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../../fixtures/rtsp/${name}`, import.meta.url));
const FIXTURES = [
  'hikvision-options.rtsp',
  'hikvision-describe-401.rtsp',
  'dahua-describe-401.rtsp',
  'live555-options.rtsp',
  'live555-describe-401.rtsp',
  'hipcam-options.rtsp',
  'describe-200-sdp.rtsp',
  'rtsp2-401-two-digests.rtsp',
];

function parsed(name: string): NonNullable<ReturnType<typeof parseRtspResponse>> {
  const response = parseRtspResponse(fixture(name));
  if (!response) throw new Error(`${name} did not parse`);
  return response;
}

describe('RTSP requests', () => {
  it('builds OPTIONS and DESCRIBE with CSeq, an honest User-Agent and no credentials', () => {
    const url = rtspUrl('198.18.0.10', 554);
    expect(url).toBe('rtsp://198.18.0.10:554/');
    expect(rtspUrl('fe80::1', 8554)).toBe('rtsp://[fe80::1]:8554/');
    // The scanner's interface name is no part of the device's URL.
    expect(rtspUrl('fe80::2a57:beff:fe6a:1c10%eth0', 554)).toBe('rtsp://[fe80::2a57:beff:fe6a:1c10]:554/');
    const options = buildRtspRequest('OPTIONS', url, 1).toString('latin1');
    expect(options).toBe('OPTIONS rtsp://198.18.0.10:554/ RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: cctv-agent (CCTV inventory)\r\n\r\n');
    const describe = buildRtspRequest('DESCRIBE', url, 2).toString('latin1');
    expect(describe.split('\r\n')).toEqual([
      'DESCRIBE rtsp://198.18.0.10:554/ RTSP/1.0',
      'CSeq: 2',
      'User-Agent: cctv-agent (CCTV inventory)',
      'Accept: application/sdp',
      '',
      '',
    ]);
    expect(describe).not.toMatch(/authorization/i);
  });
});

describe('RTSP responses from real-shaped fixtures', () => {
  it('Hikvision: OPTIONS lists its methods; DESCRIBE 401 carries both realms, Digest first', () => {
    expect(rtspFields('OPTIONS', parsed('hikvision-options.rtsp'))).toEqual({
      'rtsp.method': 'OPTIONS',
      'rtsp.status': '200',
      'rtsp.public': ['OPTIONS', 'DESCRIBE', 'PLAY', 'PAUSE', 'SETUP', 'TEARDOWN', 'SET_PARAMETER', 'GET_PARAMETER'],
    });
    const describe = parsed('hikvision-describe-401.rtsp');
    expect(describe).toMatchObject({ version: '1.0', status: 401, reason: 'Unauthorized', cseq: 2, server: null });
    expect(describe.challenges.map((c) => [c.scheme, c.params.realm, c.params.stale])).toEqual([
      ['Digest', 'Hikvision', 'FALSE'],
      ['Basic', '/', undefined],
    ]);
    expect(rtspFields('DESCRIBE', describe)).toEqual({
      'rtsp.method': 'DESCRIBE',
      'rtsp.status': '401',
      'rtsp.auth.scheme': ['Digest', 'Basic'],
      'rtsp.auth.realm': ['Hikvision', '/'],
    });
  });

  it('Dahua: Server "Dahua Rtsp Server" and Basic realm "device"', () => {
    expect(rtspFields('DESCRIBE', parsed('dahua-describe-401.rtsp'))).toEqual({
      'rtsp.method': 'DESCRIBE',
      'rtsp.status': '401',
      'rtsp.server': 'Dahua Rtsp Server',
      'rtsp.auth.scheme': ['Basic'],
      'rtsp.auth.realm': ['device'],
    });
  });

  it('a LIVE555 camera: two challenges sharing one realm give the realm once; unquoted stale=FALSE is read', () => {
    const response = parsed('live555-describe-401.rtsp');
    expect(response.challenges[0]?.params).toMatchObject({ realm: 'HITRON_0007D8192659', nonce: 'MjAxOS0wNC0yMDE0OjIxOjA2', stale: 'FALSE' });
    expect(rtspFields('DESCRIBE', response)['rtsp.auth.realm']).toEqual(['HITRON_0007D8192659']);
    expect(rtspFields('OPTIONS', parsed('live555-options.rtsp'))['rtsp.public']).toContain('GET_PARAMETER');
  });

  it('a look-alike: the Hipcam Server header comes through as sent', () => {
    expect(rtspFields('OPTIONS', parsed('hipcam-options.rtsp'))['rtsp.server']).toBe('Hipcam RealServer/V1.0');
  });

  it('an open DESCRIBE: the SDP body is cut exactly at Content-Length', () => {
    const bytes = fixture('describe-200-sdp.rtsp');
    const response = parsed('describe-200-sdp.rtsp');
    expect(response.status).toBe(200);
    expect(response.body.toString('latin1')).toMatch(/^v=0\r\n.*a=control:trackID=1\r\n$/s);
    expect(rtspFraming(bytes)).toEqual({ kind: 'complete', length: bytes.length });
    // Two pipelined answers: framing reports the first one's length only.
    expect(rtspFraming(Buffer.concat([bytes, fixture('dahua-describe-401.rtsp')]))).toEqual({ kind: 'complete', length: bytes.length });
  });

  it('RTSP/2.0 with folded header lines: both Digest challenges, with their algorithms', () => {
    const response = parsed('rtsp2-401-two-digests.rtsp');
    expect(response.version).toBe('2.0');
    expect(response.cseq).toBe(302);
    expect(response.challenges.map((c) => c.params.algorithm)).toEqual(['SHA-256', 'MD5']);
    expect(response.challenges[0]?.params.qop).toBe('auth, auth-int');
    expect(rtspFields('DESCRIBE', response)['rtsp.auth.realm']).toEqual(['http-auth@example.org']);
  });
});

describe('RTSP framing and hostile input', () => {
  it('waits for the blank line and for the whole body', () => {
    const bytes = fixture('describe-200-sdp.rtsp');
    for (let cut = 1; cut < bytes.length; cut++) expect(rtspFraming(bytes.subarray(0, cut)).kind, `cut at ${cut}`).toBe('incomplete');
  });

  it('knows from the first bytes that an answer is not RTSP', () => {
    expect(rtspFraming(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'))).toEqual({ kind: 'invalid' });
    expect(rtspFraming(Buffer.from('SSH-2.0-OpenSSH_9.6\r\n'))).toEqual({ kind: 'invalid' });
    expect(rtspFraming(Buffer.from('RTSP/1.0 200 OK\r\nContent-Length: -5\r\n\r\n'))).toEqual({ kind: 'invalid' });
    expect(rtspFraming(Buffer.from('RTSP/1.0 OK\r\n\r\n'))).toEqual({ kind: 'invalid' });
    expect(parseRtspResponse(Buffer.from('HTTP/1.0 200 OK\r\n\r\n'))).toBeNull();
    expect(parseRtspResponse(Buffer.from('RTSP/1.0 200 OK\r\nCSeq: 1\r\n'))).toBeNull();
  });

  it('keeps control characters out of the fields and ignores lines that are not header fields', () => {
    const response = parseRtspResponse(Buffer.from('RTSP/1.0 200 OK\r\nServer: evil\x1b[2J\x07cam\r\nnot a header\r\nPublic: OPTIONS, <script>, DESCRIBE\r\n\r\n', 'latin1'));
    expect(response?.public).toEqual(['OPTIONS', 'DESCRIBE']);
    const fields = rtspFields('OPTIONS', response!);
    expect(fields['rtsp.server']).toBe('evil[2Jcam');
    expect(fields['text.cleaned']).toEqual(['rtsp.server']);
  });

  it('reads bare-LF answers from lax firmware', () => {
    const response = parseRtspResponse(Buffer.from('RTSP/1.0 401 Unauthorized\nCSeq: 2\nWWW-Authenticate: Basic realm="device"\n\n'));
    expect(response?.challenges[0]?.params.realm).toBe('device');
  });

  it('never throws on truncated fixtures or random bytes, and stays within the header cap', () => {
    for (const name of FIXTURES) {
      const bytes = fixture(name);
      for (let cut = 0; cut <= bytes.length; cut++) {
        expect(() => rtspFraming(bytes.subarray(0, cut))).not.toThrow();
        expect(() => parseRtspResponse(bytes.subarray(0, cut))).not.toThrow();
      }
    }
    const random = seededRandom(2326);
    for (let i = 0; i < 500; i++) {
      const noise = Buffer.from(Array.from({ length: 1 + Math.floor(random() * 400) }, () => Math.floor(random() * 256)));
      const framed = Buffer.concat([Buffer.from('RTSP/1.0 401 Unauthorized\r\n'), noise, Buffer.from('\r\n\r\n')]);
      expect(() => rtspFraming(framed)).not.toThrow();
      const response = parseRtspResponse(framed);
      if (response) expect(() => rtspFields('DESCRIBE', response)).not.toThrow();
      expect(() => parseRtspResponse(noise)).not.toThrow();
    }
    const flood = Buffer.from(`RTSP/1.0 200 OK\r\n${'X-Pad: y\r\n'.repeat(RTSP_MAX_RESPONSE_BYTES / 10)}\r\n`);
    expect(parseRtspResponse(flood)?.headers.length).toBeLessThanOrEqual(64);
  });
});
