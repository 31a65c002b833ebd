/**
 * The SADP and DHIP discoverers' reply handling (agent/discovery/udp-search.ts with each codec),
 * fed real-shaped datagrams (tests/fixtures) and hostile ones without any socket: what becomes an
 * observation, what is dropped, and that a drop is logged. The sockets and the multicast are exercised in the lab
 * (tests/integration/sadp-dhip.test.ts).
 */
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { MAX_OBSERVATIONS_PER_METHOD, MAX_OBSERVATIONS_PER_SOURCE, MAX_REMEMBERED_REPLIES, ScanBounds } from '../../agent/discovery/bounds.js';
import { dhip } from '../../agent/discovery/dhip.js';
import { sadp } from '../../agent/discovery/sadp.js';
import { udpSearch, type ReplyCollector, type UdpSearchDiscoverer } from '../../agent/discovery/udp-search.js';
import type { Datagram } from '../../agent/net/udp.js';
import { DHIP_MAX_PACKET_BYTES } from '../../agent/protocols/dhip.js';
import { parseSadpReply, SADP_MAX_ELEMENTS, SADP_MAX_MESSAGE_BYTES, SADP_MULTICAST_ADDRESS, SADP_PORT } from '../../agent/protocols/sadp.js';
import type { Observation } from '../../agent/types.js';
import { seededRandom } from '../seeded-random.js';
import { checkedEmit } from '../support/declared-emits.js';

const sadpFixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/sadp/${name}`, import.meta.url));
const dhipFixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/dhip/${name}`, import.meta.url));
const probeMatch = sadpFixture('ds-2cd2385g1-i.probematch.xml');
const notifyDevInfo = dhipFixture('ipc-hdw1431t1-s4.reply.bin');

const IFACE = { name: 'eth0', address: '198.18.0.1', cidr: '198.18.0.1/24' };
const datagram = (bytes: Buffer, from: string, port: number): Datagram => ({ bytes, from, port, iface: IFACE });

interface Harness {
  collector: ReplyCollector;
  emitted: Observation[];
  warnings: Array<{ msg: string; from?: string; port?: number }>;
  bounds: ScanBounds;
}

/** The discoverer's reply handling, each observation checked against what the discoverer declares. */
function harness(discoverer: UdpSearchDiscoverer<'sadp' | 'dhip'>): Harness {
  const warnings: Harness['warnings'] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      warnings.push(JSON.parse(chunk.toString()) as Harness['warnings'][number]);
      done();
    },
  });
  const emitted: Observation[] = [];
  const log = pino({ level: 'warn' }, sink);
  const bounds = new ScanBounds(log);
  // As the scan does in its listen phase: only what the bounds keep is recorded.
  return { collector: discoverer.collector(log, bounds.keeping(checkedEmit(discoverer, emitted)), bounds), emitted, warnings, bounds };
}

/** Random datagrams (repeatable), some starting like the real thing. */
function garbage(prefix: Buffer, seed: number): Buffer[] {
  const random = seededRandom(seed);
  return Array.from({ length: 200 }, (_, i) => {
    const bytes = Buffer.from(Array.from({ length: Math.floor(random() * 300) }, () => Math.floor(random() * 256)));
    return i % 2 === 0 ? Buffer.concat([prefix.subarray(0, Math.floor(random() * prefix.length)), bytes]) : bytes;
  });
}

