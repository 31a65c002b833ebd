/**
 * Which observations of one address belong to which device (agent/pipeline/merge.ts).
 *
 * One address is nearly always one device. Not always: cameras leave the factory on one default
 * address (Hikvision 192.168.1.64, Dahua 192.168.1.108), so two units unboxed onto one segment
 * both answer SADP, DHIP and WS-Discovery from that address, each reply naming its own MAC and
 * serial. An address therefore never joins observations whose identities conflict.
 *
 * Only a discovery reply can make a second device at an address (and at most
 * MAX_DEVICES_PER_ADDRESS of them): each SADP ProbeMatch, DHIP
 * notifyDevInfo or WS-Discovery ProbeMatch is one datagram in which one device describes itself
 * (its serial, its MAC — SADP `MAC`, DHIP `mac`, the ONVIF `MAC` scope — its EndpointReference
 * UUID). Replies that share one of those values are one device; when every reply of the address
 * agrees (no two carry different serials, MACs, UUIDs or models), the address is one device with
 * everything seen there, as before. Only when they conflict is the address split:
 *
 * - a reply that conflicts with none but one of the devices so found is part of that one (a Dahua
 *   camera's WS-Discovery reply names no MAC or serial, only a UUID its DHIP reply lacks); one that
 *   fits several stays a device of its own, rather than be given to the wrong one;
 * - what else was seen at the address (a neighbour entry, a probe's answer) goes to the one device
 *   whose serial, UUID or MAC it names; a fresh neighbour entry naming none of them is a device the
 *   link showed there; the rest (a TCP connect, a page naming nothing) to the device whose MAC the
 *   link showed at the address — an IPv4 probe reaches the MAC the kernel resolved — else to a
 *   device of their own.
 */
import type { Observation } from '../types.js';

export type UnitKind = 'serial' | 'uuid' | 'model' | 'mac';
/** What one observation says about the device it came from, values normalised by the caller. */
export type UnitIdentity = Record<UnitKind, ReadonlySet<string>>;

/** Replies in which one device describes itself. */
const SELF_DESCRIBING_SOURCES: ReadonlySet<Observation['source']> = new Set(['sadp', 'dhip', 'ws-discovery']);
const KINDS: readonly UnitKind[] = ['serial', 'uuid', 'model', 'mac'];
/** Kinds whose shared value makes two replies one device; a model only vetoes (many units share one). */
const JOINING: readonly UnitKind[] = ['serial', 'uuid', 'mac'];

/**
 * More devices than this at one address is no batch of cameras left on a factory default — one
 * 16-port PoE switch of them, unboxed at once, is about the most an installer connects before
 * re-addressing — but a host flooding replies with a new identity each (tests/integration/flood.test.ts)
 * or relaying others': its replies stay one device, as before, so it costs one device, not dozens.
 */
export const MAX_DEVICES_PER_ADDRESS = 16;

/** True for a neighbour-table entry the kernel did not refresh during this scan: an old memory, not a sighting. */
export function isStaleNeighbour(o: Observation): boolean {
  return o.source === 'neighbour-table' && o.fields['neighbour.fresh'] !== 'true';
}

interface Unit {
  identity: Record<UnitKind, Set<string>>;
  observations: Observation[];
}

function hasJoiningValue(id: UnitIdentity): boolean {
  for (const kind of JOINING) if (id[kind].size > 0) return true;
  return false;
}

/** Both hold values of one kind and share none of them. */
function conflict(a: UnitIdentity, b: UnitIdentity): boolean {
  return KINDS.some((k) => a[k].size > 0 && b[k].size > 0 && ![...a[k]].some((v) => b[k].has(v)));
}

const shares = (a: UnitIdentity, b: UnitIdentity): boolean => JOINING.some((k) => [...a[k]].some((v) => b[k].has(v)));

function unitOf(o: Observation, id: UnitIdentity): Unit {
  return { identity: { serial: new Set(id.serial), uuid: new Set(id.uuid), model: new Set(id.model), mac: new Set(id.mac) }, observations: [o] };
}

function absorb(into: Unit, from: Unit): void {
  for (const k of KINDS) for (const v of from.identity[k]) into.identity[k].add(v);
  into.observations.push(...from.observations);
}

/** A canonical text of an identity, for an order that does not depend on the order observations came in. */
const identityKey = (id: UnitIdentity): string => KINDS.map((k) => [...id[k]].sort().join(',')).join('|');

