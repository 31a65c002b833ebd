/**
 * A flooding device (issue 15): for one scan, the host that otherwise answers nothing (maconly)
 * runs tests/lab/sim/flooder.ts, which answers every SADP, DHIP, WS-Discovery, SSDP and mDNS
 * request with a second-long burst of valid-looking replies, each with a new identity. The scan
 * (listen only, its own store) must complete, keep at most its caps of what the flooder sent, say
 * what it dropped in the log and the document, and still find every real device of the lab.
 * The flooder is stopped before the next file runs (lab files run one at a time), so no other lab
 * test ever sees it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_OBSERVATIONS_PER_SOURCE } from '../../agent/discovery/bounds.js';
import type { Inventory } from '../../agent/types.js';
import { inventoryProblems } from '../support/inventory-schema.js';
import { isIpv6Only } from '../lab/sim/profile.js';
import { AGENT_CLI, LAB_BUILD_DIR, labNamespace, labProfile, labProfiles, REPO_ROOT, runInNamespace, SCANNER_NS, type RunResult } from './lab-helpers.js';

const FLOODER = labProfile('maconly');
/**
 * Each burst, per protocol (tests/lab/sim/flooder.ts): waves of replies sent back to back, a
 * moment apart. A wave fits in a socket's kernel receive buffer (about 200 KiB by default, some
 * 90 replies of these sizes), so the agent, not the kernel, decides what is kept.
 */
const FLOOD = { waves: 8, perWave: 40, gapMs: 50 };
/**
 * The burst starts after the real devices have answered (they wait at most 100 ms, profiles'
 * maxDelayMs): a flood that fills a socket's kernel receive buffer loses every datagram that
 * arrives then, a real device's too, before the agent can see it; what the agent controls is
 * what it does with what it receives.
 */
const FLOOD_DELAY_MS = 300;
const WINDOW_SECONDS = 3;
/**
 * The flooder and the agent run at a raised priority (nice(1), the lab runs as root): on a machine
 * busy with other work, timers come seconds late and the kernel drops what neither process gets
 * the CPU to read, which would decide the test instead of the agent's caps.
 */
const NICE = ['nice', '-n', '-10'];
/** Devices that answer the listen-phase protocols in the lab (tests/lab/README.md). */
const ANNOUNCING = ['hikvision', 'lts', 'hiknvr', 'ezviz', 'hikold', 'dahua', 'amcrest', 'dahuanvr', 'axis', 'printer', 'nas'];
/** Every listen-phase method the flooder answers, by its log name in scan.dropped. */
const FLOODED = ['sadp', 'dhip', 'ws-discovery', 'ssdp', 'mdns-dns-sd'];

const dir = mkdtempSync(join(tmpdir(), 'cctv-flood-test-'));
let flooder: ChildProcess;
let flooderOutput = '';
let scan: RunResult;
let inventory: Inventory;
let logLines: Array<Record<string, unknown>>;
let sent: Record<string, number>;
/** From the flooder's first reply to its last. */
let sentMs: number;

