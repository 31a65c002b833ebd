/**
 * SSDP/UPnP and mDNS/DNS-SD discovery, end to end in the lab: `cctv-agent scan --json` in the
 * cctvlab-scan namespace against the simulated devices (their `ssdp` / `mdns` profile sections),
 * including the hostile multicast device `hostmc`. It runs its own scan rather than the lab's
 * shared one: it reads the debug log lines, and the shared scan logs at info level like the
 * other files' scans did (at debug level, the logging's extra load on a busy machine has been seen
 * to cost the WS-Discovery unicast probes a host).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_TXT_KEYS } from '../../agent/discovery/mdns.js';
import type { Device, Inventory } from '../../agent/types.js';
import type { AgentLogLine } from './shared-scan.js';
import { eui64LinkLocal } from '../lab/sim/profile.js';
import { LAB_LOG_DIR, LAB_SUBNET, labProfile, labProfiles, runInScanner, SCANNER_IFACE, SCANNER_IP, type LabProfile } from './lab-helpers.js';

const WINDOW_SECONDS = 3;
const storeDir = mkdtempSync(join(tmpdir(), 'cctv-ssdp-mdns-test-'));
afterAll(() => rmSync(storeDir, { recursive: true, force: true }));

interface ScanRun {
  inventory: Inventory;
  logs: AgentLogLine[];
  durationMs: number;
}

async function scan(site: string, extra: string[] = []): Promise<ScanRun> {
  const run = await runInScanner(['scan', LAB_SUBNET, '--json', '--site', site, '--store', storeDir, '--timeout', String(WINDOW_SECONDS), '--log-level', 'debug', ...extra]);
  expect(run.code, run.stderr.slice(-3000)).toBe(0);
  // Node's own warnings (not pino lines) are left to scan.test.ts, which requires JSON only.
  const logs = run.stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as AgentLogLine);
  return { inventory: JSON.parse(run.stdout) as Inventory, logs, durationMs: run.durationMs };
}

function deviceAt(inventory: Inventory, ip: string): Device {
  const device = inventory.devices.find((d) => d.ip === ip);
  if (!device) throw new Error(`no device at ${ip}; found ${inventory.devices.map((d) => d.ip).join(', ')}`);
  return device;
}

/** The fields a debug line ('SSDP responder heard' / 'mDNS service instance heard') reports. */
function heard(logs: AgentLogLine[], msg: string, ip: string): Record<string, string | string[]>[] {
  return logs.filter((l) => l.msg === msg && l.ip === ip).map((l) => l.fields as Record<string, string | string[]>);
}

function firstTime(logs: AgentLogLine[], msg: string): number {
  const line = logs.find((l) => l.msg === msg);
  if (!line) throw new Error(`no log line "${msg}"`);
  return line.time;
}

const simLog = (name: string): string => readFileSync(join(LAB_LOG_DIR, `${name}.log`), 'utf8');
const descriptionRequests = (name: string): number => simLog(name).split('\n').filter((l) => l.includes('[ssdp] description GET')).length;

interface SsdpSection {
  server?: string;
  udn?: string;
  location?: { port: number; path: string };
  description?: Record<string, string>;
  hostile?: unknown;
}
interface MdnsSection {
  services?: { name: string; type: string; port: number; txt?: Record<string, string> }[];
  hostile?: unknown;
}
const ssdpOf = (p: LabProfile): SsdpSection | undefined => p.ssdp as SsdpSection | undefined;
const mdnsOf = (p: LabProfile): MdnsSection | undefined => p.mdns as MdnsSection | undefined;
const speaksSsdp = (): LabProfile[] => labProfiles().filter((p) => ssdpOf(p) && !ssdpOf(p)?.hostile);
const speaksMdns = (): LabProfile[] => labProfiles().filter((p) => mdnsOf(p) && !mdnsOf(p)?.hostile);

