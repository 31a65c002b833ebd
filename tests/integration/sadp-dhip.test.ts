/**
 * Hikvision SADP, Dahua DHIP and link-level-only hosts, end to end in the lab (issue 3).
 *
 * 1. The simulators answer as the captured devices do, checked by an independent client (its own
 *    dgram code and parsing, run in cctvlab-scan), and the hostile device really misbehaves.
 * 2. A default `cctv-agent scan 198.18.0.0/24 --json` reports, without credentials, each SADP and
 *    DHIP device's model, serial, firmware and MAC with sadp/dhip evidence and the right verdict;
 *    the host that answers nothing with its OUI evidence only; and the hostile device as nothing
 *    more than what its valid WS-Discovery answer says, at no cost beyond the window.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Device, Inventory } from '../../agent/types.js';
import { SHARED_WINDOW_SECONDS, sharedScan, sharedScanLog } from './shared-scan.js';
import { LAB_LOG_DIR, deviceOfProfile, labDevices, labProfile, labProfiles, runInNamespace, runInScanner, SCANNER_IP, SCANNER_NS, type LabProfile } from './lab-helpers.js';

const WINDOW_SECONDS = SHARED_WINDOW_SECONDS;
const storeDir = mkdtempSync(join(tmpdir(), 'cctv-sadp-dhip-test-'));
afterAll(() => rmSync(storeDir, { recursive: true, force: true }));

const SADP = { group: '239.255.255.250', port: 37020 };
const DHIP = { group: '239.255.255.251', port: 37810 };
const HOSTILE = 'hostudp';

// ---- the profiles' sections (typed here, independently of the simulator's code) ----
type ProbeMatchElements = Record<string, string>;
interface DeviceInfo {
  DeviceType: string;
  SerialNo: string;
  Version: string;
  DeviceClass: string;
  [key: string]: unknown;
}
const probeMatchOf = (p: LabProfile): ProbeMatchElements | undefined => (p.sadp as { probeMatch: ProbeMatchElements } | undefined)?.probeMatch;
const deviceInfoOf = (p: LabProfile): DeviceInfo | undefined => (p.dhip as { deviceInfo: DeviceInfo } | undefined)?.deviceInfo;
const sadpProfiles = (): LabProfile[] => labProfiles().filter((p) => probeMatchOf(p));
const dhipProfiles = (): LabProfile[] => labProfiles().filter((p) => deviceInfoOf(p));
/** The firmware ONVIF gives without credentials, when it does. */
const openOnvifFirmware = (p: LabProfile): string | undefined =>
  p.onvif?.publicOperations.includes('GetDeviceInformation') ? p.onvif.deviceInformation.firmwareVersion : undefined;

// ---- an independent client: one request, every reply for a while, from 198.18.0.1 ----
interface RawReply {
  from: string;
  port: number;
  bytes: Buffer;
}

const CLIENT = `
const dgram = require('node:dgram');
const [request, group, port, timeoutMs] = JSON.parse(process.argv[1]);
const socket = dgram.createSocket('udp4');
const replies = [];
socket.on('message', (m, r) => replies.push({ from: r.address, port: r.port, b64: m.toString('base64') }));
socket.bind(0, '${SCANNER_IP}', () => {
  socket.setMulticastInterface('${SCANNER_IP}');
  socket.setMulticastTTL(1);
  socket.send(Buffer.from(request, 'base64'), port, group);
  setTimeout(() => { socket.close(); process.stdout.write(JSON.stringify(replies)); }, timeoutMs);
});
`;

async function ask(request: Buffer, to: { group: string; port: number }): Promise<RawReply[]> {
  const run = await runInNamespace(SCANNER_NS, [process.execPath, '-e', CLIENT, JSON.stringify([request.toString('base64'), to.group, to.port, 1500])]);
  expect(run.code, run.stderr).toBe(0);
  return (JSON.parse(run.stdout) as Array<{ from: string; port: number; b64: string }>).map((r) => ({ from: r.from, port: r.port, bytes: Buffer.from(r.b64, 'base64') }));
}