/** Replies joined where they share a serial, UUID or MAC and do not conflict, in value order. */
function joinedReplies(replies: ReadonlyArray<{ o: Observation; id: UnitIdentity }>): Unit[] {
  const units = [...replies].sort((a, b) => identityKey(a.id).localeCompare(identityKey(b.id))).map(({ o, id }) => unitOf(o, id));
  const carriers = new Map<string, number[]>();
  units.forEach((u, i) => {
    for (const k of JOINING) for (const v of u.identity[k]) carriers.set(`${k} ${v}`, [...(carriers.get(`${k} ${v}`) ?? []), i]);
  });
  const parent = units.map((_, i) => i);
  const root = (i: number): number => (parent[i] === i ? i : (parent[i] = root(parent[i] as number)));
  for (const key of [...carriers.keys()].sort()) {
    const [first, ...rest] = carriers.get(key) as [number, ...number[]];
    for (const i of rest) {
      const [a, b] = [root(first), root(i)];
      if (a === b || conflict((units[a] as Unit).identity, (units[b] as Unit).identity)) continue;
      const [keep, drop] = a < b ? [a, b] : [b, a];
      absorb(units[keep] as Unit, units[drop] as Unit);
      parent[drop] = keep;
    }
  }
  return units.filter((_, i) => parent[i] === i);
}

/** Folds each device that conflicts with none but exactly one other into that one, until none does. */
function foldUnambiguous(units: Unit[]): Unit[] {
  for (let i = 0; i < units.length; ) {
    const unit = units[i] as Unit;
    const fits = units.filter((other) => other !== unit && !conflict(unit.identity, other.identity));
    if (fits.length !== 1) {
      i++;
      continue;
    }
    absorb(fits[0] as Unit, unit);
    units.splice(i, 1);
    i = 0;
  }
  return units;
}

/** The one device an observation names (shares a value with, conflicting with it in nothing), else null. */
function namedUnit(units: readonly Unit[], id: UnitIdentity): Unit | null {
  const named = units.filter((u) => shares(u.identity, id) && !conflict(u.identity, id));
  return named.length === 1 ? (named[0] as Unit) : null;
}

/**
 * The observations of one address (all with the same `ip`), one list per device there, in a stable
 * order; `observations` itself when the address is one device (nearly always). `identityAt(i)`
 * reads what `observations[i]` says about its device (serials, UUIDs and models as the merge
 * compares them; `mac`: the MAC a reply claims for itself, or a neighbour entry's); it is asked of
 * the replies alone unless the address is shared out.
 */
export function unitsAtAddress(observations: Observation[], identityAt: (i: number) => UnitIdentity): Observation[][] {
  let joiningReplies = 0;
  for (let i = 0; i < observations.length; i++) {
    if (SELF_DESCRIBING_SOURCES.has((observations[i] as Observation).source) && hasJoiningValue(identityAt(i))) joiningReplies++;
  }
  if (joiningReplies < 2) return [observations];
  const read = observations.map((o, i) => ({ o, id: identityAt(i) }));
  const replies = read.filter(({ o, id }) => SELF_DESCRIBING_SOURCES.has(o.source) && hasJoiningValue(id));
  const joined = joinedReplies(replies);
  if (joined.length > MAX_DEVICES_PER_ADDRESS) return [observations];
  if (!joined.some((u, i) => joined.some((v, j) => j > i && conflict(u.identity, v.identity)))) return [observations];
  const units = foldUnambiguous(joined);

  const taken = new Set(replies.map(({ o }) => o));
  // Neighbour entries first: a fresh one naming no device found so far is a device itself, which later observations may name.
  const others = read.filter(({ o }) => !taken.has(o)).sort((a, b) => Number(b.o.source === 'neighbour-table') - Number(a.o.source === 'neighbour-table'));
  const rest: Observation[] = [];
  for (const { o, id } of others) {
    const named = hasJoiningValue(id) ? namedUnit(units, id) : null;
    if (named) named.observations.push(o);
    else if (o.source === 'neighbour-table' && !isStaleNeighbour(o) && id.mac.size > 0 && !units.some((u) => shares(u.identity, id))) units.push(unitOf(o, id));
    else rest.push(o);
  }
  if (rest.length > 0) {
    const linkMac = observations.find((o) => o.source === 'neighbour-table' && !isStaleNeighbour(o))?.mac;
    const resolved = linkMac === undefined ? undefined : units.find((u) => u.identity.mac.has(linkMac));
    if (resolved) resolved.observations.push(...rest);
    else if (rest.some((o) => !isStaleNeighbour(o))) units.push({ identity: { serial: new Set(), uuid: new Set(), model: new Set(), mac: new Set() }, observations: rest });
  }
  return units.sort((a, b) => identityKey(a.identity).localeCompare(identityKey(b.identity))).map((u) => u.observations);
}
