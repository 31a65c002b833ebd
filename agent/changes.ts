/**
 * What changed between two inventories of one site: a pure function of the two documents.
 *
 * Devices are matched by `Device.id` (stable across scans: `mac:…`, else `serial:…`, else `ip:…`).
 * A device whose id itself changes (say its MAC was learned this time) is reported as one
 * `device-removed` plus one `device-added`.
 *
 * Event kinds:
 * - `device-added`    the id is in `next` only (every device when there is no previous inventory);
 * - `device-removed`  the id is in `previous` only; `ip` is the address it had then;
 * - `device-changed`  compared fields differ; `changes` lists each one with its before/after value;
 * - `firmware-changed` `identity.firmware` differs. This is its own event *instead of* a
 *   `device-changed` entry: `identity.firmware` never appears in a `device-changed` event, so a
 *   device whose firmware and IP both changed gets two events, one of each kind.
 *
 * Compared fields (dotted paths, as written in `changes[].field`): `ip`, `mac`, every identity key,
 * `classification.linkedVendor`, `classification.relation`, and `services` (the whole list,
 * compared and reported sorted by port, protocol, banner). Not compared: `evidence`,
 * `vulnerabilities` and `classification.confidence`; confidence moves with which probes happened
 * to answer, so on its own it is not a change of the device.
 *
 * Values are compared as they are: a field that goes from a value to null (a probe that did not
 * answer this time) is a change. The daemon debounces over sweeps instead: computeSiteChanges below.
 *
 * Order is deterministic: by device id (code-unit order), then by kind in CHANGE_TYPES order.
 */
import type { Device, Inventory, Service } from './types.js';
import { IDENTITY_KEYS, type IdentityKey } from './types.js';

/**
 * Every event kind, in the order events of one device are listed. diffInventories (one scan
 * against the last) emits the first four; computeSiteChanges (the daemon, debounced over sweeps)
 * emits device-added, device-removed, firmware-changed and the last three.
 */
export const CHANGE_TYPES = [
  'device-added',
  'device-removed',
  'device-changed',
  'firmware-changed',
  'ip-changed',
  'identity-changed',
  'classification-changed',
] as const;
export type ChangeType = (typeof CHANGE_TYPES)[number];

/** A JSON value, as carried in `before` / `after`. */
export type ChangeValue = string | number | boolean | null | readonly ChangeValue[] | { readonly [key: string]: ChangeValue };

export interface FieldChange {
  /** Dotted path in the device, e.g. `ip`, `identity.firmware`, `classification.linkedVendor`, `services`. */
  field: string;
  before: ChangeValue;
  after: ChangeValue;
}

export interface ChangeEvent {
  type: ChangeType;
  /** When the change was seen: `next.scan.finishedAt`. */
  at: string;
  site: string;
  /** The scan that saw the change (`next.scan.id`). */
  scanId: string;
  deviceId: string;
  /** The device's address in `next`, or its last address for `device-removed`. */
  ip: string;
  /** Present on the `*-changed` kinds only. */
  changes?: FieldChange[];
}

const TYPE_RANK: Record<ChangeType, number> = Object.fromEntries(CHANGE_TYPES.map((t, i) => [t, i])) as Record<
  ChangeType,
  number
>;

/** Compares `previous` (the site's last inventory, or null for a first scan) with `next`. */
export function diffInventories(previous: Inventory | null, next: Inventory): ChangeEvent[] {
  const base = { at: next.scan.finishedAt, site: next.scan.site, scanId: next.scan.id };
  const before = byId(previous?.devices ?? []);
  const after = byId(next.devices);
  const events: ChangeEvent[] = [];

  for (const [id, device] of after) {
    const old = before.get(id);
    if (!old) {
      events.push({ type: 'device-added', ...base, deviceId: id, ip: device.ip });
      continue;
    }
    const changed = deviceChanges(old, device);
    if (changed.length > 0) {
      events.push({ type: 'device-changed', ...base, deviceId: id, ip: device.ip, changes: changed });
    }
    if (old.identity.firmware !== device.identity.firmware) {
      events.push({
        type: 'firmware-changed',
        ...base,
        deviceId: id,
        ip: device.ip,
        changes: [{ field: 'identity.firmware', before: old.identity.firmware, after: device.identity.firmware }],
      });
    }
  }
  for (const [id, device] of before) {
    if (!after.has(id)) events.push({ type: 'device-removed', ...base, deviceId: id, ip: device.ip });
  }

  return events.sort((a, b) => compareStrings(a.deviceId, b.deviceId) || TYPE_RANK[a.type] - TYPE_RANK[b.type]);
}

