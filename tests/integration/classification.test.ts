/**
 * Issue 4, end to end in the lab: the lab's shared default `cctv-agent scan 198.18.0.0/24 --json`
 * (no credentials, shared-scan.ts) in the cctvlab-scan namespace, and every simulated device's verdict, identity, CVE
 * flags, confidence, evidence and policies against the `truth` of its profile
 * (tests/lab/profiles/NAME.json, type ProfileTruth in tests/lab/sim/profile.ts). Then a scan with
 * an operator credentials file for the Hikvision camera: its identity comes from the ONVIF device
 * information and its CVE flags from that firmware, while every other device keeps its verdict.
 *
 * The truth is written by hand from each profile's own protocol sections, fingerprints/vendors.yaml
 * and fingerprints/cves.yaml, not copied from the agent's output.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { inventoryProblems } from '../support/inventory-schema.js';
import type { Device, Inventory } from '../../agent/types.js';
import type { ProfileTruth, TruthIdentity, TruthVulnerability } from '../lab/sim/profile.js';
import { SHARED_WINDOW_SECONDS, sharedScan } from './shared-scan.js';
import { LAB_SUBNET, REPO_ROOT, deviceOfProfile, labDevices, labProfile, labProfiles, runInScanner, type LabProfile } from './lab-helpers.js';

const WINDOW_SECONDS = String(SHARED_WINDOW_SECONDS);
/** Policies every device linked to Hikvision or Dahua must carry (fingerprints/policies.yaml). */
const LINKED_POLICIES = ['uk-wms-2022-11-24', 'us-ndaa-889'];
/** A linked device seen through at least this many independent evidence sources is sure. */
const SEVERAL_SOURCES = 2;
const SURE_CONFIDENCE = 0.9;

