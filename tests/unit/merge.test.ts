import { describe, expect, it } from 'vitest';
import { mergeObservations } from '../../agent/pipeline/merge.js';
import type { Observation } from '../../agent/types.js';

const at = '2026-11-28T10:00:00.000Z';
const wsd = (ip: string): Observation => ({ source: 'ws-discovery', ip, at, status: 'ok', fields: { 'onvif.endpoint': `urn:uuid:${ip}` } });
const neighbour = (ip: string, mac: string, fresh: boolean): Observation => ({
  source: 'neighbour-table', ip, mac, at, status: 'ok', fields: { 'neighbour.fresh': String(fresh), 'neighbour.state': fresh ? 'REACHABLE' : 'STALE' },
});

const claimed = (source: 'sadp' | 'dhip', ip: string, mac: string): Observation => ({ source, ip, mac, at, status: 'ok', fields: { [`${source}.mac`]: mac } });

describe('mergeObservations', () => {
  it('joins observations of one IP, takes the MAC from the neighbour table and sorts by address', () => {
    const hosts = mergeObservations([wsd('198.18.0.20'), wsd('198.18.0.9'), neighbour('198.18.0.20', '08:ed:ed:00:00:20', true), wsd('198.18.0.100')]);
    expect(hosts.map((h) => [h.ip, h.mac, h.observations.length])).toEqual([
      ['198.18.0.9', null, 1],
      ['198.18.0.20', '08:ed:ed:00:00:20', 2],
      ['198.18.0.100', null, 1],
    ]);
  });

  it('makes a device of a fresh neighbour entry alone, but not of a stale one', () => {
    const hosts = mergeObservations([neighbour('198.18.0.50', '3c:d9:2b:00:00:50', true), neighbour('198.18.0.51', '3c:d9:2b:00:00:51', false)]);
    expect(hosts.map((h) => h.ip)).toEqual(['198.18.0.50']);
  });

  it('lets a stale entry lend its MAC to an address heard now', () => {
    const hosts = mergeObservations([neighbour('198.18.0.10', '28:57:be:00:00:10', false), wsd('198.18.0.10')]);
    expect(hosts).toHaveLength(1);
    expect(hosts[0]?.mac).toBe('28:57:be:00:00:10');
  });

  it('groups two addresses of one MAC into one device reported at the lower IPv4', () => {
    const hosts = mergeObservations([
      wsd('198.18.0.31'),
      neighbour('198.18.0.31', 'ac:cc:8e:00:00:30', true),
      neighbour('198.18.0.30', 'ac:cc:8e:00:00:30', true),
    ]);
    expect(hosts).toHaveLength(1);
    expect(hosts[0]?.ip).toBe('198.18.0.30');
    expect(hosts[0]?.addresses).toEqual(['198.18.0.30', '198.18.0.31']);
  });

  it('gives a routed device, which has no neighbour entry, the MAC its SADP or DHIP reply carries', () => {
    const hosts = mergeObservations([claimed('sadp', '10.20.0.12', '44:19:b6:7a:08:12'), claimed('dhip', '10.20.0.22', '3c:ef:8c:2a:22:22')]);
    expect(hosts.map((h) => [h.ip, h.mac])).toEqual([
      ['10.20.0.12', '44:19:b6:7a:08:12'],
      ['10.20.0.22', '3c:ef:8c:2a:22:22'],
    ]);
  });

  it('trusts the MAC the link showed over one a reply claims, and a claim over a stale entry', () => {
    // A reply that claims another device's MAC must not fold two devices into one.
    const hosts = mergeObservations([
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
});
