import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { Credentials, loadCredentials, parseCredentials } from '../../agent/credentials.js';
import { refusal } from '../support/agent-error.js';

const dir = mkdtempSync(join(tmpdir(), 'cctv-credentials-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PASSWORD = 'S3cret-Pa55';

function file(name: string, content: string, mode: number): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  chmodSync(path, mode);
  return path;
}

describe('credentials file: which entry a device gets', () => {
  const store = parseCredentials(
    JSON.stringify([
      { username: 'fallback', password: 'p0' },
      { cidr: '198.18.0.0/16', username: 'wide', password: 'p1' },
      { cidr: '198.18.0.0/24', username: 'narrow', password: 'p2' },
      { ip: '198.18.0.10', username: 'exact', password: 'p3' },
      { cidr: '10.1.2.3/8', username: 'ten', password: 'p4' },
    ]),
    'creds.json',
  );

  it('picks the ip entry, else the longest cidr, else the default', () => {
    expect(store.size).toBe(5);
    expect(store.forHost('198.18.0.10')?.username).toBe('exact');
    expect(store.forHost('198.18.0.11')?.username).toBe('narrow');
    expect(store.forHost('198.18.7.1')?.username).toBe('wide');
    expect(store.forHost('10.200.0.1')?.username).toBe('ten');
    expect(store.forHost('192.0.2.1')?.username).toBe('fallback');
    expect(store.forHost('fe80::1')?.username).toBe('fallback');
  });

  it('gives nothing to a device no entry covers when there is no default', () => {
    const only = parseCredentials(JSON.stringify([{ ip: '198.18.0.10', username: 'u', password: 'p' }]), 'f');
    expect(only.forHost('198.18.0.11')).toBeNull();
    expect(parseCredentials('[]', 'f').forHost('198.18.0.10')).toBeNull();
  });

  it('prints as [credentials] however a log or a document serialises it', () => {
    const credentials = store.forHost('198.18.0.10')!;
    expect(credentials).toBeInstanceOf(Credentials);
    expect(JSON.stringify({ credentials })).toBe('{"credentials":"[credentials]"}');
    expect(`${credentials}`).toBe('[credentials]');
    expect(inspect({ credentials })).not.toMatch(/exact|p3/);
    expect(Object.isFrozen(credentials)).toBe(true);
  });
});

describe('credentials file: what is refused, in one clear line that repeats no secret', () => {
  const cases: [string, string, RegExp][] = [
    ['not an array', JSON.stringify({ username: 'u', password: PASSWORD }), /top level is not a JSON array/],
    ['an entry that is not an object', JSON.stringify(['u']), /entry 1 is not a JSON object/],
    ['a missing username', JSON.stringify([{ password: PASSWORD }]), /entry 1 has no "username"/],
    ['an empty password', JSON.stringify([{ ip: '198.18.0.10', username: 'admin', password: '' }]), /entry 1 has no "password"/],
    ['a bad ip', JSON.stringify([{ ip: '198.18.0.300', username: 'admin', password: PASSWORD }]), /entry 1 has an "ip" that is not an IPv4 address/],
    ['a host name as ip', JSON.stringify([{ ip: 'camera.local', username: 'admin', password: PASSWORD }]), /"ip" that is not an IPv4/],
    ['a bad cidr', JSON.stringify([{ cidr: '198.18.0.0/33', username: 'admin', password: PASSWORD }]), /"cidr" that is not an IPv4 CIDR/],
    ['both ip and cidr', JSON.stringify([{ ip: '198.18.0.1', cidr: '198.18.0.0/24', username: 'admin', password: PASSWORD }]), /both "ip" and "cidr"/],
    ['an unknown key', JSON.stringify([{ user: 'admin', username: 'admin', password: PASSWORD }]), /unknown key "user"/],
    [
      'two entries for the same block',
      JSON.stringify([
        { cidr: '198.18.0.0/24', username: 'a', password: PASSWORD },
        { cidr: '198.18.0.77/24', username: 'b', password: PASSWORD },
      ]),
      /entries 1 and 2 apply to the same devices/,
    ],
    [
      'two defaults',
      JSON.stringify([
        { username: 'a', password: PASSWORD },
        { username: 'b', password: 'other' },
      ]),
      /entries 1 and 2 apply to the same devices/,
    ],
  ];
  for (const [what, content, message] of cases) {
    it(`refuses ${what}`, () => {
      const error = refusal(() => parseCredentials(content, '/etc/cctv/creds.json'));
      expect(error.code).toBe('CCTV_ERR_CREDENTIALS_INVALID');
      expect(error.exitCode).toBe(2);
      expect(error.message).toMatch(message);
      expect(error.message).toContain('/etc/cctv/creds.json');
      expect(error.message).not.toContain(PASSWORD);
      expect(error.message).not.toMatch(/admin/);
      expect(error.message.split('\n')).toHaveLength(1);
    });
  }

  it('names the line and column of a JSON syntax error without quoting the file', () => {
    const broken = `[\n  {"ip": "198.18.0.10",\n   "username": "admin",\n   "password": ${PASSWORD}}\n]`;
    const error = refusal(() => parseCredentials(broken, 'creds.json'));
    expect(error.message).toMatch(/not JSON \(the error is at line 4, column 16\)/);
    expect(error.message).not.toContain(PASSWORD);
    expect(error.message).not.toContain(PASSWORD.slice(0, 3));
    expect(refusal(() => parseCredentials('[{"ip": "198.18.0.10",}]', 'f')).message).toMatch(/line 1, column 23/);
    expect(refusal(() => parseCredentials('[{"username": "a"', 'f')).message).toMatch(/line 1, column 18/);
    expect(refusal(() => parseCredentials('', 'f')).message).toMatch(/line 1, column 1/);
  });
});

describe('credentials file on disk', () => {
  const good = JSON.stringify([{ ip: '198.18.0.10', username: 'admin', password: PASSWORD }]);

  it('loads a file only its owner can read or write', () => {
    expect(loadCredentials(file('private.json', good, 0o600)).forHost('198.18.0.10')?.password).toBe(PASSWORD);
    expect(loadCredentials(file('readonly.json', good, 0o400)).size).toBe(1);
    expect(loadCredentials(file('bom.json', `\uFEFF${good}`, 0o600)).size).toBe(1);
  });

  for (const mode of [0o644, 0o640, 0o604, 0o620, 0o602, 0o610]) {
    it(`refuses mode ${mode.toString(8)} (group or others have access)`, () => {
      const path = file(`mode-${mode.toString(8)}.json`, good, mode);
      const error = refusal(() => loadCredentials(path));
      expect(error.code).toBe('CCTV_ERR_CREDENTIALS_EXPOSED');
      expect(error.exitCode).toBe(2);
      expect(error.message).toContain(`mode 0${mode.toString(8)}`);
      expect(error.message).toContain(`chmod 600 ${path}`);
    });
  }

  it('refuses a missing file, a directory and an oversized file', () => {
    expect(refusal(() => loadCredentials(join(dir, 'absent.json'))).message).toMatch(/cannot be used \(no such file\)/);
    expect(refusal(() => loadCredentials(dir)).code).toBe('CCTV_ERR_CREDENTIALS_UNREADABLE');
    const big = file('big.json', `[${' '.repeat(1024 * 1024)}]`, 0o600);
    expect(refusal(() => loadCredentials(big)).message).toMatch(/more than a credentials file needs/);
  });
});
