/**
 * `cctv-agent report` from a lab scan: the lab's shared default scan (shared-scan.ts) ran in the
 * lab's scanner namespace, the reports are written from a copy of its store (no network), and the HTML report is opened in headless Chromium
 * (playwright-core driving Debian's /usr/bin/chromium), screenshotted, counted, filtered and sorted.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inventory } from '../../agent/types.js';
import { AGENT_CLI, REPO_ROOT } from './lab-helpers.js';
import { linkedVendorNames } from '../../agent/knowledge/index.js';
import { netboxName } from '../../agent/report/exports.js';
import { renderFormat, reportFormats } from '../../agent/report/formats.js';
import { cyclonedxProblems } from '../support/cyclonedx-schema.js';
import { copySharedStore, SHARED_SITE, sharedScan } from './shared-scan.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'cctv-report-test-'));
const storeDir = join(dir, 'store');
const SITE = SHARED_SITE;

/** Runs `cctv-agent report` in this process's namespace: a report reads the store and sends nothing. */
async function report(args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [AGENT_CLI, 'report', '--site', SITE, '--store', storeDir, '--log-level', 'silent', ...args], {
    cwd: REPO_ROOT,
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

function ipNumber(ip: string): number {
  return ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

describe('cctv-agent report from a lab scan', () => {
  let inventory: Inventory;
  let browser: Browser;
  let page: Page;
  const requests: string[] = [];
  const htmlFile = join(dir, 'report.html');

  beforeAll(async () => {
    // The lab's shared default scan (shared-scan.ts), reported from a copy of its store.
    inventory = sharedScan().inventory;
    copySharedStore(storeDir);
    expect(inventory.devices.length).toBeGreaterThan(3);
    await report(['--format', 'html', '--out', htmlFile]);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-quic', '--no-first-run', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('request', (request) => requests.push(request.url()));
    await page.goto(pathToFileURL(htmlFile).href);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('json is the inventory document of the latest scan', async () => {
    expect(JSON.parse(await report(['--format', 'json']))).toEqual(inventory);
    expect(JSON.parse(await report(['--format', 'json', '--scan', inventory.scan.id]))).toEqual(inventory);
  });

  it('table lists every device', async () => {
    const table = await report([]);
    for (const d of inventory.devices) expect(table).toContain(d.ip);
    expect(table).toContain(`${inventory.devices.length} device(s)`);
  });

  it('csv has a BOM, a header and one row a device', async () => {
    const out = join(dir, 'report.csv');
    expect(await report(['--format', 'csv', '--out', out])).toBe('');
    const text = readFileSync(out, 'utf8');
    expect(text.startsWith('\uFEFF')).toBe(true);
    const [header, ...rows] = parse(text, { bom: true }) as string[][];
    expect(header?.[1]).toBe('ip');
    expect(rows.map((r) => r[1])).toEqual(inventory.devices.map((d) => d.ip));
    expect(rows.map((r) => r[6])).toEqual(inventory.devices.map((d) => d.classification.linkedVendor ?? ''));
  });

  it('the HTML report renders, with a screenshot, and Chromium fetches nothing from the network', async () => {
    const png = join(dir, 'report.png');
    await page.screenshot({ path: png, fullPage: true });
    const bytes = readFileSync(png);
    expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(statSync(png).size).toBeGreaterThan(20_000);
    expect(requests.length).toBeGreaterThan(0);
    for (const url of requests) expect(url).toMatch(/^(file|data):/);
  });

  it('shows the summary counts of the document', async () => {
    const count = async (key: string): Promise<number> => Number(await page.locator(`tr[data-count="${key}"] td`).textContent());
    const devices = inventory.devices;
    const linked = (vendor: string): number => devices.filter((d) => d.classification.linkedVendor === vendor).length;
    const relation = (r: string): number => devices.filter((d) => d.classification.linkedVendor !== null && d.classification.relation === r).length;
    expect(await count('devices')).toBe(devices.length);
    expect(await count('hikvision')).toBe(linked('hikvision'));
    expect(await count('dahua')).toBe(linked('dahua'));
    expect(await count('oem')).toBe(relation('oem'));
    expect(await count('subsidiary')).toBe(relation('subsidiary'));
    expect(await count('unlinked')).toBe(devices.filter((d) => d.classification.linkedVendor === null).length);
    // Only affected or possibly-affected count; the Hikvision camera's CVEs are all not-affected.
    const flagged = devices.filter((d) => d.vulnerabilities.some((v) => v.status === 'affected' || v.status === 'possibly-affected')).length;
    expect(await count('cves')).toBe(flagged);
    expect(flagged).toBeLessThan(devices.filter((d) => d.vulnerabilities.length > 0).length);
    expect(linked('dahua')).toBeGreaterThan(0);
    expect(await count('misaddressed')).toBe(devices.filter((d) => d.misaddressed).length);
    expect(await page.locator('svg.chart rect').count()).toBe(10);
  });

  it('filtering "dahua" shows exactly the Dahua-linked devices, and clearing it shows all', async () => {
    const visibleIps = (): Promise<string[]> => page.locator('#devices tbody tr:visible td:first-child').allTextContents();
    expect(await visibleIps()).toHaveLength(inventory.devices.length);
    await page.fill('#filter', 'dahua');
    const dahua = inventory.devices.filter((d) => d.classification.linkedVendor === 'dahua').map((d) => d.ip);
    expect((await visibleIps()).sort()).toEqual(dahua.sort());
    expect(await page.locator('#shown').textContent()).toBe(`${dahua.length} of ${inventory.devices.length} devices shown`);
    await page.fill('#filter', '');
    expect(await visibleIps()).toHaveLength(inventory.devices.length);
  });

  it('sorts by IP (numerically) and by confidence when a heading is clicked', async () => {
    const ips = (): Promise<string[]> => page.locator('#devices tbody tr td:first-child').allTextContents();
    await page.click('#devices thead th:nth-child(1) button');
    const ascending = [...inventory.devices.map((d) => d.ip)].sort((a, b) => ipNumber(a) - ipNumber(b));
    expect(await ips()).toEqual(ascending);
    await page.click('#devices thead th:nth-child(1) button');
    expect(await ips()).toEqual([...ascending].reverse());
    await page.click('#devices thead th:nth-child(8) button');
    const confidences = (await page.locator('#devices tbody tr td:nth-child(8)').allTextContents()).map(Number);
    expect(confidences).toEqual([...confidences].sort((a, b) => a - b));
    expect(new Set(confidences).size).toBeGreaterThan(1);
  });

  it('opens a device\'s evidence on click', async () => {
    const details = page.locator('#devices details').first();
    expect(await details.locator('ul').first().isVisible()).toBe(false);
    await details.locator('summary').click();
    expect(await details.locator('ul').first().isVisible()).toBe(true);
  });
});

describe('exports of a lab scan', () => {
  it('writes a CycloneDX 1.6 hardware BOM that validates, and a NetBox device row for each device', async () => {
    copySharedStore(storeDir);
    const { inventory } = sharedScan();
    const bom = JSON.parse(await report(['--format', 'cyclonedx']));
    expect(cyclonedxProblems(bom)).toEqual([]);
    expect(bom.components.map((c: { 'bom-ref': string }) => c['bom-ref'])).toEqual(inventory.devices.map((d) => d.id));
    const linked = bom.components.filter((c: { properties: Array<{ name: string; value: string }> }) =>
      c.properties.some((p) => p.name === 'cctv-agent:linkedVendor' && p.value !== 'none'),
    );
    expect(linked.length).toBe(inventory.devices.filter((d) => d.classification.linkedVendor).length);
    // The NetBox rows in-process (the command's formats are one registry; the CLI ran once above).
    const rows = parse(renderFormat(reportFormats, 'netbox', inventory, linkedVendorNames()), { columns: true }) as Array<Record<string, string>>;
    expect(rows.map((r) => r.name)).toEqual(inventory.devices.map(netboxName));
    expect(rows.every((r) => r.site === SITE && r.manufacturer !== '' && r.device_type !== '')).toBe(true);
  });
});