/** The inquiry as hikvision-tooling `internal/sadp/commands.go` writes it. */
const inquiry = (uuid: string, types = 'inquiry'): Buffer =>
  Buffer.from(`<?xml version="1.0" encoding="utf-8"?><Probe><Uuid>${uuid}</Uuid><Types>${types}</Types></Probe>`, 'utf8');

/** DHDiscover.search framed as mcw0/DahuaConsole `net.py` does (header length, magic, both lengths). */
function dhipSearch(): Buffer {
  const body = Buffer.from(JSON.stringify({ method: 'DHDiscover.search', params: { mac: '', uni: 1 } }), 'utf8');
  const header = Buffer.alloc(32);
  header.writeUInt32LE(0x20, 0);
  header.write('DHIP', 4, 'latin1');
  header.writeUInt32LE(body.length, 0x10);
  header.writeUInt32LE(body.length, 0x18);
  return Buffer.concat([header, body]);
}

/** Elements of a ProbeMatch as the UniversalScanner selftest lays it out; null unless it is one. */
function probeMatchElements(bytes: Buffer): Record<string, string> | null {
  const text = bytes.toString('utf8');
  if (!/^<\?xml version="1\.0" encoding="UTF-8"\?>\n<ProbeMatch>[\s\S]*<\/ProbeMatch>\n$/.test(text)) return null;
  return Object.fromEntries([...text.matchAll(/<(\w+)>([^<]*)<\/\1>/g)].map((m) => [m[1], m[2]]));
}

/** Removes the scanner's neighbour entry for a device (the lab's scanner namespace only). */
async function forgetNeighbour(profile: LabProfile): Promise<void> {
  // Exit status 2 = there was no entry: nothing to forget.
  const run = await runInNamespace(SCANNER_NS, ['ip', 'neigh', 'del', profile.ip, 'dev', 'eth0']);
  expect([0, 2], run.stderr).toContain(run.code);
}

describe('the SADP and DHIP simulators, seen by an independent client', () => {
  it('every SADP device answers an inquiry once, from port 37020, echoing the Uuid, with its own MAC and address', async () => {
    const uuid = randomUUID().toUpperCase();
    const replies = await ask(inquiry(uuid), SADP);
    for (const profile of sadpProfiles()) {
      // Two devices may answer from one factory-default address: each reply names its own MAC.
      const mine = replies.filter((r) => r.from === profile.ip && probeMatchElements(r.bytes)?.MAC === profile.mac.replaceAll(':', '-'));
      expect(mine, profile.name).toHaveLength(1);
      expect(mine[0]?.port).toBe(37020);
      const elements = probeMatchElements(mine[0]!.bytes);
      expect(elements, profile.name).not.toBeNull();
      expect(elements).toMatchObject({
        ...probeMatchOf(profile),
        Uuid: uuid,
        Types: 'inquiry',
        MAC: profile.mac.replaceAll(':', '-'),
        IPv4Address: profile.ip,
      });
    }
    const answering = new Set(replies.map((r) => r.from));
    for (const p of labProfiles().filter((x) => !probeMatchOf(x) && x.name !== HOSTILE)) expect(answering.has(p.ip), p.name).toBe(false);
  });

  it('a SADP device answers nothing but an inquiry (it never acts on another probe type)', async () => {
    const logFile = join(LAB_LOG_DIR, 'hiknvr.log');
    const before = readFileSync(logFile, 'utf8').length;
    const replies = await ask(inquiry(randomUUID().toUpperCase(), 'lab-unknown-type'), SADP);
    expect(replies.filter((r) => r.from !== labProfile(HOSTILE).ip)).toEqual([]);
    expect(readFileSync(logFile, 'utf8').slice(before)).toMatch(/ignored probe type "lab-unknown-type"/);
  });

  it('every DHIP device answers DHDiscover.search once, from port 37810, with a well-framed client.notifyDevInfo', async () => {
    const replies = await ask(dhipSearch(), DHIP);
    for (const profile of dhipProfiles()) {
      const mine = replies.filter((r) => r.from === profile.ip);
      expect(mine, profile.name).toHaveLength(1);
      const { port, bytes } = mine[0]!;
      expect(port).toBe(37810);
      expect(bytes.readUInt32LE(0)).toBe(0x20);
      expect(bytes.toString('latin1', 4, 8)).toBe('DHIP');
      expect(bytes.readUInt32LE(0x10)).toBe(bytes.length - 32);
      expect(bytes.readUInt32LE(0x18)).toBe(bytes.length - 32);
      // The Haicam capture's tail: the JSON, then \n and NUL.
      expect(bytes.subarray(-2)).toEqual(Buffer.from([0x0a, 0x00]));
      const json = JSON.parse(bytes.toString('utf8', 32, bytes.length - 2)) as { mac: string; method: string; params: { deviceInfo: DeviceInfo } };
      expect(json.method).toBe('client.notifyDevInfo');
      expect(json.mac).toBe(profile.mac);
      expect(json.params.deviceInfo).toEqual(deviceInfoOf(profile));
    }
  });

  it('the hostile device answers with garbage from the service ports and valid-looking replies only from another port', async () => {
    const hostile = labProfile(HOSTILE);
    const sadp = (await ask(inquiry(randomUUID().toUpperCase()), SADP)).filter((r) => r.from === hostile.ip);
    const dhip = (await ask(dhipSearch(), DHIP)).filter((r) => r.from === hostile.ip);
    for (const [replies, port] of [
      [sadp, 37020],
      [dhip, 37810],
    ] as const) {
      const fromService = replies.filter((r) => r.port === port);
      const fromElsewhere = replies.filter((r) => r.port !== port);
      expect(fromService.length).toBeGreaterThanOrEqual(7);
      expect(fromElsewhere).toHaveLength(3);
      // the three copies are identical: duplicates
      expect(new Set(fromElsewhere.map((r) => r.bytes.toString('base64'))).size).toBe(1);
    }
    expect(sadp.some((r) => r.bytes.length > 16 * 1024)).toBe(true);
    expect(dhip.some((r) => r.bytes.length > 32 && r.bytes.readUInt32LE(0x10) !== r.bytes.length - 32)).toBe(true);
  });
});

