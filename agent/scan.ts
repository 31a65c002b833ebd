/**
 * The scan pipeline, and nothing else: discover (phase by phase) → merge → fingerprint → classify →
 * the inventory document.
 */
import { randomBytes } from 'node:crypto';
import { discoverers } from './discovery/index.js';
import { ACTIVE_PHASES, DISCOVERY_PHASES, type Discoverer, type ScanContext } from './discovery/types.js';
import { mergeObservations } from './merge.js';
import { deadline } from './net/deadline.js';
import { buildDevice, buildInventory } from './inventory.js';
import type { Logger } from './log.js';
import type { ScanInterface } from './net/interfaces.js';
import type { TargetSet } from './targets.js';
import type { Inventory, Observation } from './types.js';
import type { FingerprintDb } from './fingerprint/index.js';

export interface ScanOptions {
  site: string;
  interfaces: readonly ScanInterface[];
  targets: TargetSet;
  /** The discovery window. */
  timeoutMs: number;
  fingerprints: FingerprintDb;
  log: Logger;
  /** Aborts the scan early (Ctrl-C); what was seen so far is still reported. */
  signal?: AbortSignal;
  /** Which discoverers to run; all of them by default. */
  discoverers?: readonly Discoverer[];
  /** False skips the active phases (`--no-active`): nothing but discovery and the neighbour table. */
  active: boolean;
  /** New connections per second for active probes (`--rate`). */
  ratePerSecond: number;
}

/** Sortable, unique scan id: `20261128T101500Z-1a2b3c`. */
export function newScanId(at: Date): string {
  return `${at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

/** Each phase after the window (TCP connects, then HTTP/RTSP/TLS/ONVIF probes) gets this long at most. */
const PROBE_PHASE_LIMIT_MS = 60_000;

export async function runScan(options: ScanOptions): Promise<Inventory> {
  const started = new Date();
  const log = options.log.child({ module: 'scan' });
  const chosen = (options.discoverers ?? discoverers).filter((d) => options.active || !ACTIVE_PHASES.has(d.phase));
  const observations: Observation[] = [];
  log.info({ site: options.site, interfaces: options.interfaces.map((i) => i.name), targets: options.targets.specs, windowMs: options.timeoutMs }, 'scan started');

  for (const phase of DISCOVERY_PHASES) {
    const inPhase = chosen.filter((d) => d.phase === phase);
    if (inPhase.length === 0) continue;
    const limit = phase === 'listen' ? options.timeoutMs : PROBE_PHASE_LIMIT_MS;
    const phaseDeadline = deadline(limit, options.signal);
    const ctx: ScanContext = {
      interfaces: options.interfaces,
      targets: options.targets,
      timeoutMs: options.timeoutMs,
      startedAtMs: started.getTime(),
      signal: phaseDeadline.signal,
      log: options.log,
      seen: [...observations],
      active: options.active,
      ratePerSecond: options.ratePerSecond,
    };
    const results = await Promise.allSettled(inPhase.map((d) => d.run(ctx, (o) => observations.push(o))));
    phaseDeadline.dispose();
    results.forEach((r, i) => {
      if (r.status === 'rejected') log.error({ discoverer: inPhase[i]?.name, err: String(r.reason) }, 'discoverer failed; the scan goes on without it');
    });
  }

  const hosts = mergeObservations(observations);
  const devices = hosts.map((host) => buildDevice(options.fingerprints, host));
  const inventory = buildInventory(
    {
      id: newScanId(started),
      site: options.site,
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      targets: [...options.targets.specs],
      methods: chosen.map((d) => d.method),
    },
    devices,
  );
  log.info({ observations: observations.length, devices: devices.length }, 'scan finished');
  return inventory;
}