describe('SADP replies', () => {
  it('a ProbeMatch from port 37020 → one observation about the sender, with the MAC it carries', () => {
    const h = harness(sadp);
    h.collector.onDatagram(datagram(probeMatch, '198.18.0.12', 37020));
    expect(h.emitted).toHaveLength(1);
    const [o] = h.emitted;
    // The reply says 192.168.124.40 (the capture's address): the observation is about who sent it.
    expect(o).toMatchObject({ source: 'sadp', ip: '198.18.0.12', mac: '58:50:ed:1f:e3:85', status: 'ok' });
    expect(o?.fields).toMatchObject({
      'sadp.message': 'ProbeMatch',
      'sadp.model': 'DS-2CD2385G1-I',
      'sadp.serial': 'DS-2CD2385G1-I20200414AAWRE33842150',
      'sadp.firmware': 'V5.6.2build 190701',
      'sadp.ipv4': '192.168.124.40',
    });
    // No `port`: the inventory's services are TCP ports; answering SADP is evidence, not a service.
    expect(o?.port).toBeUndefined();
    expect(h.warnings).toEqual([]);
    expect(h.collector.devices()).toBe(1);
  });

  it('the answer to the second inquiry adds nothing; the same reply from another host is another device', () => {
    const h = harness(sadp);
    for (let i = 0; i < 3; i++) h.collector.onDatagram(datagram(probeMatch, '198.18.0.12', 37020));
    h.collector.onDatagram(datagram(probeMatch, '198.18.0.13', 37020));
    expect(h.emitted.map((o) => o.ip)).toEqual(['198.18.0.12', '198.18.0.13']);
  });

  it('decodes the same answer from the same sender once (the search goes out twice), and remembers a bounded number of answers', () => {
    let decoded = 0;
    const counting = udpSearch({
      name: 'sadp',
      evidence: 'sadp',
      emits: sadp.emits,
      description: 'SADP, its codec counted',
      protocol: 'SADP',
      address: SADP_MULTICAST_ADDRESS,
      port: SADP_PORT,
      search: () => Buffer.alloc(0),
      decode(bytes) {
        decoded++;
        const reply = parseSadpReply(bytes);
        return reply && { mac: reply.mac, identity: reply.serial ?? '', fields: reply.fields };
      },
    });
    const h = harness(counting);
    for (let i = 0; i < 3; i++) h.collector.onDatagram(datagram(probeMatch, '198.18.0.12', 37020));
    h.collector.onDatagram(datagram(probeMatch, '198.18.0.13', 37020));
    expect(decoded).toBe(2);
    expect(h.emitted.map((o) => o.ip)).toEqual(['198.18.0.12', '198.18.0.13']);
    // A sender that sends ever new bytes for one identity (its boot time) fills what is remembered;
    // after that, a repeat is decoded again rather than remembered: memory stays bounded.
    const bootedAt = (n: number): Buffer => Buffer.from(probeMatch.toString('utf8').replace(/<BootTime>[^<]*</, `<BootTime>${n}<`));
    for (let n = 0; n < MAX_REMEMBERED_REPLIES; n++) h.collector.onDatagram(datagram(bootedAt(n), '198.18.0.14', 37020));
    const before = decoded;
    h.collector.onDatagram(datagram(bootedAt(MAX_REMEMBERED_REPLIES), '198.18.0.14', 37020));
    h.collector.onDatagram(datagram(bootedAt(MAX_REMEMBERED_REPLIES), '198.18.0.14', 37020));
    expect(decoded - before).toBe(2);
    h.collector.onDatagram(datagram(bootedAt(0), '198.18.0.14', 37020));
    expect(decoded - before).toBe(2);
  });

  it('a flood of new identities keeps 64 per sender and 4096 in all; the rest is counted, each drop before parsing', () => {
    const h = harness(sadp);
    const withSerial = (n: number): Buffer => Buffer.from(probeMatch.toString('utf8').replace(/<DeviceSN>[^<]*</, `<DeviceSN>FLOOD${n}<`));
    for (let n = 0; n < 200; n++) h.collector.onDatagram(datagram(withSerial(n), '198.18.0.60', 37020));
    expect(h.emitted).toHaveLength(MAX_OBSERVATIONS_PER_SOURCE);
    expect(h.bounds.counters()).toEqual({ 'sadp.per-source': 200 - MAX_OBSERVATIONS_PER_SOURCE });
    // Forged senders, one reply each: the method's total cap holds.
    for (let n = 0; n < MAX_OBSERVATIONS_PER_METHOD + 100; n++) {
      h.collector.onDatagram(datagram(withSerial(n), `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`, 37020));
    }
    expect(h.emitted).toHaveLength(MAX_OBSERVATIONS_PER_METHOD);
    expect(h.bounds.counters()).toEqual({ 'sadp.per-source': 200 - MAX_OBSERVATIONS_PER_SOURCE, 'sadp.total': 100 + MAX_OBSERVATIONS_PER_SOURCE });
    expect(h.warnings.map((w) => w.msg)).toEqual([expect.stringContaining('(sadp.per-source)'), expect.stringContaining('(sadp.total)')]);
  });

  it('reads at most SADP_MAX_ELEMENTS elements of a ProbeMatch and counts the rest', () => {
    const h = harness(sadp);
    const padded = Buffer.from(probeMatch.toString('utf8').replace('</ProbeMatch>', `${'<x/>'.repeat(2000)}</ProbeMatch>`));
    expect(padded.length).toBeLessThanOrEqual(SADP_MAX_MESSAGE_BYTES);
    h.collector.onDatagram(datagram(padded, '198.18.0.12', 37020));
    expect(h.emitted[0]?.fields['sadp.serial']).toBe('DS-2CD2385G1-I20200414AAWRE33842150');
    const elements = parseSadpReply(probeMatch)!.elementsDropped;
    expect(elements).toBe(0);
    expect(h.bounds.counters()).toEqual({ 'sadp.elements': 2000 + Object.keys(parseSadpReply(probeMatch)!.elements).length - SADP_MAX_ELEMENTS });
  });

  it('drops and logs a valid ProbeMatch sent from a port other than 37020', () => {
    const h = harness(sadp);
    h.collector.onDatagram(datagram(probeMatch, '198.18.0.60', 41234));
    expect(h.emitted).toEqual([]);
    expect(h.warnings).toEqual([expect.objectContaining({ from: '198.18.0.60', port: 41234, msg: expect.stringMatching(/port 41234, not from the SADP port 37020/) })]);
  });

  it('drops and logs truncated, oversized, entity-laden, probe and empty datagrams', () => {
    const h = harness(sadp);
    const text = probeMatch.toString('utf8');
    const oversized = Buffer.from(text.replace('</ProbeMatch>', `<Padding>${'x'.repeat(SADP_MAX_MESSAGE_BYTES)}</Padding></ProbeMatch>`));
    const bad = [
      probeMatch.subarray(0, Math.floor(probeMatch.length / 2)),
      oversized,
      Buffer.from('<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "DS-2CD2385G1-I">]><ProbeMatch><DeviceDescription>&a;</DeviceDescription></ProbeMatch>'),
      sadpFixture('inquiry.probe.xml'),
      Buffer.from('<ProbeMatch><Uuid>x</Uuid><Types>inquiry</Types></ProbeMatch>'),
      Buffer.alloc(0),
    ];
    for (const bytes of bad) h.collector.onDatagram(datagram(bytes, '198.18.0.60', 37020));
    expect(h.emitted).toEqual([]);
    expect(h.warnings.map((w) => w.msg)).toEqual(bad.map(() => 'malformed SADP reply dropped'));
  });

  it('never throws on random bytes', () => {
    const h = harness(sadp);
    for (const bytes of garbage(probeMatch, 37020)) expect(() => h.collector.onDatagram(datagram(bytes, '198.18.0.60', 37020))).not.toThrow();
    expect(h.emitted).toEqual([]);
  });
});

