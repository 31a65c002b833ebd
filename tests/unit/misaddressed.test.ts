/**
 * Misaddressed devices (agent/pipeline/misaddressed.ts): real-shaped SADP and DHIP replies
 * (tests/fixtures) go through the discoverers' own reply handling, the merge and the device record,
 * and the flag is decided from the chosen subnets alone. The lab shows it on the wire
 * (tests/integration/misaddressed.test.ts).
 */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ScanBounds } from '../../agent/discovery/bounds.js';
import { dhip } from '../../agent/discovery/dhip.js';
import { sadp } from '../../agent/discovery/sadp.js';
import type { UdpSearchDiscoverer } from '../../agent/discovery/udp-search.js';
import { linkedVendorNames, loadKnowledge } from '../../agent/knowledge/index.js';
import { buildInventory } from '../../agent/pipeline/assess.js';
import { identityFieldsOf, mergeObservations } from '../../agent/pipeline/merge.js';
import { assessHost, claimedSubnet, maskPrefixLength, misaddressing, probeableObservations } from '../../agent/pipeline/misaddressed.js';
import { diffInventories } from '../../agent/pipeline/changes.js';
import { inventoryCsv } from '../../agent/report/csv.js';
import { inventoryHtml } from '../../agent/report/html.js';
import { summarize } from '../../agent/report/summary.js';
import { inventoryTable } from '../../agent/report/table.js';
import { parseProbeMatches, probeMatchFields } from '../../agent/protocols/wsdiscovery.js';
import { parseTargets } from '../../agent/targets.js';
import { heardHosts } from '../../agent/discovery/probe-hosts.js';
import type { Device, Inventory, Observation } from '../../agent/types.js';
import { inventoryProblems } from '../support/inventory-schema.js';
import { device as fixtureDevice, sampleInventory } from './report-fixture.js';

const knowledge = loadKnowledge();
const fields = identityFieldsOf(knowledge.fields);
const LAB = ['198.18.0.1/24'];
const IFACE = { name: 'eth0', address: '198.18.0.1', cidr: '198.18.0.1/24' };

const fixture = (path: string): Buffer => readFileSync(new URL(`../fixtures/${path}`, import.meta.url));
/** The Haicam capture (IPv4Address 192.168.124.40, mask 255.255.255.0, gateway 192.168.124.1), optionally re-addressed. */
const probeMatch = (edit: (xml: string) => string = (x) => x): Buffer => Buffer.from(edit(fixture('sadp/ds-2cd2385g1-i.probematch.xml').toString('utf8')), 'utf8');
/** The Haicam DHIP capture: 192.168.124.17/255.255.255.0, gateway 192.168.124.1. */
const notifyDevInfo = fixture('dhip/ipc-hdw1431t1-s4.reply.bin');
const withMask = (mask: string) => (xml: string): string => xml.replace('<IPv4SubnetMask>255.255.255.0</IPv4SubnetMask>', `<IPv4SubnetMask>${mask}</IPv4SubnetMask>`);

/** What the discoverer makes of datagrams, as the scan's listen phase records them. */
function heard(discoverer: UdpSearchDiscoverer<'sadp' | 'dhip'>, datagrams: ReadonlyArray<{ bytes: Buffer; from: string }>): Observation[] {
  const emitted: Observation[] = [];
  const log = pino({ level: 'silent' });
  const bounds = new ScanBounds(log);
  const collector = discoverer.collector(log, bounds.keeping((o) => emitted.push(o)), bounds);
  for (const { bytes, from } of datagrams) collector.onDatagram({ bytes, from, port: discoverer === sadp ? 37020 : 37810, iface: IFACE });
  return emitted;
}

function devices(observations: readonly Observation[], subnets = LAB): Device[] {
  return mergeObservations(observations, fields).map((host) => assessHost(knowledge, host, subnets));
}

