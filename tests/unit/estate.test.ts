/**
 * `estate`: every site of a store side by side, read back from the file store and from a CouchDB
 * fleet database (the CouchDB-protocol server on 127.0.0.1), rendered as table, CSV, JSON and HTML;
 * and the command itself (the built CLI) on a folder.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../agent/commands/index.js';
import { recordScan } from '../../agent/pipeline/changes.js';
import { readEstate, type EstateOptions, type EstateReport } from '../../agent/report/estate.js';
import { estateFormats, renderFormat } from '../../agent/report/formats.js';
import { openFileStore } from '../../agent/store/file.js';
import { openStore, openStoreForReading } from '../../agent/store/index.js';
import type { InventoryStore, StoreReader } from '../../agent/store/types.js';
import type { Inventory } from '../../agent/types.js';
import { couchFetch, startCouchServer, type CouchServer } from '../support/couch-server.js';
import { runCli } from '../support/run-cli.js';
import { sampleInventory } from './report-fixture.js';
import { firstScan, secondScan, SITE } from './store-contract.js';

const silent = pino({ level: 'silent' });
const names = new Map([
  ['hikvision', 'Hikvision'],
  ['dahua', 'Dahua'],
]);
const LIBRARY = 'library';

/** The sample site (Hikvision direct, OEM and subsidiary; Dahua direct and OEM; Axis; unknown), swept by a daemon daily at 10:00 UTC. */
function library(): Inventory {
  const inventory = sampleInventory();
  inventory.scan.site = LIBRARY;
  inventory.scan.schedule = { cron: '0 10 * * *', timezone: 'UTC' };
  return inventory;
}

/** A day after the library's sweep: within its schedule; town-hall's last scan (March) is months old. */
const options: EstateOptions = { now: new Date('2026-11-29T12:00:00.000Z'), staleAfterHours: 168 };

let dir: string;
let couch: CouchServer;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cctv-estate-'));
  couch = await startCouchServer();
  const store = await openFileStore(join(dir, 'store'), silent);
  await fill(store);
  await store.close();
});
afterAll(async () => {
  await couch.close();
  await rm(dir, { recursive: true, force: true });
});

async function fill(store: InventoryStore): Promise<void> {
  await recordScan(store, firstScan());
  await recordScan(store, secondScan());
  await recordScan(store, library());
}

function expectTheEstate({ estate }: EstateReport): void {
  expect(estate.sites.map((s) => s.site)).toEqual([LIBRARY, SITE]);
  const [lib, hall] = estate.sites;
  expect(lib).toMatchObject({
    scans: 1,
    lastSweepAt: library().scan.finishedAt,
    stale: false,
    summary: { devices: 7, linked: { hikvision: 3, dahua: 2 }, withCves: 3 },
    linkedByRelation: { hikvision: { direct: 1, oem: 1, subsidiary: 1 }, dahua: { direct: 1, oem: 1, subsidiary: 0 } },
    // affected, possibly-affected and one without a status; not-affected and cannot-tell do not count
    flaggedCves: 3,
    inConflict: false,
  });
  expect(hall).toMatchObject({ scans: 2, scanId: secondScan().scan.id, stale: true, summary: { devices: 3, linked: { hikvision: 2, dahua: 0 } }, flaggedCves: 0 });
  expect(hall?.staleReason).toMatch(/no sweep for 168 h/);
  expect(estate.totals).toMatchObject({ sites: 2, staleSites: 1, devices: 10, linked: { hikvision: 5, dahua: 2 }, devicesWithCves: 3, flaggedCves: 3 });
}

