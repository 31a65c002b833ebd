/**
 * `cctv-agent verify` and `cctv-agent diff` against real lab scans: the handover schedule is built
 * from the lab profiles (what each simulated device really is), then altered so that one device is
 * missing, one unexpected and one mismatched; diff compares two scans with one device off the wire.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isIPv4 } from 'node:net';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScanDiff } from '../../agent/report/diff.js';
import type { VerifyResult } from '../../agent/handover/verify.js';
import type { Inventory } from '../../agent/types.js';
import { copySharedRescanStore, copySharedStore, SHARED_SITE, sharedRescan, sharedScan } from './shared-scan.js';
import { labDevices, labProfiles, runInScanner, type LabDevice } from './lab-helpers.js';
import { workbookOfRows } from '../support/xlsx.js';

const SITE = SHARED_SITE;
const dir = mkdtempSync(join(tmpdir(), 'cctv-verify-test-'));
const storeDir = join(dir, 'store');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** One handover row from what the profile says the device is (identity a default scan reports). */
function row(d: LabDevice): Record<string, string> {
  const identity = d.profile.truth.identity;
  // A handover schedule names IPv4 addresses (agent/handover/schedule.ts): an IPv6-only device is listed by its MAC.
  const out: Record<string, string> = { ip: isIPv4(d.ip) ? d.ip : '', mac: d.mac, location: `rack ${d.profile.name}` };
  if (identity?.model) out.model = identity.model;
  if (identity?.brand) out.brand = identity.brand;
  return out;
}

/** The rows as an installer's CSV; `extra` headers name further keys of the rows (`Serial No.` → `serial`). */
function csv(rows: Record<string, string>[], extra: string[] = []): string {
  const header = ['IP', 'MAC', 'Model', 'Brand', 'Location', ...extra];
  const key = (h: string): string => h.toLowerCase().replace(/[^a-z].*$/u, '');
  const quote = (v: string): string => `"${v.replaceAll('"', '""')}"`;
  return [header.join(','), ...rows.map((r) => header.map((h) => quote(r[key(h)] ?? '')).join(','))].join('\r\n') + '\r\n';
}

async function verify(file: string, extra: string[] = []): Promise<{ code: number | null; result: VerifyResult; stderr: string }> {
  const run = await runInScanner(['verify', '--expected', file, '--site', SITE, '--store', storeDir, '--format', 'json', ...extra]);
  return { code: run.code, result: JSON.parse(run.stdout) as VerifyResult, stderr: run.stderr };
}

