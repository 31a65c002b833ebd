/**
 * Which socket a unicast WS-Discovery Probe to a named TARGET leaves from (issue 14): IPv4 by
 * subnet, IPv6 link-local by its zone, unique-local and global IPv6 by route; and in which order
 * the TARGETs are probed (IPv6 first). The Probes themselves
 * are sent in the lab only (tests/integration/ipv6.test.ts); here the sockets record what would go.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { probeSocketFor, probeTargets, targetsInProbeOrder, type ProbeSockets } from '../../agent/discovery/wsdiscovery.js';
import { NeighbourBudget } from '../../agent/net/neighbour-budget.js';
import { parseTargets } from '../../agent/targets.js';
import type { ScanInterface } from '../../agent/net/interfaces.js';
import type { InterfaceSocket, SendingSocket } from '../../agent/net/udp.js';

const eth0: ScanInterface = { name: 'eth0', address: '198.18.0.1', cidr: '198.18.0.1/24', ipv6LinkLocal: 'fe80::ff:fe00:1%eth0' };
const eth1: ScanInterface = { name: 'eth1', address: '10.9.0.1', cidr: '10.9.0.1/16', ipv6LinkLocal: 'fe80::ff:fe00:2%eth1' };
const socketOn = (iface: ScanInterface): InterfaceSocket => ({ iface, send: () => undefined });
const routed: SendingSocket = { send: () => undefined };
const sockets: ProbeSockets = { ipv4: [socketOn(eth0), socketOn(eth1)], ipv6: [socketOn(eth0), socketOn(eth1)], routed };

describe('probeSocketFor', () => {
  it("sends to an IPv4 address from the interface whose subnet holds it, else from the first (routed)", () => {
    expect(probeSocketFor('10.9.3.4', sockets)).toBe(sockets.ipv4[1]);
    expect(probeSocketFor('203.0.113.9', sockets)).toBe(sockets.ipv4[0]);
  });

  it("sends to a link-local IPv6 address from its zone's link-local socket, never another link's", () => {
    expect(probeSocketFor('fe80::2a57:beff:fe6a:1c10%eth1', sockets)).toBe(sockets.ipv6[1]);
    expect(probeSocketFor('fe80::2a57:beff:fe6a:1c10%eth0', sockets)).toBe(sockets.ipv6[0]);
    // An interface that was not chosen has no socket of its own: the zone in the address picks the link.
    expect(probeSocketFor('fe80::1%wlan0', sockets)).toBe(routed);
  });

  it('sends to unique-local and global IPv6 addresses from the routed socket, and to none when it is not open', () => {
    expect(probeSocketFor('fdcc:7a6e:1ab::10', sockets)).toBe(routed);
    expect(probeSocketFor('2001:db8::10', sockets)).toBe(routed);
    expect(probeSocketFor('fdcc:7a6e:1ab::10', { ...sockets, routed: null })).toBeUndefined();
    expect(probeSocketFor('198.18.0.10', { ipv4: [], ipv6: [], routed })).toBeUndefined();
  });
});

describe('targetsInProbeOrder', () => {
  it('probes the named IPv6 addresses first, each once, then the IPv4 ones in order', () => {
    const targets = parseTargets(['198.18.0.0/30', 'fdcc:7a6e:1ab::10', 'fe80::2a57:beff:fe6a:1c10%eth0', 'fdcc:7a6e:1ab::10-fdcc:7a6e:1ab::11']);
    expect([...targetsInProbeOrder(targets)]).toEqual(['fdcc:7a6e:1ab::10', 'fe80::2a57:beff:fe6a:1c10%eth0', 'fdcc:7a6e:1ab::11', '198.18.0.1', '198.18.0.2']);
  });
});

describe('probeTargets', () => {
  it('sends each round a unicast Probe to every target, except those that already answered a Probe', async () => {
    const sent: string[] = [];
    const recording: InterfaceSocket = { iface: eth0, send: (_bytes, ip) => void sent.push(ip) };
    const answered = new Set(['198.18.0.2']);
    await probeTargets(
      { targets: parseTargets(['198.18.0.1-198.18.0.3']), signal: new AbortController().signal, neighbours: new NeighbourBudget(8, ['198.18.0.0/24']) },
      { ipv4: [recording], ipv6: [], routed: null },
      Buffer.from('probe'),
      answered,
      pino({ level: 'silent' }),
    );
    expect(sent.sort()).toEqual(['198.18.0.1', '198.18.0.1', '198.18.0.3', '198.18.0.3']);
  });
});
