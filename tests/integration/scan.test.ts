/**
 * End to end, inside the lab: `cctv-agent scan --json` runs in the cctvlab-scan namespace against
 * the simulated devices, and the document, the store and the exit codes are checked.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryProblems } from '../support/inventory-schema.js';
import type { Inventory } from '../../agent/types.js';
import { copySharedStore, SHARED_IPV6_TARGETS, SHARED_SCAN_TARGETS, SHARED_SITE, SHARED_WINDOW_SECONDS, sharedRescan, sharedScan } from './shared-scan.js';
import { LAB_SUBNET, deviceOfProfile, labDevices, labProfiles, runInScanner } from './lab-helpers.js';
import { knowledgeCopies } from '../support/knowledge-copy.js';
import { inCidr } from '../../agent/net/ipv4.js';
import { neighbourBudgetSize } from '../../agent/net/neighbour-budget.js';

const WINDOW_SECONDS = String(SHARED_WINDOW_SECONDS);
const storeDir = mkdtempSync(join(tmpdir(), 'cctv-scan-test-'));
afterAll(() => rmSync(storeDir, { recursive: true, force: true }));

interface ScanRun {
  inventory: Inventory;
  stderr: string;
  durationMs: number;
}

/** stdout holds exactly one JSON document; every stderr line is a pino JSON log line. */
function checkedOutput(stdout: string, stderr: string): Inventory {
  const inventory = JSON.parse(stdout) as Inventory;
  for (const line of stderr.split('\n').filter(Boolean)) expect(() => JSON.parse(line), line).not.toThrow();
  return inventory;
}

const deviceAt = deviceOfProfile;

