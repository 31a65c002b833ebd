/**
 * `cctv-agent diff`: diffScans/diffTable (agent/report/diff.ts) on the store fixtures, and the
 * built CLI on a file store in a temporary folder (the last two scans by default, or two named).
 */
import { recordScan } from '../../agent/pipeline/changes.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../agent/log.js';
import { diffScans, diffTable, type ScanDiff } from '../../agent/report/diff.js';
import { openFileStore } from '../../agent/store/file.js';
import { expectedSecondScanChanges, firstScan, secondScan, SITE } from './store-contract.js';
import { runCli } from '../support/run-cli.js';


describe('diffScans', () => {
  it('groups the events of two scans into added, removed and changed', () => {
    const events = expectedSecondScanChanges();
    expect(diffScans(firstScan(), secondScan())).toEqual({
      site: SITE,
      from: firstScan().scan.id,
      to: secondScan().scan.id,
      added: events.filter((e) => e.type === 'device-added'),
      removed: events.filter((e) => e.type === 'device-removed'),
      changed: events.filter((e) => e.type !== 'device-added' && e.type !== 'device-removed'),
    });
  });

  it('reports nothing between a scan and itself', () => {
    expect(diffScans(firstScan(), firstScan())).toMatchObject({ added: [], removed: [], changed: [] });
  });

  it('renders one table row per added, removed and changed field, with a count line', () => {
    const text = diffTable(diffScans(firstScan(), secondScan()));
    expect(text).toMatch(/added\s*│\s*mac:44:47:cc:0e:91:22\s*│\s*198\.18\.0\.5\s/);
    expect(text).toMatch(/removed\s*│\s*mac:3c:ef:8c:a1:07:5d\s*│\s*198\.18\.0\.34\s/);
    expect(text).toMatch(/changed\s*│\s*mac:ac:cc:8e:62:30:b4\s*│\s*198\.18\.0\.41\s*│\s*ip\s*│\s*198\.18\.0\.40\s*│\s*198\.18\.0\.41/);
    expect(text).toMatch(/identity\.firmware\s*│\s*V5\.7\.3 build 220112\s*│\s*V5\.7\.15 build 230420/);
    expect(text).toContain('1 added, 1 removed, 2 changed.');
  });
});

describe('cctv-agent diff', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cctv-diff-unit-'));
  const store = join(dir, 'store');
  beforeAll(async () => {
    const files = await openFileStore(store, createLogger('silent'));
    await recordScan(files, firstScan());
    await recordScan(files, secondScan('other-site'));
    await files.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 2 naming the scan count when a site has only one scan', async () => {
    const one = await runCli(['diff', '--site', SITE, '--store', store]);
    expect(one.code).toBe(2);
    expect(one.stdout).toBe('');
    expect(one.stderr).toContain(`Site "${SITE}" in "${store}" has 1 scan(s); a diff needs two`);
  });

  it('compares the last two scans of the site by default', async () => {
    const files = await openFileStore(store, createLogger('silent'));
    await recordScan(files, secondScan());
    await files.close();
    const last = await runCli(['diff', '--site', SITE, '--store', store, '--json']);
    expect(last.code, last.stderr).toBe(0);
    expect(JSON.parse(last.stdout) as ScanDiff).toEqual(diffScans(firstScan(), secondScan()));
  });

  it('compares two named scans, in the order given', async () => {
    const named = await runCli(['diff', secondScan().scan.id, firstScan().scan.id, '--site', SITE, '--store', store, '--json']);
    expect(named.code, named.stderr).toBe(0);
    const diff = JSON.parse(named.stdout) as ScanDiff;
    expect(diff.added.map((e) => e.deviceId)).toEqual(['mac:3c:ef:8c:a1:07:5d']);
    expect(diff.removed.map((e) => e.deviceId)).toEqual(['mac:44:47:cc:0e:91:22']);
  });

  it('exits 2 for a scan the site does not have, or for one scan id alone', async () => {
    const unknown = await runCli(['diff', firstScan().scan.id, '20990101T000000Z-000000', '--site', SITE, '--store', store]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('has no scan "20990101T000000Z-000000"');
    const alone = await runCli(['diff', firstScan().scan.id, '--site', SITE, '--store', store]);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toContain('name both scans');
  });
});
