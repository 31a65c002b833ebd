/**
 * Alerts: the change events of a daemon sweep that a security team wants pushed to it, plus CVEs
 * that newly count against a device. Computed by the daemon after each saved sweep, sent to the
 * configured sinks (webhook.ts through the outbox, syslog.ts as CEF):
 *
 *   linked-device-added   a `device-added` event for a device linked to a linked vendor
 *   device-removed        a `device-removed` event (after removeAfterMissedSweeps misses)
 *   firmware-changed      a `firmware-changed` event
 *   new-affected-cve      a CVE that counts (isFlagged: affected or possibly affected, whatever
 *                         statuses report/summary.ts counts) on a device for which it did not count
 *                         in the site's earlier sweeps (AlertState), new devices included
 *   baseline-taken        instead of the above, once, when there is nothing to compare with: the
 *                         site's first sweep (no presence state: every device would be "added") or
 *                         its first sweep with alerts (no alert state: every CVE would be "new").
 *                         One summary (devices, linked per vendor, CVEs that count) rather than one
 *                         alert per device, so that deploying an agent on a site of 300 cameras
 *                         does not bury the SIEM; what it counted is the base of the next sweep's alerts.
 *
 * Pure functions; the daemon keeps AlertState per site in its state folder.
 */
import type { ChangeEvent, SiteState } from '../pipeline/changes.js';
import { flaggedCves } from '../report/summary.js';
import type { Device, Inventory, Vulnerability } from '../types.js';

export const DEVICE_ALERT_TYPES = ['linked-device-added', 'device-removed', 'firmware-changed', 'new-affected-cve'] as const;
export type DeviceAlertType = (typeof DEVICE_ALERT_TYPES)[number];
export const ALERT_TYPES = [...DEVICE_ALERT_TYPES, 'baseline-taken'] as const;
export type AlertType = (typeof ALERT_TYPES)[number];

/** The device an alert is about, as last known. */
export interface AlertDevice {
  mac: string | null;
  manufacturer: string | null;
  brand: string | null;
  model: string | null;
  firmware: string | null;
  serial: string | null;
  linkedVendor: string | null;
  relation: string | null;
}

/** What every alert carries: the sweep it comes from. */
interface SweepRef {
  /** The sweep's finishedAt. */
  at: string;
  site: string;
  scanId: string;
}

/** A change to one device. */
export interface DeviceAlert extends SweepRef {
  type: DeviceAlertType;
  deviceId: string;
  ip: string;
  device: AlertDevice;
  /** firmware-changed: before and after. */
  firmware?: { before: string | null; after: string | null };
  /** new-affected-cve: the CVE entry as the document has it. */
  cve?: Pick<Vulnerability, 'id' | 'status' | 'severity' | 'kev'>;
}

/** What a site held when its alerts' baseline was taken. */
export interface Baseline {
  devices: number;
  /** Linked vendor key → devices linked to it (any relation). */
  linked: Record<string, number>;
  /** CVE entries that count, and on how many devices. */
  flaggedCves: number;
  devicesWithCves: number;
}

/** The one alert of a sweep with nothing to compare with. */
export interface BaselineAlert extends SweepRef {
  type: 'baseline-taken';
  baseline: Baseline;
}

export type Alert = DeviceAlert | BaselineAlert;

export const ALERT_STATE_SCHEMA = 'cctv-agent/alert-state/v1';

/** What the alerts of a site remember between sweeps: per device, the CVE ids that counted. */
export interface AlertState {
  schema: typeof ALERT_STATE_SCHEMA;
  site: string;
  flagged: Record<string, string[]>;
}

function alertDevice(device: Device): AlertDevice {
  const { identity, classification, mac } = device;
  return {
    mac,
    manufacturer: identity.manufacturer,
    brand: identity.brand,
    model: identity.model,
    firmware: identity.firmware,
    serial: identity.serial,
    linkedVendor: classification.linkedVendor,
    relation: classification.relation,
  };
}

/** A removed device as the presence state last knew it. */
function trackedDevice(presence: SiteState | null, deviceId: string): AlertDevice {
  const tracked = presence?.devices[deviceId];
  const identity = tracked?.identity;
  return {
    mac: tracked?.mac ?? null,
    manufacturer: identity?.manufacturer ?? null,
    brand: identity?.brand ?? null,
    model: identity?.model ?? null,
    firmware: identity?.firmware ?? null,
    serial: identity?.serial ?? null,
    linkedVendor: tracked?.linkedVendor ?? null,
    relation: tracked?.relation ?? null,
  };
}