describe('cctv-agent scan in the lab', () => {
  let first: ScanRun;
  beforeAll(() => {
    // The lab's shared default scan (site 'lab'); its store is copied so the next scan adds to it.
    const shared = sharedScan();
    first = { inventory: checkedOutput(shared.stdout, shared.stderr), stderr: shared.stderr, durationMs: shared.durationMs };
    copySharedStore(storeDir);
  });

  it('writes a schema-valid cctv-inventory/v1 document sorted by IP', () => {
    expect(inventoryProblems(first.inventory)).toEqual([]);
    expect(first.inventory.scan).toMatchObject({ site: SHARED_SITE, targets: SHARED_SCAN_TARGETS });
    expect(first.inventory.scan.methods).toEqual(expect.arrayContaining(['ws-discovery', 'sadp', 'dhip', 'onvif-device-service', 'tcp-connect', 'http-pages', 'tls-certificate', 'neighbour-table']));
    // The misaddressed devices (192.168.1.x) come before the lab subnet's (198.18.0.x).
    const ips = first.inventory.devices.map((d) => d.ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0));
    expect(ips).toEqual([...ips].sort((a, b) => a - b));
  });

  it('finds every simulated device with its MAC, and its id: the MAC, or the address where the MAC is shared', () => {
    for (const expected of labDevices()) {
      const device = expected.profile.aliases?.length ? first.inventory.devices.find((d) => d.ip === expected.ip) : deviceOfProfile(first.inventory, expected.profile);
      expect({ name: expected.profile.name, ip: device?.ip, mac: device?.mac, id: device?.id }).toEqual({ name: expected.profile.name, ip: expected.ip, mac: expected.mac, id: expected.id });
    }
    expect(first.inventory.devices).toHaveLength(labDevices().length);
  });

  it('classifies each device as its profile says it really is', () => {
    for (const profile of labProfiles()) {
      const { classification } = deviceAt(first.inventory, profile);
      expect({ name: profile.name, linkedVendor: classification.linkedVendor, relation: classification.relation }).toEqual({
        name: profile.name,
        linkedVendor: profile.truth.linkedVendor,
        relation: profile.truth.relation,
      });
      // Devices linked on weak evidence only (hikoui: an OUI) carry truth.maxConfidence instead (classification.test.ts).
      if (profile.truth.linkedVendor && profile.truth.maxConfidence === undefined) expect(classification.confidence, profile.name).toBeGreaterThan(0.8);
    }
  });

  it('fills identity from device information where the device answers it without credentials', () => {
    for (const profile of labProfiles()) {
      const info = profile.onvif?.deviceInformation;
      const open = profile.onvif?.publicOperations.includes('GetDeviceInformation');
      if (!info || !open) continue;
      const { identity } = deviceAt(first.inventory, profile);
      expect({ name: profile.name, model: identity.model, firmware: identity.firmware, serial: identity.serial }).toEqual({
        name: profile.name,
        model: info.model,
        firmware: info.firmwareVersion,
        serial: info.serialNumber,
      });
    }
    const lts = deviceAt(first.inventory, labProfiles().find((p) => p.name === 'lts')!);
    expect(lts.identity).toMatchObject({ manufacturer: 'Hikvision', brand: 'LTS' });
  });

  it('lists the evidence each verdict rests on, by source', () => {
    const hikvision = deviceAt(first.inventory, labProfiles().find((p) => p.name === 'hikvision')!);
    const sources = new Set(hikvision.evidence.map((e) => e.source));
    expect([...sources]).toEqual(expect.arrayContaining(['oui', 'onvif', 'sadp', 'http', 'tls']));
    expect(hikvision.evidence.every((e) => e.detail.length > 0)).toBe(true);
    const printer = deviceAt(first.inventory, labProfiles().find((p) => p.name === 'printer')!);
    // The printer answers WS-Discovery (source onvif) as a printer: its class word, which names no
    // maker, is the only thing that source says of it — nothing from an ONVIF device service.
    const fromOnvif = printer.evidence.filter((e) => e.source === 'onvif');
    expect(fromOnvif.map((e) => ({ rule: e.rule, supports: e.supports }))).toEqual([{ rule: 'class-printer', supports: null }]);
    expect(fromOnvif[0]?.detail).toMatch(/^wsd\.types = .*PrintDeviceType/);
    expect(printer.services).toEqual([]);
  });

  it('records that GetDeviceInformation needed credentials without trying any', () => {
    expect(first.stderr).not.toMatch(/password|lab-[A-Za-z]+-\d+/i);
    const hikvision = deviceAt(first.inventory, labProfiles().find((p) => p.name === 'hikvision')!);
    expect(hikvision.identity.model).toBe('DS-2CD2143G2-I');
    // Its serial comes from its SADP answer (tests/integration/sadp-dhip.test.ts), none from ONVIF.
    expect(hikvision.evidence.filter((e) => e.detail.startsWith('onvif.device.'))).toEqual([]);
  });

  it('finishes within the discovery window plus the probe time', () => {
    // Window, then the connect sweep of the /24 (two connects per address, each empty one waiting
    // out the 1 s initial connect timeout, all at once within the socket budget: about 1.5 s, inside
    // the window), then the probe phase (the hostile device costs one exchange timeout, 3-4 s), plus
    // about 1 s to start Node and save.
    expect(first.durationMs).toBeLessThan(Number(WINDOW_SECONDS) * 1000 + 10_000);
  });

  it('keeps the scan, the current inventory and a change log in the store', async () => {
    const scans = readdirSync(join(storeDir, 'scans', SHARED_SITE));
    expect(scans).toEqual([`${first.inventory.scan.id}.json`]);
    const current = JSON.parse(readFileSync(join(storeDir, 'sites', SHARED_SITE, 'inventory.json'), 'utf8')) as Inventory;
    expect(current).toEqual(first.inventory);
    const log = readFileSync(join(storeDir, 'sites', SHARED_SITE, 'changes.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; deviceId: string });
    expect(log.filter((e) => e.type === 'device-added').map((e) => e.deviceId).sort()).toEqual(first.inventory.devices.map((d) => d.id).sort());
    const shown = await runInScanner(['inventory', '--site', SHARED_SITE, '--store', storeDir, '--json']);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toEqual(first.inventory);
    const table = await runInScanner(['inventory', '--site', SHARED_SITE, '--store', storeDir]);
    expect(table.stdout).toContain('Hikvision (OEM)');
  });

  it("logs the kernel neighbour table's limit and the places the sweep may fill; a /24 never waits for one", () => {
    const lines = sharedScan().logLines;
    const started = lines.find((l) => l.msg === 'scan started');
    const swept = lines.filter((l) => l.msg === 'TCP connect sweep finished');
    const table = started?.neighbourTable as { limit: number; held: number; budget: number; count: string } | undefined;
    expect(table?.limit).toBeGreaterThan(0);
    // The lab's scanner reads its table: places are counted from it, not modelled.
    expect(table?.count).toBe('table');
    // Half of the room left by the entries held at the start (other labs share the table).
    expect(table?.held).toBeGreaterThanOrEqual(0);
    expect(table?.budget).toBe(neighbourBudgetSize(table?.limit ?? 0, table?.held ?? 0));
    // The IPv6 (NDP) table is the kernel's other neighbour table, with a limit and budget of its own.
    const ipv6Table = started?.ipv6NeighbourTable as { limit: number; budget: number } | undefined;
    expect(ipv6Table?.budget).toBe(neighbourBudgetSize(ipv6Table?.limit ?? 0));
    expect(ipv6Table?.budget).toBeGreaterThan(0);
    expect(swept.length).toBeGreaterThan(0);
    for (const line of swept) expect([line.neighbourBudget, line.neighbourWaits, line.neighbourCount]).toEqual([table?.budget, 0, 'table']);
    // The document says how the named /24 and IPv6 addresses were swept: all on the scanner's own
    // link, each IPv4 address (the scanner's own left out) resolved on the link first, every lab
    // device found live that way.
    const { methods, ...reach } = first.inventory.scan.sweep ?? {};
    expect(reach).toEqual({ onLinkTargets: 254 + SHARED_IPV6_TARGETS.length, routedTargets: 0, neighbourBudget: table?.budget });
    // Host discovery asks ARP only: a named IPv6 address not heard in the window gets the 80/443
    // check; hosts heard (the IPv6-only camera at its IPv6 address) are swept as announced.
    expect(methods?.[0]?.method).toBe('neighbour-resolution');
    expect(methods?.at(-1)?.method).toBe('announced');
    const checked = methods?.find((m) => m.method === 'tcp-host-check');
    expect(checked?.addresses ?? 0).toBeLessThanOrEqual(SHARED_IPV6_TARGETS.length);
    expect(methods?.length).toBe(checked === undefined ? 2 : 3);
    const resolution = methods?.find((m) => m.method === 'neighbour-resolution');
    const labAddresses = new Set(labDevices().flatMap((d) => d.addresses).filter((ip) => inCidr(ip, LAB_SUBNET)));
    expect(resolution?.addresses).toBe(253);
    expect(resolution?.live).toBeGreaterThanOrEqual(labAddresses.size);
    expect(resolution?.live).toBeLessThan(253);
    expect(lines.find((l) => l.msg === 'host discovery finished')).toMatchObject({ addresses: 253, live: resolution?.live, tableFull: 0 });
  });

  it('gives back the neighbour entries it made (the lab runs it as root): every unanswered address and the live hosts, MACs kept', () => {
    const lines = sharedScan().logLines;
    const started = lines.find((l) => l.msg === 'scan started')?.neighbourTable as { givesBack?: boolean } | undefined;
    expect(started?.givesBack).toBe(true);
    const discovery = lines.find((l) => l.msg === 'host discovery finished') as { addresses: number; live: number; silent: number } | undefined;
    const givenBack = lines.find((l) => l.msg === 'neighbour entries given back') as { givenBack: number; unanswered: number; unreadable: number; refused: number } | undefined;
    // The /24's silent addresses were given up after two solicitations, their entries deleted by the
    // real `ip` (all but any the table held before the scan), and the live hosts' entries after use.
    expect(givenBack?.unanswered).toBeGreaterThan(0);
    expect(givenBack?.unanswered).toBeLessThanOrEqual(discovery?.silent ?? 0);
    expect(givenBack?.givenBack).toBeGreaterThan(0);
    expect([givenBack?.unreadable, givenBack?.refused]).toEqual([0, 0]);
    // The entries went, their MACs did not: each device is still reported with its own MAC (the
    // test above), here from the reads taken before each deletion.
    const reportedEarlier = lines.find((l) => l.module === 'neighbour-table' && typeof l.msg === 'string' && l.msg.startsWith('entries read earlier during the scan')) as { entries: number } | undefined;
    expect(reportedEarlier?.entries).toBeGreaterThan(0);
  });

  it('logs the removal of a device that has gone by the next scan', () => {
    // The second shared scan (global-setup.ts): the same scan again with one device off the wire.
    const second = sharedRescan();
    const gone = labProfiles().find((p) => p.name === second.gone)!;
    expect(second.inventory.devices.map((d) => d.ip)).not.toContain(gone.ip);
    expect(second.inventory.devices).toHaveLength(labDevices().length - 1);
    const log = readFileSync(join(second.storeDir, 'sites', SHARED_SITE, 'changes.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; deviceId: string; scanId: string });
    const removals = log.filter((e) => e.type === 'device-removed');
    expect(removals).toEqual([expect.objectContaining({ deviceId: `mac:${gone.mac}`, scanId: second.inventory.scan.id })]);
  });
});

describe('cctv-agent scan refuses bad input before sending anything', () => {
  const cases: [string, string[], RegExp][] = [
    ['a prefix length over 32', ['scan', '198.18.0.0/33'], /Target "198\.18\.0\.0\/33" is not valid/],
    ['a name that is not an address', ['scan', 'foo'], /Target "foo" is not valid/],
    ['an unknown interface', ['scan', '--interface', 'wlan9'], /interface "wlan9" does not exist.*eth0/],
    ['a bad site name', ['scan', '--site', '../etc'], /site name/],
  ];
  for (const [what, args, message] of cases) {
    it(`exits 2 with one clear line for ${what}, and writes nothing`, async () => {
      const dir = join(storeDir, `never-${what.replace(/\W+/g, '-')}`);
      const run = await runInScanner([...args, '--store', dir, '--json']);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(message);
      expect(existsSync(dir)).toBe(false);
    });
  }

  it('exits 2 when the store cannot be written', async () => {
    const file = join(storeDir, 'a-file');
    writeFileSync(file, 'not a folder');
    const run = await runInScanner(['scan', '--store', join(file, 'store'), '--json']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/cannot be written.*--store/);
  });

  it('exits 2 naming file, line and key when a table of the knowledge base is broken (ports.yaml), and writes nothing', async () => {
    const copies = knowledgeCopies();
    try {
      const fingerprints = copies.edited({ 'ports.yaml': (text) => text.replace('  - port: 80\n', '  - port: 80000\n') });
      const dir = join(storeDir, 'never-broken-knowledge');
      const run = await runInScanner(['scan', '--fingerprints', fingerprints, '--store', dir, '--json', LAB_SUBNET]);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/ports\.yaml" is invalid: line \d+: ports\[0\]\.port: must be <= 65535/);
      // Checked before a packet is sent: not even the scan's start is logged.
      expect(run.stderr).not.toContain('scan started');
      expect(existsSync(dir)).toBe(false);
    } finally {
      copies.removeAll();
    }
  });
});
