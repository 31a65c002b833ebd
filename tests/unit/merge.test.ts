import { describe, expect, it } from 'vitest';
import { buildDevice, buildInventory } from '../../agent/pipeline/assess.js';
import { identityFieldsOf, macOfEui64LinkLocal, MAX_ADDRESSES_PER_IDENTITY, mergeObservations, type ObservedHost } from '../../agent/pipeline/merge.js';
import { MAX_DEVICES_PER_ADDRESS } from '../../agent/pipeline/address-units.js';
import { loadKnowledge } from '../../agent/knowledge/index.js';
import { intToIpv4, ipv4ToInt } from '../../agent/net/ipv4.js';
import type { Observation } from '../../agent/types.js';
import { inventoryProblems } from '../support/inventory-schema.js';
import { seededRandom } from '../seeded-random.js';

const knowledge = loadKnowledge();
const fields = identityFieldsOf(knowledge.fields);
const merge = (observations: readonly Observation[]): ObservedHost[] => mergeObservations(observations, fields);

const at = '2026-11-28T10:00:00.000Z';
const wsd = (ip: string, endpoint = `urn:uuid:${ip}`): Observation => ({ source: 'ws-discovery', ip, at, status: 'ok', fields: { 'onvif.endpoint': endpoint } });
const neighbour = (ip: string, mac: string, fresh: boolean): Observation => ({
  source: 'neighbour-table', ip, mac, at, status: 'ok', fields: { 'neighbour.fresh': String(fresh), 'neighbour.state': fresh ? 'REACHABLE' : 'STALE' },
});
const claimed = (source: 'sadp' | 'dhip', ip: string, mac: string): Observation => ({ source, ip, mac, at, status: 'ok', fields: { [`${source}.mac`]: mac } });
/** What GetDeviceInformation tells (fields.yaml maps onvif.device.serial and .model to identity keys). */
const deviceInfo = (ip: string, serial: string, model = 'DH-IPC-HDW1230T2'): Observation => ({
  source: 'onvif-device-service', ip, port: 80, at, status: 'ok', fields: { 'onvif.device.serial': serial, 'onvif.device.model': model },
});
const web = (ip: string): Observation => ({ source: 'tcp-connect', ip, port: 80, at, status: 'ok', fields: { 'port.service': 'http' } });

const summary = (hosts: readonly ObservedHost[]) =>
  hosts.map((h) => ({ ip: h.ip, addresses: h.addresses, mac: h.mac, ownMacs: h.ownMacs, sharedMac: h.sharedMac }));

