import { describe, expect, it } from 'vitest';
import { challengeRealms, chooseDigestChallenge, digestAuthorization, parseChallenges } from '../../../agent/protocols/http-auth.js';
import { parseDigest } from '../../lab/sim/auth.js';
import { seededRandom } from '../../seeded-random.js';

// RFC 7616 §3.9.1: the server offers SHA-256 and MD5 for the same nonce and opaque.
const RFC7616_CHALLENGES = [
  'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
  'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
];
const RFC7616_ANSWER = {
  username: 'Mufasa',
  password: 'Circle of Life',
  method: 'GET',
  uri: '/dir/index.html',
  cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
  nonceCount: 1,
};

describe('WWW-Authenticate challenges (RFC 7235 §4.1)', () => {
  it('reads several challenges from one header value and from several headers', () => {
    const challenges = parseChallenges(['Digest realm="Hikvision", nonce="abc", stale="FALSE", Basic realm="/"', 'Negotiate YIIB3gYGKwYBBQUCoIIB0jCCAc6g==']);
    expect(challenges.map((c) => c.scheme)).toEqual(['Digest', 'Basic', 'Negotiate']);
    expect(challenges[0]?.params).toEqual({ realm: 'Hikvision', nonce: 'abc', stale: 'FALSE' });
    expect(challengeRealms(challenges)).toEqual(['Hikvision', '/']);
  });

  it('unescapes quoted strings, lower-cases parameter names, keeps the first of a repeated one', () => {
    const [c] = parseChallenges(['Digest REALM="a \\"quoted\\" realm", Realm="second", QOP=auth']);
    expect(c?.params).toEqual({ realm: 'a "quoted" realm', qop: 'auth' });
  });

  it('treats a parameter named __proto__ as a plain key', () => {
    const [c] = parseChallenges(['Digest __proto__="x", realm="r"']);
    expect(c?.params.realm).toBe('r');
    expect(Object.getPrototypeOf(c?.params)).toBeNull();
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('never throws on garbage, and bounds what it keeps', () => {
    const random = seededRandom(7235);
    const alphabet = 'Digest Basic realm nonce = , " \\ \t abc/+=';
    for (let i = 0; i < 2000; i++) {
      const text = Array.from({ length: Math.floor(random() * 120) }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
      expect(() => parseChallenges([text])).not.toThrow();
    }
    expect(parseChallenges(['Basic realm="x", '.repeat(1000)])).toHaveLength(16);
    expect(Object.keys(parseChallenges([`Digest ${Array.from({ length: 100 }, (_, i) => `p${i}=1`).join(', ')}`])[0]?.params ?? {})).toHaveLength(32);
    expect(parseChallenges(['Digest realm="unterminated'])[0]?.params.realm).toBe('unterminated');
  });
});

describe('HTTP Digest answers (RFC 7616)', () => {
  it('prefers SHA-256 when offered and answers the RFC 7616 §3.9.1 example exactly', () => {
    const challenges = parseChallenges(RFC7616_CHALLENGES);
    const sha = chooseDigestChallenge(challenges);
    expect(sha?.algorithm).toBe('SHA-256');
    expect(digestAuthorization({ challenge: sha!, ...RFC7616_ANSWER })).toBe(
      'Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=SHA-256, ' +
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", ' +
        'qop=auth, response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
    );
  });

  it('answers the MD5 challenge of the same example with the RFC response', () => {
    const md5 = chooseDigestChallenge(parseChallenges([RFC7616_CHALLENGES[1]!]));
    expect(md5?.algorithm).toBe('MD5');
    const header = digestAuthorization({ challenge: md5!, ...RFC7616_ANSWER });
    expect(parseDigest(header)?.response).toBe('8ca523f5e9506fed4657c9700eebdbec');
  });

  it('echoes no algorithm when the challenge named none (Hikvision), and counts nonces in hex', () => {
    const challenge = chooseDigestChallenge(parseChallenges(['Digest qop="auth", realm="IP Camera(E6A1C)", nonce="4e6a", stale="FALSE"']));
    expect(challenge).toMatchObject({ algorithm: 'MD5', algorithmNamed: false, opaque: null });
    const header = digestAuthorization({ challenge: challenge!, ...RFC7616_ANSWER, nonceCount: 26 });
    expect(header).not.toMatch(/algorithm=/);
    expect(header).not.toMatch(/opaque=/);
    expect(parseDigest(header)).toMatchObject({ nc: '0000001a', qop: 'auth', realm: 'IP Camera(E6A1C)' });
  });

  it('sends a non-ASCII username as username* (RFC 7616 §3.4.4) and escapes quotes', () => {
    const challenge = chooseDigestChallenge(parseChallenges(['Digest realm="r", nonce="n", qop="auth"']))!;
    expect(digestAuthorization({ challenge, ...RFC7616_ANSWER, username: 'Jäsøn Doe' })).toContain("username*=UTF-8''J%C3%A4s%C3%B8n%20Doe");
    expect(digestAuthorization({ challenge, ...RFC7616_ANSWER, username: 'a"b\\c' })).toContain('username="a\\"b\\\\c"');
  });

  it('answers nothing it cannot answer: no qop=auth, unknown algorithms, Basic only, no nonce', () => {
    expect(chooseDigestChallenge(parseChallenges(['Digest realm="r", nonce="n"']))).toBeNull();
    expect(chooseDigestChallenge(parseChallenges(['Digest realm="r", nonce="n", qop="auth-int"']))).toBeNull();
    expect(chooseDigestChallenge(parseChallenges(['Digest realm="r", nonce="n", qop="auth", algorithm=SHA-512-256']))).toBeNull();
    expect(chooseDigestChallenge(parseChallenges(['Digest realm="r", nonce="n", qop="auth", algorithm=MD5-sess']))).toBeNull();
    expect(chooseDigestChallenge(parseChallenges(['Basic realm="device"']))).toBeNull();
    expect(chooseDigestChallenge(parseChallenges(['Digest realm="r", qop="auth"']))).toBeNull();
  });
});