const work = mkdtempSync(join(tmpdir(), 'cctv-classification-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface VendorEntry {
  name: string;
  linkedVendor: string | null;
}
const vendors = (parseYaml(readFileSync(join(REPO_ROOT, 'fingerprints/vendors.yaml'), 'utf8')) as { vendors: Record<string, VendorEntry> }).vendors;

async function scan(site: string, extra: string[] = []): Promise<Inventory> {
  const run = await runInScanner(['scan', LAB_SUBNET, '--json', '--site', site, '--store', join(work, 'store'), '--timeout', WINDOW_SECONDS, ...extra]);
  expect(run.code, run.stderr).toBe(0);
  const inventory = JSON.parse(run.stdout) as Inventory;
  expect(inventoryProblems(inventory)).toEqual([]);
  return inventory;
}

const deviceAt = deviceOfProfile;

/** The profile's truth, with the members this test needs present. */
function truthOf(profile: LabProfile): Required<Pick<ProfileTruth, 'identity' | 'vulnerabilities'>> & ProfileTruth {
  const { truth } = profile;
  if (!truth.identity || !truth.vulnerabilities) throw new Error(`profile ${profile.name}: truth.identity and truth.vulnerabilities are required`);
  return { ...truth, identity: truth.identity, vulnerabilities: truth.vulnerabilities };
}

const identityOf = (device: Device): TruthIdentity => {
  const { manufacturer, brand, model, firmware, serial, deviceType } = device.identity;
  return { manufacturer, brand, model, firmware, serial, deviceType };
};
/** The device's CVE flags as {id, status}; a flag without a status shows as null (and so fails). */
const flagsOf = (device: Device): { id: string; status: string | null }[] =>
  (device.vulnerabilities ?? []).map((v) => ({ id: v.id, status: v.status ?? null })).sort((a, b) => a.id.localeCompare(b.id));
const sortedFlags = (flags: readonly TruthVulnerability[]): TruthVulnerability[] => [...flags].sort((a, b) => a.id.localeCompare(b.id));

/** Distinct evidence sources that point into the device's linked maker group. */
function linkedSources(device: Device): Set<string> {
  const group = device.classification.linkedVendor;
  return new Set(device.evidence.filter((e) => e.supports !== null && (vendors[e.supports]?.linkedVendor ?? e.supports) === group).map((e) => e.source));
}

/** What the scan concluded about one device, in the shape of expectedVerdict. */
function verdictOf(device: Device, profile: LabProfile): unknown {
  return {
    name: profile.name,
    linkedVendor: device.classification.linkedVendor,
    relation: device.classification.relation,
    identity: identityOf(device),
    vulnerabilities: flagsOf(device),
  };
}

/** What the profile's truth says a default scan must conclude. */
function expectedVerdict(profile: LabProfile): unknown {
  const truth = truthOf(profile);
  return {
    name: profile.name,
    linkedVendor: truth.linkedVendor,
    relation: truth.relation,
    identity: truth.identity,
    vulnerabilities: sortedFlags(truth.vulnerabilities),
  };
}

describe('classification of every lab device (issue 4)', () => {
  let plain: Inventory;
  let withCredentials: Inventory;
  const hikvision = labProfile('hikvision');

  beforeAll(async () => {
    plain = sharedScan().inventory;
    expect(inventoryProblems(plain)).toEqual([]);
    const credentials = hikvision.onvif?.credentials;
    if (!credentials) throw new Error('profile hikvision has no lab credentials');
    const file = join(work, 'operator.json');
    writeFileSync(file, JSON.stringify([{ ip: hikvision.ip, ...credentials }], null, 2));
    chmodSync(file, 0o600);
    withCredentials = await scan('classification-operator', ['--credentials', file]);
  });

  it("the profiles' truth names each maker by its vendors.yaml display name", () => {
    for (const profile of labProfiles()) {
      const { maker, identity } = truthOf(profile);
      // A maker outside the vendor table ("unknown" for the hostile hosts) has no display name.
      expect({ name: profile.name, manufacturer: identity.manufacturer }).toEqual({ name: profile.name, manufacturer: vendors[maker]?.name ?? null });
    }
  });

  it('gives every device the right linked vendor, relation, maker, brand, model, firmware, serial, type and CVE flags', () => {
    for (const profile of labProfiles()) expect(verdictOf(deviceAt(plain, profile), profile)).toEqual(expectedVerdict(profile));
    expect(plain.devices).toHaveLength(labDevices().length);
  });

  it('reports the device type of every device whose answers reveal its kind (issue 11)', () => {
    // The truth table's kind (tests/lab/README.md) as the agent names it.
    const typeOfKind: Partial<Record<LabProfile['kind'], string>> = { camera: 'camera', nvr: 'recorder', printer: 'printer' };
    // Hardened devices that, without credentials, show only a login page and their OUI: no answer
    // says whether a camera or a recorder sits behind the page.
    const kindNotRevealed = new Set(['dahuacgi', 'uniview', 'hanwha']);
    const got: Record<string, string | null> = {};
    const expected: Record<string, string | null> = {};
    for (const profile of labProfiles()) {
      const type = typeOfKind[profile.kind];
      if (type === undefined || kindNotRevealed.has(profile.name)) continue;
      got[profile.name] = deviceAt(plain, profile).identity.deviceType;
      expected[profile.name] = type;
    }
    expect(got).toEqual(expected);
    expect(Object.keys(expected).length).toBeGreaterThanOrEqual(10);
  });

  it('judges OEM firmware against the maker\'s CVE boundaries and says so: LTS inside CVE-2021-36260, past CVE-2017-7921', () => {
    const lts = deviceAt(plain, labProfile('lts'));
    const byId = new Map(lts.vulnerabilities.map((v) => [v.id, v]));
    expect(byId.get('CVE-2021-36260')?.status).toBe('possibly-affected');
    expect(byId.get('CVE-2021-36260')?.reason).toContain('was built 2020-03-16, within "Versions which Build time before 210625');
    expect(byId.get('CVE-2021-36260')?.reason).toContain("an OEM unit sold as LTS, judged against Hikvision's boundaries");
    expect(byId.get('CVE-2017-7921')?.status).toBe('not-affected');
    expect(byId.get('CVE-2017-7921')?.reason).toContain('is past "V5.0.9 build 140305');
    // A Hikvision camera built after the fix is not-affected, naming the advisory's row.
    const fixed = deviceAt(plain, labProfile('hikvision')).vulnerabilities.find((v) => v.id === 'CVE-2021-36260');
    expect(fixed?.reason).toContain('is in "DS-2CD2xx3G2"');
  });

  it('is sure of linked devices seen through several independent sources, and unsure of an OUI alone', () => {
    for (const profile of labProfiles()) {
      const device = deviceAt(plain, profile);
      const { confidence } = device.classification;
      const { maxConfidence } = truthOf(profile);
      if (maxConfidence !== undefined) {
        expect(confidence, profile.name).toBeGreaterThan(0);
        expect(confidence, profile.name).toBeLessThan(maxConfidence);
      }
      if (device.classification.linkedVendor !== null && linkedSources(device).size >= SEVERAL_SOURCES) {
        expect(confidence, profile.name).toBeGreaterThan(SURE_CONFIDENCE);
      }
    }
    // The OUI-only Hikvision host: linked, on one source only, and so below the bound.
    const hikoui = deviceAt(plain, labProfile('hikoui'));
    expect([...linkedSources(hikoui)]).toEqual(['oui']);
    expect(hikoui.evidence.map((e) => e.source)).toEqual(['oui']);
    const sure = labProfiles().filter((p) => p.truth.linkedVendor !== null && linkedSources(deviceAt(plain, p)).size >= SEVERAL_SOURCES);
    expect(sure.map((p) => p.name).sort()).toEqual(['amcrest', 'dahua', 'dahuacgi', 'dahuadefault', 'dahuanvr', 'ezviz', 'hik6only', 'hikdefault', 'hikdefault2', 'hikisapi', 'hiknvr', 'hikold', 'hikvision', 'lts', 'twonic']);
  });

  it('explains every verdict: each evidence entry has a source, what was seen and the rule', () => {
    for (const profile of labProfiles()) {
      const device = deviceAt(plain, profile);
      if (profile.truth.linkedVendor !== null) expect(device.evidence.length, profile.name).toBeGreaterThan(0);
      for (const e of device.evidence) {
        expect(e.source, profile.name).toMatch(/^[a-z-]+$/);
        expect(e.detail.trim(), profile.name).not.toBe('');
        expect(e.rule.trim(), profile.name).not.toBe('');
      }
    }
  });

  it('names the UK and NDAA policies on every linked device, and no policy on any other', () => {
    for (const profile of labProfiles()) {
      const ids = (deviceAt(plain, profile).policies ?? []).map((p) => p.id);
      if (profile.truth.linkedVendor === null) expect(ids, profile.name).toEqual([]);
      else expect(ids, profile.name).toEqual(expect.arrayContaining(LINKED_POLICIES));
    }
  });

  it('with a credentials file, fills the Hikvision identity from ONVIF and flags CVEs from that firmware', () => {
    const expected = hikvision.truth.withCredentials;
    if (!expected) throw new Error('profile hikvision has no truth.withCredentials');
    const device = deviceAt(withCredentials, hikvision);
    expect(identityOf(device)).toEqual(expected.identity);
    expect(flagsOf(device)).toEqual(sortedFlags(expected.vulnerabilities));
    expect(device.identity.firmware).toBe(hikvision.onvif?.deviceInformation.firmwareVersion);
    expect(device.evidence.map((e) => e.detail)).toContain(`onvif.device.firmware = "${hikvision.onvif?.deviceInformation.firmwareVersion}"`);
    expect(device.classification).toMatchObject({ linkedVendor: hikvision.truth.linkedVendor, relation: hikvision.truth.relation });
    // The default scan could not read it: the firmware there is SADP's spelling, not ONVIF's.
    expect(deviceAt(plain, hikvision).evidence.filter((e) => e.detail.startsWith('onvif.device.'))).toEqual([]);
    // Credentials for one camera change no other device's verdict.
    for (const profile of labProfiles().filter((p) => p.name !== hikvision.name)) {
      expect(verdictOf(deviceAt(withCredentials, profile), profile)).toEqual(expectedVerdict(profile));
    }
  });
});
