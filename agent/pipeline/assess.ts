/**
 * Device records and the cctv-inventory/v1 document, built deterministically: identical
 * observations give an identical document apart from the scan's id and times.
 */
import { describeAddress, withoutZone, type AddressDetail } from '../net/ip-address.js';
import { classify } from './classify.js';
import { fingerprintDevice } from '../fingerprint/index.js';
import { serialFragmentEvidence } from '../fingerprint/serial-carriers.js';
import { carriedMacEvidence } from '../fingerprint/mac-carriers.js';
import type { Knowledge } from '../knowledge/index.js';
import { compareAddresses, DEVICE_UUID_FIELDS, type ObservedHost, type SharedMac } from './merge.js';
import { SHARED_MAC_RULE_ID } from '../fingerprint/types.js';
import { policiesFor } from './policies.js';
import { vulnerabilitiesOf } from './vulns.js';
import { discoverers, type DiscovererName } from '../discovery/index.js';
import { CLEANED_FIELD } from '../safe-text.js';
import {
  EVIDENCE_SOURCES,
  INVENTORY_SCHEMA_ID,
  type Device,
  type Evidence,
  type EvidenceSource,
  type Inventory,
  type Observation,
  type ScanInfo,
  type Service,
} from '../types.js';

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
  let byPort: Map<number, Observation[]> | undefined;
  for (const o of host.observations) {
    if (o.port === undefined || o.status === 'refused' || o.status === 'timeout') continue;
    const seen = (byPort ??= new Map()).get(o.port);
    if (seen) seen.push(o);
    else byPort.set(o.port, [o]);
  }
  const services: Service[] = [];
  if (!byPort) return services;
  for (const [port, seen] of byPort) {
    const spoken = PROTOCOL_BY_SOURCE.find(([source]) => seen.some((o) => o.source === source))?.[1];
    const protocol = spoken === 'http' && seen.some((o) => o.source === 'tls-certificate') ? 'https' : spoken;
    const swept = seen.map((o) => o.fields['port.service']).find((v): v is string => typeof v === 'string');
    const banner = seen.map((o) => firstText(o.fields, BANNER_FIELDS)).find((b) => b !== null) ?? null;
    services.push({ port, protocol: protocol ?? swept ?? 'tcp', banner });
  }
  return services.sort((a, b) => a.port - b.port);
}

/** The rule id of the evidence that a device's text held control or bidirectional characters (agent/safe-text.ts). */
export const CLEANED_TEXT_RULE_ID = 'device-text-cleaned';

const EVIDENCE_SOURCE_OF: ReadonlyMap<string, EvidenceSource | null> = new Map(discoverers.map((d) => [d.name, d.evidence]));

/** What a device whose text needed no cleaning (nearly every device) gets: one list, shared. */
const NO_CLEANED_TEXT: readonly Evidence[] = Object.freeze([]);

function holdsCleanedText(observations: readonly Observation[]): boolean {
  for (const o of observations) if (o.fields[CLEANED_FIELD] !== undefined) return true;
  return false;
}

/**
 * One piece of evidence per field whose value held control or bidirectional formatting characters,
 * removed at ingest (the observations' `text.cleaned`): a device that sends them is worth knowing
 * about, though it supports no vendor.
 */
function cleanedTextEvidence(host: ObservedHost): readonly Evidence[] {
  if (!holdsCleanedText(host.observations)) return NO_CLEANED_TEXT;
  const found = new Map<string, Evidence>();
  for (const o of host.observations) {
    const cleaned = o.fields[CLEANED_FIELD];
    const source = EVIDENCE_SOURCE_OF.get(o.source);
    if (cleaned === undefined || !source) continue;
    for (const field of Array.isArray(cleaned) ? cleaned : [cleaned]) {
      const detail = `${field} contained control or bidirectional formatting characters, removed`;
      found.set(`${source} ${detail}`, { source, detail, supports: null, rule: CLEANED_TEXT_RULE_ID, confidence: 0 });
    }
  }
  return [...found.values()].sort(
    (a, b) => EVIDENCE_SOURCES.indexOf(a.source) - EVIDENCE_SOURCES.indexOf(b.source) || (a.detail < b.detail ? -1 : a.detail > b.detail ? 1 : 0),
  );
}

/**
 * Stable id: its own MAC (the lowest, for a device with several interfaces), else the serial it
 * reports, else its address. A MAC it shares with other devices (a proxy-ARP router's) is not its
 * own, so such devices are told apart by serial or address; devices sharing an address (units on
 * one factory default) with neither, by the EndpointReference UUID each announced after the
 * address (`ip:192.168.0.90+urn:uuid:…`). buildInventory settles clashes.
 */
