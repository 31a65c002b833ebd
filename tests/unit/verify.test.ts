/**
 * Handover schedules (agent/handover/schedule.ts) read from tests/fixtures/handover, matching and
 * rendering (agent/handover/verify.ts) against the store fixtures, and `cctv-agent verify` run as
 * the built CLI on a file store in a temporary folder: nothing touches the network.
 */
import { recordScan } from '../../agent/pipeline/changes.js';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refusal } from '../support/agent-error.js';
import { createLogger } from '../../agent/log.js';
import { parseHandover, readHandoverFile, type ExpectedDevice } from '../../agent/handover/schedule.js';
import { signOff, verifyExitCode, verifyHandover, verifyHtml, verifyTable } from '../../agent/handover/verify.js';
import { fileStore, openFileStore } from '../../agent/store/file.js';
import { inventoryTable } from '../../agent/report/table.js';
import { inventoryHtml } from '../../agent/report/html.js';
import { axisCamera, dahuaCamera, firstScan, hikvisionCamera, inventory, SITE } from './store-contract.js';
import { runCli } from '../support/run-cli.js';
import { linkedVendorNames } from '../../agent/knowledge/index.js';

const names = linkedVendorNames();

const root = resolve(import.meta.dirname, '..', '..');
const fixtures = join(root, 'tests', 'fixtures', 'handover');

function expectedDevice(fields: Partial<ExpectedDevice>): ExpectedDevice {
  return { ip: null, mac: null, serial: null, model: null, firmware: null, brand: null, location: null, line: 2, ...fields };
}

describe('reading a handover schedule', () => {
  const devices = [
    { ip: '198.18.0.21', mac: 'bc:ad:28:4f:12:9e', serial: null, model: 'DS-2CD2143G2-I', firmware: null, brand: 'Hikvision', location: 'Town hall, north door' },
    { ip: null, mac: null, serial: '7J0A8F2PAZ4C1D9', model: 'IPC-HDW2431T-AS-S2', firmware: null, brand: 'Dahua', location: 'Car park "A"' },
    { ip: '198.18.0.40', mac: null, serial: null, model: 'M3106-LVE Mk II', firmware: null, brand: 'Axis', location: 'Reception' },
  ];

  it('reads RFC 4180 CSV with mixed-case headers, quoted commas and quotes, and normalises the MAC', () => {
    expect(readHandoverFile(join(fixtures, 'schedule.csv'))).toEqual(devices.map((d, i) => ({ ...d, line: i + 2 })));
  });

  it('reads the header names installers\' exports use, whatever their case and punctuation', () => {
    const text = 'IP Address,MAC Address,Serial No.,Model No.,Firmware Version,Manufacturer,Location\n198.18.0.21,BC-AD-28-4F-12-9E,SN1,DS-2CD2143G2-I,V5.7.3,Hikvision,Gate\n';
    expect(parseHandover(text, 'export.csv')).toEqual([
      { ip: '198.18.0.21', mac: 'bc:ad:28:4f:12:9e', serial: 'SN1', model: 'DS-2CD2143G2-I', firmware: 'V5.7.3', brand: 'Hikvision', location: 'Gate', line: 2 },
    ]);
    expect(parseHandover('[{"IP Address": "198.18.0.21", "serial_number": "SN1"}]', 'export.json')[0]).toMatchObject({ ip: '198.18.0.21', serial: 'SN1' });
  });

  it('refuses two columns (or two keys of a device) that name one field, at the second', () => {
    expect(refusal(() => parseHandover('IP,IP Address\n198.18.0.21,198.18.0.22\n', 'two.csv')).message).toContain(
      'two.csv" is not valid at line 1, column 4: column "IP Address" is a second "ip" column',
    );
    expect(refusal(() => parseHandover('[{"ip": "198.18.0.21", "IP": "198.18.0.22"}]', 'two.json')).message).toContain('"IP" is a second "ip" of this device');
  });

  it('reads the same schedule as JSON, with the line each device starts on', () => {
    expect(readHandoverFile(join(fixtures, 'schedule.json'))).toEqual(devices.map((d, i) => ({ ...d, line: i + 3 })));
  });

  it('reads a bare JSON array too', () => {
    expect(parseHandover('[{"ip":"198.18.0.5"}]', 'x.json')).toEqual([expectedDevice({ ip: '198.18.0.5', line: 1 })]);
  });

  const malformed: [string, number, number, string][] = [
    ['unclosed-quote.csv', 3, 31, 'a quoted value is never closed'],
    ['syntax-error.json', 3, 25, 'unexpected "\\"": expected "," or "}"'],
    ['unknown-column.csv', 1, 8, 'unknown column "Seral"'],
    ['bad-mac.csv', 3, 13, '"ac:cc:8e:62:30" is not a MAC address'],
    ['bad-ip.json', 4, 11, '"198.18.0.400" is not an IPv4 address'],
  ];
  for (const [file, line, column, why] of malformed) {
    it(`names the file, line ${line} and column ${column} of ${file}`, () => {
      const path = join(fixtures, file);
      const error = refusal(() => readHandoverFile(path));
      expect(error.code).toBe('CCTV_ERR_BAD_HANDOVER');
      expect(error.exitCode).toBe(2);
      expect(error.message).toContain(`"${path}" is not valid at line ${line}, column ${column}: ${why}`);
    });
  }

  const inline: [string, string, string][] = [
    ['an unknown JSON key', '[\n {"ip": "198.18.0.5",\n  "room": "2"}]', 'line 3, column 3: unknown column "room"'],
    ['an unclosed JSON string', '[{"ip": "198.18.0.5}]', 'line 1, column 9: a string is never closed'],
    ['a JSON file cut short', '[{"ip": "198.18.0.5"', 'line 1, column 21: the file ends early'],
    ['a device with nothing to match on', 'model,location\nDS-2CD2143G2-I,hall\n', 'line 2, column 1: the device has none of ip, mac or serial'],
    ['a row with an extra value', 'ip,model\n198.18.0.5,a,b\n', 'line 2, column 1: this row has a different number of values'],
    ['an empty file', '', 'line 1, column 1: the file is empty'],
    ['a number where a device belongs', '{"devices": [\n 7]}', 'line 2, column 2: each device must be an object'],
  ];
  for (const [what, text, where] of inline) {
    it(`rejects ${what} with its position`, () => {
      expect(refusal(() => parseHandover(text, 'h.txt')).message).toContain(`"h.txt" is not valid at ${where}`);
    });
  }

  it('refuses JSON nested deeper than a schedule ever is, without overflowing the stack', () => {
    expect(refusal(() => parseHandover('['.repeat(100_000), 'deep.json')).message).toContain('nested too deeply');
  });

  it('names a file that cannot be read', () => {
    const error = refusal(() => readHandoverFile(join(fixtures, 'no-such-file.csv')));
    expect(error.code).toBe('CCTV_ERR_HANDOVER_UNREADABLE');
    expect(error.message).toContain('(no such file)');
  });
});