describe('a SADP or DHIP reply from outside every chosen subnet', () => {
  it('SADP: listed once at the address it claims, flagged with the subnet it needs, its MAC and classification kept', () => {
    const [device, ...others] = devices(heard(sadp, [{ bytes: probeMatch(), from: '192.168.124.40' }]));
    expect(others).toEqual([]);
    expect(device).toMatchObject({
      ip: '192.168.124.40',
      mac: '58:50:ed:1f:e3:85',
      misaddressed: { address: '192.168.124.40', subnet: '192.168.124.0/24', gateway: '192.168.124.1' },
      classification: { linkedVendor: 'hikvision' },
    });
    expect(device?.misaddressed).not.toHaveProperty('heardFrom');
    const inventory = buildInventory({ id: 'x', site: 's', startedAt: '2026-12-05T00:00:00Z', finishedAt: '2026-12-05T00:00:01Z', targets: [], methods: ['sadp'] }, [device!]);
    expect(inventoryProblems(inventory)).toEqual([]);
  });

  it('DHIP: the same, from the Dahua capture', () => {
    const [device] = devices(heard(dhip, [{ bytes: notifyDevInfo, from: '192.168.124.17' }]));
    expect(device).toMatchObject({
      ip: '192.168.124.17',
      mac: '08:ed:ed:87:42:7a',
      misaddressed: { address: '192.168.124.17', subnet: '192.168.124.0/24', gateway: '192.168.124.1' },
      classification: { linkedVendor: 'dahua' },
    });
  });

  it('a reply sent from another foreign address: listed at the address it claims, with where it came from', () => {
    const [device] = devices(heard(sadp, [{ bytes: probeMatch(), from: '169.254.20.7' }]));
    expect(device).toMatchObject({ ip: '192.168.124.40', misaddressed: { address: '192.168.124.40', heardFrom: '169.254.20.7' } });
  });

  it('a /32 is the subnet it needs; a mask of 0, or one that is not contiguous, gives none, yet the device is flagged', () => {
    const flagOf = (mask: string): Device['misaddressed'] => devices(heard(sadp, [{ bytes: probeMatch(withMask(mask)), from: '192.168.124.40' }]))[0]?.misaddressed;
    expect(flagOf('255.255.255.255')).toEqual({ address: '192.168.124.40', subnet: '192.168.124.40/32', gateway: '192.168.124.1' });
    expect(flagOf('0.0.0.0')).toEqual({ address: '192.168.124.40', gateway: '192.168.124.1' });
    expect(flagOf('255.0.255.0')).toEqual({ address: '192.168.124.40', gateway: '192.168.124.1' });
    expect(flagOf('not-a-mask')).toEqual({ address: '192.168.124.40', gateway: '192.168.124.1' });
  });
});

describe('not misaddressed', () => {
  it('a device that claims an address inside a chosen subnet', () => {
    const inside = probeMatch((x) => x.replace('<IPv4Address>192.168.124.40</IPv4Address>', '<IPv4Address>198.18.0.77</IPv4Address>'));
    // Heard from outside (a forged or relayed reply) yet claiming our subnet: no flag, and no claim made true either.
    const [device] = devices(heard(sadp, [{ bytes: inside, from: '192.168.124.40' }]));
    expect(device?.ip).toBe('192.168.124.40');
    expect(device).not.toHaveProperty('misaddressed');
  });

  it('a device heard at an address inside a chosen subnet, whatever it claims (IPv4 reaches it there)', () => {
    const [device] = devices(heard(sadp, [{ bytes: probeMatch(), from: '198.18.0.12' }]));
    expect(device?.ip).toBe('198.18.0.12');
    expect(device).not.toHaveProperty('misaddressed');
  });

  it('the same reply when the chosen interface holds its subnet', () => {
    expect(devices(heard(sadp, [{ bytes: probeMatch(), from: '192.168.124.40' }]), ['192.168.124.1/24'])[0]).not.toHaveProperty('misaddressed');
  });

  it('garbage: no observation, so no device and no flag', () => {
    const junk = [Buffer.from('<ProbeMatch><IPv4Address>192.168.1.64</IPv4Address>'), Buffer.alloc(40, 0xff), Buffer.from('DHIP')];
    expect(heard(sadp, junk.map((bytes) => ({ bytes, from: '192.168.1.64' })))).toEqual([]);
    expect(heard(dhip, junk.map((bytes) => ({ bytes, from: '192.168.1.108' })))).toEqual([]);
  });
});

describe('subnet arithmetic', () => {
  it('maskPrefixLength: contiguous masks only, 0.0.0.0 and garbage give null', () => {
    expect(['255.255.255.0', '255.255.255.255', '255.255.254.0', '128.0.0.0', '255.255.255.252'].map(maskPrefixLength)).toEqual([24, 32, 23, 1, 30]);
    expect(['0.0.0.0', '255.0.255.0', '0.255.255.255', '255.255.255.256', '', '24'].map(maskPrefixLength)).toEqual([null, null, null, null, null, null]);
  });

  it('claimedSubnet: the block the address and mask name', () => {
    expect(claimedSubnet('192.168.1.64', '255.255.255.0')).toBe('192.168.1.0/24');
    expect(claimedSubnet('192.168.1.108', '255.255.0.0')).toBe('192.168.0.0/16');
    expect(claimedSubnet('192.168.1.64', null)).toBeNull();
  });

  it('misaddressing needs a chosen subnet to judge by', () => {
    const [host] = mergeObservations(heard(sadp, [{ bytes: probeMatch(), from: '192.168.124.40' }]), fields);
    expect(misaddressing(host!, [])).toBeNull();
  });
});