describe('estate from the file store', () => {
  it('counts each site from its latest scan, flags CVEs by status and tells a stale site by its schedule or by age', async () => {
    const reader = await openStoreForReading(join(dir, 'store'), { log: silent });
    expectTheEstate(await readEstate(reader, names, options));
    // Two days later the library missed its sweep of the 29th: stale by its schedule.
    const later = await readEstate(reader, names, { ...options, now: new Date('2026-11-30T12:00:00.000Z') });
    expect(later.estate.sites[0]).toMatchObject({ stale: true, staleReason: expect.stringMatching(/schedule "0 10 \* \* \*" \(UTC\)/) });
    // A longer window makes town-hall current.
    const lenient = await readEstate(reader, names, { ...options, staleAfterHours: 24 * 365 });
    expect(lenient.estate.totals.staleSites).toBe(0);
    // Named sites only: the totals are theirs.
    const one = await readEstate(reader, names, { ...options, sites: [LIBRARY] });
    expect(one.estate.sites.map((s) => s.site)).toEqual([LIBRARY]);
    expect(one.estate.totals).toMatchObject({ sites: 1, devices: 7, linked: { hikvision: 3, dahua: 2 }, flaggedCves: 3 });
    expect([...one.inventories.keys()]).toEqual([LIBRARY]);
  });

  it('renders CSV with one row a site, JSON without the devices, a table, and an HTML page linking each site to its devices', async () => {
    const report = await readEstate(await openStoreForReading(join(dir, 'store'), { log: silent }), names, options);
    const rows = parse(renderFormat(estateFormats, 'csv', report, names), { bom: true, columns: true }) as Array<Record<string, string>>;
    expect(rows.map((r) => [r.site, r.devices, r.linked_hikvision, r.hikvision_oem, r.dahua_oem, r.cves_affected_or_possibly, r.stale !== ''])).toEqual([
      [LIBRARY, '7', '3', '1', '1', '3', false],
      [SITE, '3', '2', '0', '0', '0', true],
    ]);
    expect(JSON.parse(renderFormat(estateFormats, 'json', report, names))).toEqual(JSON.parse(JSON.stringify(report.estate)));
    const table = renderFormat(estateFormats, 'table', report, names);
    expect(table).toMatch(/library.*7.*3 \(direct 1, OEM 1, subsidiary 1\).*2 \(direct 1, OEM 1\)/);
    expect(table).toMatch(/town-hall: stale: last sweep started 2026-03-09/);

    const html = renderFormat(estateFormats, 'html', report, names);
    for (const site of [LIBRARY, SITE]) {
      expect(html).toContain(`<a href="#site-${site}">${site}</a>`);
      expect(html).toContain(`<section id="site-${site}">`);
    }
    // The chart: one bar per linked vendor and site, inline.
    expect(html).toMatch(/<svg class="chart" id="estate-chart"[^>]*>.*<rect class="bar bar-hikvision"[^>]*><title>library: Hikvision 3<\/title>/s);
    expect(html).toContain('DS-7608NI-K2'); // a device of town-hall's latest scan, in its section
    expect(html).not.toMatch(/\s(?:src|href)="(?!#)/); // nothing fetched, every link inside the page
  });

  it('the estate command prints it, from a folder, for the sites named', async () => {
    const run = await runCli(['estate', '--store', join(dir, 'store'), '--site', SITE, '--format', 'json', '--stale-after', '100000']);
    expect(run.code, run.stderr).toBe(0);
    const estate = JSON.parse(run.stdout);
    expect(estate.totals).toMatchObject({ sites: 1, devices: 3, flaggedCves: 0 });
    // town-hall has no daemon schedule: the 100,000 h window keeps it current.
    expect(estate.sites).toEqual([expect.objectContaining({ site: SITE, stale: false })]);
    // A bad --stale-after is refused before anything is read, and a site the store lacks is named
    // (in-process: the same program the CLI runs).
    const program = () => buildProgram().configureOutput({ writeErr: () => undefined });
    await expect(program().parseAsync(['estate', '--store', join(dir, 'store'), '--stale-after', '0'], { from: 'user' })).rejects.toThrow(/hours above 0/);
    await expect(program().parseAsync(['estate', '--store', join(dir, 'store'), '--site', LIBRARY, '--site', 'town-hal'], { from: 'user' })).rejects.toMatchObject({
      code: 'CCTV_ERR_NO_INVENTORY',
      message: expect.stringContaining('site "town-hal"'),
    });
  });
});

describe('estate from a CouchDB fleet database', () => {
  it('counts the same as the file store, and flags a site two agents write', async () => {
    const database = `cctv-estate-${randomBytes(5).toString('hex')}`;
    const spec = couch.auth ? { type: 'couchdb', url: couch.url, database, auth: couch.auth } : `couchdb+${couch.url}/${database}`;
    const stores: InventoryStore[] = [];
    try {
      const first = await openStore(spec, { log: silent, stateDir: join(dir, `agent-a-${database}`) });
      stores.push(first);
      await fill(first);
      expect(await first.flush(10_000)).toBe(true);
      const reader: StoreReader = await openStoreForReading(spec, { log: silent });
      expectTheEstate(await readEstate(reader, names, options));

      // A second agent sweeps the library too, an hour after the first.
      const second = await openStore(spec, { log: silent, stateDir: join(dir, `agent-b-${database}`) });
      stores.push(second);
      const again = library();
      again.scan.id = '20261128T110000Z-beef';
      again.scan.startedAt = '2026-11-28T11:00:00.000Z';
      again.scan.finishedAt = '2026-11-28T11:00:05.000Z';
      await recordScan(second, again);
      expect(await second.flush(10_000)).toBe(true);
      const { estate } = await readEstate(reader, names, options);
      expect(estate.sites[0]).toMatchObject({ site: LIBRARY, inConflict: true, scans: 2 });
      expect(estate.sites[0]?.writers).toHaveLength(2);
      expect(estate.totals.sitesInConflict).toBe(1);
      expect(renderFormat(estateFormats, 'table', { estate, inventories: new Map() }, names)).toMatch(/library: conflict: 2 writers/);
    } finally {
      for (const s of stores) await s.close();
      await couchFetch(couch, 'DELETE', `/${database}`).catch(() => undefined);
    }
  });
});