describe('SSDP/UPnP and mDNS discovery in the lab', () => {
  let run: ScanRun;
  /** Description requests each SSDP device's simulator logged during this scan. */
  const descriptionGets = new Map<string, number>();
  beforeAll(async () => {
    const before = new Map(speaksSsdp().map((p) => [p.name, descriptionRequests(p.name)]));
    run = await scan('ssdp-mdns');
    for (const p of speaksSsdp()) descriptionGets.set(p.name, descriptionRequests(p.name) - (before.get(p.name) ?? 0));
  });

  it('finds the NAS by SSDP and mDNS, fills its identity, and does not link it', () => {
    const nas = labProfile('nas');
    const device = deviceAt(run.inventory, nas.ip);
    expect(device.mac).toBe(nas.mac);
    expect(device.classification).toMatchObject({ linkedVendor: null, relation: null });
    expect(device.classification.confidence).toBeGreaterThan(0.9);
    expect(device.identity).toMatchObject({ manufacturer: 'Synology', model: 'DS218+', deviceType: 'nas' });
    const rules = device.evidence.map((e) => `${e.source} ${e.rule}`);
    expect(rules).toEqual(
      expect.arrayContaining([
        'ssdp ssdp-server-synology-dsm',
        'ssdp label-synology',
        'ssdp upnp-udn-synology-dsm',
        'mdns label-synology',
        'mdns model-synology',
      ]),
    );
    // The Finder icon in _device-info is recognised as such and says nothing.
    expect(device.evidence.find((e) => e.rule === 'mdns-txt-model-finder-icon')).toMatchObject({ supports: null, confidence: 0 });
    expect(device.services.map((s) => s.port)).toContain(ssdpOf(nas)?.location?.port);
  });

  it('shows SSDP/UPnP evidence for every device that answers SSDP, and mDNS evidence for every one that announces by mDNS', () => {
    expect(speaksSsdp().map((p) => p.name).sort()).toEqual(expect.arrayContaining(['axis', 'hikvision', 'nas']));
    expect(speaksMdns().map((p) => p.name).sort()).toEqual(expect.arrayContaining(['axis', 'nas', 'printer']));
    for (const p of speaksSsdp()) {
      expect(deviceAt(run.inventory, p.ip).evidence.some((e) => e.source === 'ssdp'), p.name).toBe(true);
    }
    for (const p of speaksMdns()) {
      expect(deviceAt(run.inventory, p.ip).evidence.some((e) => e.source === 'mdns'), p.name).toBe(true);
    }
    const axis = deviceAt(run.inventory, labProfile('axis').ip);
    expect(axis.evidence.filter((e) => e.source === 'ssdp' || e.source === 'mdns').every((e) => e.supports === 'axis')).toBe(true);
    expect(axis.classification.linkedVendor).toBeNull();
    const printer = deviceAt(run.inventory, labProfile('printer').ip);
    expect(printer.identity).toMatchObject({ manufacturer: 'HP', model: 'Color LaserJet Pro M478f-9f' });
  });

  it('records what each SSDP responder said, one observation per responder, as its profile gives it', () => {
    expect(run.logs.filter((l) => l.msg === 'SSDP responder heard').map((l) => l.ip)).toEqual(
      expect.arrayContaining([...speaksSsdp().map((p) => p.ip), labProfile('hostmc').ip]),
    );
    for (const p of speaksSsdp()) {
      const cfg = ssdpOf(p)!;
      const said = heard(run.logs, 'SSDP responder heard', p.ip);
      expect(said, p.name).toHaveLength(1);
      expect(said[0]).toMatchObject({
        'ssdp.server': [cfg.server],
        'ssdp.location': [`http://${p.ip}:${cfg.location!.port}${cfg.location!.path}`],
      });
      // ssdp:all answers carry the root device, the UDN and the device type (UDA 1.1 §1.3.3).
      expect(said[0]!['ssdp.usn']).toEqual(expect.arrayContaining([cfg.udn, `${cfg.udn}::upnp:rootdevice`]));
      expect(said[0]!['ssdp.st']).toEqual(expect.arrayContaining(['upnp:rootdevice', cfg.udn]));
    }
  });

  it('records each mDNS service instance at its address with its TXT keys, over IPv6 too at its link-local address', () => {
    expect(speaksMdns().filter((p) => p.ipv6).map((p) => p.name)).toEqual(expect.arrayContaining(['axis', 'nas']));
    for (const p of speaksMdns()) {
      // A device with IPv6 answers on [FF02::FB]:5353 from its link-local address, with that address's AAAA record.
      const addresses = [p.ip, ...(p.ipv6 ? [`${eui64LinkLocal(p.mac)}%${SCANNER_IFACE}`] : [])];
      for (const ip of addresses) {
        const said = heard(run.logs, 'mDNS service instance heard', ip);
        for (const service of mdnsOf(p)!.services!) {
          const instance = said.find((f) => f['mdns.type'] === service.type && f['mdns.name'] === service.name);
          expect(instance, `${p.name} ${service.type} at ${ip}`).toBeDefined();
          expect(instance!['mdns.port']).toBe(String(service.port));
          expect(instance!['mdns.answeredBy'], `${p.name} at ${ip}: answered by its own address`).toBeUndefined();
          for (const [key, value] of Object.entries(service.txt ?? {})) expect(instance![`mdns.txt.${key.toLowerCase()}`], `${p.name} ${key}`).toBe(value);
        }
      }
    }
    // No instance is listed at an IPv6 address of a device that speaks mDNS over IPv4 only.
    const ipv4Only = speaksMdns().filter((p) => !p.ipv6).map((p) => `${eui64LinkLocal(p.mac)}%${SCANNER_IFACE}`);
    expect(run.logs.filter((l) => l.msg === 'mDNS service instance heard' && ipv4Only.includes(String(l.ip)))).toEqual([]);
  });

  it('hears the SSDP announcements (NOTIFY ssdp:alive) of the devices with IPv6 on [FF02::C]:1900', () => {
    const announcing = speaksSsdp().filter((p) => p.ipv6 && (p.ssdp as { notifyIntervalMs?: number }).notifyIntervalMs);
    expect(announcing.map((p) => p.name)).toEqual(expect.arrayContaining(['axis', 'nas']));
    const heardFrom = run.logs.filter((l) => l.msg === 'SSDP announcement (NOTIFY ssdp:alive) heard over IPv6').map((l) => l.from);
    for (const p of announcing) expect(heardFrom, p.name).toContain(`${eui64LinkLocal(p.mac)}%${SCANNER_IFACE}`);
    // What they announced is recorded at that address like an answer (one observation per responder).
    for (const p of announcing) {
      const said = heard(run.logs, 'SSDP responder heard', `${eui64LinkLocal(p.mac)}%${SCANNER_IFACE}`);
      expect(said, p.name).toHaveLength(1);
      expect(said[0]!['ssdp.usn'], p.name).toEqual(expect.arrayContaining([`${ssdpOf(p)!.udn}::upnp:rootdevice`]));
    }
  });

  it('fetches each description from the announcing device itself, and nothing from another host', () => {
    // (The tarpit's description cannot be fetched: no TCP answer ever leaves it.)
    for (const p of speaksSsdp().filter((x) => x['dropTcp'] === undefined)) {
      expect(descriptionGets.get(p.name), p.name).toBe(1);
      expect(simLog(p.name)).toMatch(new RegExp(`description GET ${ssdpOf(p)!.location!.path.replace(/[.+]/g, '\\$&')} from ${SCANNER_IP.replace(/\./g, '\\.')}`));
    }
    // hostmc's LOCATIONs name the hikvision device (also disguised as an integer, and behind a
    // redirect): no simulator, hikvision's least of all, saw a request for them.
    for (const p of labProfiles()) expect(simLog(p.name), p.name).not.toContain('hostmc-trap');
    const refused = run.logs.filter((l) => l.msg.startsWith('SSDP LOCATION is not an http(s) URL on the announcing device itself')).map((l) => l.location);
    expect(refused).toEqual(
      expect.arrayContaining([
        'http://198.18.0.10/hostmc-trap/desc.xml',
        'http://198.18.0.10/hostmc-trap/notify.xml',
        'http://3323068426/hostmc-trap/integer.xml',
        'file:///etc/passwd',
        `http://admin:admin@${labProfile('hostmc').ip}:49152/hostmc-trap/credentials.xml`,
      ]),
    );
  });

  it('survives the hostile SSDP device: garbage dropped, NOTIFY heard, bad descriptions refused within their caps', () => {
    const hostmc = labProfile('hostmc');
    const device = deviceAt(run.inventory, hostmc.ip);
    expect(device.mac).toBe(hostmc.mac);
    expect(device.classification.linkedVendor).toBeNull();
    expect(device.identity).toMatchObject({ manufacturer: null, model: null, serial: null });
    const said = heard(run.logs, 'SSDP responder heard', hostmc.ip)[0]!;
    // Its upnp:rootdevice USN is only ever sent in its NOTIFY announcements.
    expect(said['ssdp.usn']).toContain('uuid:6f3e3c39-0000-4000-8000-020000000249::upnp:rootdevice');
    for (const values of Object.values(said)) for (const v of values as string[]) expect(v.length).toBeLessThanOrEqual(512);
    expect(run.logs.find((l) => l.msg === 'SSDP finished')?.malformed).toBeGreaterThan(0);
    const refusedUrls = run.logs.filter((l) => l.msg.startsWith('UPnP description refused')).map((l) => l.url);
    expect(refusedUrls).toEqual(
      expect.arrayContaining([`http://${hostmc.ip}:49152/entities.xml`, `http://${hostmc.ip}:49152/endless.xml`, `http://${hostmc.ip}:49152/redirect.xml`]),
    );
    const drip = run.logs.find((l) => l.msg === 'UPnP description not fetched' && l.url === `http://${hostmc.ip}:49152/drip.xml`);
    expect(drip?.status).toBe('timeout');
    // All descriptions together cost at most one request timeout (3 s), however the device misbehaves:
    // the last to fail ends within it. (The probe itself ends only once the window has closed, and
    // it starts while the window is open, as LOCATIONs are heard.)
    const failed = run.logs.filter((l) => /^UPnP description (not fetched|refused)/.test(l.msg)).map((l) => l.time);
    expect(Math.max(...failed) - firstTime(run.logs, 'UPnP descriptions started')).toBeLessThan(3000 + 1500);
  });

  it('survives the hostile mDNS device: malformed packets dropped, TXT bounded, addresses off the subnet ignored', () => {
    const hostmc = labProfile('hostmc');
    const instances = heard(run.logs, 'mDNS service instance heard', hostmc.ip);
    const web = instances.find((f) => f['mdns.name'] === 'hostmc web')!;
    expect(web).toBeDefined();
    const txtKeys = Object.keys(web).filter((k) => k.startsWith('mdns.txt.'));
    expect(txtKeys.length).toBeLessThanOrEqual(MAX_TXT_KEYS);
    expect(web).toMatchObject({
      'mdns.txt.vendor': 'First', // RFC 6763 §6.4: only the first of a repeated key counts, whatever its case
      'mdns.txt.bool': '', // a key without '=' is a boolean attribute
      'mdns.txt.ctl': 'abc', // control characters removed
      'mdns.txt.k00': '0',
    });
    expect((web['mdns.txt.long'] as string).length).toBe(250);
    expect(txtKeys).not.toContain('mdns.txt.dotted.key');
    expect(txtKeys).not.toContain('mdns.txt.k39');
    // Its only A record is off the subnet: the instance is kept at the address that sent it.
    expect(instances.find((f) => f['mdns.name'] === 'hostmc stream')).toMatchObject({ 'mdns.type': '_rtsp._tcp', 'mdns.port': '554' });
    expect(run.logs.some((l) => l.msg === 'mDNS service instance heard' && l.ip === '10.20.30.40')).toBe(false);
    expect(run.inventory.devices.map((d) => d.ip)).not.toContain('10.20.30.40');
    expect(run.logs.find((l) => l.msg === 'malformed mDNS packets were dropped')?.malformed).toBeGreaterThan(0);
  });

  it('keeps SSDP and mDNS within the discovery window', () => {
    const started = firstTime(run.logs, 'scan started');
    expect(firstTime(run.logs, 'SSDP finished') - started).toBeLessThan(WINDOW_SECONDS * 1000 + 1000);
    expect(firstTime(run.logs, 'mDNS finished') - started).toBeLessThan(WINDOW_SECONDS * 1000 + 1000);
    expect(run.inventory.scan.methods).toEqual(expect.arrayContaining(['ssdp', 'mdns-dns-sd', 'upnp-description']));
  });

  it('with --no-active still listens, but fetches no description', async () => {
    const before = new Map(speaksSsdp().map((p) => [p.name, descriptionRequests(p.name)]));
    const passive = await scan('ssdp-mdns-passive', ['--no-active']);
    for (const p of speaksSsdp()) expect(descriptionRequests(p.name), p.name).toBe(before.get(p.name));
    expect(passive.inventory.scan.methods).not.toContain('upnp-description');
    const nas = deviceAt(passive.inventory, labProfile('nas').ip);
    expect(nas.evidence.map((e) => e.rule)).toEqual(expect.arrayContaining(['ssdp-server-synology-dsm', 'label-synology']));
    expect(nas.evidence.some((e) => e.detail.startsWith('upnp.'))).toBe(false);
    expect(nas.classification.linkedVendor).toBeNull();
    // Issue 14: with no unicast at all, the NAS (no WS-Discovery) is found over IPv6 by mDNS and SSDP, one device.
    expect(nas.addressDetails).toContainEqual({ family: 'ipv6', address: eui64LinkLocal(labProfile('nas').mac), scope: 'link-local', zone: SCANNER_IFACE });
    expect(passive.logs.some((l) => l.msg === 'mDNS service instance heard' && l.ip === `${eui64LinkLocal(labProfile('nas').mac)}%${SCANNER_IFACE}`)).toBe(true);
  });
});