describe('probeableObservations: never an address outside every chosen subnet that nobody named', () => {
  const at = '2026-12-05T00:00:00.000Z';
  const seen = (ip: string): Observation => ({ source: 'sadp', ip, at, status: 'ok', fields: {} });

  it('keeps hosts on a chosen subnet, named targets and other families; drops the misaddressed', () => {
    const observations = ['198.18.0.10', '192.168.1.64', '192.168.1.108', '10.9.8.7', 'fe80::1'].map(seen);
    const kept = probeableObservations(observations, LAB, parseTargets(['10.9.8.0/24']));
    expect(kept.map((o) => o.ip)).toEqual(['198.18.0.10', '10.9.8.7', 'fe80::1']);
  });
});

describe('reports count the devices IPv4 cannot reach', () => {
  const names = linkedVendorNames();
  const flagged = (): Inventory => {
    const inventory = sampleInventory();
    inventory.devices.unshift(
      fixtureDevice('192.168.1.64', { mac: '28:57:be:00:01:64', misaddressed: { address: '192.168.1.64', subnet: '192.168.1.0/24', gateway: '192.168.1.1' } }),
      fixtureDevice('192.168.1.108', { mac: '08:ed:ed:00:01:08', misaddressed: { address: '192.168.1.108' } }),
    );
    return inventory;
  };

  it('summary, table, CSV and HTML', () => {
    const inventory = flagged();
    expect(inventoryProblems(inventory)).toEqual([]);
    expect(summarize(inventory, names).misaddressed).toBe(2);
    expect(summarize(sampleInventory(), names).misaddressed).toBe(0);

    const table = inventoryTable(inventory, names);
    expect(table).toContain('2 device(s) on this segment that IPv4 cannot reach');
    expect(table).toContain('192.168.1.64 (needs 192.168.1.0/24)');
    expect(table).toContain('192.168.1.108 (needs 192.168.1.108)');
    expect(inventoryTable(sampleInventory(), names)).not.toContain('IPv4 cannot reach');

    const [header, ...rows] = parse(inventoryCsv(inventory, names), { bom: true, record_delimiter: '\r\n' }) as string[][];
    const column = header!.indexOf('misaddressed');
    expect(rows.map((r) => [r[1], r[column]]).slice(0, 3)).toEqual([
      ['192.168.1.64', 'needs 192.168.1.0/24'],
      ['192.168.1.108', 'needs 192.168.1.108'],
      ['198.18.0.10', ''],
    ]);

    const html = inventoryHtml(inventory, names);
    expect(html).toMatch(/<tr data-count="misaddressed"><th scope="row">On this segment, IPv4 cannot reach<\/th><td>2<\/td><\/tr>/);
    expect(html).toContain('<p class="misaddressed">On this segment, IPv4 cannot reach: needs 192.168.1.0/24, never probed at 192.168.1.64</p>');
  });
});

describe('diff: a device coming into IPv4 reach is an ip-changed event naming the flag', () => {
  it('before flagged, after fixed; and a flag that stays the same raises nothing', () => {
    const first = sampleInventory();
    const camera = fixtureDevice('192.168.1.64', { id: 'mac:28:57:be:00:01:64', mac: '28:57:be:00:01:64', misaddressed: { address: '192.168.1.64', subnet: '192.168.1.0/24' } });
    first.devices.push(camera);
    const second = { ...sampleInventory(), scan: { ...first.scan, id: '20261128T110000Z-abcd', finishedAt: '2026-11-28T11:00:05.000Z' } };
    second.devices.push({ ...camera, ip: '198.18.0.64', misaddressed: undefined });
    delete second.devices.at(-1)!.misaddressed;
    expect(diffInventories(first, second)).toEqual([
      expect.objectContaining({
        type: 'ip-changed',
        deviceId: 'mac:28:57:be:00:01:64',
        changes: [
          { field: 'ip', before: '192.168.1.64', after: '198.18.0.64' },
          { field: 'misaddressed', before: { address: '192.168.1.64', subnet: '192.168.1.0/24' }, after: null },
        ],
      }),
    ]);
    expect(diffInventories(first, { ...first, scan: second.scan })).toEqual([]);
  });
});

