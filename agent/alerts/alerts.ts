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
 *
 * Pure functions; the daemon keeps AlertState per site in its state folder.
 */
import type { ChangeEvent, SiteState } from '../pipeline/changes.js';
import { flaggedCves } from '../report/summary.js';
import type { Device, Inventory, Vulnerability } from '../types.js';

export const ALERT_TYPES = ['linked-device-added', 'device-removed', 'firmware-changed', 'new-affected-cve'] as const;
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

export interface Alert {
  type: AlertType;
  /** The sweep's finishedAt. */
  at: string;
  site: string;
  scanId: string;
  deviceId: string;
  ip: string;
  device: AlertDevice;
  /** firmware-changed: before and after. */
  firmware?: { before: string | null; after: string | null };
  /** new-affected-cve: the CVE entry as the document has it. */
  cve?: Pick<Vulnerability, 'id' | 'status' | 'severity' | 'kev'>;
}

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

/**
 * The alerts of one saved sweep: from its change `events`, the inventory, the presence state before
 * the sweep (for what a removed device was) and the alert state before it. Returns the alerts, in
 * event order then new CVEs by device, and the alert state to keep.
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

  for (const event of events) {
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
    for (const v of now) {
      if (known.has(v.id)) continue;
      const cve: Alert['cve'] = { id: v.id };
      if (v.status !== undefined) cve.status = v.status;
      if (v.severity !== undefined) cve.severity = v.severity;
      if (v.kev !== undefined) cve.kev = v.kev;
      alerts.push({ type: 'new-affected-cve', at, site, scanId, deviceId: device.id, ip: device.ip, device: alertDevice(device), cve });
    }
    flagged[device.id] = now.map((v) => v.id);
  }
  return { alerts, state: { schema: ALERT_STATE_SCHEMA, site, flagged } };
}

/** One line for a person: what happened to which device. */
export function alertSummary(alert: Alert): string {
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
