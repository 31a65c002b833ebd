/**
 * Observations → one group per device, without ever folding two devices into one.
 *
 * An address is the unit: every observation of one address belongs to one device — unless devices
 * at that address announce conflicting identities (two cameras unboxed on one factory default, each
 * SADP reply naming its own MAC and serial): then it holds one device each (./address-units.ts says
 * how its observations are shared out), and an address alone never joins them. Addresses join
 * into one device only when they positively share a device identity — the same serial number (a
 * field fields.yaml maps to `serial`) or the same ONVIF EndpointReference UUID — and none of their
 * identities conflict (two different serials, UUIDs or models). A MAC alone never joins addresses:
 * behind a proxy-ARP router (RFC 1027) every address answers ARP with the router's MAC, so keying
 * devices by MAC turns a segment of 1,000 hosts into one. So:
 *
 *   one camera, one address, several protocols          → one device
 *   one address, replies naming different MACs/serials  → one device per unit (a factory default)
 *   one NIC with two addresses, the same serial or UUID → one device (both addresses)
 *   two NICs (two MACs), the same serial or UUID        → one device (both addresses, both MACs)
 *   many addresses, one MAC, different or no identity   → one device per address, the MAC shared
 *   IPv6 addresses and at most one IPv4 address and at most one IPv6 link-local address, all
 *   with one MAC (the kernel's neighbour tables)        → one device (every address)
 *
 * Addresses that share a MAC and carry no identity at all stay apart. A proxy-ARP segment of plain
 * hosts looks exactly like that, while a camera with an alias address that names nothing is rare;
 * counting such a camera twice, both entries flagged as sharing a MAC, is visible to a reader,
 * whereas merging the segment would silently lose every host but one.
 *
 * Across families a MAC does join: a dual-stack camera answers IPv4 and IPv6 discovery from one
 * interface, and the IPv4 and IPv6 neighbour tables both hold its MAC. It joins only where it cannot
 * be a proxy-ARP segment's or a router's: at most one IPv4 address and one IPv6 link-local address
 * show it (one interface has exactly one link-local address in practice, RFC 4291 §2.1; a router
 * fronting many hosts shows many IPv4 addresses behind one MAC). An IPv6 address alone joins
 * nothing: two devices are never one because they were heard at one IPv6 address.
 *
 * A MAC seen at addresses that end up in more than one device is shared: each of those devices
 * records it (`sharedMac`), but it is not theirs (a router's, or the segment's), so it names no
 * maker and no device id (agent/pipeline/assess.ts).
 *
 * A neighbour-table entry the kernel did not refresh during this scan only lends its MAC to an IP
 * that something else saw now; on its own it is an old memory, not a device on the wire.
 *
 * Cost: linear in the observations plus a sort of the addresses — one record per address, an index
 * from each identity value to the addresses carrying it, and union-find joins that check conflicts
 * on the (small) identity sets of the two groups.
 */
import { isIPv4 } from 'node:net';
import { isIpv6LinkLocal } from '../net/interfaces.js';
import { ipv4ToInt } from '../net/ipv4.js';
import type { FieldDef } from '../fingerprint/types.js';
import type { Observation } from '../types.js';
import { comparableModel, readComparisonRules, type ComparisonRules } from '../normalise.js';
import { normaliseMac } from '../net/mac.js';
import { compareCodeUnits, sortSmall } from '../fingerprint/small-sort.js';
import { isStaleNeighbour, unitsAtAddress, type UnitIdentity } from './address-units.js';

export interface ObservedHost {
  /** The address the device is reported at (its lowest IPv4, else its first address). */
  ip: string;
  addresses: string[];
  /** Its lowest own MAC, else the MAC it shares with other devices, else null. */
  mac: string | null;
  /** MACs of the device's own interfaces (seen at its addresses and no other device's), sorted. */
  ownMacs: string[];
  /** The MAC its addresses share with other devices' addresses (a router's), or null. */
  sharedMac: SharedMac | null;
  /** Another device was heard at one of its addresses (units on one factory default); absent: none was. */
  addressShared?: true;
  observations: Observation[];
}

export interface SharedMac {
  mac: string;
  /** How many addresses of other devices show the same MAC. */
  otherAddresses: number;
}

/**
 * Fields whose value is a device's own UUID: the WS-Discovery EndpointReference address, which
 * "shall be persistent across reboots" and identifies the device, not the interface it answered
 * on (ONVIF Core Specification §7.3.1, https://www.onvif.org/specs/core/ONVIF-Core-Specification.pdf).
 */