describe('mergeObservations', () => {
  it('joins observations of one IP, takes the MAC from the neighbour table and sorts by address', () => {
    const hosts = merge([wsd('198.18.0.20'), wsd('198.18.0.9'), neighbour('198.18.0.20', '08:ed:ed:00:00:20', true), wsd('198.18.0.100')]);
    expect(hosts.map((h) => [h.ip, h.mac, h.observations.length])).toEqual([
      ['198.18.0.9', null, 1],
      ['198.18.0.20', '08:ed:ed:00:00:20', 2],
      ['198.18.0.100', null, 1],
    ]);
  });

  it('makes a device of a fresh neighbour entry alone, but not of a stale one', () => {
    const hosts = merge([neighbour('198.18.0.50', '3c:d9:2b:00:00:50', true), neighbour('198.18.0.51', '3c:d9:2b:00:00:51', false)]);
    expect(hosts.map((h) => h.ip)).toEqual(['198.18.0.50']);
  });

  it('lets a stale entry lend its MAC to an address heard now', () => {
    const hosts = merge([neighbour('198.18.0.10', '28:57:be:00:00:10', false), wsd('198.18.0.10')]);
    expect(hosts).toHaveLength(1);
    expect(hosts[0]?.mac).toBe('28:57:be:00:00:10');
  });

  it('gives a routed device, which has no neighbour entry, the MAC its SADP or DHIP reply carries', () => {
    const hosts = merge([claimed('sadp', '10.20.0.12', '44:19:b6:7a:08:12'), claimed('dhip', '10.20.0.22', '3c:ef:8c:2a:22:22')]);
    expect(hosts.map((h) => [h.ip, h.mac, h.ownMacs])).toEqual([
      ['10.20.0.12', '44:19:b6:7a:08:12', ['44:19:b6:7a:08:12']],
      ['10.20.0.22', '3c:ef:8c:2a:22:22', ['3c:ef:8c:2a:22:22']],
    ]);
  });

  it('trusts the MAC the link showed over one a reply claims, and a claim over a stale entry', () => {
    // A reply that claims another device's MAC must not fold two devices into one.
    const hosts = merge([
      claimed('sadp', '198.18.0.60', '44:19:b6:7a:08:12'),
      neighbour('198.18.0.60', '02:00:00:00:00:60', true),
      claimed('sadp', '198.18.0.12', '44:19:b6:7a:08:12'),
      neighbour('198.18.0.12', '44:19:b6:7a:08:12', true),
      neighbour('198.18.0.22', '02:00:00:00:00:99', false),
      claimed('dhip', '198.18.0.22', '3c:ef:8c:2a:22:22'),
    ]);
    expect(hosts.map((h) => [h.ip, h.mac, h.observations.length])).toEqual([
      ['198.18.0.12', '44:19:b6:7a:08:12', 2],
      ['198.18.0.22', '3c:ef:8c:2a:22:22', 2],
      ['198.18.0.60', '02:00:00:00:00:60', 2],
    ]);
  });

  it("does not believe a routed reply's claim to a MAC the link shows at another address", () => {
    const hosts = merge([neighbour('198.18.0.12', '44:19:b6:7a:08:12', true), claimed('sadp', '10.20.0.60', '44:19:b6:7a:08:12')]);
    expect(summary(hosts)).toEqual([
      { ip: '10.20.0.60', addresses: ['10.20.0.60'], mac: null, ownMacs: [], sharedMac: null },
      { ip: '198.18.0.12', addresses: ['198.18.0.12'], mac: '44:19:b6:7a:08:12', ownMacs: ['44:19:b6:7a:08:12'], sharedMac: null },
    ]);
  });

  it('makes one device of one camera seen by several protocols at one address', () => {
    const mac = '08:ed:ed:5a:20:20';
    const hosts = merge([wsd('198.18.0.20'), deviceInfo('198.18.0.20', '6C01E93PAG69A7D'), web('198.18.0.20'), neighbour('198.18.0.20', mac, true)]);
    expect(summary(hosts)).toEqual([{ ip: '198.18.0.20', addresses: ['198.18.0.20'], mac, ownMacs: [mac], sharedMac: null }]);
  });

  it('makes one device of two addresses on one NIC that report the same serial', () => {
    const mac = '08:ed:ed:5a:20:20';
    const hosts = merge([
      neighbour('198.18.0.21', mac, true),
      deviceInfo('198.18.0.21', '6C01E93PAG69A7D'),
      neighbour('198.18.0.20', mac, true),
      deviceInfo('198.18.0.20', '6c01e93pag69a7d '),
    ]);
    expect(summary(hosts)).toEqual([{ ip: '198.18.0.20', addresses: ['198.18.0.20', '198.18.0.21'], mac, ownMacs: [mac], sharedMac: null }]);
  });

  it('makes one device of two NICs (two MACs) that announce the same EndpointReference UUID', () => {
    const uuid = 'urn:uuid:a7f3c1d2-41b0-4e8f-8a6c-08eded5a2424';
    const hosts = merge([
      wsd('198.18.0.25', uuid),
      neighbour('198.18.0.25', '08:ed:ed:5a:24:25', true),
      wsd('198.18.0.24', uuid),
      neighbour('198.18.0.24', '08:ed:ed:5a:24:24', true),
      deviceInfo('198.18.0.24', '7G0B2F1PAZ00024'),
    ]);
    expect(summary(hosts)).toEqual([
      { ip: '198.18.0.24', addresses: ['198.18.0.24', '198.18.0.25'], mac: '08:ed:ed:5a:24:24', ownMacs: ['08:ed:ed:5a:24:24', '08:ed:ed:5a:24:25'], sharedMac: null },
    ]);
    expect(hosts[0]?.observations).toHaveLength(5);
  });

  it('keeps addresses behind one MAC that name nothing apart, each recording the MAC as shared', () => {
    const mac = 'c0:56:e3:70:01:00';
    const hosts = merge(['198.18.0.100', '198.18.0.101', '198.18.0.102'].flatMap((ip) => [neighbour(ip, mac, true), web(ip)]));
    expect(summary(hosts)).toEqual(
      ['198.18.0.100', '198.18.0.101', '198.18.0.102'].map((ip) => ({ ip, addresses: [ip], mac, ownMacs: [], sharedMac: { mac, otherAddresses: 2 } })),
    );
  });

  it('keeps addresses behind one MAC whose identities differ apart', () => {
    const mac = '00:00:0c:07:ac:01';
    const hosts = merge([
      neighbour('10.1.0.10', mac, true),
      deviceInfo('10.1.0.10', 'SERIAL-A'),
      neighbour('10.1.0.11', mac, true),
      deviceInfo('10.1.0.11', 'SERIAL-B'),
      neighbour('10.1.0.12', mac, true),
      wsd('10.1.0.12'),
    ]);
    expect(hosts.map((h) => [h.ip, h.sharedMac?.otherAddresses])).toEqual([
      ['10.1.0.10', 2],
      ['10.1.0.11', 2],
      ['10.1.0.12', 2],
    ]);
  });

  it('does not join addresses whose UUID agrees but whose serial or model differs (cloned firmware)', () => {
    const cloned = 'urn:uuid:00000000-0000-1000-8000-000000000001';
    const hosts = merge([
      wsd('10.1.0.20', cloned),
      deviceInfo('10.1.0.20', 'SERIAL-A'),
      wsd('10.1.0.21', cloned),
      deviceInfo('10.1.0.21', 'SERIAL-B'),
      wsd('10.1.0.22', cloned),
      deviceInfo('10.1.0.22', 'SERIAL-C', 'DS-2CD2143G2-I'),
      deviceInfo('10.1.0.23', 'SERIAL-C', 'IPC-HDW1431T1-S4'),
    ]);
    expect(hosts.map((h) => h.addresses)).toEqual([['10.1.0.20'], ['10.1.0.21'], ['10.1.0.22'], ['10.1.0.23']]);
  });

  it('joins addresses whose models differ only in formatting or a vendor prefix (agent/normalise.ts)', () => {
    const hosts = merge([deviceInfo('10.1.1.20', 'SERIAL-D', 'DS-2CD2143G0-I'), deviceInfo('10.1.1.21', 'SERIAL-D', '2cd2143g0_i')]);
    expect(hosts.map((h) => h.addresses)).toEqual([['10.1.1.20', '10.1.1.21']]);
  });

  it('joins nothing on a placeholder serial, nor on one that more addresses carry than one device has', () => {
    const widespread = Array.from({ length: MAX_ADDRESSES_PER_IDENTITY + 1 }, (_, i) => deviceInfo(`10.2.0.${i + 1}`, 'FACTORY-SERIAL'));
    const blank = [deviceInfo('10.3.0.1', '00000000'), deviceInfo('10.3.0.2', '00000000')];
    expect(merge([...widespread, ...blank])).toHaveLength(widespread.length + blank.length);
  });

  it('gives the same devices whatever order the observations come in', () => {
    const observations = [
      ...['10.4.0.1', '10.4.0.2', '10.4.0.3'].map((ip) => neighbour(ip, '02:aa:00:00:00:01', true)),
      wsd('10.4.0.1', 'urn:uuid:cloned'),
      deviceInfo('10.4.0.1', 'SERIAL-A'),
      wsd('10.4.0.2', 'urn:uuid:cloned'),
      deviceInfo('10.4.0.3', 'SERIAL-B'),
      wsd('10.4.0.3', 'urn:uuid:cloned'),
    ];
    const expected = summary(merge(observations));
    const random = seededRandom(10);
    for (let round = 0; round < 20; round++) {
      const shuffled = [...observations].sort(() => random() - 0.5);
      expect(summary(merge(shuffled))).toEqual(expected);
    }
  });

  it('keeps every one of thousands of addresses behind one MAC, and still joins the two-NIC cameras among them', () => {
    // A /19-sized proxy-ARP segment: 6,000 addresses answer ARP with the router's MAC and HTTP on
    // port 80, 3 observations each; among them 500 two-NIC cameras with their own MACs.
    const router = '00:00:0c:9f:f0:01';
    const base = ipv4ToInt('10.64.0.0');
    const observations: Observation[] = [];
    for (let i = 1; i <= 6000; i++) {
      const ip = intToIpv4(base + i);
      observations.push(neighbour(ip, router, true), web(ip), { ...web(ip), port: 443 });
    }
    const cameraBase = ipv4ToInt('10.72.0.0');
    for (let c = 0; c < 500; c++) {
      const serial = `CAM${String(c).padStart(6, '0')}`;
      for (const nic of [0, 1]) {
        const ip = intToIpv4(cameraBase + 2 * c + nic + 1);
        const mac = `02:bb:00:0${nic}:${(c >> 8).toString(16).padStart(2, '0')}:${(c & 0xff).toString(16).padStart(2, '0')}`;
        observations.push(neighbour(ip, mac, true), deviceInfo(ip, serial), wsd(ip, `urn:uuid:camera-${c}`));
      }
    }
    const hosts = merge(observations);
    const segment = hosts.filter((h) => h.sharedMac !== null);
    const cameras = hosts.filter((h) => h.sharedMac === null);
    expect(hosts).toHaveLength(6000 + 500);
    expect(segment.every((h) => h.addresses.length === 1 && h.mac === router && h.ownMacs.length === 0 && h.sharedMac?.otherAddresses === 5999)).toBe(true);
    expect(new Set(segment.map((h) => h.ip)).size).toBe(6000);
    expect(cameras.every((h) => h.addresses.length === 2 && h.ownMacs.length === 2 && h.observations.length === 6)).toBe(true);
  });
});

