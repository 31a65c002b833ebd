/**
 * The estate: every site a store holds, side by side — devices, how many are linked to each linked
 * vendor and by which relation, CVEs that count (affected or possibly affected: isFlagged), when
 * the site was last swept and whether that is too long ago, and (a CouchDB fleet database) who
 * writes each site and which of its documents conflict. Built from any readable store through the
 * ScanReader interface; `estate` renders it as a table, CSV, JSON or one self-contained HTML page.
 */
import { Cron } from 'croner';
import type { DocumentConflict, SiteWriter } from '../store/couchdb-views.js';
import type { StoreReader } from '../store/types.js';
import type { Inventory, Relation, ScanSchedule } from '../types.js';
import { flaggedCves, summarize, type LinkedVendorNames, type ReportSummary } from './summary.js';

export const ESTATE_SCHEMA = 'cctv-agent/estate/v1';

/**
 * A site scanned by hand (no daemon schedule in its scans) is stale when its last scan is older
 * than this: a week, so that a site checked weekly by hand is not flagged between two visits.
 * `--stale-after` changes it.
 */
export const DEFAULT_STALE_AFTER_HOURS = 168;

export type RelationCounts = Record<Relation, number>;

export interface EstateSite {
  site: string;
  /** The site's latest scan (the one `report` shows) and how many scans the store holds. */
  scanId: string;
  lastSweepAt: string;
  scans: number;
  schedule: ScanSchedule | null;
  /** Whether no sweep started within the site's schedule (or within the stale-after window), and why in words. */
  stale: boolean;
  staleReason: string | null;
  summary: ReportSummary;
  /** Linked vendor key → devices linked to it by each relation. */
  linkedByRelation: Record<string, RelationCounts>;
  /** CVE entries that count (affected or possibly affected), over all the site's devices. */
  flaggedCves: number;
  /** Agents that wrote scans of the site (a CouchDB fleet database); empty when the store keeps no record. */
  writers: SiteWriter[];
  /** Documents of the site with conflicting revisions (a CouchDB fleet database). */
  conflicts: DocumentConflict[];
  /** More than one agent wrote the site recently, or some of its documents conflict. */
  inConflict: boolean;
}

export interface Estate {
  schema: typeof ESTATE_SCHEMA;
  generatedAt: string;
  sites: EstateSite[];
  totals: {
    sites: number;
    staleSites: number;
    sitesInConflict: number;
    devices: number;
    linked: Record<string, number>;
    linkedByRelation: Record<string, RelationCounts>;
    devicesWithCves: number;
    flaggedCves: number;
  };
}

/** The estate and each site's latest inventory (the HTML page lists every site's devices). */
export interface EstateReport {
  estate: Estate;
  inventories: ReadonlyMap<string, Inventory>;
}

export interface EstateOptions {
  now: Date;
  /** For sites without a daemon schedule: stale when the last scan is older than this. */
  staleAfterHours: number;
  /** Only these sites (every site of the store when absent or empty). */
  sites?: readonly string[];
}

const RELATIONS: readonly Relation[] = ['direct', 'oem', 'subsidiary'];
const HOUR_MS = 3_600_000;

const zeroRelations = (): RelationCounts => ({ direct: 0, oem: 0, subsidiary: 0 });

/**
 * Since when a sweep must have started for the site not to be stale. With a schedule: the tick
 * before the latest one (the sweep of the latest tick may still be running, so a site is stale
 * once it missed a whole period). Without: `staleAfterHours` before now.
 */
export function sweepDueSince(schedule: ScanSchedule | null, options: EstateOptions): { since: Date; rule: string } {
  if (schedule) {
    const cron = new Cron(schedule.cron, { paused: true, ...(schedule.timezone ? { timezone: schedule.timezone } : {}) });
    const [, before] = cron.previousRuns(2, options.now);
    cron.stop();
    if (before) return { since: before, rule: `schedule "${schedule.cron}"${schedule.timezone ? ` (${schedule.timezone})` : ''}` };
  }
  return { since: new Date(options.now.getTime() - options.staleAfterHours * HOUR_MS), rule: `no sweep for ${options.staleAfterHours} h` };
}

