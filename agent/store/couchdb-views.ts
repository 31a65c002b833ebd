/**
 * The fleet's design document in every CouchDB database the agent writes, and the reads built on it.
 *
 * Many agents write one database, or replicate their own databases into one hub: every document id
 * is scoped by its site (`scan:<site>:<scanId>`, `device:<site>:<deviceId>`, `event:<site>:<scanId>:<n>`,
 * couchdb.ts), so agents of different sites never write the same document, and a hub fed by
 * continuous replication from each site's database holds them all side by side without a conflict.
 * Every document also names the agent that wrote it (`agent: { id, host }`, agent-identity.ts), so
 * two agents sweeping ONE site — the one case that can conflict — is seen, not silently resolved:
 *
 * - in one database, the `site-agents` view lists each site's writers with their scan count and
 *   last scan; a site with more than one recent writer is reported by `estate` and logged by the
 *   agent that finds another writer's device documents on its site;
 * - across replication, CouchDB keeps both revisions of a device document written on two sides and
 *   picks a winner deterministically (docs.couchdb.org, "Replication and conflict model"); the
 *   `conflicts` view lists every document with `_conflicts`, which `estate` reports per site.
 *
 * The views (JavaScript map functions, CouchDB's built-in reduces `_count` and `_stats`):
 *
 *   devices       [site, linkedVendor|"none", relation|"none"] → 1 for each present device; reduce _count:
 *                 group_level=1 per site, 2 per site and vendor, 3 per site, vendor and relation
 *   vendors       [linkedVendor|"none", relation|"none", site] → 1 for each present device; reduce _count
 *   device-state  [site, deviceId] → the device's latest state (present, last seen, address, identity,
 *                 verdict, CVEs that count: affected or possibly affected)
 *   scans         [site, finishedAt] → { scanId, startedAt, agent }
 *   site-agents   [site, agentId] → finishedAt in ms; reduce _stats (count, max = last scan)
 *   conflicts     [site, docId] → the conflicting revisions
 *
 * The agent installs the design document on its first delivery, and replaces it when its content
 * differs (a newer agent, or CVE statuses that count changed): `cctvAgent.version` is a digest of it.
 * Map functions see no design documents, so identical copies replicated from several sites (whose
 * revisions Apache CouchDB derives from the content) never show in the views.
 */
import { createHash } from 'node:crypto';
import { FLAGGED_STATUSES } from '../types.js';

export const FLEET_DDOC = 'cctv-agent-fleet';
export const FLEET_DDOC_ID = `_design/${FLEET_DDOC}`;

/** The statuses that count a CVE (types.ts FLAGGED_STATUSES), plus an entry without one (older agents): as isFlagged in report/summary.ts. */
const flaggedTest = `function (v) { return v.status === undefined || ${JSON.stringify(FLAGGED_STATUSES)}.indexOf(v.status) >= 0; }`;

const VIEWS = {
  devices: {
    map: `function (doc) {
  if (doc.type !== 'device' || !doc.present || !doc.device) return;
  var c = doc.device.classification || {};
  emit([doc.site, c.linkedVendor || 'none', c.relation || 'none'], 1);
}`,
    reduce: '_count',
  },
  vendors: {
    map: `function (doc) {
  if (doc.type !== 'device' || !doc.present || !doc.device) return;
  var c = doc.device.classification || {};
  emit([c.linkedVendor || 'none', c.relation || 'none', doc.site], 1);
}`,
    reduce: '_count',
  },
  'device-state': {
    map: `function (doc) {
  if (doc.type !== 'device' || !doc.device) return;
  var d = doc.device, c = d.classification || {}, id = d.identity || {};
  var flagged = ${flaggedTest};
  var cves = (d.vulnerabilities || []).filter(flagged).map(function (v) { return v.id; });
  emit([doc.site, doc.deviceId], { present: doc.present, lastSeenAt: doc.lastSeenAt, lastSeenScanId: doc.lastSeenScanId,
    ip: d.ip, mac: d.mac, manufacturer: id.manufacturer, brand: id.brand, model: id.model, firmware: id.firmware, serial: id.serial,
    linkedVendor: c.linkedVendor, relation: c.relation, flaggedCves: cves, agent: doc.agent || null });
}`,
  },
  scans: {
    map: `function (doc) {
  if (doc.type !== 'scan') return;
  emit([doc.site, doc.finishedAt], { scanId: doc.scanId, startedAt: doc.startedAt, agent: doc.agent || null });
}`,
  },
  'site-agents': {
    map: `function (doc) {
  if (doc.type !== 'scan') return;
  emit([doc.site, doc.agent ? doc.agent.id : 'unknown'], Date.parse(doc.finishedAt));
}`,
    reduce: '_stats',
  },
  conflicts: {
    map: `function (doc) {
  if (doc._conflicts && doc.site) emit([doc.site, doc._id], doc._conflicts);
}`,
  },
} as const;

/** The view names, for readers and tests. */
export type FleetView = keyof typeof VIEWS;

export interface FleetDesignDoc {
  _id: typeof FLEET_DDOC_ID;
  _rev?: string;
  language: 'javascript';
  views: typeof VIEWS;
  cctvAgent: { version: string };
}

/** The design document the agent installs, its version a digest of its views. */
export function fleetDesignDoc(): FleetDesignDoc {
  const version = createHash('sha256').update(JSON.stringify(VIEWS)).digest('hex').slice(0, 16);
  return { _id: FLEET_DDOC_ID, language: 'javascript', views: VIEWS, cctvAgent: { version } };
}

/** One writer of a site, from the `site-agents` view. */
export interface SiteWriter {
  site: string;
  /** The agent's id (`unknown` for documents of agents older than agent ids). */
  agentId: string;
  scans: number;
  /** When its last scan of the site finished (ISO 8601). */
  lastScanAt: string;
}

/** One document with conflicting revisions (replication of two writers of one site), from the `conflicts` view. */
export interface DocumentConflict {
  site: string;
  id: string;
  revisions: string[];
}

/** What a fleet database says about who writes which site, and what conflicts. */
export interface FleetRecords {
  siteWriters(): Promise<SiteWriter[]>;
  conflicts(): Promise<DocumentConflict[]>;
}

interface ViewRow<K, V> {
  key: K;
  value: V;
}

/** Reads the fleet views through `query` (a GET of `_design/cctv-agent-fleet/_view/<view>` with the given parameters). */
export function fleetRecords(query: <K, V>(view: FleetView, params: Record<string, string>) => Promise<Array<ViewRow<K, V>> | null>): FleetRecords {
  return {
    async siteWriters() {
      const rows = (await query<[string, string], { count: number; max: number }>('site-agents', { group_level: '2' })) ?? [];
      return rows.map(({ key: [site, agentId], value }) => ({ site, agentId, scans: value.count, lastScanAt: new Date(value.max).toISOString() }));
    },
    async conflicts() {
      const rows = (await query<[string, string], string[]>('conflicts', {})) ?? [];
      return rows.map(({ key: [site, id], value }) => ({ site, id, revisions: value }));
    },
  };
}