describe('devices built from merged hosts', () => {
  const build = (observations: readonly Observation[]) => merge(observations).map((host) => buildDevice(knowledge, host));

  it('flags a shared MAC, takes no maker from its OUI and ids each device by serial, else address', () => {
    // c0:56:e3 is a Hikvision block (IEEE registry, tests/lab/README.md): were the shared MAC used,
    // every host of the segment would be linked to Hikvision.
    const mac = 'c0:56:e3:70:01:00';
    const devices = build([neighbour('198.18.0.100', mac, true), web('198.18.0.100'), neighbour('198.18.0.101', mac, true), deviceInfo('198.18.0.101', 'NAS-0001', 'DS216+II')]);
    expect(devices.map((d) => [d.id, d.mac, d.macShared, d.classification.linkedVendor])).toEqual([
      ['ip:198.18.0.100', mac, true, null],
      ['serial:NAS-0001', mac, true, null],
    ]);
    for (const device of devices) {
      expect(device.evidence[0]).toEqual({
        source: 'oui',
        detail: `address shares its MAC ${mac} with 1 other: a router or proxy-ARP segment; MAC is not this device's`,
        supports: null,
        rule: 'mac-shared',
        confidence: 0,
      });
      expect(device.evidence.filter((e) => e.rule === 'oui-registry')).toEqual([]);
    }
  });

  it('ids a two-NIC camera by its lowest MAC and lists both addresses and both MACs', () => {
    const uuid = 'urn:uuid:a7f3c1d2-41b0-4e8f-8a6c-08eded5a2424';
    const [device, ...rest] = build([
      wsd('198.18.0.25', uuid),
      neighbour('198.18.0.25', '08:ed:ed:5a:24:25', true),
      wsd('198.18.0.24', uuid),
      neighbour('198.18.0.24', '08:ed:ed:5a:24:24', true),
    ]);
    expect(rest).toEqual([]);
    expect(device).toMatchObject({
      id: 'mac:08:ed:ed:5a:24:24',
      ip: '198.18.0.24',
      mac: '08:ed:ed:5a:24:24',
      addresses: ['198.18.0.24', '198.18.0.25'],
      macs: ['08:ed:ed:5a:24:24', '08:ed:ed:5a:24:25'],
      classification: { linkedVendor: 'dahua', relation: 'direct' },
    });
    expect(device?.macShared).toBeUndefined();
  });

  it('ids by its own MAC a device one of whose addresses sits behind a shared MAC, and says so in its evidence', () => {
    const router = '00:00:0c:07:ac:01';
    const [camera, host] = build([
      neighbour('198.18.0.20', '08:ed:ed:5a:20:20', true),
      deviceInfo('198.18.0.20', '6C01E93PAG69A7D'),
      neighbour('198.18.0.120', router, true),
      deviceInfo('198.18.0.120', '6C01E93PAG69A7D'),
      neighbour('198.18.0.121', router, true),
      web('198.18.0.121'),
    ]);
    expect([camera?.id, camera?.mac, camera?.addresses, camera?.macShared]).toEqual(['mac:08:ed:ed:5a:20:20', '08:ed:ed:5a:20:20', ['198.18.0.20', '198.18.0.120'], undefined]);
    expect(camera?.evidence.map((e) => e.rule).slice(0, 2)).toEqual(['mac-shared', 'oui-registry']);
    expect([host?.id, host?.mac, host?.macShared]).toEqual(['ip:198.18.0.121', router, true]);
  });

  it('keeps the id and shape of a device with one address and its own MAC', () => {
    const [device] = build([neighbour('198.18.0.20', '08:ed:ed:5a:20:20', true), deviceInfo('198.18.0.20', '6C01E93PAG69A7D')]);
    expect(device?.id).toBe('mac:08:ed:ed:5a:20:20');
    expect(Object.keys(device ?? {})).not.toEqual(expect.arrayContaining(['addresses']));
    expect(device).not.toHaveProperty('macs');
    expect(device).not.toHaveProperty('macShared');
  });

  it('tells apart by address devices that report one placeholder serial, in a schema-valid document', () => {
    const widespread = Array.from({ length: MAX_ADDRESSES_PER_IDENTITY + 1 }, (_, i) => deviceInfo(`10.2.0.${i + 1}`, 'FACTORY-SERIAL'));
    const mac = 'c0:56:e3:70:01:00';
    const segment = ['10.2.0.101', '10.2.0.102'].flatMap((ip) => [neighbour(ip, mac, true), web(ip)]);
    const scan = { id: '20261128T100000Z-abcdef', site: 'lab', startedAt: at, finishedAt: at, targets: [], methods: [] };
    const inventory = buildInventory(scan, build([...widespread, ...segment]));
    expect(inventoryProblems(inventory)).toEqual([]);
    expect(inventory.devices.map((d) => d.id)).toEqual([...widespread.map((o) => `ip:${o.ip}`), 'ip:10.2.0.101', 'ip:10.2.0.102']);
  });
});

