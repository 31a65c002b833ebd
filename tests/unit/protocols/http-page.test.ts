import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  MAX_CHALLENGES,
  MAX_HEADER_VALUE_LENGTH,
  MAX_TITLE_LENGTH,
  base64Lines,
  decodeBody,
  faviconHash,
  findMarkers,
  md5Hex,
  murmurHash3x86_32,
  pageFields,
  pageTitle,
  parseChallenges,
  type PageAnswer,
} from '../../../agent/protocols/http-page.js';
import { loadKnowledge } from '../../../agent/knowledge/index.js';
import { seededRandom } from '../../seeded-random.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../../fixtures/http/${name}`, import.meta.url));
const markers = loadKnowledge().httpProbes.markers.map((m) => m.text);

function answer(over: Partial<PageAnswer>): PageAnswer {
  return { path: '/', purpose: 'page', status: 200, headers: {}, body: Buffer.alloc(0), truncated: false, ...over };
}

describe('murmurHash3x86_32 and the favicon hash', () => {
  it('matches the reference implementation (Python mmh3 5.3.0, signed results)', () => {
    // mmh3.hash('foo'), mmh3.hash(b''), mmh3.hash(b'hello'), mmh3.hash('The quick brown fox jumps over the lazy dog')
    expect(murmurHash3x86_32(Buffer.from('foo'))).toBe(-156908512);
    expect(murmurHash3x86_32(Buffer.alloc(0))).toBe(0);
    expect(murmurHash3x86_32(Buffer.from('hello'))).toBe(613153351);
    expect(murmurHash3x86_32(Buffer.from('The quick brown fox jumps over the lazy dog'))).toBe(776992547);
  });

  it('hashes base64 with a newline every 76 characters, as Shodan does (mmh3.hash(base64.encodebytes(data)))', () => {
    const data = Buffer.from(Array.from({ length: 768 }, (_, i) => i & 0xff));
    const lines = base64Lines(data).split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines.slice(0, -2).every((l) => l.length === 76)).toBe(true);
    expect(faviconHash(data)).toBe(1836528006);
    expect(base64Lines(Buffer.alloc(0))).toBe('');
  });

  it('gives the cross-checked values for the lab icon and two fixture pages', () => {
    const icon = fixture('lab-favicon.ico');
    expect(md5Hex(icon)).toBe('583e989437e88ef7d05cf0c04a0c21fd');
    expect(faviconHash(icon)).toBe(-1366637387);
    expect(faviconHash(fixture('hikvision/index.html'))).toBe(-70314903);
    expect(faviconHash(fixture('dahua/index.html'))).toBe(-284850917);
  });
});

