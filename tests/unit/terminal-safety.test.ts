/**
 * No device-controlled string reaches the terminal as a control character (issue #15): documents
 * carrying clear-screen, window-title (OSC … BEL), BEL, C1 CSI and right-to-left override sequences
 * in every device-controlled field go through every output format (table, CSV, HTML, JSON, the
 * summary, diff, verify, estate), and nothing holds such a character raw; the JSON outputs still give
 * back the raw values. The built CLI is run where its own path matters (what it writes on stdout
 * and stderr, pretty logs, error lines); the renderers it calls are checked in-process.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { printText } from '../../agent/commands/options.js';
import { matchReport, matchText } from '../../agent/fingerprint/index.js';
import { parseHandover } from '../../agent/handover/schedule.js';
import { signOff, verifyHandover } from '../../agent/handover/verify.js';
import { linkedVendorNames, loadKnowledge } from '../../agent/knowledge/index.js';
import { createLogger } from '../../agent/log.js';
import { recordScan } from '../../agent/pipeline/changes.js';
import { diffScans, diffTable } from '../../agent/report/diff.js';
import { readEstate } from '../../agent/report/estate.js';
import { estateFormats, renderFormat, reportFormats, verifyFormats } from '../../agent/report/formats.js';
import { jsonText } from '../../agent/report/json-text.js';
import { openStore } from '../../agent/store/index.js';
import type { StoreReader } from '../../agent/store/types.js';
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

function expectNoRawControlIn(text: string, what: string): void {
  expect(RAW_CONTROL.exec(text), what).toBeNull();
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

/** The installer's schedule names the devices with hostile words of its own (a location, a model). */
const HANDOVER = JSON.stringify({
  devices: [...secondScan().devices.map((d) => ({ mac: d.mac, model: `other${HOSTILE}`, location: `roof${HOSTILE}` })), { ip: '198.18.0.250', brand: `b${HOSTILE}` }],
});

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
  writeFileSync(join(dir, 'handover.json'), HANDOVER);
  writeFileSync(join(dir, 'bad-handover.json'), JSON.stringify([{ ip: `198.18.0.1\n${HOSTILE}x` }]));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('device strings never reach the terminal as control characters', () => {
  const names = linkedVendorNames();
  const [before, after] = [hostileScan(firstScan()), hostileScan(secondScan())];

  it('every report format, the diff and verify in every format', () => {
    for (const format of reportFormats) expectNoRawControlIn(format.render(after, names), `report --format ${format.name}`);
    expect(renderFormat(reportFormats, 'table', after, names)).toContain('\\x1b[2J\\x1b]0;owned\\x07\\u202e\\x9b31m\\x0d');
    expect((JSON.parse(renderFormat(reportFormats, 'json', after, names)) as Inventory).devices.map((d) => d.identity.model)).toEqual(after.devices.map((d) => d.identity.model));
    const diff = diffScans(before, after);
    expectNoRawControlIn(diffTable(diff), 'diff');
    expectNoRawControlIn(jsonText(diff), 'diff --json');
    expect(diffTable(diff)).toContain('\\u202e');
    const checked = verifyHandover(parseHandover(HANDOVER, 'handover.json'), after, { allowLinked: false, names });
    const result = signOff(checked, { name: 'handover.json', sha256: '0'.repeat(64) }, new Date(0), '0.1.0');
    for (const format of verifyFormats) expectNoRawControlIn(format.render(result, names), `verify --format ${format.name}`);
    expect(renderFormat(verifyFormats, 'table', result, names)).toContain('roof\\x1b[2J');
  });

  it('estate in every format, from a hub whose documents name a hostile site, writer and conflict', async () => {
    // A CouchDB hub holds what any agent replicated into it. Its reader skips scans whose site is not
    // a safe name, but the renderers must not depend on that: a hostile site, writers and conflict
    // (the latter two read from the hub's views) go through every format.
    const site = `hall${HOSTILE}`;
    const scan = { ...after, scan: { ...after.scan, site } };
    const hub: StoreReader = {
      name: 'hub',
      listScans: async () => [{ site, id: scan.scan.id, startedAt: scan.scan.startedAt, finishedAt: scan.scan.finishedAt }],
      loadScan: async () => scan,
      loadInventory: async () => scan,
      fleet: {
        siteWriters: async () => [
          { site, agentId: `agent-1${HOSTILE}`, scans: 1, lastScanAt: scan.scan.finishedAt },
          { site, agentId: `agent-2${HOSTILE}`, scans: 1, lastScanAt: scan.scan.finishedAt },
        ],
        conflicts: async () => [{ site, id: `device:${site}:x`, revisions: [`2-${HOSTILE}`] }],
      },
    };
    const report = await readEstate(hub, names, { now: new Date(scan.scan.finishedAt), staleAfterHours: 1 });
    expect(report.estate.sites[0]?.inConflict).toBe(true);
    for (const format of estateFormats) expectNoRawControlIn(renderFormat(estateFormats, format.name, report, names), `estate --format ${format.name}`);
    expect(renderFormat(estateFormats, 'table', report, names)).toContain('hall\\x1b[2J');
    expect(JSON.parse(renderFormat(estateFormats, 'json', report, names)).sites[0].site).toBe(site); // JSON gives the raw value back
  });

  it('fingerprints match prints what was typed through printText, as inventory, diff and scan print their tables', () => {
    const db = loadKnowledge();
    const written: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => written.push(String(chunk)) > 0);
    try {
      printText(matchText(db, matchReport(db, 'onvif.scope.name', `HIKVISION${HOSTILE}`)));
    } finally {
      write.mockRestore();
    }
    expect(written.join('')).toContain('\\u202e'); // JSON-quoted by matchText (ESC as \u001b), the rest escaped by printText
    expectNoRawControlIn(written.join(''), 'fingerprints match');
  });

  it('the CLI: inventory and its summary, verify, estate, with pretty debug logs', async () => {
    // One command per way the CLI writes: printText (inventory's table, as scan prints it), a rendered format (verify, like report).
    const [table, verify, estate] = await Promise.all([
      runCli(['inventory', ...common]),
      runCli(['verify', ...common, '--expected', join(dir, 'handover.json'), '--format', 'html']),
      runCli(['estate', ...common.slice(2), '--format', 'html']), // the page lists every site's devices
    ]);
    expect(table.code, table.stderr).toBe(0);
    expect(verify.code, verify.stderr).toBe(1); // the handover's models differ and linked devices are present
    expect(estate.code, estate.stderr).toBe(0);
    expectNoRawControl(table, 'inventory');
    expectNoRawControl(verify, 'verify');
    expectNoRawControl(estate, 'estate');
    expect(table.stdout).toContain('\\x1b[2J\\x1b]0;owned\\x07\\u202e\\x9b31m\\x0d');
    expect(verify.stdout).toContain('roof\\x1b[2J');
  });

  it('error lines quote a handover file, and usage errors what was typed, without acting on it', async () => {
    const [bad, usage] = await Promise.all([runCli(['verify', ...common, '--expected', join(dir, 'bad-handover.json')]), runCli(['inventory', `--unknown${HOSTILE}`])]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('"198.18.0.1\\x0a\\x1b[2J\\x1b]0;owned\\x07\\u202e\\x9b31m\\x0dx" is not an IPv4 address');
    expectNoRawControl(bad, 'verify error');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--unknown\\x1b[2J');
    expectNoRawControl(usage, 'usage error');
  });
});
