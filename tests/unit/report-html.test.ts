import { recordScan } from '../../agent/pipeline/changes.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { escapeHtml, inventoryHtml } from '../../agent/report/html.js';
import { writeReport } from '../../agent/report/index.js';
import { renderFormat, reportFormats } from '../../agent/report/formats.js';
import { inventoryTable } from '../../agent/report/table.js';
import { openFileStore } from '../../agent/store/file.js';
import { createLogger } from '../../agent/log.js';
import { device, sampleInventory } from './report-fixture.js';
import { linkedVendorNames } from '../../agent/knowledge/index.js';

const names = linkedVendorNames();

const HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">\'&';

describe('HTML report', () => {
  it('escapes every device-supplied string', () => {
    expect(escapeHtml(HOSTILE)).toBe('&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&quot;alert(2)&quot;&gt;&#39;&amp;');
    const hostileDevice = device('198.18.0.9', {
      mac: HOSTILE,
      identity: { manufacturer: HOSTILE, brand: HOSTILE, model: HOSTILE, firmware: HOSTILE, serial: HOSTILE, deviceType: HOSTILE },
      evidence: [{ source: 'http', detail: `http.title = ${HOSTILE}`, supports: null, rule: HOSTILE, confidence: 0.5 }],
      vulnerabilities: [{ id: HOSTILE, reason: HOSTILE, source: HOSTILE }],
      services: [{ port: 80, protocol: HOSTILE, banner: HOSTILE }],
      policies: [{ id: 'x', name: HOSTILE }],
    });
    const inventory = { ...sampleInventory(), scan: { ...sampleInventory().scan, site: HOSTILE, id: HOSTILE }, devices: [hostileDevice] };
    const html = inventoryHtml(inventory, names);
    // The report's own script is the only one; no hostile tag or attribute survives unescaped.
    expect(html.match(/<script>/g)).toHaveLength(1);
    expect(html).not.toContain('<img');
    expect(html).not.toContain('onerror="');
    expect(html).not.toMatch(/data-filter="[^"]*"[^>]*alert/);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('is one self-contained file: no external src or href, and a policy that forbids fetches', () => {
    const html = inventoryHtml(sampleInventory(), names);
    expect(html).not.toMatch(/\b(src|href)\s*=\s*["']?\s*(https?:)?\/\//i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/@import|url\(/i);
    expect(html).toContain("default-src 'none'");
  });

  it('shows the summary counts, a chart and one table row a device with plain-language verdicts', () => {
    const html = inventoryHtml(sampleInventory(), names);
    expect(html).toMatch(/<tr data-count="devices"><th scope="row">Devices found<\/th><td>7<\/td><\/tr>/);
    expect(html).toMatch(/<tr data-count="hikvision">[^\n]*?<td>3<\/td>/);
    expect(html).toMatch(/<tr data-count="dahua">[^\n]*?<td>2<\/td>/);
    expect(html).toContain('<svg class="chart"');
    expect(html.match(/<tr class="linked-/g)).toHaveLength(7);
    expect(html).toContain('made by Hikvision, sold as LTS (OEM)');
    expect(html.match(/<details>/g)).toHaveLength(7);
  });

  it('counts only devices with a CVE affected or possibly, and shows every status in words', () => {
    const html = inventoryHtml(sampleInventory(), names);
    // Hikvision (affected), Dahua (no status: an older entry), Amcrest (possibly); LTS is not-affected / cannot-tell.
    expect(html).toMatch(/<tr data-count="cves"><th scope="row">With known CVEs<\/th><td>3<\/td><\/tr>/);
    expect(html).toContain('CVE-2017-7921 not affected\nCVE-2021-36260 cannot tell</td>');
    expect(html).toContain('CVE-2020-5735 possibly</td>');
    expect(html).toContain('CVE-2021-36260 <span class="label">affected</span>, critical, known exploited (CISA KEV)');
    expect(html).toContain('CVE-2017-7921 <span class="label">not affected</span>');
  });
});

describe('report formats from the store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cctv-report-unit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const log = createLogger('silent');

  it('renders each format from the same document', () => {
    const inventory = sampleInventory();
    expect(renderFormat(reportFormats, 'table', inventory, names)).toBe(inventoryTable(inventory, names));
    expect(JSON.parse(renderFormat(reportFormats, 'json', inventory, names))).toEqual(inventory);
    expect(renderFormat(reportFormats, 'csv', inventory, names).startsWith('\uFEFF')).toBe(true);
    expect(renderFormat(reportFormats, 'html', inventory, names).startsWith('<!DOCTYPE html>')).toBe(true);
  });

  it('writes the latest scan, or a named one, to --out', async () => {
    const store = await openFileStore(join(dir, 'store'), log);
    const first = sampleInventory();
    const second = { ...sampleInventory(), scan: { ...first.scan, id: '20261128T110000Z-beef', startedAt: '2026-11-28T11:00:00.000Z', finishedAt: '2026-11-28T11:00:05.000Z' }, devices: first.devices.slice(0, 2) };
    await recordScan(store, first);
    await recordScan(store, second);
    await store.close();
    const out = join(dir, 'latest.json');
    await writeReport({ site: 'town-hall', store: join(dir, 'store'), format: 'json', out, log });
    expect((JSON.parse(readFileSync(out, 'utf8')) as { devices: unknown[] }).devices).toHaveLength(2);
    await writeReport({ site: 'town-hall', store: join(dir, 'store'), scan: first.scan.id, format: 'json', out, log });
    expect((JSON.parse(readFileSync(out, 'utf8')) as { devices: unknown[] }).devices).toHaveLength(7);
  });

  it('fails with a coded error for an unknown site or scan, or an --out it cannot write', async () => {
    await expect(writeReport({ site: 'town-hall', store: join(dir, 'store'), format: 'csv', out: join(dir, 'no-such-folder', 'r.csv'), log })).rejects.toMatchObject({
      code: 'CCTV_ERR_REPORT_UNWRITABLE',
    });
    await expect(writeReport({ site: 'nowhere', store: join(dir, 'store'), format: 'csv', log })).rejects.toMatchObject({ code: 'CCTV_ERR_NO_INVENTORY' });
    await expect(writeReport({ site: 'town-hall', store: join(dir, 'store'), scan: 'no-such-scan', format: 'csv', log })).rejects.toMatchObject({ code: 'CCTV_ERR_NO_SCAN' });
  });
});
