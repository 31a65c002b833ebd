/** The one way a terminal table is drawn (inventory, scan, report --format table, diff, verify). */
import Table from 'cli-table3';
import { displaySafe } from '../safe-text.js';

/**
 * A table whose every cell is display-safe (agent/safe-text.ts): what a device or a handover file
 * wrote is shown as `\x1b` or `\u202e`, never interpreted, and a line break cannot split a row.
 */
export function terminalTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const table = new Table({ head: head.map(displaySafe), style: { head: [], border: [] } });
  for (const row of rows) table.push(row.map(displaySafe));
  return table.toString();
}