/** One site's line of the estate, from its latest inventory. */
export function estateSite(
  inventory: Inventory,
  scans: number,
  fleet: { writers: SiteWriter[]; conflicts: DocumentConflict[] },
  names: LinkedVendorNames,
  options: EstateOptions,
): EstateSite {
  const { scan } = inventory;
  const schedule = scan.schedule ?? null;
  const due = sweepDueSince(schedule, options);
  const stale = new Date(scan.startedAt).getTime() < due.since.getTime();
  const linkedByRelation = Object.fromEntries([...names.keys()].map((key) => [key, zeroRelations()]));
  let flagged = 0;
  for (const device of inventory.devices) {
    const { linkedVendor, relation } = device.classification;
    if (linkedVendor !== null) (linkedByRelation[linkedVendor] ??= zeroRelations())[relation ?? 'direct'] += 1;
    flagged += flaggedCves(device).length;
  }
  // Writers whose last scan falls within the period the site must be swept in are all still at it.
  const recentWriters = fleet.writers.filter((w) => new Date(w.lastScanAt).getTime() >= due.since.getTime());
  return {
    site: scan.site,
    scanId: scan.id,
    lastSweepAt: scan.finishedAt,
    scans,
    schedule,
    stale,
    staleReason: stale ? `last sweep started ${scan.startedAt}, before ${due.since.toISOString()} (${due.rule})` : null,
    summary: summarize(inventory, names),
    linkedByRelation,
    flaggedCves: flagged,
    writers: fleet.writers,
    conflicts: fleet.conflicts,
    inConflict: recentWriters.length > 1 || fleet.conflicts.length > 0,
  };
}

/**
 * Reads every site of the store (its latest scan each), or the `sites` named, into the estate.
 * Sends nothing but the store's own reads.
 */
export async function readEstate(reader: StoreReader, names: LinkedVendorNames, options: EstateOptions): Promise<EstateReport> {
  const scans = await reader.listScans();
  const wanted = options.sites?.length ? new Set(options.sites) : null;
  const counts = new Map<string, number>();
  for (const s of scans) if (!wanted || wanted.has(s.site)) counts.set(s.site, (counts.get(s.site) ?? 0) + 1);
  const writers = (await reader.fleet?.siteWriters()) ?? [];
  const conflicts = (await reader.fleet?.conflicts()) ?? [];
  const inventories = new Map<string, Inventory>();
  const sites: EstateSite[] = [];
  for (const site of [...counts.keys()].sort()) {
    const inventory = await reader.loadInventory(site);
    if (!inventory) continue;
    inventories.set(site, inventory);
    const fleet = { writers: writers.filter((w) => w.site === site), conflicts: conflicts.filter((c) => c.site === site) };
    sites.push(estateSite(inventory, counts.get(site) ?? 0, fleet, names, options));
  }
  return { estate: { schema: ESTATE_SCHEMA, generatedAt: options.now.toISOString(), sites, totals: estateTotals(sites, names) }, inventories };
}

function estateTotals(sites: readonly EstateSite[], names: LinkedVendorNames): Estate['totals'] {
  const linked = Object.fromEntries([...names.keys()].map((key) => [key, 0]));
  const linkedByRelation = Object.fromEntries([...names.keys()].map((key) => [key, zeroRelations()]));
  for (const s of sites) {
    for (const [vendor, n] of Object.entries(s.summary.linked)) linked[vendor] = (linked[vendor] ?? 0) + n;
    for (const [vendor, counts] of Object.entries(s.linkedByRelation)) {
      const total = (linkedByRelation[vendor] ??= zeroRelations());
      for (const r of RELATIONS) total[r] += counts[r];
    }
  }
  return {
    sites: sites.length,
    staleSites: sites.filter((s) => s.stale).length,
    sitesInConflict: sites.filter((s) => s.inConflict).length,
    devices: sites.reduce((n, s) => n + s.summary.devices, 0),
    linked,
    linkedByRelation,
    devicesWithCves: sites.reduce((n, s) => n + s.summary.withCves, 0),
    flaggedCves: sites.reduce((n, s) => n + s.flaggedCves, 0),
  };
}

/** "2 (direct 1, OEM 1)": a vendor's linked devices at a site and how, for tables and CSV. */
export function relationText(counts: RelationCounts): string {
  const total = RELATIONS.reduce((n, r) => n + counts[r], 0);
  const parts = RELATIONS.filter((r) => counts[r] > 0).map((r) => `${r === 'oem' ? 'OEM' : r} ${counts[r]}`);
  return parts.length ? `${total} (${parts.join(', ')})` : String(total);
}

/** "stale", "conflict", "stale, conflict" or "ok". */
export function siteStatus(site: EstateSite): string {
  const flags = [site.stale ? 'stale' : '', site.inConflict ? 'conflict' : ''].filter(Boolean);
  return flags.length ? flags.join(', ') : 'ok';
}
