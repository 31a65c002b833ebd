/**
 * The change engine: what changed at a site from one scan to the next. It is the only place change
 * events are computed: `cctv-agent scan` (against the site's last document, removing a device at
 * its first miss), the daemon (against the presence state its sweeps leave, removing a device
 * after `removeAfterMissedSweeps` misses in a row) and `cctv-agent diff` (two documents) all call
 * computeSiteChanges. The stores only record the events they are given.
 *
 * One vocabulary, wherever events go: the `changes.ndjson` of a file store, the `events` of an
 * HTTP push, the `event` of a CouchDB event document, `cctv_agent_change_events_total{type}`.
 * Each event is
 *
 *   { type, at, site, scanId, deviceId, ip, changes? }
 *
 * `at` is the scan's `finishedAt`, `scanId` its id, `ip` the device's address in that scan (its
 * last known address for `device-removed`); `changes` (on the `*-changed` kinds only) lists each
 * differing field as { field, before, after }, the field a dotted path of the device. The kinds, in
 * the order one device's events are listed (CHANGE_TYPES):
 *
 * - `device-added`            a device id not tracked yet (every device of a site's first scan; a
 *                             device reported removed that comes back is added again);
 * - `device-removed`          a tracked device missed by `removeAfterMissedSweeps` scans in a row
 *                             (then forgotten); fewer misses only count;
 * - `firmware-changed`        `identity.firmware`;
 * - `ip-changed`              `ip`, and `misaddressed` (agent/pipeline/misaddressed.ts): a device
 *                             that came into or out of IPv4's reach, or now claims another address
 *                             or subnet;
 * - `identity-changed`        `mac` and every other identity key (manufacturer, brand, model,
 *                             serial, deviceType), each differing one listed;
 * - `classification-changed`  `classification.linkedVendor` and `classification.relation`;
 * - `services-changed`        `services`: the whole list before and after, each entry
 *                             { port, protocol, banner }, sorted by port, protocol, banner.
 *
 * Devices are matched by `Device.id` (`mac:…`, else `serial:…`, else `ip:…`): a device whose id
 * itself changes (its MAC learned this time) is one `device-removed` plus one `device-added`.
 *
 * Not learned is not a change: an identity key or MAC a scan left null (the probe that names it
 * did not answer), a banner left null, or a scan that found no services at all (passive discovery,
 * or every connect failed) keeps the last known value and raises no event; a new non-null value is
 * a change. Classification is compared as it is: a verdict that moves is news. Not compared:
 * `evidence`, `vulnerabilities` and `classification.confidence` (confidence moves with which probes
 * happened to answer).
 *
 * Order is deterministic: by device id (code-unit order), then by kind in CHANGE_TYPES order.
 */
import { AgentError } from '../errors.js';
import type { InventoryStore } from '../store/types.js';
import type { Device, Inventory, Misaddressing, Service } from '../types.js';
import { IDENTITY_KEYS, type IdentityKey } from '../types.js';

/** Every event kind, in the order events of one device are listed. */
export const CHANGE_TYPES = [
  'device-added',
  'device-removed',
  'firmware-changed',
  'ip-changed',
  'identity-changed',
  'classification-changed',
  'services-changed',
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
  /** When the change was seen: the scan's `finishedAt`. */
  at: string;
  site: string;
  /** The scan that saw the change. */
  scanId: string;
  deviceId: string;
  /** The device's address in that scan, or its last known address for `device-removed`. */
  ip: string;
  /** Present on the `*-changed` kinds only. */
  changes?: FieldChange[];
}

const TYPE_RANK: Record<ChangeType, number> = Object.fromEntries(CHANGE_TYPES.map((t, i) => [t, i])) as Record<
  ChangeType,
  number
>;

/**
 * What the engine remembers of a site between scans: every device it counts as present, with the
 * values its events compare and how many scans in a row have missed it. The daemon persists it as
 * JSON in its state folder (so a restart neither re-announces every device nor forgets a miss);
 * `scan` derives it from the site's last document (siteStateOf).
 */
export const SITE_STATE_SCHEMA = 'cctv-agent/site-state/v1';

/** A service as the engine compares it. */
export type TrackedService = { port: number; protocol: string; banner: string | null };

export interface TrackedDevice {
  ip: string;
  mac: string | null;
  /** Last known value of each identity key: a key the latest scan did not learn keeps its value. */
  identity: Record<IdentityKey, string | null>;
  linkedVendor: string | null;
  relation: string | null;
  /**
   * Last known services, sorted. Absent in a state written before services were tracked: then the
   * next scan's services are taken without an event.
   */
  services?: TrackedService[];
  /**
   * What the device's `misaddressed` flag said (null: not misaddressed). Absent in a state written
   * before the flag was tracked: then the next scan's flag is taken without an event.
   */
  misaddressed?: Misaddressing | null;
  /** Scans in a row that did not see the device (0 when the last one did). */
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
   * A device is reported `device-removed` after this many consecutive scans without it (1 = the
   * first scan that misses it, as `cctv-agent scan` does), so a camera that misses one probe does
   * not flap.
   */
  removeAfterMissedSweeps: number;
}

