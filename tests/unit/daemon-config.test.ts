import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentError } from '../../agent/errors.js';
import { isLoopback, loadDaemonConfig, parseDaemonConfig, parseListen } from '../../agent/daemon/config.js';
import { DEFAULT_RATE_PER_SECOND } from '../../agent/net/rate-limiter.js';

const INTERFACES = [{ name: 'eth0', address: '198.18.0.1', cidr: '198.18.0.1/24' }];
const dir = mkdtempSync(join(tmpdir(), 'cctv-daemon-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function parse(text: string, env: NodeJS.ProcessEnv = {}) {
  return parseDaemonConfig(text, join(dir, 'daemon.yaml'), { availableInterfaces: INTERFACES, env });
}

/** The CCTV_ERR_BAD_CONFIG message of `text`, which must be rejected. */
function problems(text: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    parse(text, env);
  } catch (error) {
    expect(error).toBeInstanceOf(AgentError);
    expect((error as AgentError).code).toBe('CCTV_ERR_BAD_CONFIG');
    expect((error as AgentError).exitCode).toBe(2);
    return (error as AgentError).message;
  }
  throw new Error('the configuration was accepted');
}

const GOOD = `# two sites
stateDir: state
removeAfterMissedSweeps: 4
sites:
  - name: town-hall
    interfaces: [eth0]
    targets: [198.18.0.0/28]
    schedule: "0 */15 * * * *"
    runAtStart: true
    stores:
      - https://collector.example/inventory
  - name: depot
    interfaces: [eth0]
    schedule: "30 2 * * *"
    timeoutSeconds: 8
    rate: 50
    active: false
    removeAfterMissedSweeps: 2
`;

