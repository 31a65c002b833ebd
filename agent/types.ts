/**
 * The data model shared by every stage of the pipeline:
 * discover → Observation → merge → fingerprint (Evidence + Identity) → classify → Device → Inventory.
 *
 * Discoverers only produce Observations. Only fingerprint/ and classify.ts interpret them.
 */

import type { AddressDetail } from './net/ip-address.js';
import type { DiscovererName } from './discovery/index.js';
import type { SkippedTargets } from './targets.js';
import type { CredentialRefusal } from './credential-refusals.js';

/**
 * Where a piece of evidence came from, as written in the inventory document: the MAC's registrant
 * (`oui`) and the `evidence` source of every discoverer (agent/discovery/index.ts). The order is
 * the order in which a device's evidence is listed. schema/cctv-inventory-v1.schema.json
 * enumerates the same values; tests/unit/discovery-registry.test.ts holds both to the registry.
 */
export const EVIDENCE_SOURCES = ['oui', 'onvif', 'ssdp', 'mdns', 'sadp', 'dhip', 'http', 'rtsp', 'tls', 'port'] as const;
export type EvidenceSource = (typeof EVIDENCE_SOURCES)[number];

/**
 * How one probe ended (zgrab2's closed status vocabulary). Partial fields may travel with any
 * status other than 'ok'.
 */
export const PROBE_STATUSES = ['ok', 'timeout', 'refused', 'protocol-error', 'auth-required', 'error'] as const;
export type ProbeStatus = (typeof PROBE_STATUSES)[number];

/** Flat dotted field values, e.g. `onvif.scope.hardware` → `DS-2CD2143G2-I`. */
export type FieldValue = string | string[];
export type Fields = Record<string, FieldValue>;

/** One fact seen on the wire by one probe. Immutable once emitted. */
export interface Observation {
  /** The discoverer that made it (its one name, agent/discovery/index.ts). */
  readonly source: DiscovererName;
  /** IPv4 or IPv6 address the fact is about (not necessarily the packet's sender). */
  readonly ip: string;
  /** Lower-case colon form, when the probe itself learned it. */
  readonly mac?: string;
  readonly port?: number;
  /** ISO-8601 time the observation was made. */
  readonly at: string;
  readonly status: ProbeStatus;
  readonly fields: Readonly<Fields>;
}

/** What a device says it is, or what its traits reveal. Every member is a string or null. */
export interface Identity {
  manufacturer: string | null;
  brand: string | null;
  model: string | null;
  firmware: string | null;
  serial: string | null;
  deviceType: string | null;
}
export const IDENTITY_KEYS = ['manufacturer', 'brand', 'model', 'firmware', 'serial', 'deviceType'] as const;
export type IdentityKey = (typeof IDENTITY_KEYS)[number];

/** A linked vendor: a key of fingerprints/vendors.yaml whose entry links to itself (`hikvision`, `dahua`). */
export type LinkedVendor = string;
export type Relation = 'direct' | 'oem' | 'subsidiary';

export interface Classification {
  linkedVendor: LinkedVendor | null;
  relation: Relation | null;
  /** 0..1: how sure we are of `linkedVendor` (or, when null, of the maker named by the evidence). */
  confidence: number;
}

/** One piece of evidence a verdict rests on, in words a reader can check. */
export interface Evidence {
  source: EvidenceSource;
  /** What was seen, e.g. `onvif.scope.name = HIKVISION DS-2CD2143G2-I`. */
  detail: string;
  /** Vendor-table key this evidence points to (`hikvision`, `lts`, `axis`…), or null. */
  supports: string | null;
  /** Fingerprint rule that produced it. */
  rule: string;
  /** The rule's confidence, 0..1. */
  confidence: number;
}

export interface Service {
  port: number;
  protocol: string;
  banner: string | null;
}

/**
 * How a CVE concerns a device, judged offline from its model and firmware (agent/pipeline/vulns.ts):
 * `affected` = its model is in a family the advisory lists and its firmware inside the range;
 * `possibly-affected` = only the family matches (the firmware cannot be compared, or the advisory
 * names only series) or only the build matches (a model the advisory does not list, on the maker's
 * firmware built before the fix); `not-affected` = the family or firmware line matches and the
 * firmware is at or past the fix; `cannot-tell` = the family matches but the device gave no
 * firmware. A CVE that does not concern the device gets no entry.
 */
export type VulnerabilityStatus = 'affected' | 'possibly-affected' | 'not-affected' | 'cannot-tell';

/** The statuses that count a device as one "with known CVEs": the others say it is not, or cannot be told. */
export const FLAGGED_STATUSES: readonly VulnerabilityStatus[] = ['affected', 'possibly-affected'];

export interface Vulnerability {
  id: string;
  status?: VulnerabilityStatus;
  /** critical | high | medium | low, or null when no score is known. */
  severity?: string | null;
  /** Date CISA added the CVE to its Known Exploited Vulnerabilities catalogue, or null. */
  kev?: string | null;
  /** Why, in words: which family and firmware range the device's model and firmware fall in. */
  reason?: string;
  /** The advisory the flag rests on (URL). */
  source?: string;
}