describe('verifyHandover', () => {
  const scan = firstScan();

  it('matches by MAC first, then serial, then IP, and passes when all agree and linked devices are allowed', () => {
    const result = verifyHandover(readHandoverFile(join(fixtures, 'schedule.csv')), scan, { allowLinked: true, names });
    expect(result.matched.map((m) => [m.found.id, m.matchedBy])).toEqual([
      [hikvisionCamera().id, 'mac'],
      [dahuaCamera().id, 'serial'],
      [axisCamera().id, 'ip'],
    ]);
    expect(result.matched.every((m) => m.mismatches.length === 0)).toBe(true);
    expect(result).toMatchObject({ missing: [], unexpected: [], ok: true });
    expect(verifyExitCode(result)).toBe(0);
  });

  it('flags every linked device with its relation, and fails on them unless allowed', () => {
    const result = verifyHandover(readHandoverFile(join(fixtures, 'schedule.csv')), scan, { allowLinked: false, names });
    expect(result.linked.map((d) => [d.ip, d.linkedVendor, d.relation, d.verdict])).toEqual([
      ['198.18.0.21', 'hikvision', 'direct', 'Hikvision'],
      ['198.18.0.34', 'dahua', 'direct', 'Dahua'],
    ]);
    expect(result.ok).toBe(false);
    expect(verifyExitCode(result)).toBe(1);
  });

  it('reports one missing, one unexpected and one mismatched device', () => {
    const expected = [
      expectedDevice({ mac: 'bc:ad:28:4f:12:9e', model: 'DS-2CD2143G2-I', firmware: 'V5.7.15 build 230420', brand: 'hikvision' }),
      expectedDevice({ ip: '198.18.0.40', model: 'M3106-LVE Mk II', line: 3 }),
      expectedDevice({ ip: '198.18.0.99', serial: 'GONE123', line: 4 }),
    ];
    const result = verifyHandover(expected, scan, { allowLinked: true, names });
    expect(result.matched.map((m) => m.mismatches)).toEqual([
      [{ field: 'firmware', expected: 'V5.7.15 build 230420', found: 'V5.7.3 build 220112' }],
      [],
    ]);
    expect(result.missing).toEqual([expected[2]]);
    expect(result.unexpected.map((d) => d.id)).toEqual([dahuaCamera().id]);
    expect(result.linked.map((d) => d.ip)).toEqual(['198.18.0.21', '198.18.0.34']);
    expect(result.ok).toBe(false);
  });

  it('reports a field the scan could not read as a mismatch with nothing found', () => {
    const unread = hikvisionCamera();
    unread.identity.model = null;
    const doc = inventory({ id: 'x', startedAt: scan.scan.startedAt, finishedAt: scan.scan.finishedAt, devices: [unread] });
    const result = verifyHandover([expectedDevice({ ip: '198.18.0.21', model: 'DS-2CD2143G2-I' })], doc, { allowLinked: true, names });
    expect(result.matched[0]?.mismatches).toEqual([{ field: 'model', expected: 'DS-2CD2143G2-I', found: null }]);
  });

  it('matches each found device at most once: a second line for it is missing', () => {
    const twice = [expectedDevice({ ip: '198.18.0.40' }), expectedDevice({ mac: 'ac:cc:8e:62:30:b4', line: 3 })];
    const result = verifyHandover(twice, scan, { allowLinked: true, names });
    expect(result.matched.map((m) => m.expected.line)).toEqual([2]);
    expect(result.missing.map((e) => e.line)).toEqual([3]);
  });

  it('prefers a MAC match over an earlier IP match of another device', () => {
    // The handover has the Axis camera's MAC at the Hikvision camera's address: the MAC wins.
    const result = verifyHandover([expectedDevice({ ip: '198.18.0.21', mac: 'ac:cc:8e:62:30:b4' })], scan, { allowLinked: true, names });
    expect(result.matched.map((m) => [m.found.id, m.matchedBy, m.status])).toEqual([[axisCamera().id, 'mac', 'moved']]);
    // The Axis camera is found at its own address: the handover's address is reported, not ignored.
    expect(result.matched[0]?.mismatches).toEqual([{ field: 'ip', expected: '198.18.0.21', found: axisCamera().ip }]);
    expect(result.ok).toBe(false);
  });

  it('reports a swapped unit (the right address and model, another MAC) as mismatched on the MAC, never as a match', () => {
    const hik = hikvisionCamera();
    const expected = [expectedDevice({ ip: hik.ip, mac: '28:57:be:00:00:01', model: hik.identity.model })];
    const result = verifyHandover(expected, scan, { allowLinked: true, names });
    expect(result.matched.map((m) => [m.found.id, m.matchedBy, m.status, m.checked])).toEqual([[hik.id, 'ip', 'mismatched', ['ip', 'mac', 'model']]]);
    expect(result.matched[0]?.mismatches).toEqual([{ field: 'mac', expected: '28:57:be:00:00:01', found: hik.mac }]);
    expect(result.ok).toBe(false);
    expect(verifyExitCode(result)).toBe(1);
  });

  it('reports a swapped unit with the same MAC but another serial as mismatched on the serial', () => {
    const hik = hikvisionCamera();
    const expected = [expectedDevice({ ip: hik.ip, mac: hik.mac, serial: 'DS-2CD2143G2-I20230101AAWRX00000000' })];
    const result = verifyHandover(expected, scan, { allowLinked: true, names });
    expect(result.matched.map((m) => [m.matchedBy, m.status])).toEqual([['mac', 'mismatched']]);
    expect(result.matched[0]?.mismatches).toEqual([{ field: 'serial', expected: 'DS-2CD2143G2-I20230101AAWRX00000000', found: hik.identity.serial }]);
  });

  it('reports a device found by its MAC at another address as moved, and a MAC written another way as the same MAC', () => {
    const hik = hikvisionCamera();
    const result = verifyHandover([expectedDevice({ ip: '198.18.0.77', mac: hik.mac!.toUpperCase().replaceAll(':', '-') })], scan, { allowLinked: true, names });
    expect(result.matched.map((m) => [m.found.id, m.matchedBy, m.status])).toEqual([[hik.id, 'mac', 'moved']]);
    expect(result.missing).toEqual([]);
    expect(verifyTable(result, names)).toContain('0 matched, 0 mismatched, 1 moved');
  });

  it('passes a handover whose values differ from the scan only in formatting, and shows the raw values', () => {
    const hik = hikvisionCamera();
    const model = hik.identity.model!.replace(/^DS-/u, '').replaceAll('-', ' ').toLowerCase();
    const serial = hik.identity.serial!.toLowerCase();
    const expected = [expectedDevice({ ip: hik.ip, mac: hik.mac!.replaceAll(':', '').toUpperCase(), model, serial })];
    const doc = inventory({ id: 'x', startedAt: scan.scan.startedAt, finishedAt: scan.scan.finishedAt, devices: [hik] });
    const result = verifyHandover(expected, doc, { allowLinked: true, names });
    expect(result.matched.map((m) => [m.status, m.checked, m.mismatches])).toEqual([['matched', ['ip', 'mac', 'serial', 'model'], []]]);
    expect(result.matched[0]?.expected.model).toBe(model);
    expect(result.matched[0]?.found.model).toBe(hik.identity.model);
    expect(verifyExitCode(result)).toBe(0);
  });

  it('fails a real model difference with its raw values', () => {
    const hik = hikvisionCamera();
    const result = verifyHandover([expectedDevice({ ip: hik.ip, model: 'DS-2CD2143G0-IS' })], scan, { allowLinked: true, names });
    expect(result.matched[0]?.mismatches).toEqual([{ field: 'model', expected: 'DS-2CD2143G0-IS', found: hik.identity.model }]);
    expect(verifyExitCode(result)).toBe(1);
  });

  it("matches a two-NIC device by either MAC, but a proxy-ARP host by address, never by the MAC it shares", () => {
    const twoNics = { ...dahuaCamera(), ip: '198.18.0.24', mac: '08:ed:ed:5a:24:24', macs: ['08:ed:ed:5a:24:24', '08:ed:ed:5a:24:25'], id: 'mac:08:ed:ed:5a:24:24' };
    const router = 'c0:56:e3:70:01:00';
    const behindRouter = ['198.18.0.100', '198.18.0.101'].map((ip) => ({ ...axisCamera(), ip, mac: router, macShared: true as const, id: `ip:${ip}` }));
    const doc = inventory({ id: 'x', startedAt: scan.scan.startedAt, finishedAt: scan.scan.finishedAt, devices: [twoNics, ...behindRouter] });
    const expected = [expectedDevice({ mac: '08:ed:ed:5a:24:25' }), expectedDevice({ ip: '198.18.0.101', mac: router, line: 3 })];
    const result = verifyHandover(expected, doc, { allowLinked: true, names });
    expect(result.matched.map((m) => [m.found.id, m.matchedBy])).toEqual([
      ['mac:08:ed:ed:5a:24:24', 'mac'],
      ['ip:198.18.0.101', 'ip'],
    ]);
  });

  it('renders a table with the counts and a verdict line', () => {
    const text = verifyTable(verifyHandover([expectedDevice({ ip: '198.18.0.99' })], scan, { allowLinked: false, names }), names);
    expect(text).toContain('0 matched, 0 mismatched, 0 moved, 1 missing, 3 unexpected, 2 linked to Hikvision or Dahua.');
    expect(text).toContain('FAIL');
  });

  it('renders a self-contained HTML page with every device string escaped', () => {
    const hostile = hikvisionCamera();
    hostile.identity.model = '<img src=x onerror=alert(1)>';
    const doc = inventory({ id: 'x', startedAt: scan.scan.startedAt, finishedAt: scan.scan.finishedAt, devices: [hostile] });
    const result = verifyHandover([expectedDevice({ ip: '198.18.0.21', location: '"><script>x</script>' })], doc, { allowLinked: true, names });
    const html = verifyHtml(signOff(result, { name: '<b>schedule.csv', sha256: 'ab'.repeat(32) }, new Date(0), '0.1.0'), names);
    expect(html).toContain('&lt;b&gt;schedule.csv');
    expect(html).toContain('ab'.repeat(32));
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<script');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).not.toMatch(/<link|<script|https?:\/\//);
  });
});

