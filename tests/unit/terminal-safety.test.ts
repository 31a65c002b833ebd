/**
 * No device-controlled string reaches the terminal as a control character (issue #15): a store
 * whose documents carry clear-screen, window-title (OSC … BEL), BEL, C1 CSI and right-to-left
 * override sequences in every device-controlled field is read by every command and output format
 * of the built CLI, and nothing written on stdout or stderr holds such a character raw; the JSON
 * outputs still give back the raw values.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../agent/log.js';
import { recordScan } from '../../agent/pipeline/changes.js';
import { openStore } from '../../agent/store/index.js';
import type { Device, Inventory } from '../../agent/types.js';
import { runCli, type CliRun } from '../support/run-cli.js';
import { firstScan, secondScan, SITE } from './store-contract.js';

/** Each hostile sequence on its own, so a table cut between them still shows one. */
const HOSTILE = '\x1b[2J\x1b]0;owned\x07\u202e\u009b31m\r';

/**
 * Raw characters a terminal would act on: C0 but LF (and CR only as part of a CSV CRLF line end),
 * DEL, C1, and the bidirectional formatting characters (agent/safe-text.ts lists the same class).
 */
const RAW_CONTROL = /[\u0000-\u0009\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]|\r(?!\n)/;

function expectNoRawControl(run: CliRun, what: string): void {
  expect(RAW_CONTROL.exec(run.stdout), `${what}: stdout`).toBeNull();
  expect(RAW_CONTROL.exec(run.stderr), `${what}: stderr`).toBeNull();
}

/** `d` with every device-controlled string carrying HOSTILE. */
function hostile(d: Device): Device {
  const h = (text: string | null): string => `${text ?? 'x'}${HOSTILE}`;
  return {
    ...d,
    id: h(d.id),
    identity: { manufacturer: h(d.identity.manufacturer), brand: h(d.identity.brand), model: h(d.identity.model), firmware: h(d.identity.firmware), serial: h(d.identity.serial), deviceType: h(d.identity.deviceType) },
    evidence: d.evidence.map((e) => ({ ...e, detail: h(e.detail) })),
    vulnerabilities: d.vulnerabilities.map((v) => ({ ...v, reason: h(v.reason ?? null) })),
    services: d.services.map((s) => ({ ...s, banner: h(s.banner) })),
  };
}

function hostileScan(scan: Inventory): Inventory {
  return { ...scan, devices: scan.devices.map(hostile) };
}

const dir = mkdtempSync(join(tmpdir(), 'cctv-terminal-safety-'));
const store = join(dir, 'store');
const common = ['--site', SITE, '--store', store, '--log-format', 'pretty', '--log-level', 'debug'];

beforeAll(async () => {
  const saving = await openStore(store, { log: createLogger('silent'), stateDir: join(dir, 'state') });
  try {
    await recordScan(saving, hostileScan(firstScan()));
    await recordScan(saving, hostileScan(secondScan()));
  } finally {
    await saving.close();
  }
  // The installer's schedule names the devices with hostile words of its own (a location, a model).
  const devices = secondScan().devices.map((d) => ({ mac: d.mac, model: `other${HOSTILE}`, location: `roof${HOSTILE}` }));
  writeFileSync(join(dir, 'handover.json'), JSON.stringify({ devices: [...devices, { ip: '198.18.0.250', brand: `b${HOSTILE}` }] }));
  writeFileSync(join(dir, 'bad-handover.json'), JSON.stringify([{ ip: `198.18.0.1\n${HOSTILE}x` }]));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('device strings never reach the terminal as control characters', () => {
  it('inventory and report, in every format; JSON keeps the raw value', async () => {
    const runs = await Promise.all([
      runCli(['inventory', ...common]),
      runCli(['inventory', ...common, '--json']),
      ...['table', 'csv', 'html', 'json'].map((format) => runCli(['report', ...common, '--format', format])),
    ]);
    const [table, json, ...reports] = runs;
    for (const [i, run] of runs.entries()) {
      expect(run.code, run.stderr).toBe(0);
      expectNoRawControl(run, `run ${i}`);
    }
    expect(table?.stdout).toContain('\\x1b[2J\\x1b]0;owned\\x07\\u202e\\x9b31m\\x0d');
    const document = JSON.parse(json?.stdout ?? '') as Inventory;
    expect(document.devices.map((d) => d.identity.model)).toEqual(hostileScan(secondScan()).devices.map((d) => d.identity.model));
    expect((JSON.parse(reports[3]?.stdout ?? '') as Inventory).devices[0]?.identity.brand).toContain(HOSTILE);
  });

  it('diff, as a table and as JSON', async () => {
    const [table, json] = await Promise.all([runCli(['diff', ...common]), runCli(['diff', ...common, '--json'])]);
    for (const run of [table, json]) {
      expect(run.code, run.stderr).toBe(0);
      expectNoRawControl(run, 'diff');
    }
    expect(table.stdout).toContain('firmware');
    expect(table.stdout).toContain('\\u202e');
  });

  it('verify, in every format, and its error lines for a handover file', async () => {
    const expected = join(dir, 'handover.json');
    const runs = await Promise.all(['table', 'json', 'html'].map((format) => runCli(['verify', ...common, '--expected', expected, '--format', format])));
    for (const run of runs) {
      expect(run.code, run.stderr).toBe(1); // the models differ and linked devices are present
      expectNoRawControl(run, 'verify');
    }
    expect(runs[0]?.stdout).toContain('roof\\x1b[2J');
    const bad = await runCli(['verify', ...common, '--expected', join(dir, 'bad-handover.json')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('"198.18.0.1\\x0a\\x1b[2J\\x1b]0;owned\\x07\\u202e\\x9b31m\\x0dx" is not an IPv4 address');
    expectNoRawControl(bad, 'verify error');
  });

  it('fingerprints match and usage errors quote what was typed without acting on it', async () => {
    const [match, usage] = await Promise.all([
      runCli(['fingerprints', 'match', 'onvif.scope.name', `HIKVISION${HOSTILE}`]),
      runCli(['inventory', `--unknown${HOSTILE}`]),
    ]);
    expect(match.code, match.stderr).toBe(0);
    expectNoRawControl(match, 'fingerprints match');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--unknown\\x1b[2J');
    expectNoRawControl(usage, 'usage error');
  });
});