describe('cctv-agent scan: SADP, DHIP and link-level-only hosts', () => {
  let inventory: Inventory;
  let stderr: string;

  beforeAll(() => {
    // The lab's shared default scan (shared-scan.ts): the scanner met the host that answers
    // nothing for the first time in it (global-setup.ts forgets its neighbour entry first).
    const shared = sharedScan();
    inventory = shared.inventory;
    stderr = shared.stderr;
  });

  const deviceAt = (profile: LabProfile): Device => deviceOfProfile(inventory, profile);
  /** The agent's pino lines (stderr may also carry a Node warning, which is not this test's business). */
  const logLines = (module: string): Array<Record<string, unknown>> =>
    stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.module === module);
  const loggedAt = (module: string, msg: string): number => {
    const line = logLines(module).find((l) => l.msg === msg);
    if (typeof line?.time !== 'number') throw new Error(`no "${msg}" line from ${module}`);
    return line.time;
  };

  it('lists SADP and DHIP among the methods; the hostile device costs no time beyond the discovery window', () => {
    expect(inventory.scan.methods).toEqual(expect.arrayContaining(['sadp', 'dhip']));
    const started = loggedAt('scan', 'scan started');
    // Once the listen phase is over, the scan sweeps the hosts heard there but not named
    // (agent/scan.ts): the last connect sweep. Each listener heard the whole window, then stopped
    // before that sweep ended: nothing the hostile device sent kept it listening. (How long the
    // whole scan may take is scan.test.ts's business.)
    const sweeps = logLines('tcp-connect').filter((l) => l.msg === 'TCP connect sweep finished').map((l) => Number(l.time));
    expect(sweeps.length).toBeGreaterThan(0);
    const afterListening = Math.max(...sweeps);
    for (const [module, msg] of [
      ['sadp', 'SADP finished'],
      ['dhip', 'DHIP finished'],
      ['ws-discovery', 'WS-Discovery finished'],
    ]) {
      const finished = loggedAt(module!, msg!);
      expect(finished - started, module).toBeGreaterThanOrEqual(WINDOW_SECONDS * 1000 - 50);
      expect(finished, module).toBeLessThanOrEqual(afterListening);
    }
  });

  it('sends nothing but the SADP inquiry and the DHIP search, and counts each device once although it answers twice', () => {
    for (const p of sadpProfiles()) {
      const log = sharedScanLog(p.name);
      expect(log.match(new RegExp(`inquiry [0-9A-F-]{36} from ${SCANNER_IP.replaceAll('.', '\\.')}:\\d+ -> ProbeMatch`, 'g')), p.name).toHaveLength(2);
      expect(log, p.name).not.toMatch(/ignored/);
    }
    for (const p of dhipProfiles()) {
      const log = sharedScanLog(p.name);
      expect(log.match(/DHDiscover\.search from 198\.18\.0\.1:\d+ -> client\.notifyDevInfo/g), p.name).toHaveLength(2);
      expect(log, p.name).not.toMatch(/ignored/);
    }
    expect(logLines('sadp').find((l) => l.msg === 'SADP finished')?.devices).toBe(sadpProfiles().length);
    expect(logLines('dhip').find((l) => l.msg === 'DHIP finished')?.devices).toBe(dhipProfiles().length);
  });

  it('reports each SADP device with model, serial, firmware and MAC, without credentials, on sadp evidence', () => {
    for (const profile of sadpProfiles()) {
      const pm = probeMatchOf(profile)!;
      const device = deviceAt(profile);
      expect({ name: profile.name, mac: device.mac, model: device.identity.model, serial: device.identity.serial, firmware: device.identity.firmware }).toEqual({
        name: profile.name,
        mac: profile.mac,
        model: pm.DeviceDescription,
        serial: pm.DeviceSN,
        // ONVIF's spelling when ONVIF gives it openly (fields.yaml priorities), else SADP's.
        firmware: openOnvifFirmware(profile) ?? pm.SoftwareVersion,
      });
      expect(device.evidence, profile.name).toContainEqual(expect.objectContaining({ source: 'sadp', rule: 'sadp-probematch', supports: 'hikvision' }));
    }
    expect(stderr).not.toMatch(/password|lab-[A-Za-z]+-\d+/i);
  });

  it('reports each DHIP device with model, serial, firmware and MAC, without credentials, on dhip evidence', () => {
    for (const profile of dhipProfiles()) {
      const info = deviceInfoOf(profile)!;
      const device = deviceAt(profile);
      expect({ name: profile.name, mac: device.mac, model: device.identity.model, serial: device.identity.serial, firmware: device.identity.firmware }).toEqual({
        name: profile.name,
        mac: profile.mac,
        model: info.DeviceType,
        serial: info.SerialNo,
        firmware: openOnvifFirmware(profile) ?? info.Version,
      });
      expect(device.evidence, profile.name).toContainEqual(expect.objectContaining({ source: 'dhip', rule: 'dhip-notify-dev-info', supports: 'dahua' }));
    }
  });

  it('links OEM, subsidiary and own-brand devices to their maker', () => {
    const verdicts = Object.fromEntries(
      ['amcrest', 'lts', 'ezviz', 'hiknvr', 'dahuanvr'].map((name) => {
        const { classification, identity } = deviceAt(labProfile(name));
        return [name, [classification.linkedVendor, classification.relation, identity.brand]];
      }),
    );
    expect(verdicts).toEqual({
      amcrest: ['dahua', 'oem', 'Amcrest'],
      lts: ['hikvision', 'oem', 'LTS'],
      ezviz: ['hikvision', 'subsidiary', 'EZVIZ'],
      hiknvr: ['hikvision', 'direct', 'Hikvision'],
      dahuanvr: ['dahua', 'direct', 'Dahua'],
    });
    // Amcrest says "Private" in DHIP: the DHIP answer itself still says Dahua firmware.
    expect(deviceAt(labProfile('amcrest')).evidence).toContainEqual(expect.objectContaining({ source: 'dhip', detail: 'dhip.vendor = "Private"', supports: null }));
    expect(deviceAt(labProfile('hiknvr')).identity.deviceType).toBe('recorder');
    expect(deviceAt(labProfile('dahuanvr')).identity.deviceType).toBe('recorder');
  });

  it('reports the host that answers nothing, found through the neighbour table, with OUI evidence only and no link', () => {
    const maconly = labProfile('maconly');
    const device = deviceAt(maconly);
    expect(device.mac).toBe(maconly.mac);
    expect(device.id).toBe(`mac:${maconly.mac}`);
    expect(device.evidence).toEqual([expect.objectContaining({ source: 'oui', supports: 'uniview' })]);
    expect(device.evidence[0]?.detail).toMatch(/Uniview/);
    expect(device.classification).toMatchObject({ linkedVendor: null, relation: null });
    expect(device.identity.manufacturer).toBe('Uniview');
    expect(device.services).toEqual([]);
  });

  it('keeps the hostile device to what its one valid answer says: no SADP/DHIP evidence, no borrowed identity or MAC', () => {
    const hostile = labProfile(HOSTILE);
    const device = deviceAt(hostile);
    expect(device.mac).toBe(hostile.mac);
    expect(device.classification).toMatchObject({ linkedVendor: null, relation: null });
    expect(device.evidence.filter((e) => e.source === 'sadp' || e.source === 'dhip')).toEqual([]);
    expect(device.evidence.filter((e) => e.supports !== null)).toEqual([]);
    expect(device.identity).toMatchObject({ serial: null, firmware: null, model: 'HI3518C' });
    // The MACs its lies claim are nowhere in the inventory.
    const claimed = ['58:50:ed:1f:e3:85', '08:ed:ed:87:42:7a'];
    expect(inventory.devices.filter((d) => claimed.includes(d.mac ?? ''))).toEqual([]);
    // Every guard was exercised: the log names each kind of reply dropped from it.
    const dropped = (module: string): string[] => logLines(module).filter((l) => l.from === hostile.ip && l.level === 40).map((l) => String(l.msg));
    expect(dropped('sadp')).toContain('malformed SADP reply dropped');
    expect(dropped('sadp').some((m) => /^SADP reply dropped: it came from port \d+, not from the SADP port 37020$/.test(m))).toBe(true);
    expect(dropped('dhip')).toContain('malformed DHIP reply dropped');
    expect(dropped('dhip').some((m) => /^DHIP reply dropped: it came from port \d+, not from the DHIP port 37810$/.test(m))).toBe(true);
    expect(dropped('ws-discovery')).toContain('malformed WS-Discovery reply dropped');
  });

  it('still reports every other device as its profile says', () => {
    expect(inventory.devices).toHaveLength(labDevices().length);
    for (const profile of labProfiles()) {
      const { classification } = deviceAt(profile);
      expect([profile.name, classification.linkedVendor, classification.relation]).toEqual([profile.name, profile.truth.linkedVendor, profile.truth.relation]);
    }
  });
});

