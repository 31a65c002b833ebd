/**
 * The mDNS discoverer's cap on records per response, applied before bonjour-service's browser reads
 * the packet: a real Browser (bonjour-service) on a socket-less emitter, fed a decoded 64 KiB
 * response of 1,320 records, is handed 64 of them.
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { capResponseRecords, MAX_MDNS_RECORDS_PER_PACKET } from '../../agent/discovery/mdns.js';

const require = createRequire(import.meta.url);
const dnsPacket = require('dns-packet') as { encode(p: object): Buffer; decode(b: Buffer): { answers: unknown[]; additionals: unknown[] } };
const { Browser } = require('bonjour-service/dist/lib/browser.js') as {
  Browser: new (mdns: EventEmitter, opts: { type: string }) => EventEmitter;
};

/** One response announcing `n` instances of _http._tcp (a PTR answer and an SRV additional each). */
function response(n: number): Buffer {
  const answers = Array.from({ length: n }, (_, i) => ({ name: '_http._tcp.local', type: 'PTR', ttl: 120, data: `x${i}._http._tcp.local` }));
  const additionals = Array.from({ length: n }, (_, i) => ({ name: `x${i}._http._tcp.local`, type: 'SRV', ttl: 120, data: { port: 80, target: 'h.local' } }));
  return dnsPacket.encode({ type: 'response', flags: 0x400, answers, additionals });
}

describe('capResponseRecords', () => {
  it('keeps the first records, answers first, and says how many it cut', () => {
    const packet = { answers: [1, 2, 3], authorities: [4], additionals: [5, 6] };
    expect(capResponseRecords(packet, 4)).toBe(2);
    expect(packet).toEqual({ answers: [1, 2, 3], authorities: [4], additionals: [] });
    expect(capResponseRecords({ answers: [1] }, 4)).toBe(0);
  });

  it('leaves bonjour-service a bounded packet to read from a 64 KiB response', () => {
    const bytes = response(660);
    expect(bytes.length).toBeLessThanOrEqual(65_535);
    const mdns = Object.assign(new EventEmitter(), { query: () => undefined });
    let cut = 0;
    mdns.prependListener('response', (packet: { answers: unknown[]; additionals: unknown[] }) => (cut = capResponseRecords(packet, MAX_MDNS_RECORDS_PER_PACKET)));
    new Browser(mdns, { type: 'http' });
    // What the browser's own listener was handed (it runs just before this one).
    let read = 0;
    mdns.on('response', (packet: { answers: unknown[]; additionals: unknown[] }) => (read = packet.answers.length + packet.additionals.length));
    mdns.emit('response', dnsPacket.decode(bytes), { address: '198.18.0.50', port: 5353 });
    expect(cut).toBe(1320 - MAX_MDNS_RECORDS_PER_PACKET);
    expect(read).toBe(MAX_MDNS_RECORDS_PER_PACKET);
  });
});