describe('pageTitle', () => {
  it('reads the title of the vendor fixtures', () => {
    expect(pageTitle(decodeBody(fixture('dahua/index.html')))).toBe('WEB SERVICE');
    expect(pageTitle(decodeBody(fixture('xiongmai/index.html')))).toBe('NETSurveillance WEB');
    expect(pageTitle(decodeBody(fixture('hikvision/index.html')))).toBeNull(); // <title></title>
  });

  it('collapses whitespace, decodes entities, caps the length', () => {
    expect(pageTitle('<TITLE lang="en">\n  Caf&eacute; &amp; &#x43;am&#101;ra\t</TITLE>')).toBe('Caf&eacute; & Camera');
    expect(pageTitle(`<title>${'x'.repeat(1000)}</title>`)).toHaveLength(MAX_TITLE_LENGTH);
    expect(pageTitle('<titlebar>no</titlebar><title>yes</title>')).toBe('yes');
    expect(pageTitle('<title>unclosed')).toBeNull();
    // Control characters are left for pageFields to clean (and record).
    expect(pageTitle('<title>a\u0000b\u0007c</title>')).toBe('a\u0000b\u0007c');
  });

  it('stays linear on a body full of unclosed title tags', () => {
    const hostile = '<title'.repeat(100_000);
    const t0 = Date.now();
    expect(pageTitle(hostile)).toBeNull();
    // Quadratic scanning of 600 KB would take minutes; the bound leaves room for a loaded machine.
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});

describe('decodeBody', () => {
  it('drops a UTF-8 BOM and honours a declared charset', () => {
    expect(decodeBody(fixture('dahua/index.html')).startsWith('<!DOCTYPE html')).toBe(true);
    // "监控" in GB2312 (common on PRC devices)
    expect(decodeBody(Buffer.from([0xbc, 0xe0, 0xbf, 0xd8]), 'text/html; charset=GB2312')).toBe('监控');
    expect(decodeBody(Buffer.from('abc'), 'text/html; charset=no-such-charset')).toBe('abc');
  });
});

describe('findMarkers', () => {
  it('finds the Dahua markers Greenbone publishes in the Dahua fixture, and none in the Hikvision one', () => {
    const dahua = findMarkers(decodeBody(fixture('dahua/index.html')), markers);
    expect(dahua).toEqual(expect.arrayContaining(['/RPC2_Login', '"method":"global.login"', '@WebVersion@', 'slct_userType']));
    expect(dahua).not.toContain('doc/page/login.asp');
    expect(findMarkers(decodeBody(fixture('hikvision/index.html')), markers)).toEqual(['doc/page/login.asp']);
    expect(findMarkers(decodeBody(fixture('hikvision/isapi-usercheck-401.xml')), markers)).toEqual(['<userCheck>']);
  });

  it('finds nothing in the look-alike and non-linked fixtures', () => {
    for (const name of ['xiongmai/index.html', 'uniview/index.html', 'hanwha/index.html', 'axis/index.html']) {
      expect(findMarkers(decodeBody(fixture(name)), markers), name).toEqual([]);
    }
  });

  it('is case-sensitive, as the sources publish the strings', () => {
    expect(findMarkers('/rpc2_login', ['/RPC2_Login'])).toEqual([]);
  });
});

describe('parseChallenges (RFC 7235 §4.1)', () => {
  it('reads a Hikvision Digest challenge and Node-joined repeated headers', () => {
    expect(parseChallenges('Digest qop="auth", realm="IP Camera(FN636)", nonce="4e6a", stale="FALSE", domain="::"')).toEqual([
      { scheme: 'Digest', realm: 'IP Camera(FN636)' },
    ]);
    // nmap's Hikvision rtspd answer, as Node joins two WWW-Authenticate headers
    expect(parseChallenges('Digest realm="Hikvision", nonce="0123", stale="FALSE", Basic realm="/"')).toEqual([
      { scheme: 'Digest', realm: 'Hikvision' },
      { scheme: 'Basic', realm: '/' },
    ]);
  });

  it('handles token realms, escapes, token68 and parameters in any order', () => {
    expect(parseChallenges('Basic realm=hikvision')).toEqual([{ scheme: 'Basic', realm: 'hikvision' }]);
    expect(parseChallenges('Digest nonce="x", realm="a \\"quoted\\" \\\\ realm"')).toEqual([{ scheme: 'Digest', realm: 'a "quoted" \\ realm' }]);
    expect(parseChallenges('Negotiate YIIB8wYGKwYBBQUCoIIB5z==, Basic realm="x"')).toEqual([
      { scheme: 'Negotiate', realm: null },
      { scheme: 'Basic', realm: 'x' },
    ]);
    expect(parseChallenges('Bearer')).toEqual([{ scheme: 'Bearer', realm: null }]);
  });

  it('survives garbage and caps what it reads', () => {
    const random = seededRandom(7);
    for (let n = 0; n < 500; n++) {
      const chars = Array.from({ length: Math.floor(random() * 300) }, () => String.fromCharCode(Math.floor(random() * 128)));
      const result = parseChallenges(chars.join(''));
      expect(Array.isArray(result)).toBe(true);
      expect(result.length).toBeLessThanOrEqual(MAX_CHALLENGES);
    }
    expect(parseChallenges('Basic realm="x", '.repeat(10_000)).length).toBe(MAX_CHALLENGES);
    expect(parseChallenges('realm="orphan"')).toEqual([]);
    expect(parseChallenges('Digest realm="never closed')).toEqual([{ scheme: 'Digest', realm: 'never closed' }]);
  });
});

describe('pageFields', () => {
  it('describes the Hikvision ISAPI 401 (realm, scheme, marker, Server)', () => {
    const fields = pageFields(
      answer({
        path: '/ISAPI/System/deviceInfo',
        status: 401,
        headers: { server: 'App-webs/', 'www-authenticate': 'Digest qop="auth", realm="IP Camera(E6A1C)", nonce="4e6a", stale="FALSE", domain="::"', 'content-type': 'application/xml' },
        body: fixture('hikvision/isapi-usercheck-401.xml'),
      }),
      markers,
    );
    expect(fields).toEqual({
      'http.path': '/ISAPI/System/deviceInfo',
      'http.status': '401',
      'http.header.server': 'App-webs/',
      'http.header.wwwAuthenticate': 'Digest qop="auth", realm="IP Camera(E6A1C)", nonce="4e6a", stale="FALSE", domain="::"',
      'http.auth.scheme': ['Digest'],
      'http.auth.realm': ['IP Camera(E6A1C)'],
      'http.body.bytes': String(fixture('hikvision/isapi-usercheck-401.xml').length),
      'http.marker': ['<userCheck>'],
    });
  });

  it('cleans control and bidirectional characters out of every value, and names the fields it cleaned', () => {
    const body = Buffer.from('<title>Login\x1b]0;owned\x07 page\u202e</title>');
    const fields = pageFields(answer({ headers: { server: 'webs\u0085\u009b2J', 'content-type': 'text/html' }, body }), markers);
    expect(fields['http.title']).toBe('Login]0;owned page');
    expect(fields['http.header.server']).toBe('webs 2J');
    expect(fields['text.cleaned']).toEqual(['http.header.server', 'http.title']);
  });

  it('describes the Dahua page: no Server, P3P, ETag, title, markers', () => {
    const body = fixture('dahua/index.html');
    const fields = pageFields(answer({ headers: { p3p: 'CP=CAO PSA OUR', etag: '"1780651407:298f"', 'content-type': 'text/html' }, body }), markers);
    expect(fields['http.header.server']).toBeUndefined();
    expect(fields['http.header.p3p']).toBe('CP=CAO PSA OUR');
    expect(fields['http.header.etag']).toBe('"1780651407:298f"');
    expect(fields['http.title']).toBe('WEB SERVICE');
    expect(fields['http.marker']).toContain('/RPC2_Login');
  });

  it('records a redirect target without following it, and caps header values', () => {
    const fields = pageFields(answer({ status: 302, headers: { location: 'http://203.0.113.9/elsewhere', server: `x${'y'.repeat(5000)}\r\nInjected: 1` } }), markers);
    expect(fields['http.header.location']).toBe('http://203.0.113.9/elsewhere');
    expect((fields['http.header.server'] as string).length).toBe(MAX_HEADER_VALUE_LENGTH);
    expect(fields['http.header.server']).not.toMatch(/[\r\n]/);
  });

  it('hashes a whole favicon only, and never searches it', () => {
    const icon = fixture('lab-favicon.ico');
    expect(pageFields(answer({ path: '/favicon.ico', purpose: 'favicon', body: icon }), markers)).toMatchObject({
      'http.favicon.md5': '583e989437e88ef7d05cf0c04a0c21fd',
      'http.favicon.mmh3': '-1366637387',
    });
    const cut = pageFields(answer({ path: '/favicon.ico', purpose: 'favicon', body: icon.subarray(0, 100), truncated: true }), markers);
    expect(cut['http.favicon.md5']).toBeUndefined();
    expect(cut['http.body.truncated']).toBe('true');
    const notFound = pageFields(answer({ path: '/favicon.ico', purpose: 'favicon', status: 404, body: Buffer.from('<title>404</title>') }), markers);
    expect(notFound['http.favicon.md5']).toBeUndefined();
    expect(notFound['http.title']).toBeUndefined();
  });

  it('never puts the body in the fields, and copes with random bytes', () => {
    const random = seededRandom(11);
    for (let n = 0; n < 200; n++) {
      const body = Buffer.from(Array.from({ length: Math.floor(random() * 2000) }, () => Math.floor(random() * 256)));
      const fields = pageFields(answer({ body, headers: { 'www-authenticate': body.toString('latin1').slice(0, 300) } }), markers);
      for (const value of Object.values(fields)) {
        for (const v of Array.isArray(value) ? value : [value]) expect(v.length).toBeLessThanOrEqual(MAX_HEADER_VALUE_LENGTH);
      }
    }
  });
});
