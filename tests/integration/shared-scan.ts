/**
 * One default scan of the lab /24, run once by global-setup.ts right after `lab.sh up` and handed
 * to every lab test file that only reads it (vitest `provide`/`inject`), instead of each file
 * running the same scan again. Files that need other flags (credentials, --no-active, one host)
 * or a changed lab (a device taken off the wire) still run their own scans.
 *
 * The scan logs at info level, the default the files' own scans used (ssdp-mdns.test.ts, which
 * reads debug lines, keeps its own scan), into its own store; a file that writes to a store
 * copies it first (copySharedStore), so no file sees another's writes. Each simulator's log size before and after the scan is kept, so a file can read what the
 * devices saw of this scan alone (sharedScanLog), whatever ran in between.
 */
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import type { Inventory } from '../../agent/types.js';
import { eui64LinkLocal } from '../lab/sim/profile.js';
import { LAB_LOG_DIR, LAB_SUBNET, labProfile, SCANNER_IFACE } from './lab-helpers.js';

/** The discovery window of the shared scan, in seconds (`--timeout`). */
export const SHARED_WINDOW_SECONDS = 3;
/** The site the shared scan is saved under. */
export const SHARED_SITE = 'lab';
/**
 * The dual-stack device the shared scan also names by its IPv6 addresses (issue 14), so that its
 * unicast WS-Discovery Probe, TLS certificate and RTSP answers are read over IPv6 too: at its
 * unique-local address, and at its link-local one through the scanner's interface (zone).
 */
export const SHARED_IPV6_DEVICE = 'hikvision';
/** The IPv6 TARGETs of the shared scan: SHARED_IPV6_DEVICE's unique-local and link-local addresses. */
export const SHARED_IPV6_TARGETS = ((): string[] => {
  const { ipv6, mac } = labProfile(SHARED_IPV6_DEVICE);
  if (ipv6?.ula === undefined) throw new Error(`lab profile ${SHARED_IPV6_DEVICE} has no unique-local address (ipv6.ula)`);
  return [ipv6.ula, `${eui64LinkLocal(mac)}%${SCANNER_IFACE}`];
})();
/** The TARGETs of the shared scan: the lab /24 and SHARED_IPV6_TARGETS. */
export const SHARED_SCAN_TARGETS = [LAB_SUBNET, ...SHARED_IPV6_TARGETS];
/** The agent's arguments of the shared scan (the store is added by the setup). */
export const SHARED_SCAN_ARGS = ['scan', ...SHARED_SCAN_TARGETS, '--json', '--site', SHARED_SITE, '--timeout', String(SHARED_WINDOW_SECONDS), '--log-level', 'info'];

/** What global-setup.ts provides: the run as it happened, serialisable. */
export interface SharedScanRun {
  code: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  storeDir: string;
  /** Byte length of each simulator's log (tests/lab logs, by device name) before and after the scan. */
  simLogs: Record<string, { before: number; after: number }>;
}

/**
 * The second shared scan: the same scan again, into a copy of the shared store, with one device
 * taken off the wire (simulator stopped and its link down, so its kernel does not answer ARP
 * either); the device is back when the tests start. For the tests of what a removal leaves in the
 * change log, the diff and the reports.
 */
export interface SharedRescanRun extends Omit<SharedScanRun, 'simLogs'> {
  /** The lab device that was off the wire during it. */
  gone: string;
}

/** The device the second shared scan misses: a camera no other test of a removal depends on. */
export const SHARED_RESCAN_GONE = 'axis';

declare module 'vitest' {
  export interface ProvidedContext {
    sharedScan: SharedScanRun;
    sharedRescan: SharedRescanRun;
  }
}

/** One pino log line of the agent. */
export interface AgentLogLine {
  level: number;
  time: number;
  module?: string;
  msg: string;
  [key: string]: unknown;
}

export interface SharedScan extends SharedScanRun {
  inventory: Inventory;
  /** The agent's stderr lines that are JSON (pino), parsed. */
  logLines: AgentLogLine[];
}

/** The shared scan, checked to have succeeded (exit 0, one JSON document on stdout). */
export function sharedScan(): SharedScan {
  const run = inject('sharedScan');
  if (run.code !== 0) throw new Error(`the shared lab scan exited ${String(run.code)}:\n${run.stderr.slice(-4000)}`);
  const logLines = run.stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as AgentLogLine);
  return { ...run, inventory: JSON.parse(run.stdout) as Inventory, logLines };
}

/** What simulator `name` logged during the shared scan, and nothing else. */
export function sharedScanLog(name: string): string {
  const span = inject('sharedScan').simLogs[name];
  if (!span) throw new Error(`the shared scan kept no log mark for device '${name}'`);
  return readFileSync(join(LAB_LOG_DIR, `${name}.log`)).subarray(span.before, span.after).toString('utf8');
}

/** Copies the shared scan's store to `dir`, for a file that saves more scans or reads it with the CLI. */
export function copySharedStore(dir: string): void {
  cpSync(inject('sharedScan').storeDir, dir, { recursive: true });
}

/** The second shared scan (see SharedRescanRun), checked to have succeeded. */
export function sharedRescan(): SharedRescanRun & { inventory: Inventory } {
  const run = inject('sharedRescan');
  if (run.code !== 0) throw new Error(`the second shared lab scan exited ${String(run.code)}:\n${run.stderr.slice(-4000)}`);
  return { ...run, inventory: JSON.parse(run.stdout) as Inventory };
}

/** Copies the second shared scan's store (both scans) to `dir`. */
export function copySharedRescanStore(dir: string): void {
  cpSync(inject('sharedRescan').storeDir, dir, { recursive: true });
}