/** Fields of a `device-changed` event, in a fixed order. Firmware is left to `firmware-changed`. */
function deviceChanges(old: Device, device: Device): FieldChange[] {
  const out: FieldChange[] = [];
  const scalar = (field: string, a: string | null, b: string | null): void => {
    if (a !== b) out.push({ field, before: a, after: b });
  };
  scalar('ip', old.ip, device.ip);
  scalar('mac', old.mac, device.mac);
  for (const key of IDENTITY_KEYS) {
    if (key !== 'firmware') scalar(`identity.${key}`, old.identity[key], device.identity[key]);
  }
  scalar('classification.linkedVendor', old.classification.linkedVendor, device.classification.linkedVendor);
  scalar('classification.relation', old.classification.relation, device.classification.relation);
  const servicesBefore = normaliseServices(old.services);
  const servicesAfter = normaliseServices(device.services);
  if (JSON.stringify(servicesBefore) !== JSON.stringify(servicesAfter)) {
    out.push({ field: 'services', before: servicesBefore, after: servicesAfter });
  }
  return out;
}

/** Plain copies, sorted, so that order in the scan does not count as a change. */
function normaliseServices(services: readonly Service[]): { port: number; protocol: string; banner: string | null }[] {
  return services
    .map((s) => ({ port: s.port, protocol: s.protocol, banner: s.banner }))
    .sort(
      (a, b) =>
        a.port - b.port || compareStrings(a.protocol, b.protocol) || compareStrings(a.banner ?? '', b.banner ?? ''),
    );
}