export const DEVICE_UUID_FIELDS: readonly string[] = ['onvif.endpoint'];

/**
 * An identity value carried by more addresses than this is a value a product line ships unchanged
 * (cloned firmware shares one EndpointReference UUID, see agent/discovery/wsdiscovery.ts; blank or
 * factory serials), not one device's: it joins nothing. Four covers a recorder with two LAN ports
 * and an alias address on each.
 */
export const MAX_ADDRESSES_PER_IDENTITY = 4;

/** Which observation fields carry a serial, a device UUID or a model (from fields.yaml and DEVICE_UUID_FIELDS). */
export interface IdentityFields {
  serial: ReadonlySet<string>;
  uuid: ReadonlySet<string>;
  model: ReadonlySet<string>;
  /** Models are compared as agent/normalise.ts does: a formatting difference is no conflict. */
  comparison: ComparisonRules;
}

export function identityFieldsOf(
  fields: ReadonlyMap<string, Pick<FieldDef, 'identity'>>,
  comparison: ComparisonRules = readComparisonRules(),
): IdentityFields {
  const byKey = (key: 'serial' | 'model'): Set<string> => new Set([...fields].filter(([, def]) => def.identity === key).map(([name]) => name));
  return { serial: byKey('serial'), uuid: new Set(DEVICE_UUID_FIELDS), model: byKey('model'), comparison };
}

const IDENTITY_KINDS = ['serial', 'uuid', 'model'] as const;
type IdentityKind = (typeof IDENTITY_KINDS)[number];
/** Kinds that join addresses when they agree; a model only vetoes (many cameras share one). */
const JOINING_KINDS: readonly IdentityKind[] = ['serial', 'uuid'];

/** Identity values by kind; shared between records and observations, so never changed once built. */
type IdentitySets = Record<IdentityKind, ReadonlySet<string>>;

interface AddressRecord {
  ip: string;
  /** Its address's sort key (addressKey), read once. */
  key: AddressKey;
  mac: string | null;
  identity: IdentitySets;
  observations: Observation[];
}

/** What an address sorts by: an IPv4 address its number, any other its text. */
type AddressKey = number | string;

function addressKey(ip: string): AddressKey {
  return isIPv4(ip) ? ipv4ToInt(ip) : ip;
}

function compareAddressKeys(a: AddressKey, b: AddressKey): number {
  if (typeof a === 'number') return typeof b === 'number' ? a - b : -1;
  return typeof b === 'number' ? 1 : a.localeCompare(b);
}

/** Sort key for addresses: IPv4 numerically, then IPv6 as text. */
export function compareAddresses(a: string, b: string): number {
  return compareAddressKeys(addressKey(a), addressKey(b));
}

const LINK_RANK = 0;
const CLAIM_RANK = 1;
const STALE_RANK = 2;

/**
 * The MAC an IPv6 link-local address was made from, when it was (modified EUI-64, RFC 4291 §2.5.1
 * and Appendix A: ff:fe in the middle of the interface identifier, the universal/local bit
 * inverted), else null. The weakest source of a MAC: it keeps the id of a device heard over IPv6
 * alone stable when the neighbour table no longer holds it (the device answered without asking for
 * the scanner's address again), and any MAC the link or a reply shows wins over it.
 */