beforeAll(async () => {
  const ready = join(dir, 'flooder.ready');
  flooder = spawn(
    'ip',
    ['netns', 'exec', labNamespace(FLOODER.name), ...NICE, process.execPath, join(LAB_BUILD_DIR, 'tests/lab/sim/flooder.js'), '--ip', FLOODER.ip, '--mac', FLOODER.mac,
      '--waves', String(FLOOD.waves), '--per-wave', String(FLOOD.perWave), '--gap-ms', String(FLOOD.gapMs), '--delay-ms', String(FLOOD_DELAY_MS), '--ready-file', ready],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  flooder.stdout?.on('data', (chunk: Buffer) => (flooderOutput += chunk.toString()));
  const until = Date.now() + 10_000;
  while (!existsSync(ready) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  if (!existsSync(ready)) throw new Error(`the flooder did not start: ${flooderOutput}`);

  scan = await runInNamespace(SCANNER_NS, [
    ...NICE, '/usr/bin/time', '-f', 'RESOURCES %M %U %S', process.execPath, AGENT_CLI,
    'scan', '--no-active', '--interface', 'eth0', '--timeout', String(WINDOW_SECONDS), '--json', '--site', 'flood', '--store', join(dir, 'store'), '--log-level', 'info',
  ]);
  const exited = new Promise((resolve) => flooder.once('exit', resolve));
  flooder.kill('SIGTERM');
  await exited;
  const report = /SENT (\{.*\}) MS (\d+)/.exec(flooderOutput);
  sent = JSON.parse(report?.[1] ?? '{}') as Record<string, number>;
  sentMs = Number(report?.[2]);
  inventory = JSON.parse(scan.stdout) as Inventory;
  logLines = scan.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}, 60_000);

afterAll(() => {
  if (flooder.exitCode === null) flooder.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const logged = (msg: string): Record<string, unknown> | undefined => logLines.find((l) => l.msg === msg);

describe('a device flooding every discovery protocol with new identities', () => {
  it('really floods: hundreds of new identities per protocol, over a thousand replies within the window', () => {
    for (const protocol of ['sadp', 'dhip', 'ws-discovery', 'ssdp', 'mdns']) expect(sent[protocol] ?? 0, protocol).toBeGreaterThanOrEqual(FLOOD.waves * FLOOD.perWave);
    expect(Object.values(sent).reduce((a, b) => a + b, 0)).toBeGreaterThan(1000);
    expect(sentMs).toBeLessThan(WINDOW_SECONDS * 1000);
  });

  it('the scan completes with a valid document, in about its window, and little memory', () => {
    expect(scan.code, scan.stderr.slice(-2000)).toBe(0);
    expect(inventoryProblems(inventory)).toEqual([]);
    expect(scan.durationMs).toBeLessThan((WINDOW_SECONDS + 10) * 1000);
    const [maxRssKb = 0] = (/RESOURCES (\d+)/.exec(scan.stderr)?.slice(1) ?? []).map(Number);
    expect(maxRssKb).toBeGreaterThan(0);
    expect(maxRssKb).toBeLessThan(400 * 1024);
  });

  it('keeps at most its per-source cap of each flooded method, and counts the drops in the document and the log', () => {
    const finished = logLines.filter((l) => typeof l.msg === 'string' && l.msg.endsWith('finished'));
    for (const method of FLOODED) expect(inventory.scan.dropped?.[`${method}.per-source`] ?? 0, `${method}: ${JSON.stringify({ sent, finished })}`).toBeGreaterThan(0);
    const capWarnings = logLines.filter((l) => typeof l.cap === 'string' && (l.cap as string).endsWith('.per-source')).map((l) => l.cap);
    expect(new Set(capWarnings)).toEqual(new Set(FLOODED.map((m) => `${m}.per-source`)));
    expect(logged('scan finished')?.dropped).toEqual(inventory.scan.dropped);
    // Everything the flooder sent, in all, against what the scan kept: the real devices' few plus one cap per method.
    const observations = Number(logged('scan finished')?.observations);
    expect(observations).toBeLessThan(FLOODED.length * MAX_OBSERVATIONS_PER_SOURCE + ANNOUNCING.length * FLOODED.length + 50);
    expect(Number(logged('SADP finished')?.devices)).toBeLessThanOrEqual(MAX_OBSERVATIONS_PER_SOURCE + ANNOUNCING.length);
    // WS-Discovery counts a device once per address it answers from: a dual-stack device twice.
    const wsDiscoverySenders = labProfiles()
      .filter((p) => p.wsDiscovery !== undefined)
      .reduce((n, p) => n + (p.ipv6 !== undefined && !isIpv6Only(p) ? 2 : 1), 0);
    expect(Number(logged('WS-Discovery finished')?.devices)).toBeLessThanOrEqual(MAX_OBSERVATIONS_PER_SOURCE + wsDiscoverySenders);
  });

  it('still finds every real device that announces itself', () => {
    const found = new Set(inventory.devices.map((d) => d.ip));
    expect(ANNOUNCING.map((name) => labProfile(name).ip).filter((ip) => !found.has(ip))).toEqual([]);
  });
});