describe('cctv-agent verify', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cctv-verify-unit-'));
  const store = join(dir, 'store');
  beforeAll(async () => {
    const files = await openFileStore(store, createLogger('silent'));
    await recordScan(files, firstScan());
    await files.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 0 for a matching handover with --allow-linked, and 1 without it', async () => {
    const file = join(fixtures, 'schedule.json');
    const allowed = await runCli(['verify', '--expected', file, '--site', SITE, '--store', store, '--allow-linked']);
    expect(allowed.stdout).toContain('PASS');
    expect(allowed.code).toBe(0);
    const strict = await runCli(['verify', '--expected', file, '--site', SITE, '--store', store, '--format', 'json']);
    expect(JSON.parse(strict.stdout)).toMatchObject({ ok: false, missing: [], unexpected: [] });
    expect(strict.code).toBe(1);
  });

  it('writes the JSON sign-off with --out (schedule name and SHA-256, scan times, agent version) and nothing on stdout', async () => {
    // The HTML sign-off page, written the same way, is opened in Chromium by tests/integration/verify.test.ts.
    const file = join(fixtures, 'schedule.json');
    const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
    const json = join(dir, 'signoff.json');
    const run = await runCli(['verify', '--expected', file, '--site', SITE, '--store', store, '--format', 'json', '--out', json]);
    expect([run.code, run.stdout]).toEqual([1, '']);
    const signed = JSON.parse(readFileSync(json, 'utf8')) as Record<string, unknown>;
    const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
    expect(signed).toMatchObject({ site: SITE, schedule: { name: 'schedule.json', sha256 }, agentVersion: version, ok: false, scanStartedAt: expect.any(String) });
    expect(Date.parse(String(signed['verifiedAt']))).not.toBeNaN();
  });

  it('exits 2 with one line naming the position of a bad file, and writes nothing on stdout', async () => {
    const file = join(fixtures, 'unknown-column.csv');
    const bad = await runCli(['verify', '--expected', file, '--site', SITE, '--store', store]);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr.trim().split('\n')).toEqual([expect.stringContaining(`line 1, column 8: unknown column "Seral"`)]);
  });

  it('exits 2 for a scan id the site does not have', async () => {
    const file = join(dir, 'one.csv');
    writeFileSync(file, 'ip\n198.18.0.21\n');
    const missing = await runCli(['verify', '--expected', file, '--site', SITE, '--store', store, '--scan', '20990101T000000Z-000000']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('CCTV_ERR_NO_SCAN');
  });
});