export function macOfEui64LinkLocal(ip: string): string | null {
  const m = /^fe80::([0-9a-f]{1,4}):([0-9a-f]{1,2})ff:fe([0-9a-f]{2}):([0-9a-f]{1,4})(?:%.*)?$/i.exec(ip);
  if (!m) return null;
  const [g1, b3, b4, g4] = [parseInt(m[1] as string, 16), parseInt(m[2] as string, 16), parseInt(m[3] as string, 16), parseInt(m[4] as string, 16)];
  const bytes = [(g1 >> 8) ^ 0x02, g1 & 0xff, b3, b4, g4 >> 8, g4 & 0xff];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/**
 * Which MAC an IP gets when sources differ, best first: what the link showed during this scan (a
 * fresh neighbour entry), then what a reply says about itself (SADP/DHIP carry the device's MAC:
 * the only one a routed device has, but only a claim), then a stale neighbour entry (an old
 * memory: the address may have changed hands since).
 */
function macRank(o: Observation): number {
  if (o.source !== 'neighbour-table') return CLAIM_RANK;
  return isStaleNeighbour(o) ? STALE_RANK : LINK_RANK;
}

/** A value made of one repeated character ("0000000000", "FFFFFFFF") is a placeholder, not an identity. */
function identityValue(raw: unknown): string | null {
  if (typeof raw !== 'string') return null;
  const value = raw.trim().toLowerCase();
  if (!value || /^(.)\1*$/su.test(value)) return null;
  return value;
}

/** The one empty set shared by every kind an observation holds no value of (most observations hold none). */
const NO_VALUES: ReadonlySet<string> = new Set();
/** The identity of everything that names none (most observations, most addresses). */
const NO_IDENTITY: IdentitySets = Object.freeze({ serial: NO_VALUES, uuid: NO_VALUES, model: NO_VALUES });
/** What an observation that names no device tells about its device (./address-units.ts). */
const NO_UNIT_IDENTITY: UnitIdentity = Object.freeze({ ...NO_IDENTITY, mac: NO_VALUES });

/** Field → the identity kinds it carries, in IDENTITY_KINDS order, worked out once per IdentityFields. */
const kindsByField = new WeakMap<IdentityFields, ReadonlyMap<string, readonly IdentityKind[]>>();

function identityKindsOf(fields: IdentityFields): ReadonlyMap<string, readonly IdentityKind[]> {
  let kinds = kindsByField.get(fields);
  if (!kinds) {
    const byField = new Map<string, IdentityKind[]>();
    for (const kind of IDENTITY_KINDS) for (const field of fields[kind]) byField.set(field, [...(byField.get(field) ?? []), kind]);
    kinds = byField;
    kindsByField.set(fields, kinds);
  }
  return kinds;
}

type FoundIdentity = Partial<Record<IdentityKind, Set<string>>>;

/** `found` with `item` added to its values of `kind` when it is an identity value (a new `found` if there was none). */
function withIdentityValue(fields: IdentityFields, kind: IdentityKind, item: unknown, found: FoundIdentity | undefined): FoundIdentity | undefined {
  const value = identityValue(item);
  if (!value) return found;
  const into = found ?? {};
  (into[kind] ??= new Set()).add(kind === 'model' ? comparableModel(value, fields.comparison) : value);
  return into;
}

/** The identity values of one observation, by kind. */
function identityOf(fields: IdentityFields, o: Observation): IdentitySets {
  const kinds = identityKindsOf(fields);
  let found: FoundIdentity | undefined;
  for (const field in o.fields) {
    const fieldKinds = kinds.get(field);
    if (!fieldKinds) continue;
    const raw = o.fields[field];
    for (const kind of fieldKinds) {
      if (Array.isArray(raw)) for (const item of raw) found = withIdentityValue(fields, kind, item, found);
      else found = withIdentityValue(fields, kind, raw, found);
    }
  }
  return found ? { serial: found.serial ?? NO_VALUES, uuid: found.uuid ?? NO_VALUES, model: found.model ?? NO_VALUES } : NO_IDENTITY;
}

/** The values of `kind` that any of `identities` holds; one of their own sets when only one holds any. */
function unionOf(identities: readonly IdentitySets[], kind: IdentityKind): ReadonlySet<string> {
  let union = NO_VALUES;
  let owned: Set<string> | null = null;
  for (const identity of identities) {
    const values = identity[kind];
    if (values.size === 0 || values === union) continue;
    if (union.size === 0) {
      union = values;
      continue;
    }
    owned ??= new Set(union);
    for (const v of values) owned.add(v);
    union = owned;
  }
  return union;
}

function identityUnion(identities: readonly IdentitySets[]): IdentitySets {
  // Nearly always one observation at most names the device: its identity is the union.
  let naming: IdentitySets = NO_IDENTITY;
  for (const identity of identities) {
    if (identity === NO_IDENTITY || identity === naming) continue;
    if (naming !== NO_IDENTITY) return unionOfAll(identities);
    naming = identity;
  }
  return naming;
}

function unionOfAll(identities: readonly IdentitySets[]): IdentitySets {
  const [serial, uuid, model] = [unionOf(identities, 'serial'), unionOf(identities, 'uuid'), unionOf(identities, 'model')];
  return serial === NO_VALUES && uuid === NO_VALUES && model === NO_VALUES ? NO_IDENTITY : { serial, uuid, model };
}

/**
 * What the kernel's neighbour tables showed during this scan: the addresses at which each MAC
 * answered (one, nearly always: a set only for a MAC seen at several).
 */
class LinkSightings {
  private readonly addresses = new Map<string, string | Set<string>>();

  add(mac: string, ip: string): void {
    const seen = this.addresses.get(mac);
    if (seen === undefined) this.addresses.set(mac, ip);
    else if (typeof seen !== 'string') seen.add(ip);
    else if (seen !== ip) this.addresses.set(mac, new Set([seen, ip]));
  }

  /** Whether the link showed `mac`, at other addresses than `ip` only. */
  showsElsewhereOnly(mac: string, ip: string): boolean {
    const seen = this.addresses.get(mac);
    return seen !== undefined && (typeof seen === 'string' ? seen !== ip : !seen.has(ip));
  }
}

/**
 * The MAC a reply claims for itself at `o.ip`, unless the link showed that MAC at other addresses
 * only: then it is another device's (a reply claiming it would make the two look like a proxy-ARP
 * pair) and is not believed.
 */
function believedClaim(o: Observation, link: LinkSightings): string | null {
  if (!o.mac || o.source === 'neighbour-table') return null;
  return link.showsElsewhereOnly(o.mac, o.ip) ? null : o.mac;
}

/** The MAC of a group of observations of one address, by macRank, else the one its link-local address was made from. */
function macOf(ip: string, observations: readonly Observation[], link: LinkSightings): string | null {
  let best: { mac: string; rank: number } | null = null;
  for (const o of observations) {
    const mac = o.source === 'neighbour-table' ? (o.mac ?? null) : believedClaim(o, link);
    const rank = macRank(o);
    if (mac && (!best || rank < best.rank)) best = { mac, rank };
  }
  return best?.mac ?? macOfEui64LinkLocal(ip);
}

/**
 * Fields in which a device names its own MAC: the ONVIF `MAC` scope (Hikvision's WS-Discovery
 * ProbeMatch carries `onvif://www.onvif.org/MAC/<mac>`: the DS-2CD2385G1-I capture in
 * Haicam/Haicam golang/libs/onvif/haicam_test/discoverytest.go@307e0a3735f0df74237b5e903be7edfe3341c6d1).
 * It tells devices at one address apart, and gives no device its MAC (a routed device's scope would
 * change its id).
 */
const SELF_NAMED_MAC_FIELDS: readonly string[] = ['onvif.scope.mac'];

/** `macs` with `mac` added, when there is one (a new set if there was none). */
function withMac(mac: string | null, macs: Set<string> | undefined): Set<string> | undefined {
  return mac ? (macs ?? new Set<string>()).add(mac) : macs;
}

/**
 * What one observation says about its device, for telling devices at one address apart
 * (./address-units.ts): its identity values (identityOf) and the MACs it names.
 */
function unitIdentity(o: Observation, identity: IdentitySets, link: LinkSightings): UnitIdentity {
  let macs = withMac(o.source === 'neighbour-table' ? (o.mac ?? null) : believedClaim(o, link), undefined);
  for (const field of SELF_NAMED_MAC_FIELDS) {
    const raw = o.fields[field];
    if (Array.isArray(raw)) for (const value of raw) macs = withMac(normaliseMac(value), macs);
    else if (raw !== undefined) macs = withMac(normaliseMac(raw), macs);
  }
  if (!macs && identity === NO_IDENTITY) return NO_UNIT_IDENTITY;
  return { serial: identity.serial, uuid: identity.uuid, model: identity.model, mac: macs ?? NO_VALUES };
}

/**
 * One record per device at each live address: its MAC (by macRank), identity values and
 * observations. Nearly always one record per address; several when devices at one address announce
 * conflicting identities (./address-units.ts).
 */
function addressRecords(observations: readonly Observation[], fields: IdentityFields): AddressRecord[] {
  const live = new Set<string>();
  const link = new LinkSightings();
  const byIp = new Map<string, Observation[]>();
  for (const o of observations) {
    if (!isStaleNeighbour(o)) live.add(o.ip);
    if (o.source === 'neighbour-table' && o.mac && !isStaleNeighbour(o)) link.add(o.mac, o.ip);
    const list = byIp.get(o.ip);
    if (list) list.push(o);
    else byIp.set(o.ip, [o]);
  }
  const records: AddressRecord[] = [];
  for (const [ip, list] of byIp) {
    if (!live.has(ip)) continue;
    const key = addressKey(ip);
    const identities = list.map((o) => identityOf(fields, o));
    let byObservation: Map<Observation, IdentitySets> | undefined;
    for (const unit of unitsAtAddress(list, (i) => unitIdentity(list[i] as Observation, identities[i] as IdentitySets, link))) {
      // Nearly always the whole list, one device; else its observations' identities are looked up.
      let unitIdentities = identities;
      if (unit !== list) {
        const read = (byObservation ??= new Map(list.map((o, i) => [o, identities[i] as IdentitySets])));
        unitIdentities = unit.map((o) => read.get(o) as IdentitySets);
      }
      records.push({ ip, key, mac: macOf(ip, unit, link), identity: identityUnion(unitIdentities), observations: unit });
    }
  }
  return records.sort((a, b) => compareAddressKeys(a.key, b.key) || (a.mac ?? '').localeCompare(b.mac ?? ''));
}

/** Two identity sets conflict when both hold values of one kind and share none of them. */
function conflicts(a: IdentitySets, b: IdentitySets): boolean {
  return IDENTITY_KINDS.some((kind) => {
    const [small, large] = a[kind].size <= b[kind].size ? [a[kind], b[kind]] : [b[kind], a[kind]];
    return small.size > 0 && ![...small].some((v) => large.has(v));
  });
}

/**
 * Union-find over address indexes; each root holds the union of its group's identity values. A
 * group's root is its lowest index. A root reads its record's sets until a join adds to them: then
 * it takes copies of its own (most addresses join nothing).
 */
class Groups {
  private readonly parent: number[];
  private readonly identity: IdentitySets[];
  /** The roots' sets of their own, by root. */
  private readonly owned: (Record<IdentityKind, Set<string>> | undefined)[] = [];

  constructor(records: readonly AddressRecord[]) {
    this.parent = records.map((_, i) => i);
    this.identity = records.map((r) => r.identity);
  }

  private ownIdentity(root: number): Record<IdentityKind, Set<string>> {
    let own = this.owned[root];
    if (!own) {
      const shared = this.identity[root] as IdentitySets;
      own = { serial: new Set(shared.serial), uuid: new Set(shared.uuid), model: new Set(shared.model) };
      this.owned[root] = own;
      this.identity[root] = own;
    }
    return own;
  }

  root(i: number): number {
    let r = i;
    while (this.parent[r] !== r) r = this.parent[r] as number;
    for (let n = i; n !== r; ) {
      const next = this.parent[n] as number;
      this.parent[n] = r;
      n = next;
    }
    return r;
  }

  /** Joins the groups of a and b unless their identities conflict. */
  join(a: number, b: number): void {
    const ra = this.root(a);
    const rb = this.root(b);
    if (ra === rb) return;
    const ia = this.identity[ra] as IdentitySets;
    const ib = this.identity[rb] as IdentitySets;
    if (conflicts(ia, ib)) return;
    const [keep, drop] = ra < rb ? [ra, rb] : [rb, ra];
    const into = this.ownIdentity(keep);
    const from = this.identity[drop] as IdentitySets;
    for (const kind of IDENTITY_KINDS) for (const v of from[kind]) into[kind].add(v);
    this.parent[drop] = keep;
  }
}

export function mergeObservations(observations: readonly Observation[], fields: IdentityFields): ObservedHost[] {
  const records = addressRecords(observations, fields);
  const carriers = new Map<string, number[]>();
  records.forEach((record, i) => {
    if (record.identity === NO_IDENTITY) return;
    for (const kind of JOINING_KINDS) {
      for (const value of record.identity[kind]) {
        const key = `${kind} ${value}`;
        const list = carriers.get(key);
        if (list) list.push(i);
        else carriers.set(key, [i]);
      }
    }
  });
  const groups = new Groups(records);
  // In key order, so that which of two conflicting joins happens does not depend on observation order.
  for (const key of [...carriers.keys()].sort()) {
    const indexes = carriers.get(key) as number[];
    if (indexes.length > MAX_ADDRESSES_PER_IDENTITY) continue;
    const [first, ...rest] = indexes as [number, ...number[]];
    for (const i of rest) groups.join(first, i);
  }

  joinAcrossFamilies(records, groups);

  // Groups in the order of their roots, each its lowest index: records, and so groups, in address order.
  const members: AddressRecord[][] = [];
  const groupAt: AddressRecord[][] = [];
  records.forEach((record, i) => {
    const root = groups.root(i);
    if (root === i) members.push((groupAt[i] = [record]));
    else (groupAt[root] as AddressRecord[]).push(record);
  });
  return hostsOf(members);
}

/**
 * Joins the IPv6 addresses of one MAC to its IPv4 address (or to each other, for an IPv6-only
 * device) when the MAC shows at most one IPv4 address and at most one IPv6 link-local address (see
 * the module comment). Identities still veto: a conflicting serial or UUID keeps them apart.
 */
function joinAcrossFamilies(records: readonly AddressRecord[], groups: Groups): void {
  const byMac = new Map<string, number[]>();
  records.forEach((record, i) => {
    if (!record.mac) return;
    const list = byMac.get(record.mac);
    if (list) list.push(i);
    else byMac.set(record.mac, [i]);
  });
  for (const indexes of byMac.values()) {
    if (indexes.length === 1) continue; // an address alone joins nothing
    const ipv4 = indexes.filter((i) => isIPv4((records[i] as AddressRecord).ip));
    const ipv6 = indexes.filter((i) => !isIPv4((records[i] as AddressRecord).ip));
    const linkLocal = ipv6.filter((i) => isIpv6LinkLocal((records[i] as AddressRecord).ip));
    if (ipv6.length === 0 || ipv4.length > 1 || linkLocal.length > 1) continue;
    const anchor = (ipv4[0] ?? ipv6[0]) as number;
    for (const i of ipv6) groups.join(anchor, i);
  }
}

/** Each value of `group` that `of` gives (not null), once, in group order; a device keeps the list (one value, nearly always). */
function distinct(group: readonly AddressRecord[], of: (r: AddressRecord) => string | null): string[] {
  if (group.length === 1) {
    const value = of(group[0] as AddressRecord);
    return value === null ? [] : [value];
  }
  const values: string[] = [];
  for (const r of group) {
    const value = of(r);
    if (value !== null && !values.includes(value)) values.push(value);
  }
  return values;
}

const ipOf = (r: AddressRecord): string => r.ip;
const macOfRecord = (r: AddressRecord): string | null => r.mac;

/**
 * Devices from groups of address records (each sorted by address; the groups in the order of their
 * first address, so the devices come out in address order), with own and shared MACs told apart.
 */
function hostsOf(groups: readonly AddressRecord[][]): ObservedHost[] {
  const addressesOf = groups.map((group) => distinct(group, ipOf));
  const macsOf = groups.map((group) => sortSmall(distinct(group, macOfRecord), compareCodeUnits));
  const addressesByMac = new Map<string, number>();
  const devicesByMac = new Map<string, number>();
  const devicesByIp = new Map<string, number>();
  const count = (counts: Map<string, number>, key: string): void => {
    counts.set(key, (counts.get(key) ?? 0) + 1);
  };
  groups.forEach((group, g) => {
    for (const r of group) if (r.mac) count(addressesByMac, r.mac);
    for (const mac of macsOf[g] as string[]) count(devicesByMac, mac);
    for (const ip of addressesOf[g] as string[]) count(devicesByIp, ip);
  });
  return groups.map((group, g): ObservedHost => {
    const macs = macsOf[g] as string[];
    // A MAC seen in one device only is that device's own; the first other one is shared.
    const shared = macs.find((m) => devicesByMac.get(m) !== 1);
    const ownMacs = shared === undefined ? macs : macs.filter((m) => devicesByMac.get(m) === 1);
    const sharedMac = shared === undefined ? null : { mac: shared, otherAddresses: (addressesByMac.get(shared) ?? 0) - group.filter((r) => r.mac === shared).length };
    const ip = (group[0] as AddressRecord).ip;
    const addresses = addressesOf[g] as string[];
    const mac = ownMacs[0] ?? sharedMac?.mac ?? null;
    const observations = group.length === 1 ? (group[0] as AddressRecord).observations : group.flatMap((r) => r.observations);
    // Built whole by one literal, addressShared in its place when another device was heard at one of its addresses.
    return addresses.some((a) => (devicesByIp.get(a) ?? 0) > 1)
      ? { ip, addresses, mac, ownMacs, sharedMac, addressShared: true, observations }
      : { ip, addresses, mac, ownMacs, sharedMac, observations };
  });
}
