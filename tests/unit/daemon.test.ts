/**
 * The daemon in-process with an injected fake sweep (no scan, nothing sent on any network): real
 * file stores in a temporary state folder, the real scheduler, the real health endpoint on
 * 127.0.0.1.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadDaemonConfig } from '../../agent/daemon/config.js';
import { Daemon, type SweepFunction } from '../../agent/daemon/daemon.js';
import { createLogger } from '../../agent/log.js';
import { openFileStore } from '../../agent/store/file.js';
import type { Device, Inventory } from '../../agent/types.js';
import type { Alert } from '../../agent/alerts/alerts.js';
import { startHttpReceiver } from '../support/http-receiver.js';
import { parsePrometheusText } from './prometheus-text.js';
import { axisCamera, dahuaCamera, hikvisionCamera, inventory } from './store-contract.js';
import { loadKnowledge } from '../../agent/knowledge/index.js';

const INTERFACES = [{ name: 'eth0', address: '198.18.0.1', cidr: '198.18.0.1/24' }];
const log = createLogger('silent');
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function workspace(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cctv-daemon-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function writeConfig(dir: string, yaml: string): string {
  const file = join(dir, 'daemon.yaml');
  writeFileSync(file, yaml);
  return file;
}

let seq = 0;
function sweepOf(site: string, devices: Device[]): Inventory {
  seq += 1;
  const at = new Date(Date.UTC(2026, 2, 1, 8, 0, seq));
  const id = `${at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${String(seq).padStart(6, '0')}`;
  return inventory({ site, id, startedAt: at.toISOString(), finishedAt: new Date(at.getTime() + 500).toISOString(), devices });
}

async function start(configFile: string, stateDir: string, sweep: SweepFunction): Promise<Daemon> {
  const config = loadDaemonConfig(configFile, { availableInterfaces: INTERFACES });
  const daemon = await Daemon.start({ config, stateDir, log, sweep, linkedVendors: loadKnowledge().linkedVendors, availableInterfaces: () => INTERFACES });
  cleanups.push(() => daemon.stop());
  return daemon;
}

async function until(what: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(20);
  }
}

async function fetchText(daemon: Daemon, path: string): Promise<string> {
  const address = daemon.healthAddress!;
  const res = await fetch(`http://127.0.0.1:${address.port}${path}`);
  expect(res.status).toBe(200);
  return res.text();
}

const TWO_SITES = (pushDir: string) => `health:
  listen: 127.0.0.1:0
sites:
  - name: north
    interfaces: [eth0]
    schedule: "0 0 1 1 *"
    runAtStart: true
    stores:
      - { type: file, dir: ${JSON.stringify(pushDir)} }
  - name: south
    interfaces: [eth0]
    schedule: "0 0 1 1 *"
    runAtStart: true
`;

describe('daemon (fake sweeps)', () => {
  it('sweeps each site at start, files inventory and events locally and in the configured store, and reports them on /healthz and /metrics', async () => {
    const dir = workspace();
    const state = join(dir, 'state');
    const push = join(dir, 'push');
    const swept: string[] = [];
    const daemon = await start(writeConfig(dir, TWO_SITES(push)), state, async (site) => {
      swept.push(site.name);
      return site.name === 'north' ? sweepOf('north', [hikvisionCamera(), dahuaCamera(), axisCamera()]) : sweepOf('south', [axisCamera()]);
    });
    await until(() => swept.length === 2 && (daemon.healthz() as { sites: { lastSweep: unknown }[] }).sites.every((s) => s.lastSweep));
    expect(swept).toEqual(['north', 'south']);
    // The state folder (inventories, outboxes) is the daemon user's alone.
    expect(statSync(state).mode & 0o777).toBe(0o700);

    const local = await openFileStore(join(state, 'inventory'), log);
    cleanups.push(() => local.close());
    expect((await local.latest('north'))?.devices).toHaveLength(3);
    expect((await local.readChanges('north')).map((e) => e.type)).toEqual(['device-added', 'device-added', 'device-added']);
    const pushed = await openFileStore(push, log);
    cleanups.push(() => pushed.close());
    expect((await pushed.latest('north'))?.scan.id).toBe((await local.latest('north'))?.scan.id);
    expect(await pushed.readChanges('north')).toEqual(await local.readChanges('north'));
    expect(await pushed.latest('south')).toBeNull(); // south pushes nowhere
    expect(JSON.parse(readFileSync(join(state, 'presence', 'north.json'), 'utf8'))).toMatchObject({ schema: 'cctv-agent/site-state/v1', site: 'north' });

    const health = JSON.parse(await fetchText(daemon, '/healthz')) as { status: string; sites: Array<Record<string, any>> };
    expect(health.status).toBe('ok');
    expect(health.sites.map((s) => [s.name, s.lastSweep.result, s.lastSweep.devices, s.lastSweep.events])).toEqual([
      ['north', 'ok', 3, 3],
      ['south', 'ok', 1, 1],
    ]);
    expect(health.sites[0]?.stores).toEqual([expect.objectContaining({ name: `file:${push}`, outboxDepth: 0 })]);

    const metrics = parsePrometheusText(await fetchText(daemon, '/metrics'));
    const value = (name: string, labels: Record<string, string>) =>
      metrics.get(name)?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(value('cctv_agent_devices', { site: 'north', linked_vendor: 'hikvision' })).toBe(1);
    expect(value('cctv_agent_devices', { site: 'north', linked_vendor: 'dahua' })).toBe(1);
    expect(value('cctv_agent_devices', { site: 'north', linked_vendor: 'none' })).toBe(1);
    expect(value('cctv_agent_devices', { site: 'south', linked_vendor: 'hikvision' })).toBe(0);
    expect(value('cctv_agent_sweeps_total', { site: 'north', result: 'ok' })).toBe(1);
    expect(value('cctv_agent_pushes_total', { site: 'north', result: 'ok' })).toBe(1);
    expect(value('cctv_agent_outbox_depth', { site: 'north' })).toBe(0);
    expect(metrics.get('cctv_agent_sweep_duration_seconds')?.type).toBe('gauge');
    expect(metrics.get('cctv_agent_sweeps_skipped_total')?.type).toBe('counter');
  });

  it('counts a tick that falls during a running sweep as skipped (metric and /healthz), never running two at once', async () => {
    const dir = workspace();
    let running = 0;
    let max = 0;
    // The schedule's ticks and the sweep's 2.2 s run on vitest's clock (the stores' file I/O stays real).
    vi.useFakeTimers({ now: Date.parse('2026-03-02T08:15:00.500Z'), toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    cleanups.push(() => {
      vi.useRealTimers();
    });
    const daemon = await start(
      writeConfig(dir, `health: false\nsites:\n  - name: slow\n    interfaces: [eth0]\n    schedule: "* * * * * *"\n    runAtStart: true\n`),
      join(dir, 'state'),
      async (site, { signal }) => {
        running += 1;
        max = Math.max(max, running);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 2200);
          signal.addEventListener('abort', () => {
            clearTimeout(timer);
            resolve();
          });
        });
        running -= 1;
        return sweepOf(site.name, [axisCamera()]);
      },
    );
    // The ticks at 0.5 s and 1.5 s fall inside the 2.2 s sweep that started at once.
    await vi.advanceTimersByTimeAsync(2000);
    const site = (daemon.healthz() as { sites: Array<{ skippedSweeps: number }> }).sites[0]!;
    expect(site.skippedSweeps).toBeGreaterThanOrEqual(2);
    expect(max).toBe(1);
    const skipped = parsePrometheusText(daemon.metricsText()).get('cctv_agent_sweeps_skipped_total')?.samples[0];
    expect(skipped).toEqual({ name: 'cctv_agent_sweeps_skipped_total', labels: { site: 'slow' }, value: site.skippedSweeps });
  });

  it('stop() aborts a running sweep and discards its partial inventory', async () => {
    const dir = workspace();
    const state = join(dir, 'state');
    let aborted = false;
    const daemon = await start(writeConfig(dir, `health: false\nsites:\n  - name: a\n    interfaces: [eth0]\n    schedule: "0 0 1 1 *"\n    runAtStart: true\n`), state, async (site, { signal }) => {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      aborted = true;
      return sweepOf(site.name, [axisCamera()]); // what a scan returns when aborted: what it saw so far
    });
    await sleep(100);
    const t0 = Date.now();
    await daemon.stop();
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(aborted).toBe(true);
    expect(existsSync(join(state, 'presence', 'a.json'))).toBe(false);
    const local = await openFileStore(join(state, 'inventory'), log);
    cleanups.push(() => local.close());
    expect(await local.latest('a')).toBeNull();
  });

  it('keeps presence across a restart: a device missed fewer than N sweeps is not removed, and is at the Nth', async () => {
    const dir = workspace();
    const state = join(dir, 'state');
    const config = writeConfig(dir, `health: false\nremoveAfterMissedSweeps: 2\nsites:\n  - name: a\n    interfaces: [eth0]\n    schedule: "0 0 1 1 *"\n    runAtStart: true\n`);
    const runOnce = async (devices: Device[]): Promise<void> => {
      let done = false;
      const daemon = await start(config, state, async (site) => {
        done = true;
        return sweepOf(site.name, devices);
      });
      await until(() => done && (daemon.healthz() as { sites: Array<{ lastSweep: unknown }> }).sites[0]!.lastSweep !== null);
      await daemon.stop();
    };
    await runOnce([hikvisionCamera(), dahuaCamera()]);
    await runOnce([hikvisionCamera()]);
    await runOnce([hikvisionCamera()]);
    const local = await openFileStore(join(state, 'inventory'), log);
    cleanups.push(() => local.close());
    expect((await local.readChanges('a')).map((e) => `${e.type} ${e.deviceId}`)).toEqual([
      `device-added ${dahuaCamera().id}`,
      `device-added ${hikvisionCamera().id}`,
      `device-removed ${dahuaCamera().id}`,
    ]);
  });

  it('hands each sweep the credential refusals its site\'s last saved sweep recorded, across a restart (the lockout back-off carries on)', async () => {
    const dir = workspace();
    const state = join(dir, 'state');
    const config = writeConfig(dir, `health: false\nsites:\n  - name: a\n    interfaces: [eth0]\n    schedule: "0 0 1 1 *"\n    runAtStart: true\n`);
    const refusal = { ip: '198.18.0.16', mechanism: 'hikvision-isapi', port: 8080, at: '2026-03-01T08:00:01.000Z', refusals: 1, retryAfter: '2026-03-01T08:30:01.000Z' };
    const handed: unknown[] = [];
    const runOnce = async (refusals: (typeof refusal)[]): Promise<void> => {
      let done = false;
      const daemon = await start(config, state, async (site, { previousRefusals }) => {
        handed.push(previousRefusals);
        done = true;
        const swept = sweepOf(site.name, [hikvisionCamera()]);
        return refusals.length > 0 ? { ...swept, scan: { ...swept.scan, credentialRefusals: refusals } } : swept;
      });
      await until(() => done && (daemon.healthz() as { sites: Array<{ lastSweep: unknown }> }).sites[0]!.lastSweep !== null);
      await daemon.stop();
    };
    await runOnce([refusal]);
    await runOnce([]);
    expect(handed).toEqual([[], [refusal]]);
  });

  it('SIGHUP reload: a bad configuration is rejected and the running one kept; a good one adds a site without losing the others\' state', async () => {
    const dir = workspace();
    const one = `health: false\nsites:\n  - name: a\n    interfaces: [eth0]\n    schedule: "0 0 1 1 *"\n    runAtStart: true\n`;
    const file = writeConfig(dir, one);
    const swept: string[] = [];
    const daemon = await start(file, join(dir, 'state'), async (site) => {
      swept.push(site.name);
      return sweepOf(site.name, [axisCamera()]);
    });
    await until(() => swept.length === 1);
    writeFileSync(file, one.replace('"0 0 1 1 *"', '"not a cron"'));
    expect(await daemon.reload()).toBe(false);
    writeFileSync(file, `${one}  - name: b\n    interfaces: [eth0]\n    schedule: "* * * * * *"\n`);
    expect(await daemon.reload()).toBe(true);
    await until(() => swept.includes('b'), 3000);
    const sites = (daemon.healthz() as { sites: Array<{ name: string; lastSweep: { result: string } | null }> }).sites;
    expect(sites.map((s) => s.name)).toEqual(['a', 'b']);
    expect(sites[0]?.lastSweep?.result).toBe('ok'); // kept across the reload
  });

  it('SIGHUP reload applies changed alert sinks: a webhook added by a reload gets the next sweep\'s baseline and its change', async () => {
    const dir = workspace();
    const receiver = await startHttpReceiver();
    cleanups.push(() => receiver.close());
    // Once a year before the reload (only the sweep at start), every second after it.
    const sites = (schedule: string) => `sites:\n  - name: a\n    interfaces: [eth0]\n    schedule: "${schedule}"\n    runAtStart: true\n`;
    const file = writeConfig(dir, `health: false\n${sites('0 0 1 1 *')}`);
    let swept = 0;
    const daemon = await start(file, join(dir, 'state'), async (site) => {
      swept += 1;
      return sweepOf(site.name, swept === 1 ? [axisCamera()] : [axisCamera(), hikvisionCamera()]);
    });
    await until(() => swept >= 1);
    writeFileSync(file, `health: false\nalerts:\n  - { type: webhook, url: ${JSON.stringify(receiver.url)} }\n${sites('* * * * * *')}`);
    expect(await daemon.reload()).toBe(true);
    await until(() => receiver.received.length > 0, 5000);
    const { alerts } = receiver.received[0]?.body as unknown as { alerts: Alert[] };
    // The site was swept before (presence kept), but never with alerts: a baseline, and the addition since.
    expect(alerts.map((a) => (a.type === 'baseline-taken' ? [a.type, a.baseline.devices] : [a.type, a.deviceId]))).toEqual([
      ['baseline-taken', 2],
      ['linked-device-added', hikvisionCamera().id],
    ]);
  });

  it('a failed sweep is reported (healthz degraded, metric) and the daemon goes on', async () => {
    const dir = workspace();
    const daemon = await start(writeConfig(dir, `health: false\nsites:\n  - name: a\n    interfaces: [eth0]\n    schedule: "0 0 1 1 *"\n    runAtStart: true\n`), join(dir, 'state'), async () => {
      throw new Error('interface went away');
    });
    await until(() => (daemon.healthz() as { sites: Array<{ lastSweep: unknown }> }).sites[0]!.lastSweep !== null);
    const health = daemon.healthz() as { status: string; sites: Array<{ lastSweep: { result: string; error: string } }> };
    expect(health.status).toBe('degraded');
    expect(health.sites[0]?.lastSweep).toMatchObject({ result: 'failed', error: 'Error: interface went away' });
    expect(parsePrometheusText(daemon.metricsText()).get('cctv_agent_sweeps_total')?.samples).toEqual([
      { name: 'cctv_agent_sweeps_total', labels: { site: 'a', result: 'failed' }, value: 1 },
    ]);
  });
});