/**
 * The events of one scan of a site against the state its earlier scans left, and the state it
 * leaves: a pure function (see the module comment for the vocabulary and rules).
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
    const diff = (field: string, a: ChangeValue, b: ChangeValue, into: FieldChange[]): void => {
      if (JSON.stringify(a) !== JSON.stringify(b)) into.push({ field, before: a, after: b });
    };
    const firmware: FieldChange[] = [];
    diff('identity.firmware', old.identity.firmware, tracked.identity.firmware, firmware);
    const ip: FieldChange[] = [];
    diff('ip', old.ip, tracked.ip, ip);
    if (old.misaddressed !== undefined) diff('misaddressed', misaddressedValue(old.misaddressed), misaddressedValue(tracked.misaddressed), ip);
    const identity: FieldChange[] = [];
    diff('mac', old.mac, tracked.mac, identity);
    for (const key of IDENTITY_KEYS) {
      if (key !== 'firmware') diff(`identity.${key}`, old.identity[key], tracked.identity[key], identity);
    }
    const classification: FieldChange[] = [];
    diff('classification.linkedVendor', old.linkedVendor, tracked.linkedVendor, classification);
    diff('classification.relation', old.relation, tracked.relation, classification);
    const services: FieldChange[] = [];
    if (old.services) diff('services', old.services, tracked.services ?? [], services);
    const kinds: [ChangeType, FieldChange[]][] = [
      ['firmware-changed', firmware],
      ['ip-changed', ip],
      ['identity-changed', identity],
      ['classification-changed', classification],
      ['services-changed', services],
    ];
    for (const [type, changes] of kinds) if (changes.length > 0) event(type, device.id, device.ip, structuredClone(changes));
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

/** The state one document stands for: every device present, as the document has it; null for no document. */
export function siteStateOf(inventory: Inventory | null): SiteState | null {
  if (!inventory) return null;
  return computeSiteChanges(null, inventory, { removeAfterMissedSweeps: 1 }).state;
}

/**
 * The events of `next` against one earlier document of its site (null: a first scan), a device
 * being removed at its first miss: what `cctv-agent scan` records and `cctv-agent diff` shows.
 */
export function diffInventories(previous: Inventory | null, next: Inventory): ChangeEvent[] {
  return computeSiteChanges(siteStateOf(previous), next, { removeAfterMissedSweeps: 1 }).events;
}

/** How often recordScan recomputes its events when other runs keep saving the same site first. */
const RECORD_ATTEMPTS = 5;

/**
 * What `cctv-agent scan` does with a finished scan: its events against the last document saved
 * for the site through `store` (diffInventories), saved with it. Returns where it went and the events.
 * When another run saved the site in between (two scans of one site at once), the store refuses the
 * save and the events are computed again against that run's document, so no change is lost or doubled.
 */
export async function recordScan(store: Pick<InventoryStore, 'latest' | 'save'>, inventory: Inventory): Promise<{ location: string; events: ChangeEvent[] }> {
  for (let attempt = 1; ; attempt++) {
    const previous = await store.latest(inventory.scan.site);
    const events = diffInventories(previous, inventory);
    try {
      const { location } = await store.save(inventory, events, { basedOn: previous?.scan.id ?? null });
      return { location, events };
    } catch (error) {
      if (!(error instanceof AgentError && error.code === 'CCTV_ERR_STORE_CONFLICT') || attempt >= RECORD_ATTEMPTS) throw error;
    }
  }
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
    services: trackServices(old?.services, device.services),
    misaddressed: device.misaddressed ?? null,
    missedSweeps: 0,
    lastSeenAt: scan.finishedAt,
    lastScanId: scan.id,
  };
}

/** The scan's services, sorted, each banner it left null keeping the last known one; none found keeps the last list. */
function trackServices(old: readonly TrackedService[] | undefined, seen: readonly Service[]): TrackedService[] {
  if (seen.length === 0 && old) return old.map((s) => ({ ...s }));
  const key = (s: { port: number; protocol: string }): string => `${s.port}/${s.protocol}`;
  const known = new Map((old ?? []).map((s) => [key(s), s.banner]));
  return seen
    .map((s) => ({ port: s.port, protocol: s.protocol, banner: s.banner ?? known.get(key(s)) ?? null }))
    .sort((a, b) => a.port - b.port || compareStrings(a.protocol, b.protocol) || compareStrings(a.banner ?? '', b.banner ?? ''));
}

/** The flag as an event carries it: its fields as they are, or null. */
function misaddressedValue(flag: Misaddressing | null | undefined): ChangeValue {
  return flag ? { ...flag } : null;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