/** A public policy that names the device's linked vendor (fingerprints/policies.yaml). */
export interface PolicyRef {
  id: string;
  name: string;
}

export interface Device {
  /**
   * Stable across scans: `mac:` its own (lowest) MAC, else `serial:…`, else `ip:…` (a device whose
   * MAC is shared with others has no MAC of its own).
   */
  id: string;
  ip: string;
  mac: string | null;
  /** Every address of the device, sorted, when it has more than one (absent in documents of older agents). */
  addresses?: string[];
  /**
   * Every address of the device with its family, scope and, for an IPv6 link-local address, the
   * scanner interface it was heard on (agent/net/ip-address.ts); absent in documents of older agents.
   */
  addressDetails?: AddressDetail[];
  /** The MACs of its own interfaces, sorted, when it has more than one (two NICs). */
  macs?: string[];
  /**
   * True when `mac` also fronts other devices' addresses (a router or proxy-ARP segment): it is
   * recorded but is not this device's, so it names no maker. Absent otherwise.
   */
  macShared?: true;
  /**
   * Present when the device answered on the segment but IPv4 cannot reach it: every address it was
   * heard at, and the address it claims, lie outside every chosen interface's subnet
   * (agent/pipeline/misaddressed.ts). `ip` is then the address it claims; it is never probed there.
   */
  misaddressed?: Misaddressing;
  identity: Identity;
  classification: Classification;
  evidence: Evidence[];
  vulnerabilities: Vulnerability[];
  services: Service[];
  /** Policies that concern the device because of its linked vendor (absent in documents of older agents). */
  policies?: PolicyRef[];
}

/** A misaddressed device's own IPv4 configuration, as its discovery reply claims it. */
export interface Misaddressing {
  /** The IPv4 address it claims (SADP/DHIP IPv4Address, else a WS-Discovery XAddr's host, else where it was heard). */
  address: string;
  /** The subnet it would need, `A.B.C.D/N` from the claimed address and mask; absent when no usable mask was given. */
  subnet?: string;
  /** The gateway it claims, when it gave one. */
  gateway?: string;
  /** The address its reply came from, when that is not the address it claims. */
  heardFrom?: string;
}

export interface ScanInfo {
  id: string;
  site: string;
  startedAt: string;
  finishedAt: string;
  targets: string[];
  methods: string[];
  /** Named target addresses active probes left out, and why (agent/targets.ts); absent in documents of older agents. */
  skippedTargets?: SkippedTargets[];
  /** Items cut at each cap on what devices send (agent/discovery/bounds.ts), by cap name; absent in documents of older agents. */
  dropped?: Record<string, number>;
  /**
   * Devices that refused the operator's credentials, this scan or earlier ones still on record, and
   * when they may be asked again (agent/credential-refusals.ts); present only when there are some.
   */
  credentialRefusals?: CredentialRefusal[];
  /** How the named targets were swept (present when active probes ran; absent in documents of older agents). */
  sweep?: SweepSummary;
  /** The daemon's schedule of the site, on its sweeps (a reader tells a stale site by it); absent in scans run by hand. */
  schedule?: ScanSchedule;
}

/** A daemon site's cron schedule (5 fields, or 6 with seconds first) and the IANA time zone it is read in. */
export interface ScanSchedule {
  cron: string;
  timezone?: string;
}

/**
 * The named targets by how the sweep reached them: on a chosen interface's subnet (each address
 * holds a place in the kernel's neighbour table while it is being resolved, at most
 * `neighbourBudget` at once: agent/net/neighbour-budget.ts) or through a router (not so paced).
 */
export interface SweepSummary {
  onLinkTargets: number;
  routedTargets: number;
  neighbourBudget: number;
  /** How the swept addresses were found live, method by method (absent in documents of older agents). */
  methods?: SweepMethodCount[];
}

/**
 * How one group of addresses was checked before its ports were swept:
 * - `neighbour-resolution`: on-link addresses, live when they answered ARP (agent/discovery/link-hosts.ts);
 * - `tcp-host-check`: addresses through a router (or on-link ones when the neighbour table cannot
 *   be read), live when port 80 or 443 answered with a SYN-ACK or a RST (agent/discovery/ports.ts);
 * - `announced`: hosts heard in the discovery window, swept without a check.
 */
export const SWEEP_METHODS = ['neighbour-resolution', 'tcp-host-check', 'announced'] as const;
export type SweepMethod = (typeof SWEEP_METHODS)[number];

export interface SweepMethodCount {
  method: SweepMethod;
  /** Addresses checked this way. */
  addresses: number;
  /** Of those, the ones found live (and then swept). */
  live: number;
}

export const INVENTORY_SCHEMA_ID = 'cctv-inventory/v1';

/** The contract document (schema/cctv-inventory-v1.schema.json). */
export interface Inventory {
  schema: typeof INVENTORY_SCHEMA_ID;
  scan: ScanInfo;
  devices: Device[];
}