describe('cctv-agent verify and diff on lab scans', () => {
  const profiles = labProfiles();
  const modelled = profiles.filter((p) => p.truth.identity?.model);
  const renamed = modelled[0]!;
  const left = profiles.find((p) => p !== renamed && p.name !== 'axis')!;
  const ghost = { ip: '198.18.0.250', mac: '02:00:00:00:fa:fa', model: 'DS-2CD2043G2-I', location: 'car park <b>east</b>' };
  let first: Inventory;

  beforeAll(() => {
    // The lab's shared default scan (shared-scan.ts), in a copy of its store that the second scan adds to.
    first = sharedScan().inventory;
    copySharedStore(storeDir);
  });

  it('passes a handover that lists every device as it is, when linked devices are allowed', async () => {
    const file = join(dir, 'exact.csv');
    writeFileSync(file, csv(labDevices().map(row)));
    const { code, result, stderr } = await verify(file, ['--allow-linked']);
    expect(result.missing, stderr).toEqual([]);
    expect(result.unexpected).toEqual([]);
    expect(result.matched.filter((m) => m.mismatches.length > 0)).toEqual([]);
    expect(result.matched).toHaveLength(labDevices().length);
    // A MAC shared by a proxy-ARP segment names none of its hosts: those are matched by address.
    const byAddress = labDevices().filter((d) => d.macShared).map((d) => d.ip);
    expect(byAddress.length).toBeGreaterThan(0);
    for (const m of result.matched) expect([m.found.ip, m.matchedBy]).toEqual([m.found.ip, byAddress.includes(m.found.ip) ? 'ip' : 'mac']);
    expect(code).toBe(0);
  });

  it('fails the same handover without --allow-linked, flagging each linked device with its relation', async () => {
    const { code, result } = await verify(join(dir, 'exact.csv'));
    const linked = profiles.filter((p) => p.truth.linkedVendor !== null);
    expect(linked.length).toBeGreaterThan(0);
    expect(result.linked.map((d) => d.ip).sort()).toEqual(linked.map((p) => p.ip).sort());
    for (const p of linked) {
      expect(result.linked.find((d) => d.ip === p.ip)).toMatchObject({ linkedVendor: p.truth.linkedVendor, relation: p.truth.relation });
    }
    expect(result.ok).toBe(false);
    expect(code).toBe(1);
  });

  it('catches a swapped unit (right address and model, another MAC) and a moved one (right MAC, another address), exit 1 each', async () => {
    const exact = labDevices().map(row);
    const swappedRow = exact.find((r) => r.ip === renamed.ip)!;
    const swapped = { ...swappedRow, mac: '02:00:00:00:5e:5e' };
    const swappedFile = join(dir, 'swapped.csv');
    writeFileSync(swappedFile, csv(exact.map((r) => (r === swappedRow ? swapped : r))));
    const a = await verify(swappedFile, ['--allow-linked']);
    expect(a.result.matched.filter((m) => m.status !== 'matched').map((m) => [m.found.ip, m.matchedBy, m.status, m.mismatches])).toEqual([
      [renamed.ip, 'ip', 'mismatched', [{ field: 'mac', expected: '02:00:00:00:5e:5e', found: swappedRow.mac }]],
    ]);
    expect(a.code).toBe(1);

    const movedRow = { ...swappedRow, ip: '198.18.0.251' };
    const movedFile = join(dir, 'moved.csv');
    writeFileSync(movedFile, csv(exact.map((r) => (r === swappedRow ? movedRow : r))));
    const b = await verify(movedFile, ['--allow-linked']);
    expect(b.result.matched.filter((m) => m.status !== 'matched').map((m) => [m.found.ip, m.matchedBy, m.status, m.mismatches])).toEqual([
      [renamed.ip, 'mac', 'moved', [{ field: 'ip', expected: '198.18.0.251', found: renamed.ip }]],
    ]);
    expect(b.result.missing).toEqual([]);
    expect(b.code).toBe(1);
  });

  it('reads the schedule as an Excel workbook: the swapped unit is caught at its row, exit 1', async () => {
    const exact = labDevices().map(row);
    const header = ['IP Address', 'MAC Address', 'Model No.', 'Manufacturer', 'Location'];
    const keys = ['ip', 'mac', 'model', 'brand', 'location'];
    const swappedAt = exact.findIndex((r) => r.ip === renamed.ip);
    const rows = exact.map((r, i) => keys.map((k) => (i === swappedAt && k === 'mac' ? '02:00:00:00:5e:5e' : (r[k] ?? ''))));
    const file = join(dir, 'swapped.xlsx');
    writeFileSync(file, workbookOfRows([header, ...rows]));
    const { code, result, stderr } = await verify(file, ['--allow-linked']);
    expect(result.matched, stderr).toHaveLength(exact.length);
    expect(result.matched.filter((m) => m.status !== 'matched').map((m) => [m.expected.line, m.found.ip, m.status, m.mismatches])).toEqual([
      [swappedAt + 2, renamed.ip, 'mismatched', [{ field: 'mac', expected: '02:00:00:00:5e:5e', found: exact[swappedAt]!.mac }]],
    ]);
    expect(code).toBe(1);
  });

  it('catches a swapped unit with the same MAC but another serial, exit 1', async () => {
    const device = labDevices().find((d) => d.profile.truth.identity?.serial && !d.macShared)!;
    const rows = labDevices().map((d) => (d.ip === device.ip ? { ...row(d), serial: `${d.profile.truth.identity!.serial}9` } : row(d)));
    const file = join(dir, 'swapped-serial.csv');
    writeFileSync(file, csv(rows, ['Serial No.']));
    const { code, result } = await verify(file, ['--allow-linked']);
    expect(result.matched.filter((m) => m.status !== 'matched').map((m) => [m.found.ip, m.matchedBy, m.status, m.mismatches])).toEqual([
      [device.ip, 'mac', 'mismatched', [{ field: 'serial', expected: `${device.profile.truth.identity!.serial}9`, found: device.profile.truth.identity!.serial }]],
    ]);
    expect(code).toBe(1);
  });

  it('passes a handover that differs only in formatting (exit 0) and fails a real model difference (exit 1)', async () => {
    // Models as an installer might type them: lower case, spaces for hyphens, the vendor prefix
    // dropped (fingerprints/comparison.yaml); MACs upper case with hyphens.
    const prefix = /^(DS|DHI|DH)-/u;
    const formatted = labDevices().map((d) => {
      const r: Record<string, string> = { ...row(d), mac: d.mac.toUpperCase().replaceAll(':', '-') };
      if (r.model) r.model = r.model.replace(prefix, '').replaceAll('-', ' ').toLowerCase();
      return r;
    });
    expect(labDevices().some((d) => prefix.test(d.profile.truth.identity?.model ?? ''))).toBe(true);
    const file = join(dir, 'formatted.csv');
    writeFileSync(file, csv(formatted));
    const pass = await verify(file, ['--allow-linked']);
    expect(pass.result.matched.filter((m) => m.status !== 'matched')).toEqual([]);
    expect([pass.result.missing, pass.result.unexpected, pass.code]).toEqual([[], [], 0]);
    // The raw values are what the result shows.
    expect(pass.result.matched.map((m) => m.expected.model)).toEqual(formatted.map((r) => r.model ?? null));

    const target = formatted.find((r) => r.ip === renamed.ip)!;
    const realModel = target.model!.replace(/\d(?=\D*$)/u, (n: string) => String((Number(n) + 1) % 10));
    expect(realModel).not.toBe(target.model);
    const otherFile = join(dir, 'other-model.csv');
    writeFileSync(otherFile, csv(formatted.map((r) => (r === target ? { ...r, model: realModel } : r))));
    const fail = await verify(otherFile, ['--allow-linked']);
    expect(fail.result.matched.filter((m) => m.status !== 'matched').map((m) => [m.found.ip, m.mismatches])).toEqual([
      [renamed.ip, [{ field: 'model', expected: realModel, found: renamed.truth.identity!.model }]],
    ]);
    expect(fail.code).toBe(1);
  });

  it('writes a sign-off page that Chromium renders without fetching anything, naming the schedule by name and SHA-256', async () => {
    const file = join(dir, 'formatted.csv');
    const out = join(dir, 'signoff.html');
    const run = await runInScanner(['verify', '--expected', file, '--site', SITE, '--store', storeDir, '--format', 'html', '--out', out, '--allow-linked']);
    expect([run.code, run.stdout], run.stderr).toEqual([0, '']);
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
    try {
      const page = await browser.newPage();
      const requests: string[] = [];
      page.on('request', (request) => requests.push(request.url()));
      await page.goto(pathToFileURL(out).href);
      const facts = await page.locator('#facts td').allTextContents();
      expect(facts[0]).toBe(SITE);
      expect(facts[1]).toContain(first.scan.id);
      expect(facts[2]).toBe('formatted.csv');
      expect(await page.locator('#sha256').textContent()).toBe(createHash('sha256').update(readFileSync(file)).digest('hex'));
      expect(await page.locator('#verdict').textContent()).toMatch(/^PASS/u);
      expect(await page.locator('#devices tbody tr.matched').count()).toBe(labDevices().length);
      expect(await page.locator('#devices tbody li.differs').count()).toBe(0);
      expect(requests.length).toBeGreaterThan(0);
      for (const url of requests) expect(url).toMatch(/^(file|data):/u);
    } finally {
      await browser.close();
    }

    // The sign-off is kept with the scan it checked: the scan's report says so.
    const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
    const kept = JSON.parse(readFileSync(join(storeDir, 'sites', SITE, 'handovers', `${first.scan.id}.json`), 'utf8')) as { ok: boolean; schedule: { sha256: string } };
    expect([kept.ok, kept.schedule.sha256]).toEqual([true, sha256]);
    const report = await runInScanner(['report', '--site', SITE, '--store', storeDir]);
    expect(report.code, report.stderr).toBe(0);
    expect(report.stdout).toMatch(new RegExp(`Handover verified \\S+ against formatted\\.csv \\(SHA-256 ${sha256}\\): PASS, ${labDevices().length} matched`, 'u'));
  });

  it('reports one missing, one unexpected and one mismatched device, and exits 1', async () => {
    const rows = labDevices().filter((d) => d.profile !== left).map(row);
    const wrong = rows.find((r) => r.ip === renamed.ip)!;
    wrong.model = `${wrong.model}-X`;
    rows.push(ghost);
    const file = join(dir, 'altered.csv');
    writeFileSync(file, csv(rows));
    const { code, result } = await verify(file, ['--allow-linked']);
    expect(result.missing.map((e) => e.ip)).toEqual([ghost.ip]);
    expect(result.unexpected.map((d) => d.ip)).toEqual([left.ip]);
    const mismatched = result.matched.filter((m) => m.mismatches.length > 0);
    expect(mismatched.map((m) => m.found.ip)).toEqual([renamed.ip]);
    expect(mismatched[0]!.mismatches).toEqual([{ field: 'model', expected: `${renamed.truth.identity!.model}-X`, found: renamed.truth.identity!.model }]);
    expect(code).toBe(1);

    const html = await runInScanner(['verify', '--expected', file, '--site', SITE, '--store', storeDir, '--format', 'html', '--allow-linked']);
    expect(html.code).toBe(1);
    expect(html.stdout).toContain('car park &lt;b&gt;east&lt;/b&gt;');
    expect(html.stdout).not.toContain('<b>east');
    expect(html.stdout).not.toMatch(/src=|href=|@import|url\(/);

    const table = await runInScanner(['verify', '--expected', file, '--site', SITE, '--store', storeDir, '--allow-linked']);
    expect(table.stdout).toContain('1 mismatched, 0 moved, 1 missing, 1 unexpected');
    expect(table.stdout).toContain('FAIL');
  });

  it('matches a device by serial when the handover gives no MAC, even at another address', async () => {
    const withSerial = profiles.find((p) => p.truth.identity?.serial)!;
    const file = join(dir, 'serial.json');
    writeFileSync(file, JSON.stringify({ devices: [{ Serial: withSerial.truth.identity!.serial, IP: '198.18.0.251' }] }, null, 2));
    const { result } = await verify(file, ['--allow-linked']);
    expect(result.matched).toEqual([expect.objectContaining({ matchedBy: 'serial', found: expect.objectContaining({ ip: withSerial.ip }) })]);
  });

  it('exits 2 naming the line and column of a malformed handover, and prints nothing on stdout', async () => {
    const file = join(dir, 'broken.csv');
    writeFileSync(file, 'ip,mac\n198.18.0.10,"02:00\n');
    const run = await runInScanner(['verify', '--expected', file, '--site', SITE, '--store', storeDir]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`"${file}" is not valid at line 2, column 13`);
  });

  it('lists the device taken off the wire as removed between the last two scans', async () => {
    // The second shared scan (global-setup.ts): the same scan again with one device off the wire.
    const second = sharedRescan();
    const gone = profiles.find((p) => p.name === second.gone)!;
    const twoScans = join(dir, 'two-scans');
    copySharedRescanStore(twoScans);
    const run = await runInScanner(['diff', '--site', SITE, '--store', twoScans, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const diff = JSON.parse(run.stdout) as ScanDiff;
    expect(diff).toMatchObject({ site: SITE, from: first.scan.id, to: second.inventory.scan.id, added: [] });
    expect(diff.removed.map((e) => [e.deviceId, e.ip])).toEqual([[`mac:${gone.mac}`, gone.ip]]);

    const named = await runInScanner(['diff', second.inventory.scan.id, first.scan.id, '--site', SITE, '--store', twoScans]);
    expect(named.code, named.stderr).toBe(0);
    expect(named.stdout).toMatch(new RegExp(`added\\s*│\\s*mac:${gone.mac}`));
    expect(named.stdout).toContain('1 added, 0 removed');
  });
});
