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
 * answer this time) is a change. Debouncing over several sweeps belongs to a later stage.
 *
 * Order is deterministic: by device id (code-unit order), then by kind in CHANGE_TYPES order.
 */
import type { Device, Inventory, Service } from './types.js';
import { IDENTITY_KEYS } from './types.js';

/** Every event kind, in the order events of one device are listed. */
export const CHANGE_TYPES = ['device-added', 'device-removed', 'device-changed', 'firmware-changed'] as const;
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
  /** Present on `device-changed` and `firmware-changed` only. */
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