describe('a WS-Discovery reply from outside every chosen subnet', () => {
  /** The Hikvision ProbeMatches fixture as the camera would send it from another address. */
  const fromCamera = (address: string): Observation[] => {
    const xml = fixture('wsdiscovery/hikvision-probematches.xml').toString('utf8').replaceAll('198.18.0.10', address);
    const parsed = parseProbeMatches(Buffer.from(xml, 'utf8'));
    return (parsed?.matches ?? []).map((match) => ({ source: 'ws-discovery', ip: address, at: '2026-12-05T00:00:00.000Z', status: 'ok', fields: probeMatchFields(match) }));
  };

  it('is flagged at the address its XAddr names; no mask is given, so no subnet', () => {
    const observations = fromCamera('192.168.1.64');
    expect(observations).toHaveLength(1);
    expect(devices(observations)[0]).toMatchObject({ ip: '192.168.1.64', misaddressed: { address: '192.168.1.64' } });
    expect(devices(observations)[0]?.misaddressed).toEqual({ address: '192.168.1.64' });
  });

  it('is not flagged when its XAddr names an address inside a chosen subnet', () => {
    const claimsLab = fromCamera('192.168.1.64').map((o) => ({ ...o, fields: { ...o.fields, 'onvif.xaddr': ['http://198.18.0.10/onvif/device_service'] } }));
    expect(devices(claimsLab)[0]).not.toHaveProperty('misaddressed');
  });
});

describe('two cameras on one factory-default address (issue 14)', () => {
  /** The Haicam SADP capture as a second unit at 192.168.1.64 would send it: its own MAC and serial, the same claimed address. */
  const atDefault = (mac: string, serial: string) => (xml: string): string =>
    xml
      .replace('<MAC>58-50-ed-1f-e3-85</MAC>', `<MAC>${mac}</MAC>`)
      .replace('DS-2CD2385G1-I20200414AAWRE33842150', serial)
      .replaceAll('192.168.124', '192.168.1')
      .replace('<IPv4Address>192.168.1.40</IPv4Address>', '<IPv4Address>192.168.1.64</IPv4Address>');
  const first = probeMatch(atDefault('58-50-ed-1f-e3-85', 'DS-2CD2385G1-I20200414AAWRE33842150'));
  const second = probeMatch(atDefault('58-50-ed-20-11-07', 'DS-2CD2385G1-I20210622AAWRF10293847'));
  /** The Dahua capture, as a second unit with its own MAC and serial would send it (same length, so the DHIP lengths hold). */
  const secondDahua = Buffer.from(notifyDevInfo.toString('latin1').replace('08:ed:ed:87:42:7a', '08:ed:ed:87:51:0c').replaceAll('6C01E93PAG69A7D', '6C01E93PAG7C21B'), 'latin1');

  it('SADP: two devices, each at the claimed address, flagged, with its own MAC, serial and id', () => {
    const found = devices(heard(sadp, [{ bytes: first, from: '192.168.1.64' }, { bytes: second, from: '192.168.1.64' }, { bytes: first, from: '192.168.1.64' }]));
    expect(found.map((d) => [d.id, d.ip, d.mac, d.identity.serial, d.misaddressed?.subnet])).toEqual([
      ['mac:58:50:ed:1f:e3:85', '192.168.1.64', '58:50:ed:1f:e3:85', 'DS-2CD2385G1-I20200414AAWRE33842150', '192.168.1.0/24'],
      ['mac:58:50:ed:20:11:07', '192.168.1.64', '58:50:ed:20:11:07', 'DS-2CD2385G1-I20210622AAWRF10293847', '192.168.1.0/24'],
    ]);
    expect(found.every((d) => d.addresses === undefined && d.classification.linkedVendor === 'hikvision')).toBe(true);
    const inventory = buildInventory({ id: 'x', site: 's', startedAt: '2026-12-05T00:00:00Z', finishedAt: '2026-12-05T00:00:01Z', targets: [], methods: ['sadp'] }, found);
    expect(inventoryProblems(inventory)).toEqual([]);
  });

  it('the same ids whichever reply came first, and in the next scan', () => {
    const ids = (order: Buffer[]): string[] => devices(heard(sadp, order.map((bytes) => ({ bytes, from: '192.168.1.64' })))).map((d) => d.id);
    expect(ids([second, first])).toEqual(ids([first, second]));
  });

  it('DHIP: two Dahua units left on one static address stay two', () => {
    const found = devices(heard(dhip, [notifyDevInfo, secondDahua].map((bytes) => ({ bytes, from: '192.168.124.17' }))));
    expect(found.map((d) => [d.id, d.identity.serial, d.misaddressed?.address])).toEqual([
      ['mac:08:ed:ed:87:42:7a', '6C01E93PAG69A7D', '192.168.124.17'],
      ['mac:08:ed:ed:87:51:0c', '6C01E93PAG7C21B', '192.168.124.17'],
    ]);
  });

  it("a camera's WS-Discovery reply goes with its SADP reply by the MAC scope it carries", () => {
    const xml = fixture('wsdiscovery/hikvision-probematches.xml').toString('utf8').replaceAll('198.18.0.10', '192.168.1.64').replaceAll('28:57:be:12:34:56', '58:50:ed:20:11:07').replaceAll('DS-2CD2143G2-I', 'DS-2CD2385G1-I');
    const wsd = (parseProbeMatches(Buffer.from(xml, 'utf8'))?.matches ?? []).map(
      (match): Observation => ({ source: 'ws-discovery', ip: '192.168.1.64', at: '2026-12-05T00:00:00.000Z', status: 'ok', fields: probeMatchFields(match) }),
    );
    const found = devices([...wsd, ...heard(sadp, [{ bytes: first, from: '192.168.1.64' }, { bytes: second, from: '192.168.1.64' }])]);
    expect(found.map((d) => [d.mac, d.evidence.some((e) => e.source === 'onvif')])).toEqual([
      ['58:50:ed:1f:e3:85', false],
      ['58:50:ed:20:11:07', true],
    ]);
    // A reply that fits neither (another model) is not given to either: it stays a device of its own.
    const other = wsd.map((o) => ({ ...o, fields: { ...o.fields, 'onvif.scope.mac': [], 'onvif.scope.hardware': ['DS-2CD2143G2-I'], 'onvif.scope.name': [] } }));
    const apart = devices([...other, ...heard(sadp, [{ bytes: first, from: '192.168.1.64' }, { bytes: second, from: '192.168.1.64' }])]);
    expect(apart.map((d) => [d.mac, d.evidence.some((e) => e.source === 'onvif')])).toEqual([
      [null, true],
      ['58:50:ed:1f:e3:85', false],
      ['58:50:ed:20:11:07', false],
    ]);
  });
});

