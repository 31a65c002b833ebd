/**
 * The daemon in the lab: `cctv-agent daemon` runs in the scanner namespace (cctvlab-<id>-scan)
 * with two sites sweeping the lab passively every 3 seconds (runAtStart), pushing to an HTTP collector and
 * a CouchDB-protocol server that run in the same namespace on its 127.0.0.1 (a child process:
 * tests/integration/daemon-receivers.ts). A second agent (its own daemon and state folder) sweeps
 * another part of the lab once as a third site, into its own database on that server, with its
 * alerts to a webhook and a syslog receiver there; the README's `_replicator` documents carry both
 * agents' databases into a hub, which `estate` reads. Nothing runs in the machine's own namespace
 * but this test's bookkeeping.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../agent/alerts/alerts.js';
import type { Estate } from '../../agent/report/estate.js';
import { parseCef, parseSyslog } from '../support/cef-parser.js';
import { parsePrometheusText } from '../unit/prometheus-text.js';
import { AGENT_CLI, LAB_PREFIX, REPO_ROOT, runInScanner, SCANNER_NS } from './lab-helpers.js';

const LAB_DIR = process.env.LAB_ID ? `.lab-${process.env.LAB_ID}` : '.lab';
const RECEIVERS_BUILD = join(REPO_ROOT, LAB_DIR, 'daemon-build');
const RECEIVERS_JS = join(RECEIVERS_BUILD, 'tests/integration/daemon-receivers.js');
const HEALTH = 'http://127.0.0.1:9464';
const work = mkdtempSync(join(tmpdir(), 'cctv-daemon-lab-'));
const stateDir = join(work, 'state');
const SITES = ['cameras-a', 'cameras-b'] as const;
/** The second agent's site, and the databases of the fleet on the CouchDB-protocol server. */
const SECOND_SITE = 'cameras-c';
const DB = { first: 'cctv-lab', second: 'cctv-lab-second', hub: 'cctv-lab-hub' } as const;

/** Spawns argv inside the scanner namespace (never anywhere else). */
function spawnInScanner(argv: string[]): ChildProcessWithoutNullStreams {
  if (!SCANNER_NS.startsWith(LAB_PREFIX)) throw new Error(`refusing to run outside the lab: ${SCANNER_NS}`);
  return spawn('ip', ['netns', 'exec', SCANNER_NS, ...argv], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** The collectors' child process: one JSON line answered per command line. */
class Receivers {
  private readonly waiting: Array<(line: string) => void> = [];
  readonly child: ChildProcessWithoutNullStreams;
  stderr = '';
  constructor() {
    this.child = spawnInScanner([process.execPath, RECEIVERS_JS]);
    this.child.stderr.on('data', (c: Buffer) => (this.stderr += c.toString()));
    createInterface({ input: this.child.stdout }).on('line', (line) => this.waiting.shift()?.(line));
  }
  next<T>(): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`receivers did not answer: ${this.stderr}`)), 15_000);
      this.waiting.push((line) => {
        clearTimeout(timer);
        resolve(JSON.parse(line) as T);
      });
    });
  }
  ask<T>(command: string): Promise<T> {
    const answer = this.next<T>();
    this.child.stdin.write(`${command}\n`);
    return answer;
  }
  async close(): Promise<void> {
    this.child.stdin.end();
    await new Promise((resolve) => (this.child.exitCode !== null ? resolve(null) : this.child.once('close', resolve)));
  }
}

interface DaemonProcess {
  child: ChildProcessWithoutNullStreams;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Every daemon run's log, restarts included. */
let allDaemonLogs = '';

/** Outbox entries (their ids are the Idempotency-Keys) whose delivery the daemon saw fail or cut short (a reload, a shutdown), to send again. */
function retriedDeliveries(): Set<string> {
  const ids = allDaemonLogs
    .split('\n')
    .filter((line) => line.includes('"delivery failed; will retry"') || line.includes('"delivery cut short by closing the store'))
    .map((line) => (JSON.parse(line) as { id?: string }).id);
  return new Set(ids.filter((id): id is string => typeof id === 'string'));
}

function startDaemon(config: string, state = stateDir): DaemonProcess {
  const child = spawnInScanner([process.execPath, AGENT_CLI, 'daemon', '--config', config, '--state', state, '--log-level', 'info']);
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
    allDaemonLogs += c.toString();
  });
  child.stdout.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  return { child, stderr: () => stderr, exited };
}