describe('mergeObservations across address families (issue 14)', () => {
  const camera = '28:57:be:6a:1c:10';
  const linkLocal = 'fe80::2a57:beff:fe6a:1c10%eth0';

  it('joins a dual-stack camera by its MAC: one device, IPv4 first, every address', () => {
    const hosts = merge([wsd('198.18.0.10', 'urn:uuid:a'), neighbour('198.18.0.10', camera, true), neighbour(linkLocal, camera, false), web(linkLocal)]);
    expect(summary(hosts)).toEqual([{ ip: '198.18.0.10', addresses: ['198.18.0.10', linkLocal], mac: camera, ownMacs: [camera], sharedMac: null }]);
  });

  it('joins the same camera by its EndpointReference UUID with no MAC at all', () => {
    expect(merge([wsd('198.18.0.10', 'urn:uuid:a'), wsd(linkLocal, 'urn:uuid:a')]).map((h) => h.addresses)).toEqual([['198.18.0.10', linkLocal]]);
  });

  it("joins an IPv6-only camera's link-local and unique-local addresses, reported at the unique-local one", () => {
    const mac = '28:57:be:6a:1c:90';
    const hosts = merge([wsd('fe80::2a57:beff:fe6a:1c90%eth0'), neighbour('fe80::2a57:beff:fe6a:1c90%eth0', mac, false), neighbour('fdcc:7a6e:1ab::90', mac, true)]);
    expect(summary(hosts)).toEqual([{ ip: 'fdcc:7a6e:1ab::90', addresses: ['fdcc:7a6e:1ab::90', 'fe80::2a57:beff:fe6a:1c90%eth0'], mac, ownMacs: [mac], sharedMac: null }]);
  });

  it('reads the MAC of an EUI-64 link-local address when no table holds it, so the id stays the MAC', () => {
    expect(macOfEui64LinkLocal('fe80::2a57:beff:fe6a:1c90%eth0')).toBe('28:57:be:6a:1c:90');
    expect(macOfEui64LinkLocal('fe80::aecc:8eff:fe12:3456')).toBe('ac:cc:8e:12:34:56');
    // Stable-privacy (RFC 7217) and other identifiers name no MAC.
    for (const ip of ['fe80::1c3d:9a2b:4e5f:6071%eth0', 'fdcc:7a6e:1ab::90', '198.18.0.10', 'fe80::ff:fe00:1']) expect(macOfEui64LinkLocal(ip), ip).toBeNull();
    const [alone] = merge([wsd('fe80::2a57:beff:fe6a:1c90%eth0')]);
    expect([alone?.mac, alone && buildDevice(knowledge, alone).id]).toEqual(['28:57:be:6a:1c:90', 'mac:28:57:be:6a:1c:90']);
    // What the link shows wins over what the address says.
    expect(merge([wsd('fe80::2a57:beff:fe6a:1c90%eth0'), neighbour('fe80::2a57:beff:fe6a:1c90%eth0', '02:00:00:00:00:99', true)])[0]?.mac).toBe('02:00:00:00:00:99');
  });

  it('never joins by a MAC that fronts several IPv4 addresses (a proxy-ARP segment) or two link-local addresses', () => {
    const router = 'c0:56:e3:70:01:00';
    const segment = merge([
      ...['198.18.0.100', '198.18.0.101'].flatMap((ip) => [neighbour(ip, router, true), web(ip)]),
      neighbour('fe80::c256:e3ff:fe70:100%eth0', router, true),
    ]);
    expect(segment.map((h) => h.addresses)).toEqual([['198.18.0.100'], ['198.18.0.101'], ['fe80::c256:e3ff:fe70:100%eth0']]);
    const twoLinkLocals = merge([neighbour('198.18.0.30', camera, true), neighbour('fe80::1%eth0', camera, true), neighbour('fe80::2%eth0', camera, true)]);
    expect(twoLinkLocals).toHaveLength(3);
  });

  it('lets conflicting identities veto a join by MAC, and joins nothing on an IPv6 address alone', () => {
    const mac = '08:ed:ed:5a:20:20';
    const vetoed = merge([deviceInfo('198.18.0.20', 'SERIAL-A'), neighbour('198.18.0.20', mac, true), deviceInfo('fdcc:7a6e:1ab::20', 'SERIAL-B'), neighbour('fdcc:7a6e:1ab::20', mac, true)]);
    expect(vetoed).toHaveLength(2);
    // Two units heard at one IPv6 address are still one address record each side; two IPv4 units
    // with no shared identity never meet through an IPv6 address that neither holds a MAC for.
    const apart = merge([wsd('198.18.0.20', 'urn:uuid:x'), wsd('198.18.0.21', 'urn:uuid:y'), wsd('fe80::5%eth0', 'urn:uuid:z')]);
    expect(apart.map((h) => h.addresses)).toEqual([['198.18.0.20'], ['198.18.0.21'], ['fe80::5%eth0']]);
  });

  it('writes plain addresses in the document and keeps the zone in addressDetails, schema-valid', () => {
    const hosts = merge([wsd('198.18.0.10', 'urn:uuid:a'), neighbour('198.18.0.10', camera, true), neighbour(linkLocal, camera, false), wsd(linkLocal, 'urn:uuid:a'), neighbour('fdcc:7a6e:1ab::10', camera, true)]);
    const device = buildDevice(knowledge, hosts[0] as ObservedHost);
    expect([device.id, device.ip, device.addresses]).toEqual([`mac:${camera}`, '198.18.0.10', ['198.18.0.10', 'fdcc:7a6e:1ab::10', 'fe80::2a57:beff:fe6a:1c10']]);
    expect(device.addressDetails).toEqual([
      { family: 'ipv4', address: '198.18.0.10', scope: 'global' },
      { family: 'ipv6', address: 'fdcc:7a6e:1ab::10', scope: 'private' },
      { family: 'ipv6', address: 'fe80::2a57:beff:fe6a:1c10', scope: 'link-local', zone: 'eth0' },
    ]);
    const inventory = buildInventory({ id: '20261128T100000Z-abcdef', site: 'lab', startedAt: at, finishedAt: at, targets: [], methods: [] }, [device]);
    expect(inventoryProblems(inventory)).toEqual([]);
  });
});