function baselineOf(inventory: Inventory): Baseline {
  const linked: Record<string, number> = {};
  let flaggedTotal = 0;
  let devicesWithCves = 0;
  for (const device of inventory.devices) {
    const vendor = device.classification.linkedVendor;
    if (vendor) linked[vendor] = (linked[vendor] ?? 0) + 1;
    const count = flaggedCves(device).length;
    flaggedTotal += count;
    if (count > 0) devicesWithCves += 1;
  }
  return { devices: inventory.devices.length, linked, flaggedCves: flaggedTotal, devicesWithCves };
}

/**
 * The alerts of one saved sweep: from its change `events`, the inventory, the presence state before
 * the sweep (for what a removed device was) and the alert state before it. Returns the alerts, in
 * event order then new CVEs by device, and the alert state to keep. Without a presence state the
 * device events give no alert, and without an alert state the CVEs that count now give none: a
 * baseline-taken alert stands for them (first in the list).
 */
export function sweepAlerts(
  inventory: Inventory,
  events: readonly ChangeEvent[],
  presenceBefore: SiteState | null,
  stateBefore: AlertState | null,
): { alerts: Alert[]; state: AlertState } {
  const { site, id: scanId, finishedAt: at } = inventory.scan;
  const devices = new Map(inventory.devices.map((d) => [d.id, d]));
  const alerts: Alert[] = [];
  const base = (e: ChangeEvent) => ({ at, site, scanId, deviceId: e.deviceId, ip: e.ip });
  const flagged: Record<string, string[]> = { ...(stateBefore?.flagged ?? {}) };
  const firstSweep = presenceBefore === null;
  const firstWithAlerts = stateBefore === null;
  if (firstSweep || firstWithAlerts) alerts.push({ type: 'baseline-taken', at, site, scanId, baseline: baselineOf(inventory) });

  for (const event of firstSweep ? [] : events) {
    const device = devices.get(event.deviceId);
    if (event.type === 'device-added' && device?.classification.linkedVendor) {
      alerts.push({ type: 'linked-device-added', ...base(event), device: alertDevice(device) });
    } else if (event.type === 'device-removed') {
      alerts.push({ type: 'device-removed', ...base(event), device: trackedDevice(presenceBefore, event.deviceId) });
      delete flagged[event.deviceId];
    } else if (event.type === 'firmware-changed' && device) {
      const change = event.changes?.find((c) => c.field === 'identity.firmware');
      const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);
      alerts.push({ type: 'firmware-changed', ...base(event), device: alertDevice(device), firmware: { before: text(change?.before), after: text(change?.after) } });
    }
  }

  for (const device of inventory.devices) {
    const known = new Set(flagged[device.id] ?? []);
    const now = flaggedCves(device);
    for (const v of firstWithAlerts ? [] : now) {
      if (known.has(v.id)) continue;
      const cve: DeviceAlert['cve'] = { id: v.id };
      if (v.status !== undefined) cve.status = v.status;
      if (v.severity !== undefined) cve.severity = v.severity;
      if (v.kev !== undefined) cve.kev = v.kev;
      alerts.push({ type: 'new-affected-cve', at, site, scanId, deviceId: device.id, ip: device.ip, device: alertDevice(device), cve });
    }
    flagged[device.id] = now.map((v) => v.id);
  }
  return { alerts, state: { schema: ALERT_STATE_SCHEMA, site, flagged } };
}

/** One line for a person: what happened to which device, or what the baseline counted. */
export function alertSummary(alert: Alert): string {
  if (alert.type === 'baseline-taken') {
    const { devices, linked, flaggedCves: cves, devicesWithCves } = alert.baseline;
    const vendors = Object.entries(linked).map(([vendor, n]) => `${n} linked to ${vendor}`);
    return `baseline taken for site ${alert.site}: ${[`${devices} devices`, ...vendors].join(', ')}; ${cves} CVEs that count on ${devicesWithCves} devices; alerts from the next sweep on are changes to this`;
  }
  const d = alert.device;
  const what = [d.brand ?? d.manufacturer, d.model].filter(Boolean).join(' ') || 'device';
  const linked = d.linkedVendor ? ` (linked to ${d.linkedVendor}${d.relation && d.relation !== 'direct' ? `, ${d.relation}` : ''})` : '';
  switch (alert.type) {
    case 'linked-device-added':
      return `new ${what}${linked} at ${alert.ip}, site ${alert.site}`;
    case 'device-removed':
      return `${what}${linked} at ${alert.ip} is gone from site ${alert.site}`;
    case 'firmware-changed':
      return `${what}${linked} at ${alert.ip}, site ${alert.site}: firmware ${alert.firmware?.before ?? 'unknown'} -> ${alert.firmware?.after ?? 'unknown'}`;
    case 'new-affected-cve':
      return `${what}${linked} at ${alert.ip}, site ${alert.site}: ${alert.cve?.id ?? 'a CVE'} ${alert.cve?.status ?? 'flagged'}`;
  }
}