describe('daemon configuration', () => {
  it('reads a valid YAML file with defaults filled in and paths resolved from its folder', () => {
    const config = parse(GOOD);
    expect(config.stateDir).toBe(join(dir, 'state'));
    expect(config.health).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(config.shutdownFlushMs).toBe(10_000);
    expect(config.sites.map((s) => [s.name, s.schedule, s.runAtStart, s.timeoutMs, s.ratePerSecond, s.active, s.removeAfterMissedSweeps])).toEqual([
      ['town-hall', '0 */15 * * * *', true, 5000, DEFAULT_RATE_PER_SECOND, true, 4],
      ['depot', '30 2 * * *', false, 8000, 50, false, 2],
    ]);
    expect(config.sites[0]?.targets.specs).toEqual(['198.18.0.0/28']);
    expect(config.sites[0]?.stores).toEqual(['https://collector.example/inventory']);
  });

  it('reads the same configuration as JSON', () => {
    const json = JSON.stringify({ sites: [{ name: 'a', interfaces: ['eth0'], schedule: '*/5 * * * * *', runAtStart: true }] }, null, 2);
    expect(parse(json).sites[0]).toMatchObject({ name: 'a', runAtStart: true });
  });

  it('names the file, line and key of a bad cron expression', () => {
    const text = GOOD.replace('schedule: "30 2 * * *"', 'schedule: "*/5 * * *"');
    const message = problems(text);
    expect(message).toContain('daemon.yaml line 14: sites[1].schedule: "*/5 * * *" is not a cron expression');
  });

  it('names the line of an unknown key, a missing key (at its parent) and a wrong type, all at once', () => {
    const text = `sites:
  - name: a
    interfaces: [eth0]
    schedul: "* * * * *"
  - name: b
    interfaces: [eth0]
    schedule: "* * * * *"
    rate: fast
`;
    const message = problems(text);
    expect(message).toContain('daemon.yaml line 4: sites[0].schedul: is not a key the daemon knows');
    expect(message).toContain('daemon.yaml line 2: sites[0]: "schedule" is missing');
    expect(message).toContain('daemon.yaml line 8: sites[1].rate: must be number');
  });

  it('rejects duplicate site names, bad site names, unknown interfaces and bad targets with their lines', () => {
    const text = `sites:
  - name: a
    interfaces: [eth0, wlan9]
    schedule: "* * * * *"
    targets: [198.18.0.0/8]
  - name: a
    interfaces: [eth0]
    schedule: "* * * * *"
  - name: "../etc"
    interfaces: [eth0]
    schedule: "* * * * *"
`;
    const message = problems(text);
    expect(message).toContain('daemon.yaml line 3: sites[0].interfaces[1]: interface "wlan9" does not exist here');
    expect(message).toContain('daemon.yaml line 5: sites[0].targets:');
    expect(message).toContain('daemon.yaml line 6: sites[1].name: site "a" is named twice');
    expect(message).toContain('daemon.yaml line 9: sites[2].name: The site name "../etc" cannot be used');
  });

  it('checks store entries against the stores\' own schema and names the entry that is wrong', () => {
    const text = `sites:
  - name: a
    interfaces: [eth0]
    schedule: "* * * * *"
    stores:
      - https://collector.example/in
      - type: http
        auth: { bearerTokenEnv: PUSH_TOKEN }
      - type: ftp
        url: ftp://x
      - { type: couchdb, url: "http://127.0.0.1:5984", database: cctv }
`;
    const message = problems(text);
    expect(message).toContain('daemon.yaml line 7: sites[0].stores[1]: "url" is missing');
    expect(message).toContain('daemon.yaml line 9: sites[0].stores[2]: is not a store');
    expect(message.split('\n').filter((l) => l.includes('stores[')).length).toBe(2);
    expect(message).not.toContain('stores[3]');
    expect(message).not.toContain('stores[0]');
  });

  it('reports YAML syntax errors with their line', () => {
    expect(problems('sites:\n  - name: a\n    interfaces: [eth0\n')).toMatch(/daemon\.yaml line \d+: not valid YAML or JSON/);
  });

  it('rejects an alias bomb and nesting past the parser\'s limits as configuration errors (exit 2), in one line each, quickly', () => {
    const laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (const name of 'bcdefghi') laughs.push(`${name}: &${name} [${Array(9).fill(`*${String.fromCharCode(name.charCodeAt(0) - 1)}`).join(',')}]`);
    const started = Date.now();
    expect(problems(laughs.join('\n'))).toMatch(/daemon\.yaml line 1: not valid YAML or JSON: Excessive alias count/);
    expect(problems(`sites: ${'['.repeat(50_000)}${']'.repeat(50_000)}`)).toMatch(/daemon\.yaml line 1: not valid YAML or JSON: /);
    expect(problems(`{"sites": ${'['.repeat(50_000)}${']'.repeat(50_000)}}`)).toMatch(/daemon\.yaml line 1: not valid YAML or JSON: /);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('requires a token when the health endpoint listens beyond loopback, from a private file or the environment', () => {
    const base = (health: string) => `health:\n${health}\nsites:\n  - name: a\n    interfaces: [eth0]\n    schedule: "* * * * *"\n`;
    expect(problems(base('  listen: 0.0.0.0:9464'))).toContain('daemon.yaml line 2: health.listen: "0.0.0.0:9464" is reachable from other machines, so the endpoint needs a token');
    expect(parse(base('  listen: 127.0.0.1:9999')).health).toEqual({ host: '127.0.0.1', port: 9999 });
    expect(parse(base('  listen: 0.0.0.0:9464\n  tokenEnv: HEALTH_TOKEN'), { HEALTH_TOKEN: 's3cret' }).health).toEqual({ host: '0.0.0.0', port: 9464, token: 's3cret' });
    expect(problems(base('  listen: 0.0.0.0:9464\n  tokenEnv: HEALTH_TOKEN'))).toContain('line 3: health.tokenEnv: the environment variable HEALTH_TOKEN is not set');
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'file-token\n');
    chmodSync(tokenFile, 0o644);
    expect(problems(base(`  listen: 0.0.0.0:9464\n  tokenFile: ${tokenFile}`))).toContain('can be read by other users');
    chmodSync(tokenFile, 0o600);
    expect(parse(base(`  listen: 0.0.0.0:9464\n  tokenFile: ${tokenFile}`)).health?.token).toBe('file-token');
    expect(problems(base('  listen: localhost'))).toContain('health.listen: "localhost" is not HOST:PORT');
    expect(parse(base('  listen: 127.0.0.1:0')).health?.port).toBe(0);
  });

  it('checks the credentials file of a site as the scan command does', () => {
    const creds = join(dir, 'creds.json');
    writeFileSync(creds, '[{"cidr":"198.18.0.0/24","username":"u","password":"p"}]');
    chmodSync(creds, 0o644);
    const text = `sites:\n  - name: a\n    interfaces: [eth0]\n    schedule: "* * * * *"\n    credentialsFile: creds.json\n`;
    expect(problems(text)).toContain('daemon.yaml line 5: sites[0].credentialsFile: The credentials file');
    chmodSync(creds, 0o600);
    expect(parse(text).sites[0]?.credentials).toBeDefined();
  });

  it('fails with CCTV_ERR_CONFIG_UNREADABLE for a missing file', () => {
    expect(() => loadDaemonConfig(join(dir, 'missing.yaml'), { availableInterfaces: INTERFACES })).toThrow(
      expect.objectContaining({ code: 'CCTV_ERR_CONFIG_UNREADABLE', exitCode: 2 }),
    );
  });

  it('parses listen addresses and knows loopback', () => {
    expect(parseListen('[::1]:80')).toEqual({ host: '::1', port: 80 });
    expect(parseListen('127.0.0.1:70000')).toBeNull();
    expect(parseListen('example.org:80')).toBeNull();
    expect(isLoopback('127.0.0.2')).toBe(true);
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('0.0.0.0')).toBe(false);
    expect(isLoopback('198.18.0.1')).toBe(false);
  });
});
