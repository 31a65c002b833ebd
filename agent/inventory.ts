/**
 * Device records and the cctv-inventory/v1 document, built deterministically: identical
 * observations give an identical document apart from the scan's id and times.
 */
import { classify } from './classify.js';
import { fingerprintDevice, type FingerprintDb } from './fingerprint/index.js';
import { compareAddresses, type ObservedHost } from './merge.js';
import { loadPolicies, policiesFor } from './policies.js';
import { loadCves, vulnerabilitiesOf } from './vulns.js';
import { INVENTORY_SCHEMA_ID, type Device, type Inventory, type ScanInfo, type Service } from './types.js';

/** Services the observations show: a port that answered, what spoke there, and its banner. */
function servicesOf(host: ObservedHost): Service[] {
  const byPort = new Map<number, Service>();
  for (const o of host.observations) {
    if (o.port === undefined || o.status === 'refused' || o.status === 'timeout') continue;
    const server = o.fields['onvif.http.server'];
    const existing = byPort.get(o.port);
    const banner = typeof server === 'string' ? server : (existing?.banner ?? null);
    byPort.set(o.port, { port: o.port, protocol: o.source === 'onvif' ? 'onvif' : o.source, banner });
  }
  return [...byPort.values()].sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol));
}

/** Stable id: the MAC, else the serial the device reports, else its address. */
function deviceId(mac: string | null, serial: string | null, ip: string): string {
  if (mac) return `mac:${mac}`;
  if (serial) return `serial:${serial}`;
  return `ip:${ip}`;
}

export function buildDevice(db: FingerprintDb, host: ObservedHost): Device {
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
    vulnerabilities: vulnerabilitiesOf(loadCves(db.dir), {
      model: identity.model,
      firmware: identity.firmware,
      linkedVendor: classification.linkedVendor,
      relation: classification.relation,
    }),
    services: servicesOf(host),
    policies: policiesFor(loadPolicies(db.dir), classification),
  };
}

export function buildInventory(scan: ScanInfo, devices: Device[]): Inventory {
  return {
    schema: INVENTORY_SCHEMA_ID,
    scan,
    devices: [...devices].sort((a, b) => compareAddresses(a.ip, b.ip) || a.id.localeCompare(b.id)),
  };
}