function byId(devices: readonly Device[]): Map<string, Device> {
  const map = new Map<string, Device>();
  for (const d of devices) map.set(d.id, d);
  return map;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The daemon's view of a site between sweeps: every device it currently counts as present, with
 * the values its events compare and how many sweeps in a row have missed it. Persisted as JSON in
 * the daemon's state folder, so a restart neither re-announces every device nor forgets a miss.
 */
export const SITE_STATE_SCHEMA = 'cctv-agent/site-state/v1';

export interface TrackedDevice {
  ip: string;
  mac: string | null;
  /** Last known value of each identity key: a key the latest sweep did not learn keeps its value. */
  identity: Record<IdentityKey, string | null>;
  linkedVendor: string | null;
  relation: string | null;
  /** Sweeps in a row that did not see the device (0 when the last one did). */
  missedSweeps: number;
  lastSeenAt: string;
  lastScanId: string;
}

export interface SiteState {
  schema: typeof SITE_STATE_SCHEMA;
  site: string;
  /** The last scan applied (`scan.id`). */
  scanId: string;
  devices: Record<string, TrackedDevice>;
}

export interface SiteChangeOptions {
  /**
   * A device is reported `device-removed` after this many consecutive sweeps without it (1 = the
   * first sweep that misses it), so a camera that misses one probe does not flap.
   */
  removeAfterMissedSweeps: number;
}

/**
 * The events of one sweep of a site against the state its earlier sweeps left: a pure function.
 *
 * - `device-added`: an id not tracked (every device of a first sweep; a device reported removed
 *   that comes back is added again).
 * - `device-removed`: a tracked device missed by `removeAfterMissedSweeps` sweeps in a row; it is
 *   then forgotten. Fewer misses only count (the device stays in the state, no event).
 * - `ip-changed`: `ip` differs.
 * - `firmware-changed`: `identity.firmware` differs.
 * - `identity-changed`: `mac` or any other identity key differs (every differing field listed).
 * - `classification-changed`: `classification.linkedVendor` or `.relation` differs.
 *
 * An identity key the sweep left null (the probe that names it did not answer) is "not learned
 * this time", not a change: the last known value is kept and no event is raised. A new non-null
 * value is a change. Classification is compared as it is: a verdict that moves is news.
 * Order: by device id, then by kind in CHANGE_TYPES order (as diffInventories).
 */
export function computeSiteChanges(
  previous: SiteState | null,
  inventory: Inventory,
  options: SiteChangeOptions,
): { events: ChangeEvent[]; state: SiteState } {
  const base = { at: inventory.scan.finishedAt, site: inventory.scan.site, scanId: inventory.scan.id };
  const before = previous?.devices ?? {};
  const devices: Record<string, TrackedDevice> = {};
  const events: ChangeEvent[] = [];
  const event = (type: ChangeType, deviceId: string, ip: string, changes?: FieldChange[]): void => {
    events.push(changes ? { type, ...base, deviceId, ip, changes } : { type, ...base, deviceId, ip });
  };

  for (const device of inventory.devices) {
    const old = Object.hasOwn(before, device.id) ? before[device.id] : undefined;
    const tracked = trackDevice(old, device, inventory.scan);
    devices[device.id] = tracked;
    if (!old) {
      event('device-added', device.id, device.ip);
      continue;
    }
    const diff = (field: string, a: string | null, b: string | null, into: FieldChange[]): void => {
      if (a !== b) into.push({ field, before: a, after: b });
    };
    const ip: FieldChange[] = [];
    diff('ip', old.ip, tracked.ip, ip);
    const firmware: FieldChange[] = [];
    diff('identity.firmware', old.identity.firmware, tracked.identity.firmware, firmware);
    const identity: FieldChange[] = [];
    diff('mac', old.mac, tracked.mac, identity);
    for (const key of IDENTITY_KEYS) {
      if (key !== 'firmware') diff(`identity.${key}`, old.identity[key], tracked.identity[key], identity);
    }
    const classification: FieldChange[] = [];
    diff('classification.linkedVendor', old.linkedVendor, tracked.linkedVendor, classification);
    diff('classification.relation', old.relation, tracked.relation, classification);
    if (ip.length > 0) event('ip-changed', device.id, device.ip, ip);
    if (firmware.length > 0) event('firmware-changed', device.id, device.ip, firmware);
    if (identity.length > 0) event('identity-changed', device.id, device.ip, identity);
    if (classification.length > 0) event('classification-changed', device.id, device.ip, classification);
  }

  for (const [id, old] of Object.entries(before)) {
    if (Object.hasOwn(devices, id)) continue;
    const missedSweeps = old.missedSweeps + 1;
    if (missedSweeps >= options.removeAfterMissedSweeps) event('device-removed', id, old.ip);
    else devices[id] = { ...old, missedSweeps };
  }

  events.sort((a, b) => compareStrings(a.deviceId, b.deviceId) || TYPE_RANK[a.type] - TYPE_RANK[b.type]);
  return { events, state: { schema: SITE_STATE_SCHEMA, site: inventory.scan.site, scanId: inventory.scan.id, devices } };
}

function trackDevice(old: TrackedDevice | undefined, device: Device, scan: Inventory['scan']): TrackedDevice {
  const identity = {} as Record<IdentityKey, string | null>;
  for (const key of IDENTITY_KEYS) identity[key] = device.identity[key] ?? old?.identity[key] ?? null;
  return {
    ip: device.ip,
    mac: device.mac ?? old?.mac ?? null,
    identity,
    linkedVendor: device.classification.linkedVendor,
    relation: device.classification.relation,
    missedSweeps: 0,
    lastSeenAt: scan.finishedAt,
    lastScanId: scan.id,
  };
}
