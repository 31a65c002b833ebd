/**
 * RTSP probes, the ONVIF device service and the makers' own identity APIs (Hikvision ISAPI, Dahua
 * magicBox.cgi), end to end in the lab: `cctv-agent scan` in the cctvlab-scan namespace, without
 * credentials (the lab's shared default scan, shared-scan.ts) and with an operator credentials file
 * (one scan serves both the ONVIF and the vendor API checks, to keep the lab suite short).
 * The lab devices check Digest and WS-Security UsernameToken themselves (tests/lab/sim/auth.ts),
 * including the token's Created against their own, possibly skewed, clock.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryProblems } from '../support/inventory-schema.js';
import type { Device, Evidence, Inventory } from '../../agent/types.js';
import { SHARED_WINDOW_SECONDS, sharedScan, sharedScanLog } from './shared-scan.js';
import { LAB_LOG_DIR, LAB_SUBNET, labProfile, labProfiles, runInScanner, type LabProfile } from './lab-helpers.js';

const WINDOW_SECONDS = String(SHARED_WINDOW_SECONDS);
const work = mkdtempSync(join(tmpdir(), 'cctv-rtsp-onvif-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A default entry no lab device accepts: it is tried (once) on every other device, and must never show. */
const DECOY = { username: 'h8-decoy-operator-5c1e', password: 'h8-Decoy-Secret-93ad' };

interface ScanRun {
  inventory: Inventory;
  stdout: string;
  stderr: string;
  durationMs: number;
}

async function scan(site: string, extra: string[] = []): Promise<ScanRun> {
  const run = await runInScanner(['scan', LAB_SUBNET, '--json', '--site', site, '--store', join(work, 'store'), '--timeout', WINDOW_SECONDS, ...extra]);
  expect(run.code, run.stderr).toBe(0);
  const inventory = JSON.parse(run.stdout) as Inventory;
  expect(inventoryProblems(inventory)).toEqual([]);
  return { inventory, stdout: run.stdout, stderr: run.stderr, durationMs: run.durationMs };
}

function deviceOf(inventory: Inventory, name: string): Device {
  const { ip } = labProfile(name);
  const device = inventory.devices.find((d) => d.ip === ip);
  if (!device) throw new Error(`no device at ${ip} (${name})`);
  return device;
}

const rtspEvidence = (device: Device): Evidence[] => device.evidence.filter((e) => e.source === 'rtsp');

/** Device log lines written since `from` (a line count), for what the simulator saw of one scan. */
function logLines(name: string): string[] {
  return readFileSync(join(LAB_LOG_DIR, `${name}.log`), 'utf8').split('\n').filter(Boolean);
}

/** Every device's log line count now. */
function logMarks(): Map<string, number> {
  return new Map(labProfiles().map((p) => [p.name, logLines(p.name).length]));
}

function linesSince(marks: Map<string, number>, name: string): string[] {
  return logLines(name).slice(marks.get(name) ?? 0);
}

/** Requests the scanner (198.18.0.1) made, as the devices logged them. */
const fromScanner = (line: string): boolean => /\b198\.18\.0\.1(?![0-9])/.test(line);

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** A credentials file in the test's private temporary folder (mkdtemp makes it 0700). */
function credentialsFile(name: string, entries: unknown[], mode: number): string {
  const path = join(work, `${name}.json`);
  writeFileSync(path, JSON.stringify(entries, null, 2));
  chmodSync(path, mode);
  return path;
}

/** The credentials a profile's vendor API section checks (`isapi` or `dahuaCgi`). */
function vendorApiCredentials(profile: LabProfile): { username: string; password: string } {
  const section = (profile.isapi ?? profile.dahuaCgi) as { credentials?: { username: string; password: string } } | undefined;
  if (!section?.credentials) throw new Error(`profile ${profile.name} has no vendor API credentials`);
  return section.credentials;
}

function labCredentials(profile: LabProfile): { username: string; password: string } {
  const credentials = profile.onvif?.credentials;
  if (!credentials) throw new Error(`profile ${profile.name} has no lab credentials`);
  return credentials;
}

