/**
 * RTSP probes and the ONVIF device service, end to end in the lab: `cctv-agent scan` in the
 * cctvlab-scan namespace, without credentials (the lab's shared default scan, shared-scan.ts) and
 * with an operator credentials file.
 * The lab devices check Digest and WS-Security UsernameToken themselves (tests/lab/sim/auth.ts),
 * including the token's Created against their own, possibly skewed, clock.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryProblems } from '../support/inventory-schema.js';
import type { Device, Evidence, Inventory } from '../../agent/types.js';
import { SHARED_WINDOW_SECONDS, sharedScan } from './shared-scan.js';
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

function labCredentials(profile: LabProfile): { username: string; password: string } {
  const credentials = profile.onvif?.credentials;
  if (!credentials) throw new Error(`profile ${profile.name} has no lab credentials`);
  return credentials;
}

describe('RTSP and the ONVIF device service in the lab', () => {
  const hikvision = labProfile('hikvision');
  const amcrest = labProfile('amcrest');
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
        DECOY,
      ],
      0o600,
    );
    marks = logMarks();
    withCredentials = await scan('operator', ['--credentials', file, '--log-level', 'debug']);
  });

  it('a default scan shows the RTSP server of each camera as evidence', () => {
    const rules = (name: string): string[] => rtspEvidence(deviceOf(plain.inventory, name)).map((e) => `${e.rule} ${e.detail}`);
    expect(rules('hikvision')).toEqual(['rtsp-realm-hikvision rtsp.auth.realm = "Hikvision"']);
    expect(rules('lts')).toEqual(['rtsp-realm-hikvision rtsp.auth.realm = "Hikvision"']);
    expect(rules('dahua')).toEqual(['rtsp-realm-dahua-device rtsp.auth.realm = "device"', 'rtsp-server-dahua rtsp.server = "Dahua Rtsp Server"']);
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
    // a SOAP fault answered with a UsernameToken that the 4-hours-ahead camera accepted.
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
      'GetScopes 401',
      'GetScopes 200',
    ]);
    expect(calls('amcrest')).toEqual(['GetSystemDateAndTime 200', 'GetDeviceInformation 400', 'GetDeviceInformation 200', 'GetNetworkInterfaces 200', 'GetScopes 200']);
  });

  it('tries the credentials meant for other devices at most once on each, and never again once refused', () => {
    const lts = linesSince(marks, 'lts').filter((l) => l.includes('[onvif]') && fromScanner(l));
    expect(lts.filter((l) => l.includes('(bad credentials)'))).toHaveLength(1);
    expect(lts.filter((l) => /GetScopes/.test(l))).toEqual([expect.stringMatching(/GetScopes -> 401/)]);
    expect(withCredentials.stderr).toMatch(/the device refused the credentials supplied for it/);
    expect(deviceOf(withCredentials.inventory, 'lts').identity.serial).toBe(labProfile('lts').onvif?.deviceInformation.serialNumber);
  });

  it('writes no username or password into the document, the store or the logs', () => {
    const secrets = [DECOY.username, DECOY.password, labCredentials(hikvision).password, labCredentials(amcrest).password];
    const places: [string, string][] = [
      ['stdout', withCredentials.stdout],
      ['stderr (debug)', withCredentials.stderr],
      ...filesUnder(join(work, 'store')).map((f): [string, string] => [f, readFileSync(f, 'utf8')]),
    ];
    expect(places.length).toBeGreaterThan(4);
    for (const [where, text] of places) for (const secret of secrets) expect(text.includes(secret), `${secret} in ${where}`).toBe(false);
    expect(withCredentials.stderr).toMatch(/"withCredentials":\d+/);
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
