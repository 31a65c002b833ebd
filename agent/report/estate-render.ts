/**
 * The estate (estate.ts) as a terminal table, CSV and one self-contained HTML page with a per-site
 * chart and, under it, each site's devices (the summary's site names link to them).
 */
import { stringify } from 'csv-stringify/sync';
import { displaySafe } from '../safe-text.js';
import type { Device } from '../types.js';
import { csvCell } from './csv.js';
import { relationText, siteStatus, type EstateReport, type EstateSite } from './estate.js';
import { escapeHtml, htmlPageHead } from './html.js';
import { REPORT_CSS } from './html-assets.js';
import { cveLabel, linkedNamesText, plainVerdict, type LinkedVendorNames } from './summary.js';
import { terminalTable } from './terminal-table.js';

function conflictText(site: EstateSite): string {
  const parts: string[] = [];
  if (site.writers.length > 1) parts.push(`${site.writers.length} writers: ${site.writers.map((w) => `${w.agentId} (last ${w.lastScanAt})`).join(', ')}`);
  if (site.conflicts.length) parts.push(`${site.conflicts.length} document(s) in conflict: ${site.conflicts.map((c) => c.id).join(', ')}`);
  return parts.join('; ');
}

export function estateTable({ estate }: EstateReport, names: LinkedVendorNames): string {
  const vendors = [...names];
  const head = ['Site', 'Devices', ...vendors.map(([, name]) => `Linked to ${name}`), 'With CVEs', 'CVEs (affected or possibly)', 'Last sweep', 'Status'];
  const rows = estate.sites.map((s) => [
    s.site,
    String(s.summary.devices),
    ...vendors.map(([key]) => relationText(s.linkedByRelation[key] ?? { direct: 0, oem: 0, subsidiary: 0 })),
    String(s.summary.withCves),
    String(s.flaggedCves),
    s.lastSweepAt,
    siteStatus(s),
  ]);
  const t = estate.totals;
  rows.push(['All sites', String(t.devices), ...vendors.map(([key]) => relationText(t.linkedByRelation[key] ?? { direct: 0, oem: 0, subsidiary: 0 })), String(t.devicesWithCves), String(t.flaggedCves), '', `${t.staleSites} stale, ${t.sitesInConflict} in conflict`]);
  const notes = estate.sites.flatMap((s) => [
    ...(s.staleReason ? [`${s.site}: stale: ${s.staleReason}`] : []),
    ...(s.inConflict ? [`${s.site}: conflict: ${conflictText(s)}`] : []),
  ]);
  // The notes quote what fleet documents say (another writer's agent id): shown, never interpreted.
  return `${terminalTable(head, rows)}\n${notes.map((n) => `${displaySafe(n)}\n`).join('')}`;
}

export function estateCsv({ estate }: EstateReport, names: LinkedVendorNames): string {
  const vendors = [...names.keys()];
  const header = [
    'site',
    'last_sweep_at',
    'scan_id',
    'scans',
    'devices',
    ...vendors.flatMap((v) => [`linked_${v}`, `${v}_direct`, `${v}_oem`, `${v}_subsidiary`]),
    'not_linked',
    'devices_with_cves',
    'cves_affected_or_possibly',
    'maker_unknown',
    'schedule',
    'stale',
    'conflict',
  ];
  const rows = estate.sites.map((s) =>
    [
      s.site,
      s.lastSweepAt,
      s.scanId,
      String(s.scans),
      String(s.summary.devices),
      ...vendors.flatMap((v) => {
        const r = s.linkedByRelation[v] ?? { direct: 0, oem: 0, subsidiary: 0 };
        return [String(s.summary.linked[v] ?? 0), String(r.direct), String(r.oem), String(r.subsidiary)];
      }),
      String(s.summary.byRelation.unlinked),
      String(s.summary.withCves),
      String(s.flaggedCves),
      String(s.summary.unidentified),
      s.schedule ? `${s.schedule.cron}${s.schedule.timezone ? ` ${s.schedule.timezone}` : ''}` : '',
      s.stale ? (s.staleReason ?? 'yes') : '',
      s.inConflict ? conflictText(s) : '',
    ].map(csvCell),
  );
  return stringify([header, ...rows], { bom: true, record_delimiter: 'windows' });
}

const CHART_ROW = 30;
const CHART_LABEL = 160;
const CHART_BAR = 360;

/** One stacked bar per site: its devices linked to each vendor, then those not linked; the number of devices at the end. */
function estateChart(report: EstateReport, names: LinkedVendorNames): string {
  const { sites } = report.estate;
  const max = Math.max(1, ...sites.map((s) => s.summary.devices));
  const segments = [...[...names].map(([key, name]) => ({ key, name })), { key: 'unlinked', name: 'Not linked' }];
  const bars = sites
    .map((s, i) => {
      const y = i * CHART_ROW + 4;
      let x = CHART_LABEL;
      const parts = segments
        .map(({ key, name }) => {
          const n = key === 'unlinked' ? s.summary.byRelation.unlinked : (s.summary.linked[key] ?? 0);
          const w = Math.round((n / max) * CHART_BAR);
          const rect = n ? `<rect class="bar bar-${escapeHtml(key)}" x="${x}" y="${y + 4}" width="${w}" height="${CHART_ROW - 10}"><title>${escapeHtml(`${s.site}: ${name} ${n}`)}</title></rect>` : '';
          x += w;
          return rect;
        })
        .join('');
      return (
        `<a href="#site-${escapeHtml(s.site)}"><text x="${CHART_LABEL - 8}" y="${y + 19}" text-anchor="end">${escapeHtml(s.site)}</text></a>` +
        parts +
        `<text x="${x + 6}" y="${y + 19}">${s.summary.devices}</text>`
      );
    })
    .join('');
  const height = sites.length * CHART_ROW + 8;
  const width = CHART_LABEL + CHART_BAR + 60;
  const legend = segments.map(({ key, name }) => `<span class="key key-${escapeHtml(key)}">${escapeHtml(name)}</span>`).join(' ');
  return `<svg class="chart" id="estate-chart" role="img" aria-label="Devices per site, by linked vendor" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">${bars}</svg><p class="legend">${legend}</p>`;
}