describe('RTSP and the ONVIF device service in the lab', () => {
  const hikvision = labProfile('hikvision');
  const amcrest = labProfile('amcrest');
  const hikisapi = labProfile('hikisapi');
  const dahuacgi = labProfile('dahuacgi');
  let plain: ScanRun;
  let withCredentials: ScanRun;
  let marks: Map<string, number>;

  beforeAll(async () => {
    const shared = sharedScan();
    expect(inventoryProblems(shared.inventory)).toEqual([]);
    plain = { inventory: shared.inventory, stdout: shared.stdout, stderr: shared.stderr, durationMs: shared.durationMs };
    const file = credentialsFile(
      'operator',
      [
        { ip: hikvision.ip, ...labCredentials(hikvision) },
        { ip: amcrest.ip, ...labCredentials(amcrest) },
        { ip: hikisapi.ip, ...vendorApiCredentials(hikisapi) },
        { ip: dahuacgi.ip, ...vendorApiCredentials(dahuacgi) },
        DECOY,
      ],
      0o600,
    );
    marks = logMarks();
    withCredentials = await scan('operator', ['--credentials', file, '--log-level', 'debug']);
  });

  it('a default scan shows the RTSP server of each camera as evidence', () => {
    const rules = (name: string): string[] => rtspEvidence(deviceOf(plain.inventory, name)).map((e) => `${e.rule} ${e.detail}`);
    expect(rules('hikvision')).toEqual(['realm-hikvision rtsp.auth.realm = "Hikvision"']);
    expect(rules('lts')).toEqual(['realm-hikvision rtsp.auth.realm = "Hikvision"']);
    expect(rules('dahua')).toEqual(['realm-dahua-device rtsp.auth.realm = "device"', 'rtsp-server-dahua rtsp.server = "Dahua Rtsp Server"']);
    expect(rules('amcrest')).toEqual(rules('dahua'));
    expect(rules('axis')).toEqual([]);
    for (const name of ['hikvision', 'lts', 'dahua', 'amcrest', 'axis']) {
      // The service banner is the RTSP Server header, where the device sends one.
      const banner = (labProfile(name).rtsp as { serverHeader?: string }).serverHeader ?? null;
      expect(deviceOf(plain.inventory, name).services, name).toContainEqual({ port: 554, protocol: 'rtsp', banner });
    }
    expect(plain.inventory.scan.methods).toContain('rtsp');
  });

  it('reports the skewed clocks (lts about -7325 s, amcrest about +14400 s) as evidence that moves no verdict', () => {
    const skew = (name: string): Evidence[] => deviceOf(plain.inventory, name).evidence.filter((e) => e.rule === 'onvif-clock-skewed');
    const offset = (name: string): number => Number(/= "(-?\d+)"/.exec(skew(name)[0]?.detail ?? '')?.[1]);
    expect(Math.abs(offset('lts') + 7325)).toBeLessThanOrEqual(3);
    expect(Math.abs(offset('amcrest') - 14400)).toBeLessThanOrEqual(3);
    for (const name of ['lts', 'amcrest']) expect(skew(name)).toEqual([expect.objectContaining({ source: 'onvif', supports: null, confidence: 0 })]);
    for (const name of ['hikvision', 'dahua', 'axis']) expect(skew(name), name).toEqual([]);
    for (const name of ['lts', 'amcrest']) {
      const { truth } = labProfile(name);
      expect(deviceOf(plain.inventory, name).classification).toMatchObject({ linkedVendor: truth.linkedVendor, relation: truth.relation });
    }
  });

  it('without credentials, the device information of hikvision and amcrest stays closed', () => {
    for (const profile of [hikvision, amcrest]) {
      const device = deviceOf(plain.inventory, profile.name);
      expect(device.evidence.filter((e) => e.detail.startsWith('onvif.device.')), profile.name).toEqual([]);
      expect(device.identity.firmware, profile.name).not.toBe(profile.onvif?.deviceInformation.firmwareVersion);
    }
    expect(plain.stderr).not.toMatch(/lab-[A-Za-z]+-\d+/);
  });

  it('with a credentials file, device information fills identity for hikvision (Digest) and amcrest (UsernameToken, clock 4 h ahead)', () => {
    for (const profile of [hikvision, amcrest]) {
      const info = profile.onvif!.deviceInformation;
      const device = deviceOf(withCredentials.inventory, profile.name);
      expect({ name: profile.name, model: device.identity.model, firmware: device.identity.firmware, serial: device.identity.serial }).toEqual({
        name: profile.name,
        model: info.model,
        firmware: info.firmwareVersion,
        serial: info.serialNumber,
      });
      expect(device.evidence.map((e) => e.detail), profile.name).toContain(`onvif.device.firmware = "${info.firmwareVersion}"`);
      expect(device.classification).toMatchObject({ linkedVendor: profile.truth.linkedVendor, relation: profile.truth.relation });
    }
    // How each device let the agent in, as the simulators logged it: a 401 answered with Digest;
    // a SOAP fault answered with a UsernameToken that the 4-hours-ahead camera accepted. Neither is
    // asked GetScopes: both listed their scopes in their WS-Discovery replies.
    const calls = (name: string): string[] =>
      linesSince(marks, name)
        .filter((l) => l.includes('[onvif]') && fromScanner(l))
        .map((l) => /POST \S+ from \S+ (\w+)( \(bad credentials\))? -> (\d+)/.exec(l)?.slice(1).join(' ').replace(/\s+/g, ' ').trim() ?? l);
    expect(calls('hikvision')).toEqual([
      'GetSystemDateAndTime 200',
      'GetDeviceInformation 401',
      'GetDeviceInformation 200',
      'GetNetworkInterfaces 401',
      'GetNetworkInterfaces 200',
    ]);
    expect(calls('amcrest')).toEqual(['GetSystemDateAndTime 200', 'GetDeviceInformation 400', 'GetDeviceInformation 200', 'GetNetworkInterfaces 200']);
  });

  it('tries the credentials meant for other devices at most once on each', () => {
    const lts = linesSince(marks, 'lts').filter((l) => l.includes('[onvif]') && fromScanner(l));
    expect(lts.filter((l) => l.includes('(bad credentials)'))).toHaveLength(1);
    // Refused at the first call that needed them, and the scan's last call: no call after it
    // to show "never again" here (tests/unit/onvif-discoverer.test.ts shows it over later calls).
    expect(lts.filter((l) => /GetNetworkInterfaces/.test(l))).toEqual([
      expect.stringMatching(/GetNetworkInterfaces -> 401/),
      expect.stringMatching(/GetNetworkInterfaces \(bad credentials\) -> 401/),
    ]);
    expect(withCredentials.stderr).toMatch(/the device refused the credentials supplied for it/);
    expect(deviceOf(withCredentials.inventory, 'lts').identity.serial).toBe(labProfile('lts').onvif?.deviceInformation.serialNumber);
  });

  it('writes no username or password into the document, the store or the logs', () => {
    const secrets = [
      DECOY.username,
      DECOY.password,
      labCredentials(hikvision).password,
      labCredentials(amcrest).password,
      vendorApiCredentials(hikisapi).password,
      vendorApiCredentials(dahuacgi).password,
    ];
    const places: [string, string][] = [
      ['stdout', withCredentials.stdout],
      ['stderr (debug)', withCredentials.stderr],
      ...filesUnder(join(work, 'store')).map((f): [string, string] => [f, readFileSync(f, 'utf8')]),
    ];
    expect(places.length).toBeGreaterThan(4);
    for (const [where, text] of places) for (const secret of secrets) expect(text.includes(secret), `${secret} in ${where}`).toBe(false);
    expect(withCredentials.stderr).toMatch(/"withCredentials":\d+/);
  });

  // Issue #11: the makers' identity APIs, for cameras with ONVIF and discovery off and the web interface on 8080.
  /** Requests the scanner made of a device's vendor API, as `<target> (<how>) -> <status>`. */
  const vendorApiRequests = (lines: string[]): string[] =>
    lines.filter((l) => /\[(?:isapi|dahua-cgi)\]/.test(l) && fromScanner(l)).map((l) => /GET (\S+) from \S+ \(([a-z ]+)\) -> (\d+)/.exec(l)?.slice(1).join(' ') ?? l);

  it('with credentials, hikisapi (ISAPI) and dahuacgi (magicBox.cgi) report model, firmware and serial although ONVIF is off', () => {
    const expected = {
      // tests/fixtures/isapi/ds-2cd2366g2-isu-sl.deviceinfo.xml, the answer hikisapi's profile names
      hikisapi: { model: 'DS-2CD2366G2-ISU/SL', firmware: 'V5.7.13 build 230504', serial: 'DS-2CD2366G2-ISU/SL20210726AAWRG41390691' },
      // tests/fixtures/dahua-cgi/ipc-hdw5831r-ze.getSystemInfo.txt and getSoftwareVersion.build.txt
      dahuacgi: { model: 'IPC-HDW5831R-ZE', firmware: '2.800.0000016.0.R', serial: '4X7C5A1ZAG21L3F' },
    };
    for (const [name, identity] of Object.entries(expected)) {
      const device = deviceOf(withCredentials.inventory, name);
      expect({ name, model: device.identity.model, firmware: device.identity.firmware, serial: device.identity.serial }).toEqual({ name, ...identity });
      expect(device.classification, name).toMatchObject({ linkedVendor: labProfile(name).truth.linkedVendor, relation: labProfile(name).truth.relation });
      expect(device.services.map((s) => s.port), name).toContain(8080);
    }
    // The HTTP probe's credential-less GET and the vendor read's own (for the challenge) come in either order; then one with credentials.
    expect(vendorApiRequests(linesSince(marks, 'hikisapi')).sort()).toEqual([
      '/ISAPI/System/deviceInfo credentials ok 200',
      '/ISAPI/System/deviceInfo no credentials 401',
      '/ISAPI/System/deviceInfo no credentials 401',
    ]);
    expect(vendorApiRequests(linesSince(marks, 'dahuacgi'))).toEqual([
      '/cgi-bin/magicBox.cgi?action=getSystemInfo no credentials 401',
      '/cgi-bin/magicBox.cgi?action=getSystemInfo credentials ok 200',
      '/cgi-bin/magicBox.cgi?action=getSoftwareVersion credentials ok 200',
      '/cgi-bin/magicBox.cgi?action=getDeviceType credentials ok 200',
      '/cgi-bin/magicBox.cgi?action=getVendor credentials ok 200',
    ]);
    expect(withCredentials.inventory.scan.methods).toContain('vendor-identity');
  });

  it('without credentials, no vendor API request is made and nothing is sent that needs credentials', () => {
    for (const name of ['hikisapi', 'dahuacgi']) {
      const lines = sharedScanLog(name).split('\n').filter(fromScanner);
      // The HTTP probe's credential-less GET of the ISAPI page is all hikisapi sees of its API.
      expect(vendorApiRequests(lines), name).toEqual(name === 'hikisapi' ? ['/ISAPI/System/deviceInfo no credentials 401'] : []);
      expect(lines.filter((l) => /credentials (?:ok|sent)|bad credentials/.test(l)), name).toEqual([]);
      expect(deviceOf(plain.inventory, name).identity).toEqual(labProfile(name).truth.identity);
    }
    expect(plain.inventory.scan.credentialRefusals).toBeUndefined();
  });

  it('a wrong credential (the default entry, on lts): one attempt, the refusal recorded in the document, no retry in the scan', () => {
    const lts = labProfile('lts');
    const isapiCalls = linesSince(marks, 'lts').filter((l) => l.includes('GET /ISAPI/System/deviceInfo') && fromScanner(l));
    expect(isapiCalls.filter((l) => l.includes('(credentials sent)'))).toHaveLength(1);
    expect(withCredentials.inventory.scan.credentialRefusals).toContainEqual(
      expect.objectContaining({ ip: lts.ip, mechanism: 'hikvision-isapi', port: 80, refusals: 1 }),
    );
    const refusal = withCredentials.inventory.scan.credentialRefusals?.find((r) => r.ip === lts.ip && r.mechanism === 'hikvision-isapi');
    // Hikvision locks for 30 minutes (fingerprints/lockout.yaml): the next attempt waits that long.
    expect(Date.parse(refusal?.retryAfter ?? '') - Date.parse(refusal?.at ?? '')).toBe(30 * 60 * 1000);
    expect(deviceOf(withCredentials.inventory, 'lts').evidence.map((e) => e.rule)).toContain('vendorapi-credentials-refused');
    for (const name of ['hikisapi', 'dahuacgi']) expect(withCredentials.inventory.scan.credentialRefusals?.map((r) => r.ip), name).not.toContain(labProfile(name).ip);
    // ONVIF refused the default entry on lts too: recorded under its own mechanism.
    expect(withCredentials.inventory.scan.credentialRefusals).toContainEqual(expect.objectContaining({ ip: lts.ip, mechanism: 'onvif', refusals: 1 }));
  });
});

describe('a credentials file others can read', () => {
  it('is refused with exit 2 and one line, before anything is sent or written', async () => {
    const hikvision = labProfile('hikvision');
    const file = credentialsFile('exposed', [{ ip: hikvision.ip, ...labCredentials(hikvision) }], 0o644);
    const store = join(work, 'never');
    const marks = logMarks();
    const run = await runInScanner(['scan', LAB_SUBNET, '--json', '--store', store, '--credentials', file]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/can be read or changed by other users \(mode 0644\).*chmod 600.*\[CCTV_ERR_CREDENTIALS_EXPOSED\]/);
    expect(run.stderr).not.toContain(labCredentials(hikvision).password);
    expect(existsSync(store)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const profile of labProfiles()) expect(linesSince(marks, profile.name).filter(fromScanner), profile.name).toEqual([]);
  });
});