function deviceId(host: ObservedHost, serial: string | null): string {
  if (host.ownMacs[0]) return `mac:${host.ownMacs[0]}`;
  if (serial) return `serial:${serial}`;
  const endpoint = host.addressShared ? host.observations.flatMap((o) => DEVICE_UUID_FIELDS.flatMap((f) => o.fields[f] ?? [])).sort()[0] : undefined;
  return `ip:${withoutZone(host.ip)}${endpoint ? `+${endpoint}` : ''}`;
}

/**
 * The evidence that a device's MAC is not its own (agent/pipeline/merge.ts): listed with the OUI
 * evidence it replaces, supporting no vendor.
 */
function sharedMacEvidence(shared: SharedMac): Evidence {
  const others = `${shared.otherAddresses} other${shared.otherAddresses === 1 ? '' : 's'}`;
  return {
    source: 'oui',
    detail: `address shares its MAC ${shared.mac} with ${others}: a router or proxy-ARP segment; MAC is not this device's`,
    supports: null,
    rule: SHARED_MAC_RULE_ID,
    confidence: 0,
  };
}

export function buildDevice(db: Knowledge, host: ObservedHost): Device {
  const fingerprint = fingerprintDevice(db, { macs: host.ownMacs, observations: host.observations });
  // MACs carried inside other values (an Axis realm's AXIS_<MAC>) count like the device's own.
  const carried = carriedMacEvidence(db, db.macCarriers, host.observations, host.ownMacs);
  // Serial pieces carried inside other values (a Hikvision realm's IP Camera(<sub-serial>)),
  // checked against the serial the device gives: agreeing or not, both are shown.
  const fragments = serialFragmentEvidence(db, db.serialCarriers, host.observations);
  const deviceEvidence = carried.length > 0 || fragments.length > 0 ? [...fingerprint.evidence, ...carried, ...fragments] : fingerprint.evidence;
  const classified = classify(db, deviceEvidence, fingerprint.identity);
  const { classification, identity } = classified;
  // When neither the vendor table nor the device names a maker, the MAC's IEEE registrant does
  // (a printer's "HP Inc."); registry placeholders such as "Private" never do.
  identity.manufacturer ??= fingerprint.registrant;
  const cleaned = cleanedTextEvidence(host);
  // The fingerprint's own list when nothing is added to it (it is built for this device).
  const evidence = host.sharedMac || cleaned.length > 0 ? [...(host.sharedMac ? [sharedMacEvidence(host.sharedMac)] : []), ...deviceEvidence, ...cleaned] : deviceEvidence;
  // The document's addresses are plain (a link-local one's zone goes to addressDetails).
  const addresses = host.addresses.length > 1 ? [...new Set(host.addresses.map(withoutZone))] : host.addresses;
  const id = deviceId(host, identity.serial);
  const ip = withoutZone(host.ip);
  const mac = host.mac;
  const addressDetails = addressDetailsOf(host.addresses);
  const vulnerabilities = vulnerabilitiesOf(db.cves, {
    model: identity.model,
    firmware: identity.firmware,
    linkedVendor: classification.linkedVendor,
    relation: classification.relation,
    brand: identity.brand,
  });
  const services = servicesOf(host);
  const policies = policiesFor(db.policies, classification);
  const macShared = host.sharedMac !== null && host.mac === host.sharedMac.mac;
  // In the document's order. A device with one address and one MAC of its own (nearly every one)
  // is built whole by one literal; the optional properties go in their places otherwise.
  if (addresses.length <= 1 && host.ownMacs.length <= 1 && !macShared) {
    return { id, ip, mac, addressDetails, identity, classification, evidence, vulnerabilities, services, policies };
  }
  return {
    id,
    ip,
    mac,
    ...(addresses.length > 1 ? { addresses } : {}),
    addressDetails,
    ...(host.ownMacs.length > 1 ? { macs: [...host.ownMacs] } : {}),
    ...(macShared ? { macShared: true } : {}),
    identity,
    classification,
    evidence,
    vulnerabilities,
    services,
    policies,
  };
}

/** Each address's description (a device keeps the list: built at its size, nearly always one address). */
function addressDetailsOf(addresses: readonly string[]): AddressDetail[] {
  const details = addresses.map(describeAddress);
  return details.includes(null) ? details.filter((d): d is AddressDetail => d !== null) : (details as AddressDetail[]);
}

/**
 * Ids unique within the document: devices that would share a `serial:` id (a placeholder serial
 * several devices report) are told apart by address, which no two devices share.
 */
function withUniqueIds(devices: readonly Device[]): Device[] {
  const count = new Map<string, number>();
  for (const d of devices) count.set(d.id, (count.get(d.id) ?? 0) + 1);
  return devices.map((d) => (count.get(d.id) === 1 ? d : { ...d, id: `ip:${d.ip}` }));
}

export function buildInventory(scan: ScanInfo, devices: Device[]): Inventory {
  return {
    schema: INVENTORY_SCHEMA_ID,
    scan,
    devices: withUniqueIds(devices).sort((a, b) => compareAddresses(a.ip, b.ip) || a.id.localeCompare(b.id)),
  };
}
