/**
 * Two scans of a site side by side: the devices added, removed and changed between them, as the
 * change engine (agent/pipeline/changes.ts, diffInventories: the later scan against the earlier document)
 * reports them, grouped for reading, as a table or JSON.
 */
import { diffInventories, type ChangeEvent, type ChangeValue } from '../pipeline/changes.js';
import { displaySafe } from '../safe-text.js';
import type { Inventory } from '../types.js';
import { terminalTable } from './terminal-table.js';

export interface ScanDiff {
  site: string;
  from: string;
  to: string;
  added: ChangeEvent[];
  removed: ChangeEvent[];
  /** The `*-changed` events (firmware, ip, identity, classification, services), in the engine's order. */
  changed: ChangeEvent[];
}

export function diffScans(from: Inventory, to: Inventory): ScanDiff {
  const events = diffInventories(from, to);
  return {
    site: to.scan.site,
    from: from.scan.id,
    to: to.scan.id,
    added: events.filter((e) => e.type === 'device-added'),
    removed: events.filter((e) => e.type === 'device-removed'),
    changed: events.filter((e) => e.type !== 'device-added' && e.type !== 'device-removed'),
  };
}

function valueText(value: ChangeValue): string {
  if (value === null) return 'nothing';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export function diffTable(diff: ScanDiff): string {
  const rows = [
    ...diff.added.map((e) => ['added', e.deviceId, e.ip, '-', '-', '-']),
    ...diff.removed.map((e) => ['removed', e.deviceId, e.ip, '-', '-', '-']),
    ...diff.changed.flatMap((e) => (e.changes ?? []).map((c) => ['changed', e.deviceId, e.ip, c.field, valueText(c.before), valueText(c.after)])),
  ];
  const table = terminalTable(['Change', 'Device', 'IP', 'Field', 'Before', 'After'], rows);
  const changedDevices = new Set(diff.changed.map((e) => e.deviceId)).size;
  return (
    `${displaySafe(`Site ${diff.site}: scan ${diff.from} to scan ${diff.to}`)}\n${table}\n` +
    `${diff.added.length} added, ${diff.removed.length} removed, ${changedDevices} changed.\n`
  );
}
