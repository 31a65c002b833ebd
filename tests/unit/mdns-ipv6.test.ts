/**
 * mDNS over IPv6 (issue 14): what the discoverer makes of answers heard on [FF02::FB]:5353.
 *
 * The packets are real-shaped DNS-SD answers (RFC 6763 §12.1: a PTR answer, with the SRV, TXT and
 * address records as additionals; RFC 6762 §18: ID 0, QR and AA set), encoded by dns-packet and
 * received by the same multicast-dns and bonjour-service code the discoverer runs, on a socket-less
 * stand-in (multicast-dns takes `socket`), so nothing is sent anywhere.
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import Bonjour from 'bonjour-service';
import { instanceAddresses, MDNS_GROUP_IPV6 } from '../../agent/discovery/mdns.js';
import type { ScanInterface } from '../../agent/net/interfaces.js';
import { seededRandom } from '../seeded-random.js';

const require = createRequire(import.meta.url);
const dnsPacket = require('dns-packet') as { encode(p: object): Buffer };

const ETH0: ScanInterface = { name: 'eth0', address: '198.18.0.1', cidr: '198.18.0.1/24', ipv6LinkLocal: 'fe80::ff:fe00:1%eth0' };
const INTERFACES = [ETH0];
/** The lab NAS: its IPv4 address, its EUI-64 link-local address (MAC 00:11:32:a5:00:45), a unique-local one. */
const NAS = { ipv4: '198.18.0.45', linkLocal: 'fe80::211:32ff:fea5:45', ula: 'fdcc:7a6e:1ab::45' };

/** A Synology's _http._tcp answer (its TXT keys as in tests/lab/profiles/nas.json), naming `addresses`. */
function answer(addresses: { type: 'A' | 'AAAA'; data: string }[]): Buffer {
  const instance = 'DiskStation._http._tcp.local';
  return dnsPacket.encode({
    type: 'response',
    id: 0,
    flags: 0x400, // AA (RFC 6762 §18.4); dns-packet sets QR for a response
    answers: [{ name: '_http._tcp.local', type: 'PTR', ttl: 4500, data: instance }],
    additionals: [
      { name: instance, type: 'SRV', ttl: 120, data: { priority: 0, weight: 0, port: 5000, target: 'DiskStation.local' } },
      { name: instance, type: 'TXT', ttl: 4500, data: ['vendor=Synology', 'model=DS218+', 'serial=1890PDN123456'] },
      ...addresses.map((a) => ({ name: 'DiskStation.local', ...a, ttl: 120 })),
    ],
  });
}

/** A stand-in for the UDP socket multicast-dns would open: it binds at once and sends nothing. */
class QuietSocket extends EventEmitter {
  readonly sent: Buffer[] = [];
  bind(_port: number, _address: string, done: () => void): void {
    setImmediate(done);
  }
  send(message: Buffer, _offset: number, _length: number, _port: number, _address: string, done: () => void): void {
    this.sent.push(message);
    done();
  }
  close(done?: () => void): void {
    done?.();
  }
}

interface Heard {
  services: { name: string; addresses: string[]; referer: { address: string } }[];
  warnings: number;
}

/**
 * Feeds datagrams, as if they came from `from` to a bonjour-service browser of _http._tcp built as
 * the discoverer builds its IPv6 one, and reports what the browser found and how many were refused.
 */
async function browse(datagrams: Buffer[], from: string): Promise<Heard> {
  const socket = new QuietSocket();
  const bonjour = new Bonjour({ type: 'udp6', ip: MDNS_GROUP_IPV6, interface: '::%eth0', bind: `${MDNS_GROUP_IPV6}%eth0`, socket } as unknown as Partial<Bonjour.ServiceConfig>);
  const events = (bonjour as unknown as { server: { mdns: EventEmitter } }).server.mdns;
  const heard: Heard = { services: [], warnings: 0 };
  events.on('warning', () => (heard.warnings += 1));
  const browser = bonjour.find({ type: 'http' });
  browser.on('up', (service: Bonjour.Service) => void heard.services.push(service as unknown as Heard['services'][number]));
  await new Promise((resolve) => events.once('ready', resolve));
  for (const bytes of datagrams) socket.emit('message', bytes, { address: from, family: 'IPv6', port: 5353, size: bytes.length });
  browser.stop();
  bonjour.destroy();
  return heard;
}