function siteRow(s: EstateSite, names: LinkedVendorNames): string {
  const vendors = [...names.keys()].map((key) => `<td>${escapeHtml(relationText(s.linkedByRelation[key] ?? { direct: 0, oem: 0, subsidiary: 0 }))}</td>`).join('');
  const status = siteStatus(s);
  const why = [s.staleReason, s.inConflict ? conflictText(s) : null].filter(Boolean).join('; ');
  return (
    `<tr data-site="${escapeHtml(s.site)}" class="${s.stale ? 'stale ' : ''}${s.inConflict ? 'conflict' : ''}">` +
    `<th scope="row"><a href="#site-${escapeHtml(s.site)}">${escapeHtml(s.site)}</a></th><td>${s.summary.devices}</td>${vendors}` +
    `<td>${s.summary.withCves}</td><td>${s.flaggedCves}</td><td class="mono">${escapeHtml(s.lastSweepAt)}</td>` +
    `<td${why ? ` title="${escapeHtml(why)}"` : ''}>${escapeHtml(status)}${why ? `<br><span class="label">${escapeHtml(why)}</span>` : ''}</td></tr>`
  );
}

function deviceRow(d: Device, names: LinkedVendorNames): string {
  const cells = [d.ip, d.identity.brand ?? '', plainVerdict(d, names), d.identity.model ?? '', d.identity.firmware ?? '', d.identity.serial ?? '', d.vulnerabilities.map(cveLabel).join('\n')];
  return `<tr class="linked-${escapeHtml(d.classification.linkedVendor ?? 'none')}">${cells.map((c, i) => `<td${i === 0 ? ' class="mono"' : i === 6 ? ' class="cves"' : ''}>${c ? escapeHtml(c) : '<span class="empty">-</span>'}</td>`).join('')}</tr>`;
}

function siteSection(s: EstateSite, report: EstateReport, names: LinkedVendorNames): string {
  const devices = report.inventories.get(s.site)?.devices ?? [];
  return (
    `<section id="site-${escapeHtml(s.site)}"><h2>Site ${escapeHtml(s.site)}</h2>` +
    `<p class="meta">Scan ${escapeHtml(s.scanId)}, finished ${escapeHtml(s.lastSweepAt)}; ${s.scans} scan(s) in the store${s.schedule ? `; swept on "${escapeHtml(s.schedule.cron)}"` : ''}. <a href="#summary">Back to the summary</a></p>` +
    `<table class="devices"><thead><tr><th>IP</th><th>Brand</th><th>Verdict</th><th>Model</th><th>Firmware</th><th>Serial</th><th>CVEs</th></tr></thead><tbody>` +
    devices.map((d) => deviceRow(d, names)).join('\n') +
    `</tbody></table></section>`
  );
}

const ESTATE_CSS = `
.legend .key::before { content: ""; display: inline-block; width: 10px; height: 10px; margin-right: 4px; background: #4a6fa5; }
.legend .key-hikvision::before { background: var(--hik); }
.legend .key-dahua::before { background: var(--dahua); }
.legend .key-unlinked::before { background: var(--ok); }
table.sites { border-collapse: collapse; }
table.sites th, table.sites td { border-bottom: 1px solid var(--line); padding: 6px 10px; text-align: left; vertical-align: top; }
table.sites tr.stale td:last-child, table.sites tr.conflict td:last-child { color: var(--hik); font-weight: 600; }
.label { color: var(--muted); font-weight: normal; }
`;

/** The estate as one self-contained HTML page (inline CSS and SVG, no script; a Content Security Policy forbids every fetch). */
export function estateHtml(report: EstateReport, names: LinkedVendorNames): string {
  const { estate } = report;
  const t = estate.totals;
  const vendorHeads = [...names.values()].map((name) => `<th scope="col">Linked to ${escapeHtml(name)}</th>`).join('');
  return `${htmlPageHead({ title: `CCTV estate: ${t.sites} site(s)`, css: REPORT_CSS + ESTATE_CSS })}<body>
<h1>CCTV estate: ${t.sites} site(s), ${t.devices} device(s)</h1>
<p class="meta">Generated ${escapeHtml(estate.generatedAt)}. ${t.staleSites} stale site(s), ${t.sitesInConflict} in conflict; ${t.devicesWithCves} device(s) with known CVEs (${t.flaggedCves} affected or possibly affected).</p>
<h2 id="summary">Sites</h2>
<div class="summary">
<table class="sites" id="sites"><thead><tr><th scope="col">Site</th><th scope="col">Devices</th>${vendorHeads}<th scope="col">With CVEs</th><th scope="col">CVEs (affected or possibly)</th><th scope="col">Last sweep</th><th scope="col">Status</th></tr></thead>
<tbody>
${estate.sites.map((s) => siteRow(s, names)).join('\n')}
</tbody></table>
${estateChart(report, names)}
</div>
${estate.sites.map((s) => siteSection(s, report, names)).join('\n')}
<footer>Made by cctv-agent from the latest scan of each site. "Linked" means made by or for ${escapeHtml(linkedNamesText(names))}, directly, for another brand (OEM) or by a subsidiary. A site is stale when no sweep started within its schedule; in conflict when two agents write it.</footer>
</body>
</html>
`;
}
