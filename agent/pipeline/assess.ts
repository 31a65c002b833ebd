/**
 * Device records and the cctv-inventory/v1 document, built deterministically: identical
 * observations give an identical document apart from the scan's id and times.
 */
import { classify } from './classify.js';
import { fingerprintDevice } from '../fingerprint/index.js';
import type { Knowledge } from '../knowledge/index.js';
import { compareAddresses, type ObservedHost } from './merge.js';
import { policiesFor } from './policies.js';
import { vulnerabilitiesOf } from './vulns.js';
import type { DiscovererName } from '../discovery/index.js';
import { INVENTORY_SCHEMA_ID, type Device, type Inventory, type Observation, type ScanInfo, type Service } from '../types.js';

/**
 * What spoke on a port, most specific first: an ONVIF device service runs over HTTP, HTTPS over TLS,
 * and the port sweep's guess (`port.service`) is the fallback.
 */
const PROTOCOL_BY_SOURCE: readonly [DiscovererName, string][] = [
  ['onvif-device-service', 'onvif'],
  ['rtsp', 'rtsp'],
  ['http-pages', 'http'],
  ['upnp-description', 'upnp'],
  ['tls-certificate', 'tls'],
];
/** Fields that carry a service's own banner (its Server header), in order of preference. */
const BANNER_FIELDS = ['http.header.server', 'rtsp.server', 'onvif.http.server', 'upnp.http.server'];

function firstText(fields: Observation['fields'], names: readonly string[]): string | null {
  for (const name of names) {
    const value = fields[name];
    const text = Array.isArray(value) ? value[0] : value;
    if (text) return text;
  }
  return null;
}

/** Services the observations show: each port that answered, what spoke there, and its banner. */
function servicesOf(host: ObservedHost): Service[] {
  const byPort = new Map<number, Observation[]>();
  for (const o of host.observations) {
    if (o.port === undefined || o.status === 'refused' || o.status === 'timeout') continue;
    byPort.set(o.port, [...(byPort.get(o.port) ?? []), o]);
  }
  const services: Service[] = [];
  for (const [port, seen] of byPort) {
    const spoken = PROTOCOL_BY_SOURCE.find(([source]) => seen.some((o) => o.source === source))?.[1];
    const protocol = spoken === 'http' && seen.some((o) => o.source === 'tls-certificate') ? 'https' : spoken;
    const swept = seen.map((o) => o.fields['port.service']).find((v): v is string => typeof v === 'string');
    const banner = seen.map((o) => firstText(o.fields, BANNER_FIELDS)).find((b) => b !== null) ?? null;
    services.push({ port, protocol: protocol ?? swept ?? 'tcp', banner });
  }
  return services.sort((a, b) => a.port - b.port);
}

/** Stable id: the MAC, else the serial the device reports, else its address. */
function deviceId(mac: string | null, serial: string | null, ip: string): string {
  if (mac) return `mac:${mac}`;
  if (serial) return `serial:${serial}`;
  return `ip:${ip}`;
}

export function buildDevice(db: Knowledge, host: ObservedHost): Device {
  const fingerprint = fingerprintDevice(db, { mac: host.mac, observations: host.observations });
  const classified = classify(db, fingerprint.evidence, fingerprint.identity);
  const { classification } = classified;
  // When neither the vendor table nor the device names a maker, the MAC's IEEE registrant does
  // (a printer's "HP Inc."); registry placeholders such as "Private" never do.
  const identity = { ...classified.identity, manufacturer: classified.identity.manufacturer ?? fingerprint.registrant };
  return {
    id: deviceId(host.mac, identity.serial, host.ip),
    ip: host.ip,
    mac: host.mac,
    identity,
    classification,
    evidence: fingerprint.evidence,
    vulnerabilities: vulnerabilitiesOf(db.cves, {
      model: identity.model,
      firmware: identity.firmware,
      linkedVendor: classification.linkedVendor,
      relation: classification.relation,
    }),
    services: servicesOf(host),
    policies: policiesFor(db.policies, classification),
  };
}

export function buildInventory(scan: ScanInfo, devices: Device[]): Inventory {
  return {
    schema: INVENTORY_SCHEMA_ID,
    scan,
    devices: [...devices].sort((a, b) => compareAddresses(a.ip, b.ip) || a.id.localeCompare(b.id)),
  };
}