interface Health {
  status: string;
  sites: Array<{
    name: string;
    sweep: 'idle' | 'queued' | 'running';
    lastSweep: { result: string; scanId: string | null; devices: number | null } | null;
    stores: Array<{ name: string; outboxDepth: number; reachable: boolean | null }>;
  }>;
}

let receivers: Receivers;
let urls: { http: string; couch: string; webhook: string; syslogPort: number };
let daemon: DaemonProcess | undefined;
let secondAgent: DaemonProcess | undefined;
let configFile: string;
let secondConfigFile: string;

/** A request to the CouchDB-protocol server, made by the receivers' process in the namespace. */
const couch = (method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> =>
  receivers.ask(`couch ${method} ${path}${body === undefined ? '' : ` ${JSON.stringify(body)}`}`);

async function health(): Promise<Health | null> {
  const r = await receivers.ask<{ status?: number; body?: string }>(`get ${HEALTH}/healthz`);
  return r.status === 200 && r.body ? (JSON.parse(r.body) as Health) : null;
}

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\ndaemon log:\n${daemon?.stderr().slice(-4000)}`);
    await sleep(250);
  }
}

/** Scan ids of a site in the daemon's local store, oldest first (scan ids sort by time). */
function localScans(site: string): string[] {
  const dir = join(stateDir, 'inventory', 'scans', site);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

type Received = { received: Array<{ key: string; site: string; scanId: string; events: Array<{ type: string }> }>; repeats: string[]; unanswered: string[] };

beforeAll(async () => {
  const build = spawnSync(
    join(REPO_ROOT, 'node_modules/.bin/tsc'),
    ['--outDir', RECEIVERS_BUILD, '--rootDir', '.', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck', '--types', 'node', 'tests/integration/daemon-receivers.ts'],
    { cwd: REPO_ROOT, encoding: 'utf8' },
  );
  if (!existsSync(RECEIVERS_JS)) throw new Error(`could not compile the receivers:\n${build.stdout}${build.stderr}`);
  receivers = new Receivers();
  urls = await receivers.next<typeof urls>();
  configFile = join(work, 'daemon.yaml');
  writeFileSync(
    configFile,
    `# two sites of the lab, every 3 seconds, each a passive sweep with a 1 s discovery window (the
# devices answer within it; the active probes, tested by the scan tests, would make a sweep outlast
# the 3 s period: the lab's hostile device serves its UPnP description slowly)
health:
  listen: 127.0.0.1:9464
shutdownFlushSeconds: 2
removeAfterMissedSweeps: 3
sites:
  - name: ${SITES[0]}
    interfaces: [eth0]
    targets: [198.18.0.10-198.18.0.14]
    schedule: "*/3 * * * * *"
    runAtStart: true
    timeoutSeconds: 1
    active: false
    stores:
      - ${urls.http}/inventory
      - { type: couchdb, url: "${urls.couch}", database: ${DB.first} }
  - name: ${SITES[1]}
    interfaces: [eth0]
    targets: [198.18.0.20-198.18.0.22]
    schedule: "*/3 * * * * *"
    runAtStart: true
    timeoutSeconds: 1
    active: false
    stores:
      - ${urls.http}/inventory
`,
  );
  secondConfigFile = join(work, 'second-agent.yaml');
  writeFileSync(
    secondConfigFile,
    `# a second agent on another part of the lab: one sweep at start, into its own database; its
# alerts to a webhook and a SIEM
health: false
alerts:
  - { type: webhook, url: "${urls.webhook}" }
  - { type: syslog, host: 127.0.0.1, port: ${urls.syslogPort}, transport: udp }
sites:
  - name: ${SECOND_SITE}
    interfaces: [eth0]
    targets: [198.18.0.20-198.18.0.22]
    schedule: "0 3 * * *"
    runAtStart: true
    timeoutSeconds: 1
    active: false
    stores:
      - { type: couchdb, url: "${urls.couch}", database: ${DB.second} }
`,
  );
}, 120_000);

afterAll(async () => {
  for (const running of [daemon, secondAgent]) {
    if (running && running.child.exitCode === null) {
      running.child.kill('SIGKILL');
      await running.exited;
    }
  }
  await receivers?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('cctv-agent daemon in the lab', () => {
  it('fails fast on a bad configuration with its line and key, exit 2, nothing started', async () => {
    const bad = join(work, 'bad.yaml');
    writeFileSync(bad, `sites:\n  - name: x\n    interfaces: [eth0]\n    schedule: "*/5 * * *"\n`);
    const r = await runInScanner(['daemon', '--config', bad, '--state', join(work, 'bad-state')], { timeoutMs: 20_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('bad.yaml line 4: sites[0].schedule: "*/5 * * *" is not a cron expression');
    expect(r.stderr).toContain('[CCTV_ERR_BAD_CONFIG]');
    expect(r.durationMs).toBeLessThan(5_000);
    expect(existsSync(join(work, 'bad-state'))).toBe(false);
  });

  it('sweeps two sites on schedule and pushes them to the HTTP collector and CouchDB; /metrics parses', async () => {
    daemon = startDaemon(configFile);
    const h = await until('a saved sweep of each site', async () => {
      const got = await health();
      return got?.sites.every((s) => s.lastSweep?.result === 'ok') ? got : null;
    });
    expect(h.sites.map((s) => s.name)).toEqual([...SITES]);
    // The second agent (next test) starts now, to sweep while this test checks the first.
    secondAgent = startDaemon(secondConfigFile, join(work, 'second-state'));
    const pushed = await until('a push of each site', async () => {
      const r = await receivers.ask<Received>('http-received');
      return SITES.every((site) => r.received.some((x) => x.site === site)) ? r : null;
    });
    const first = pushed.received.find((x) => x.site === SITES[0]);
    expect(first?.events.length).toBeGreaterThan(0);
    expect(first?.events.every((e) => e.type === 'device-added')).toBe(true);

    const metrics = await receivers.ask<{ status: number; body: string }>(`get ${HEALTH}/metrics`);
    expect(metrics.status).toBe(200);
    const families = parsePrometheusText(metrics.body);
    const hik = families.get('cctv_agent_devices')?.samples.find((s) => s.labels.site === SITES[0] && s.labels.linked_vendor === 'hikvision');
    expect(hik?.value).toBeGreaterThan(0);
    expect(families.get('cctv_agent_sweep_duration_seconds')?.samples.map((s) => s.labels.site).sort()).toEqual([...SITES]);
    expect(families.get('cctv_agent_pushes_total')?.samples.every((s) => s.labels.result === 'ok')).toBe(true);

    // SIGHUP: a bad configuration is rejected and the running one kept; the good one reloads.
    const good = readFileSync(configFile, 'utf8');
    writeFileSync(configFile, good.replace('runAtStart: true', 'runAtStart: maybe'));
    daemon.child.kill('SIGHUP');
    await until('the reload to be rejected', async () => daemon!.stderr().includes('configuration reload rejected'), 10_000);
    expect(daemon.stderr()).toContain('sites[0].runAtStart: must be boolean');
    writeFileSync(configFile, good);
    daemon.child.kill('SIGHUP');
    await until('the reload', async () => daemon!.stderr().includes('configuration reloaded'), 30_000);
    expect(daemon.child.exitCode).toBeNull();

    // CouchDB: one document per device of the site (stable ids), the scans and the events.
    const docs = await until('the CouchDB documents', async () => {
      const r = await receivers.ask<{ status: number; rows?: Array<{ id: string; doc: Record<string, unknown> }> }>(`couch-docs ${DB.first}`);
      return r.status === 200 && r.rows?.some((row) => row.id.startsWith('device:')) ? r.rows : null;
    });
    const scanDocs = docs.filter((d) => d.id.startsWith(`scan:${SITES[0]}:`));
    expect(scanDocs.length).toBeGreaterThan(0);
    const deviceIds = docs.filter((d) => d.id.startsWith(`device:${SITES[0]}:`)).map((d) => d.id);
    expect(new Set(deviceIds).size).toBe(deviceIds.length);
    expect(deviceIds.length).toBe(h.sites[0]?.lastSweep?.devices);
    expect(docs.some((d) => d.id.startsWith(`event:${SITES[0]}:`))).toBe(true);
    expect(docs.some((d) => d.id.startsWith(`device:${SITES[1]}:`))).toBe(false); // site b pushes to HTTP only
  });

  it('a second agent: its first sweep is one baseline alert (webhook, strict CEF over syslog); the README\'s _replicator documents carry both agents\' databases into a hub, where estate counts each site as its agent wrote it', async () => {
    type AlertsReceived = { webhook: Array<{ site: string; alerts: Alert[] }>; syslog: string[] };
    const got = await until('the second agent\'s alerts', async () => {
      const r = await receivers.ask<AlertsReceived>('alerts-received');
      return r.webhook.length > 0 && r.syslog.length > 0 ? r : null;
    }, 60_000).catch((error: Error) => {
      throw new Error(`${error.message}\nsecond agent's log:\n${secondAgent?.stderr().slice(-4000)}`);
    });
    secondAgent!.child.kill('SIGTERM');
    expect(await secondAgent!.exited).toEqual({ code: 0, signal: null });
    const { webhook, syslog } = await receivers.ask<AlertsReceived>('alerts-received');
    expect(webhook.length + syslog.length).toBe(got.webhook.length + got.syslog.length); // nothing after the first
    const [baseline] = webhook.flatMap((p) => p.alerts);
    if (baseline?.type !== 'baseline-taken') throw new Error(`expected one baseline alert, got ${JSON.stringify(webhook)}`);
    expect(webhook.flatMap((p) => p.alerts)).toHaveLength(1);
    expect(baseline.baseline.devices).toBeGreaterThan(0);
    expect(syslog).toHaveLength(1);
    const cef = parseCef(parseSyslog(syslog[0] ?? '').msg);
    expect(cef).toMatchObject({ signatureId: 'baseline-taken', extension: { cs1: SECOND_SITE, cs2: baseline.scanId, cnt: String(baseline.baseline.devices) } });

    // The README's replication: the hub, then one _replicator document per agent's database.
    expect((await couch('PUT', `/${DB.hub}`)).status).toBe(201);
    // The first agent's database is copied once (the same document, continuous: false): it takes a
    // sweep every 3 s, and a hub that keeps changing makes the test server's view indexing slow
    // while estate reads it (the continuity itself is checked in tests/unit/couchdb-fleet.test.ts).
    for (const source of [DB.first, DB.second]) {
      const doc = { _id: `${source}-to-hub`, source: `${urls.couch}/${source}`, target: `${urls.couch}/${DB.hub}`, continuous: source === DB.second };
      expect((await couch('PUT', `/_replicator/${doc._id}`, doc)).status).toBe(201);
    }
    const hubSites = async (): Promise<Set<string>> =>
      new Set(((await couch('GET', `/${DB.hub}/_design/cctv-agent-fleet/_view/scans`)).json.rows ?? []).map((r: { key: [string] }) => r.key[0]));
    await until('both agents\' sites in the hub', async () => {
      const sites = await hubSites();
      return sites.has(SITES[0]) && sites.has(SECOND_SITE);
    }, 20_000);
    const secondDevices = async (db: string): Promise<number> =>
      (await couch('GET', `/${db}/_design/cctv-agent-fleet/_view/devices?group_level=1&startkey=${encodeURIComponent(JSON.stringify([SECOND_SITE]))}&endkey=${encodeURIComponent(JSON.stringify([SECOND_SITE, {}]))}`)).json
        .rows?.[0]?.value ?? 0;
    await until('the second agent\'s devices in the hub', async () => (await secondDevices(DB.hub)) === baseline.baseline.devices, 20_000);

    const r = await runInScanner(['estate', '--store', `couchdb+${urls.couch}/${DB.hub}`, '--format', 'json'], { timeoutMs: 90_000 });
    expect(r.code, `estate: ${r.stderr}`).toBe(0);
    const estate = JSON.parse(r.stdout) as Estate;
    expect(estate.sites.map((s) => s.site)).toEqual([SITES[0], SECOND_SITE]); // cameras-b pushes to HTTP only
    const [first, second] = estate.sites;
    // The second agent's site, as its own sweep counted it (the baseline) and as its database holds it.
    expect(second?.summary.devices).toBe(baseline.baseline.devices);
    expect(second?.summary.devices).toBe(await secondDevices(DB.second));
    expect(second?.summary.linked.dahua).toBe(baseline.baseline.linked.dahua);
    expect(second?.summary.linked.dahua).toBeGreaterThan(0);
    expect(second?.scans).toBe(1);
    // The first agent's site, still sweeping every 3 s: Hikvision-linked devices, another agent.
    expect(first?.summary.linked.hikvision).toBeGreaterThan(0);
    expect(first?.scans).toBeGreaterThan(0);
    expect(first?.writers.map((w) => w.agentId)).toHaveLength(1);
    expect(second?.writers.map((w) => w.agentId)).toHaveLength(1);
    expect(first?.writers[0]?.agentId).not.toBe(second?.writers[0]?.agentId);
    expect(estate.sites.map((s) => s.inConflict)).toEqual([false, false]);
  }, 240_000);

  it('with the collector down for several sweeps and SIGTERM mid-sweep, exits 0 with the outbox intact; after a restart every document arrives once, in order', async () => {
    await receivers.ask('http-down');
    const before = localScans(SITES[0]).length + localScans(SITES[1]).length;
    // Several sweeps while the collector is down: they queue in the outboxes.
    await until('three sweeps saved while the collector is down', async () => localScans(SITES[0]).length + localScans(SITES[1]).length >= before + 3, 90_000);
    // SIGTERM right after a sweep starts: its 1 s discovery window is still open when the signal
    // lands (polling /healthz every 250 ms could see a sweep that ended before the signal arrived).
    const mark = daemon!.stderr().length;
    const started = Date.now();
    while (!daemon!.stderr().slice(mark).includes('"msg":"scan started"')) {
      if (Date.now() - started > 60_000) throw new Error(`no sweep started\ndaemon log:\n${daemon!.stderr().slice(-4000)}`);
      await sleep(10);
    }
    const stopAt = Date.now();
    daemon!.child.kill('SIGTERM');
    const exit = await daemon!.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - stopAt).toBeLessThan(10_000);
    expect(daemon!.stderr()).toContain('sweep aborted by shutdown');
    expect(daemon!.stderr()).toContain('documents still pending stay in the outbox');
    const savedWhileDown = [...SITES].map((s) => localScans(s).length);

    // Restart with the collector still down: the outbox is still there.
    daemon = startDaemon(configFile);
    const pending = await until('the restarted daemon', async () => {
      const h = await health();
      const depth = h?.sites.flatMap((s) => s.stores.filter((st) => st.name.startsWith('http:'))).reduce((n, st) => n + st.outboxDepth, 0) ?? 0;
      return depth >= 3 ? depth : null;
    });
    expect(pending).toBeGreaterThanOrEqual(3);
    await until('another sweep after the restart', async () => [...SITES].some((s, i) => localScans(s).length > (savedWhileDown[i] ?? 0)), 60_000);

    await receivers.ask('http-up');
    await until(
      'the outboxes to drain',
      async () => {
        const h = await health();
        return h?.sites.every((s) => s.stores.every((st) => st.outboxDepth === 0 && st.reachable === true));
      },
      90_000,
    );
    daemon.child.kill('SIGTERM');
    expect(await daemon.exited).toEqual({ code: 0, signal: null });

    const { received, repeats, unanswered } = await receivers.ask<Received>('http-received');
    for (const site of SITES) {
      const arrived = received.filter((x) => x.site === site).map((x) => x.scanId);
      expect(arrived).toEqual(localScans(site)); // every saved sweep, once, oldest first
    }
    expect(new Set(received.map((x) => x.key)).size).toBe(received.length);
    expect(received.length).toBeGreaterThanOrEqual(before + 4);
    // A repeat is a re-send answered 409 by the collector (idempotency key). The only ones allowed
    // are of documents whose delivery the agent saw fail or cut short: the collector cut the answer
    // when it went down, answered after the agent's timeout (a loaded machine), or the store was
    // closed mid-send by the SIGHUP reload or a shutdown. The agent could not know they had arrived,
    // so sending again is right (at-least-once delivery, made exactly-once by the key).
    const retried = retriedDeliveries();
    expect(repeats.filter((key) => !unanswered.includes(key) && !retried.has(key))).toEqual([]);
  }, 300_000);
});