describe('devices sharing one address (issue 14: factory defaults, address conflicts)', () => {
  const sadpAt = (ip: string, mac: string, serial: string): Observation => ({
    source: 'sadp', ip, mac, at, status: 'ok', fields: { 'sadp.mac': mac, 'sadp.serial': serial, 'sadp.model': 'DS-2CD2143G2-I', 'sadp.ipv4': ip },
  });
  const wsdWithMac = (ip: string, endpoint: string, mac: string): Observation => ({
    source: 'ws-discovery', ip, at, status: 'ok', fields: { 'onvif.endpoint': endpoint, 'onvif.scope.mac': [mac], 'onvif.scope.hardware': ['DS-2CD2143G2-I'] },
  });
  const [m1, m2] = ['28:57:be:64:01:64', '28:57:be:64:02:64'];
  const [s1, s2] = ['DS-2CD2143G2-I20221105AAWRK98765432', 'DS-2CD2143G2-I20230214AAWRL12345670'];

  it('keeps two SADP replies with different MACs and serials at one address apart, in a stable order', () => {
    const observations = [sadpAt('192.168.1.64', m2, s2), sadpAt('192.168.1.64', m1, s1)];
    const hosts = merge(observations);
    expect(summary(hosts)).toEqual([
      { ip: '192.168.1.64', addresses: ['192.168.1.64'], mac: m1, ownMacs: [m1], sharedMac: null },
      { ip: '192.168.1.64', addresses: ['192.168.1.64'], mac: m2, ownMacs: [m2], sharedMac: null },
    ]);
    expect(summary(merge([...observations].reverse()))).toEqual(summary(hosts));
    expect(hosts.map((h) => buildDevice(knowledge, h).id)).toEqual([`mac:${m1}`, `mac:${m2}`]);
  });

  it("gives each unit its own WS-Discovery reply (MAC scope), neighbour entry and probe answers; the rest to the MAC the link resolved", () => {
    const ip = '198.18.0.64';
    const hosts = merge([
      sadpAt(ip, m1, s1),
      sadpAt(ip, m2, s2),
      wsdWithMac(ip, 'urn:uuid:b', m2),
      wsdWithMac(ip, 'urn:uuid:a', m1),
      deviceInfo(ip, s2, 'DS-2CD2143G2-I'),
      neighbour(ip, m2, true),
      web(ip),
    ]);
    expect(hosts.map((h) => [h.mac, h.observations.map((o) => o.source).sort()])).toEqual([
      [m1, ['sadp', 'ws-discovery']],
      [m2, ['neighbour-table', 'onvif-device-service', 'sadp', 'tcp-connect', 'ws-discovery']],
    ]);
  });

  it('makes a device of a fresh neighbour entry naming neither unit, and keeps what names nobody apart when the link resolved no unit', () => {
    const ip = '198.18.0.64';
    const third = '02:00:00:00:00:64';
    const withThird = merge([sadpAt(ip, m1, s1), sadpAt(ip, m2, s2), neighbour(ip, third, true), web(ip)]);
    expect(withThird.map((h) => [h.mac, h.observations.length])).toEqual([
      [third, 2],
      [m1, 1],
      [m2, 1],
    ]);
    const noLink = merge([sadpAt(ip, m1, s1), sadpAt(ip, m2, s2), web(ip)]);
    expect(noLink.map((h) => [h.mac, h.observations.map((o) => o.source)])).toEqual([
      [null, ['tcp-connect']],
      [m1, ['sadp']],
      [m2, ['sadp']],
    ]);
  });

  it('still makes one device of replies that agree, or that name different things without conflict (DHIP and a WS-Discovery UUID)', () => {
    const one = merge([sadpAt('198.18.0.64', m1, s1), wsdWithMac('198.18.0.64', 'urn:uuid:a', m1), { ...sadpAt('198.18.0.64', m1, s1), at: '2026-11-28T10:00:01.000Z' }]);
    expect(one).toHaveLength(1);
    const dahua = merge([claimed('dhip', '192.168.1.108', '08:ed:ed:6c:11:08'), wsd('192.168.1.108', 'urn:uuid:dahua')]);
    expect(dahua.map((h) => h.observations.length)).toEqual([2]);
    // One reply and the link disagreeing on the MAC is not two devices: the link wins, as before.
    expect(merge([claimed('sadp', '198.18.0.60', m1), neighbour('198.18.0.60', '02:00:00:00:00:60', true)])).toHaveLength(1);
  });

  it('joins one of two units at a default address to its IPv6 link-local sighting by MAC and UUID, not the other', () => {
    const linkLocal = 'fe80::2a57:beff:fe64:164%eth0';
    const hosts = merge([
      sadpAt('192.168.1.64', m1, s1),
      sadpAt('192.168.1.64', m2, s2),
      wsdWithMac('192.168.1.64', 'urn:uuid:a', m1),
      wsdWithMac(linkLocal, 'urn:uuid:a', m1),
      neighbour(linkLocal, m1, true),
      deviceInfo(linkLocal, s1, 'DS-2CD2143G2-I'),
    ]);
    expect(summary(hosts)).toEqual([
      { ip: '192.168.1.64', addresses: ['192.168.1.64', linkLocal], mac: m1, ownMacs: [m1], sharedMac: null },
      { ip: '192.168.1.64', addresses: ['192.168.1.64'], mac: m2, ownMacs: [m2], sharedMac: null },
    ]);
  });
});

