import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDaemonConfig } from '../../agent/daemon/config.js';

const ROOT = join(import.meta.dirname, '../..');

describe('deployment files', () => {
  it('examples/daemon.yaml is a valid configuration with two sites', () => {
    const config = loadDaemonConfig(join(ROOT, 'examples/daemon.yaml'), {
      availableInterfaces: [
        { name: 'eth0', address: '10.20.30.2', cidr: '10.20.30.2/24' },
        { name: 'eth1', address: '10.40.0.2', cidr: '10.40.0.2/24' },
      ],
      env: {},
    });
    expect(config.sites.map((s) => s.name)).toEqual(['town-hall', 'depot']);
    expect(config.health).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(config.sites.map((s) => (s.stores[0] as { type: string }).type)).toEqual(['http', 'couchdb']);
  });

  it('the systemd unit runs the daemon hardened, as a dedicated user, with no capabilities', () => {
    const unit = readFileSync(join(ROOT, 'scripts/cctv-agent.service'), 'utf8');
    const settings = new Map<string, string>();
    for (const line of unit.split('\n')) {
      const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
      if (m?.[1]) settings.set(m[1], m[2] ?? '');
    }
    expect(settings.get('ExecStart')).toMatch(/cli\.js daemon --config \S+$/);
    expect(settings.get('ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    for (const [key, value] of [
      ['NoNewPrivileges', 'yes'],
      ['ProtectSystem', 'strict'],
      ['ProtectHome', 'yes'],
      ['PrivateTmp', 'yes'],
      ['DynamicUser', 'yes'],
      ['StateDirectory', 'cctv-agent'],
      ['ReadWritePaths', '/var/lib/cctv-agent'],
      ['CapabilityBoundingSet', ''],
      ['AmbientCapabilities', ''],
      ['RestartPreventExitStatus', '2'],
    ]) {
      expect([key, settings.get(key!)]).toEqual([key, value]);
    }
  });
});