describe('DHIP replies', () => {
  it('a client.notifyDevInfo from port 37810 → one observation about the sender, with the MAC it carries', () => {
    const h = harness(dhip);
    h.collector.onDatagram(datagram(notifyDevInfo, '198.18.0.22', 37810));
    h.collector.onDatagram(datagram(notifyDevInfo, '198.18.0.22', 37810));
    expect(h.emitted).toHaveLength(1);
    const [o] = h.emitted;
    expect(o).toMatchObject({ source: 'dhip', ip: '198.18.0.22', mac: '08:ed:ed:87:42:7a', status: 'ok' });
    expect(o?.fields).toMatchObject({
      'dhip.method': 'client.notifyDevInfo',
      'dhip.deviceType': 'IPC-HDW1431T1-S4',
      'dhip.serial': '6C01E93PAG69A7D',
      'dhip.version': '2.800.0000000.13.R',
      'dhip.vendor': 'Private',
    });
    expect(h.warnings).toEqual([]);
  });

  it('drops and logs a valid reply sent from a port other than 37810', () => {
    const h = harness(dhip);
    h.collector.onDatagram(datagram(notifyDevInfo, '198.18.0.60', 37811));
    expect(h.emitted).toEqual([]);
    expect(h.warnings).toEqual([expect.objectContaining({ port: 37811, msg: expect.stringMatching(/port 37811, not from the DHIP port 37810/) })]);
  });

  it('drops and logs lying lengths, truncation, a bad magic, an oversized packet and a request', () => {
    const h = harness(dhip);
    const withWord = (offset: number, value: number): Buffer => {
      const copy = Buffer.from(notifyDevInfo);
      copy.writeUInt32LE(value, offset);
      return copy;
    };
    const bodyLength = notifyDevInfo.readUInt32LE(0x10);
    const body = Buffer.alloc(DHIP_MAX_PACKET_BYTES, 0x20);
    const oversized = Buffer.concat([Buffer.from(notifyDevInfo.subarray(0, 32)), body]);
    oversized.writeUInt32LE(body.length, 0x10);
    oversized.writeUInt32LE(body.length, 0x18);
    const bad = [
      withWord(0x10, bodyLength + 100), // claims more than it carries
      withWord(0x18, bodyLength - 1), // the two lengths disagree
      Buffer.concat([notifyDevInfo, Buffer.from('{"more":"json"}')]), // bytes after the declared body
      notifyDevInfo.subarray(0, 40),
      Buffer.concat([notifyDevInfo.subarray(0, 4), Buffer.from('DHIX'), notifyDevInfo.subarray(8)]),
      oversized,
      dhipFixture('haicam-search.request.bin'),
      Buffer.alloc(0),
    ];
    for (const bytes of bad) h.collector.onDatagram(datagram(bytes, '198.18.0.60', 37810));
    expect(h.emitted).toEqual([]);
    expect(h.warnings.map((w) => w.msg)).toEqual(bad.map(() => 'malformed DHIP reply dropped'));
  });

  it('never throws on random bytes', () => {
    const h = harness(dhip);
    for (const bytes of garbage(notifyDevInfo, 37810)) expect(() => h.collector.onDatagram(datagram(bytes, '198.18.0.60', 37810))).not.toThrow();
    expect(h.emitted).toEqual([]);
  });
});