describe('ids of devices sharing one address', () => {
  it('tells apart by EndpointReference UUID two units on one address that report no MAC or serial, stable across scans', () => {
    // Two cameras of a maker whose WS-Discovery reply names no MAC, both on its factory default.
    const replies = [wsd('192.168.0.90', 'urn:uuid:7a1d3e55-9b6c-4f02-8e11-accc8e123456'), wsd('192.168.0.90', 'urn:uuid:7a1d3e55-9b6c-4f02-8e11-accc8e654321')];
    const ids = (observations: readonly Observation[]): string[] => merge(observations).map((h) => buildDevice(knowledge, h).id);
    expect(ids(replies)).toEqual(['ip:192.168.0.90+urn:uuid:7a1d3e55-9b6c-4f02-8e11-accc8e123456', 'ip:192.168.0.90+urn:uuid:7a1d3e55-9b6c-4f02-8e11-accc8e654321']);
    expect(ids([...replies].reverse())).toEqual(ids(replies));
    // One device alone at its address keeps its plain address id.
    expect(ids([replies[0]!])).toEqual(['ip:192.168.0.90']);
    const scan = { id: '20261128T100000Z-abcdef', site: 'lab', startedAt: at, finishedAt: at, targets: [], methods: [] };
    expect(inventoryProblems(buildInventory(scan, merge(replies).map((h) => buildDevice(knowledge, h))))).toEqual([]);
  });
});

describe('a host flooding replies with a new identity each', () => {
  it('stays one device past MAX_DEVICES_PER_ADDRESS identities, while a batch of units up to it is one device each', () => {
    const reply = (n: number): Observation => ({ source: 'sadp', ip: '198.18.0.9', mac: `02:00:00:00:01:${n.toString(16).padStart(2, '0')}`, at, status: 'ok', fields: { 'sadp.serial': `FLOOD${n}` } });
    const batch = Array.from({ length: MAX_DEVICES_PER_ADDRESS }, (_, n) => reply(n));
    expect(merge(batch)).toHaveLength(MAX_DEVICES_PER_ADDRESS);
    expect(merge([...batch, reply(MAX_DEVICES_PER_ADDRESS)])).toHaveLength(1);
  });
});