describe('a misaddressed device that announced itself over IPv6 link-local is probed there (issue 14)', () => {
  const at = '2026-12-05T00:00:00.000Z';
  /** hikdefault's WS-Discovery answers: over IPv4 from its factory default, over IPv6 from its link-local address. */
  const xaddrs = ['http://192.168.1.64/onvif/device_service', 'http://[fe80::2a57:beff:fe64:164]/onvif/device_service'];
  const endpoint = 'urn:uuid:3fa1fe68-b915-4053-a3e1-2857be640164';
  const answers: Observation[] = [
    { source: 'sadp', ip: '192.168.1.64', mac: '28:57:be:64:01:64', at, status: 'ok', fields: { 'sadp.mac': '28:57:be:64:01:64', 'sadp.ipv4': '192.168.1.64' } },
    { source: 'ws-discovery', ip: '192.168.1.64', at, status: 'ok', fields: { 'onvif.endpoint': endpoint, 'onvif.xaddr': [xaddrs[0]!] } },
    { source: 'ws-discovery', ip: 'fe80::2a57:beff:fe64:164%eth0', at, status: 'ok', fields: { 'onvif.endpoint': endpoint, 'onvif.xaddr': xaddrs } },
  ];

  it('the link-local address is a host to probe and the claimed IPv4 address is not; the device stays flagged', () => {
    const probeable = probeableObservations(answers, LAB, parseTargets([]));
    expect([...heardHosts(probeable)]).toEqual(['fe80::2a57:beff:fe64:164%eth0']);
    const [device, ...others] = devices(answers);
    expect(others).toEqual([]);
    expect(device).toMatchObject({ ip: '192.168.1.64', addresses: ['192.168.1.64', 'fe80::2a57:beff:fe64:164'], misaddressed: { address: '192.168.1.64' } });
  });
});