describe('mDNS answers heard over IPv6', () => {
  it('lists the instance at its link-local AAAA address with the zone it was heard on, not at the A or unique-local ones', async () => {
    const sender = `${NAS.linkLocal}%eth0`;
    const heard = await browse([answer([{ type: 'A', data: NAS.ipv4 }, { type: 'AAAA', data: NAS.linkLocal }, { type: 'AAAA', data: NAS.ula }])], sender);
    expect(heard.services).toHaveLength(1);
    const service = heard.services[0]!;
    expect(service.addresses).toEqual([NAS.ipv4, NAS.linkLocal, NAS.ula]);
    expect(instanceAddresses(INTERFACES, service.addresses, service.referer.address)).toEqual({ kept: [`${NAS.linkLocal}%eth0`], dropped: [NAS.ipv4, NAS.ula] });
  });

  it('writes a link-local address the way the agent compares them (RFC 5952), and once', () => {
    expect(instanceAddresses(INTERFACES, ['FE80:0:0:0:0211:32FF:FEA5:0045', NAS.linkLocal], `${NAS.linkLocal}%eth0`).kept).toEqual([`${NAS.linkLocal}%eth0`]);
  });

  it('falls back to the sender when no record names a usable address (RFC 6763 §12: address records are optional)', async () => {
    const heard = await browse([answer([])], `${NAS.linkLocal}%eth0`);
    expect(instanceAddresses(INTERFACES, heard.services[0]!.addresses, heard.services[0]!.referer.address)).toEqual({ kept: [`${NAS.linkLocal}%eth0`], dropped: [] });
    expect(instanceAddresses(INTERFACES, [NAS.ula], 'FE80::211:32FF:FEA5:45%eth0')).toEqual({ kept: [`${NAS.linkLocal}%eth0`], dropped: [NAS.ula] });
  });

  it('keeps nothing from a link that was not chosen, or from a sender that is no link-local address', () => {
    expect(instanceAddresses(INTERFACES, [NAS.linkLocal], `${NAS.linkLocal}%eth1`)).toEqual({ kept: [], dropped: [NAS.linkLocal] });
    expect(instanceAddresses(INTERFACES, [NAS.linkLocal], NAS.ula)).toEqual({ kept: [], dropped: [NAS.linkLocal] });
    expect(instanceAddresses(INTERFACES, [NAS.linkLocal], null)).toEqual({ kept: [], dropped: [NAS.linkLocal] });
  });

  it('over IPv4 keeps A addresses on a chosen subnet and no AAAA one (a device is listed at IPv6 only when heard over it)', () => {
    expect(instanceAddresses(INTERFACES, [NAS.ipv4, NAS.linkLocal, '10.20.30.40'], NAS.ipv4)).toEqual({ kept: [NAS.ipv4], dropped: [NAS.linkLocal, '10.20.30.40'] });
    expect(instanceAddresses(INTERFACES, ['10.20.30.40'], NAS.ipv4)).toEqual({ kept: [NAS.ipv4], dropped: ['10.20.30.40'] });
    expect(instanceAddresses(INTERFACES, [NAS.ipv4], '10.20.30.40')).toEqual({ kept: [NAS.ipv4], dropped: [] });
  });

  it('drops malformed datagrams as warnings and still hears the well-formed answer after them', async () => {
    const random = seededRandom(6762);
    const garbage = [
      Buffer.alloc(0),
      Buffer.from([0, 0, 0x84, 0, 0]), // a header cut short (RFC 1035 §4.1.1: 12 bytes)
      // An answer whose name is a compression pointer to itself (RFC 1035 §4.1.4 allows only earlier offsets).
      Buffer.from([0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1]),
      // Counts the packet does not hold.
      Buffer.from([0, 0, 0x84, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 3, 0x61, 0x62]),
      // An answer cut inside its AAAA record's 16 bytes of data (RFC 3596 §2.2).
      answer([{ type: 'AAAA', data: NAS.linkLocal }]).subarray(0, -7),
      ...Array.from({ length: 50 }, () => Buffer.from(Array.from({ length: 12 + Math.floor(random() * 300) }, () => Math.floor(random() * 256)))),
    ];
    const heard = await browse([...garbage, answer([{ type: 'AAAA', data: NAS.linkLocal }])], `${NAS.linkLocal}%eth0`);
    expect(heard.warnings).toBeGreaterThanOrEqual(4);
    expect(heard.services.map((s) => s.name)).toEqual(['DiskStation']);
  });
});