describe('a handover sign-off kept with its scan', () => {
  const scan = firstScan();
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cctv-handover-records-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const record = (): ReturnType<typeof signOff> =>
    signOff(verifyHandover(readHandoverFile(join(fixtures, 'schedule.csv')), scan, { allowLinked: true, names }), { name: 'schedule.csv', sha256: 'ab'.repeat(32) }, new Date('2026-12-05T10:00:00Z'), '9.9.9');

  it('is written beside the scan and read back whole; the report table and HTML name it', async () => {
    const reader = await fileStore.openReader(dir, { log: createLogger('silent') });
    const kept = record();
    const file = await reader.handovers!.save(SITE, kept);
    expect(file).toBe(join(dir, 'sites', SITE, 'handovers', `${scan.scan.id}.json`));
    expect(await reader.handovers!.load(SITE, scan.scan.id)).toEqual(kept);
    const line = `Handover verified 2026-12-05T10:00:00.000Z against schedule.csv (SHA-256 ${'ab'.repeat(32)}): PASS, 3 matched`;
    expect(inventoryTable(scan, names, kept)).toContain(line);
    expect(inventoryHtml(scan, names, kept)).toContain(`<p class="meta" id="handover">${line}`);
    expect(inventoryTable(scan, names, null)).not.toContain('Handover verified');
  });

  it('reads nothing back for another scan, a scan id that is no store name, or a file that is not a sign-off', async () => {
    const reader = await fileStore.openReader(dir, { log: createLogger('silent') });
    expect(await reader.handovers!.load(SITE, 'no-such-scan')).toBeNull();
    expect(await reader.handovers!.load(SITE, '../../etc/passwd')).toBeNull();
    writeFileSync(join(dir, 'sites', SITE, 'handovers', 'garbage.json'), '{"ok": "yes"');
    expect(await reader.handovers!.load(SITE, 'garbage')).toBeNull();
    writeFileSync(join(dir, 'sites', SITE, 'handovers', 'other.json'), JSON.stringify({ ...record(), scanId: 'elsewhere' }));
    expect(await reader.handovers!.load(SITE, 'other')).toBeNull();
  });
});
