/**
 * Observations → one group per device. A device is keyed by its MAC when any observation (the
 * neighbour table, or a protocol that reports it) gives one for its IP, else by its IP.
 *
 * A neighbour-table entry the kernel did not refresh during this scan only lends its MAC to an IP
 * that something else saw now; on its own it is an old memory, not a device on the wire.
 */
import { isIPv4 } from 'node:net';
import { ipv4ToInt } from '../net/ipv4.js';
import type { Observation } from '../types.js';

export interface ObservedHost {
  /** The address the device is reported at (its lowest IPv4, else its first address). */
  ip: string;
  addresses: string[];
  mac: string | null;
  observations: Observation[];
}

function isStaleNeighbour(o: Observation): boolean {
  return o.source === 'neighbour-table' && o.fields['neighbour.fresh'] !== 'true';
}

/** Sort key for addresses: IPv4 numerically, then IPv6 as text. */
export function compareAddresses(a: string, b: string): number {
  const a4 = isIPv4(a);
  const b4 = isIPv4(b);
  if (a4 && b4) return ipv4ToInt(a) - ipv4ToInt(b);
  if (a4 !== b4) return a4 ? -1 : 1;
  return a.localeCompare(b);
}

/**
 * Which MAC an IP gets when sources differ, best first: what the link showed during this scan (a
 * fresh neighbour entry), then what a reply says about itself (SADP/DHIP carry the device's MAC:
 * the only one a routed device has, but only a claim), then a stale neighbour entry (an old
 * memory: the address may have changed hands since).
 */
function macRank(o: Observation): number {
  if (o.source !== 'neighbour-table') return 1;
  return isStaleNeighbour(o) ? 2 : 0;
}

export function mergeObservations(observations: readonly Observation[]): ObservedHost[] {
  const macByIp = new Map<string, { mac: string; rank: number }>();
  for (const o of observations) {
    if (!o.mac) continue;
    const rank = macRank(o);
    const held = macByIp.get(o.ip);
    if (!held || rank < held.rank) macByIp.set(o.ip, { mac: o.mac, rank });
  }

  const liveIps = new Set(observations.filter((o) => !isStaleNeighbour(o)).map((o) => o.ip));
  const groups = new Map<string, ObservedHost>();
  for (const o of observations) {
    if (!liveIps.has(o.ip)) continue;
    const mac = macByIp.get(o.ip)?.mac ?? null;
    const key = mac ? `mac ${mac}` : `ip ${o.ip}`;
    let host = groups.get(key);
    if (!host) {
      host = { ip: o.ip, addresses: [], mac, observations: [] };
      groups.set(key, host);
    }
    if (!host.addresses.includes(o.ip)) host.addresses.push(o.ip);
    host.observations.push(o);
  }
  for (const host of groups.values()) {
    host.addresses.sort(compareAddresses);
    host.ip = host.addresses[0] as string;
  }
  return [...groups.values()].sort((a, b) => compareAddresses(a.ip, b.ip));
}