describe('cctv-agent scan: a link-level-only host the scanner met long ago', () => {
  it('is reported by a short scan of it alone, although the kernel re-checks it only after the window', async () => {
    const maconly = labProfile('maconly');
    // An entry from long ago: STALE, confirmed before this scan. The scan's probe moves it to DELAY,
    // and the kernel asks the host again only 5 s later (delay_first_probe_time), after this scan's
    // 1 s window: the collect phase waits for that check (readSettled), and the port sweep's RSTs
    // say the host is there too.
    await forgetNeighbour(maconly);
    const stale = await runInNamespace(SCANNER_NS, ['ip', 'neigh', 'replace', maconly.ip, 'lladdr', maconly.mac, 'dev', 'eth0', 'nud', 'stale']);
    expect(stale.code, stale.stderr).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const run = await runInScanner(['scan', maconly.ip, '--json', '--site', 'recheck', '--store', storeDir, '--timeout', '1']);
    expect(run.code, run.stderr).toBe(0);
    const inventory = JSON.parse(run.stdout) as Inventory;
    // (Multicast discovery still hears the other devices; only the named TARGET is probed.)
    const device = inventory.devices.find((d) => d.ip === maconly.ip);
    expect([device?.mac, device?.evidence.map((e) => e.supports)]).toEqual([maconly.mac, ['uniview']]);
    expect(run.durationMs).toBeLessThan(20_000);
  });
});
