import { handoverLine, type HandoverSignOff } from '../handover/verify.js';
import { displaySafeLines } from '../safe-text.js';
import type { Device, Inventory } from '../types.js';
import { REPORT_CSS, REPORT_JS } from './html-assets.js';
import { cveLabel, cveStatusWords, evidenceSummary, flaggedCves, linkedNamesText, MISADDRESSED_LABEL, misaddressedNote, plainVerdict, summarize, summaryRows, type LinkedVendorNames, type ReportSummary } from './summary.js';
import { verdictText } from './table.js';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * HTML-escapes text for element content and quoted attributes: device strings are hostile input.
 * Control and bidirectional characters but line feeds (layout, shown by `white-space: pre-line`)
 * are shown as escapes first: a browser honours U+202E too, and a page printed to a terminal must
 * not carry ESC.
 */
export function escapeHtml(text: string): string {
  return displaySafeLines(text).replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/**
 * Content Security Policy of a self-contained page (W3C CSP Level 3, `default-src 'none'`): nothing
 * is fetched, so the page opens the same from a USB stick with no network; inline style only.
 */
const STATIC_PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'";
/** The same, for a page that also runs its own inline script and shows data: images. */
const SCRIPTED_PAGE_POLICY = `${STATIC_PAGE_POLICY}; script-src 'unsafe-inline'; img-src data:`;

/** What differs between the agent's HTML pages in their head: the title (escaped here), the inline CSS, whether the page has a script. */
export interface HtmlPage {
  title: string;
  css: string;
  script?: boolean;
}

/** The doctype and `<head>` every HTML page of the agent starts with (the report, the estate, the handover sign-off). */
export function htmlPageHead(page: HtmlPage): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${page.script === true ? SCRIPTED_PAGE_POLICY : STATIC_PAGE_POLICY}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(page.title)}</title>
<style>${page.css}</style>
</head>
`;
}

function cell(text: string | null, sortKey: string = text ?? '', className = ''): string {
  const cls = className ? ` class="${className}"` : '';
  const shown = text === null || text === '' ? '<span class="empty">-</span>' : escapeHtml(text);
  return `<td${cls} data-sort="${escapeHtml(sortKey.toLowerCase())}">${shown}</td>`;
}

/** "198.18.0.7" sorts as "198.018.000.007", so a text sort is a numeric one. */
function ipSortKey(ip: string): string {
  return ip
    .split('.')
    .map((octet) => octet.padStart(3, '0'))
    .join('.');
}

const CHART_ROW = 26;
const CHART_LABEL = 220;
const CHART_BAR = 240;

/** A horizontal bar chart of the summary counts, as inline SVG. */
function chartSvg(summary: ReportSummary, names: LinkedVendorNames): string {
  const rows = summaryRows(summary, names);
  const max = Math.max(1, ...rows.map((r) => r.value));
  const height = rows.length * CHART_ROW + 8;
  const width = CHART_LABEL + CHART_BAR + 40;
  const bars = rows
    .map((r, i) => {
      const y = i * CHART_ROW + 4;
      const w = Math.round((r.value / max) * CHART_BAR);
      return (
        `<text x="${CHART_LABEL - 8}" y="${y + 15}" text-anchor="end">${escapeHtml(r.label)}</text>` +
        `<rect class="bar bar-${r.key}" x="${CHART_LABEL}" y="${y + 3}" width="${w}" height="${CHART_ROW - 8}"/>` +
        `<text x="${CHART_LABEL + w + 6}" y="${y + 15}">${r.value}</text>`
      );
    })
    .join('');
  return `<svg class="chart" role="img" aria-label="Chart of the summary counts" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">${bars}</svg>`;
}

function summaryTable(summary: ReportSummary, names: LinkedVendorNames): string {
  const rows = summaryRows(summary, names)
    .map((r) => `<tr data-count="${r.key}"><th scope="row">${escapeHtml(r.label)}</th><td>${r.value}</td></tr>`)
    .join('');
  return `<table class="counts">${rows}</table>`;
}

function listOrNone(items: string[]): string {
  return items.length ? `<ul>${items.map((i) => `<li>${i}</li>`).join('')}</ul>` : '<p class="empty">none</p>';
}

function evidenceDetails(d: Device, names: LinkedVendorNames): string {
  const evidence = d.evidence.map(
    (e) => `${escapeHtml(e.detail)} <span class="label">(${escapeHtml(e.source)}, rule ${escapeHtml(e.rule)}, confidence ${e.confidence.toFixed(2)})</span>`,
  );
  const cves = d.vulnerabilities.map(
    (v) =>
      `${escapeHtml(v.id)}${v.status ? ` <span class="label">${escapeHtml(cveStatusWords(v))}</span>` : ''}${v.severity ? `, ${escapeHtml(v.severity)}` : ''}${v.kev ? ', known exploited (CISA KEV)' : ''}` +
      `${v.reason ? `: ${escapeHtml(v.reason)}` : ''}${v.source ? ` <span class="label">source: ${escapeHtml(v.source)}</span>` : ''}`,
  );
  const services = d.services.map((s) => `${s.port}/${escapeHtml(s.protocol)}${s.banner ? `: ${escapeHtml(s.banner)}` : ''}`);
  const policies = (d.policies ?? []).map((p) => escapeHtml(p.name));
  return (
    `<details><summary>${d.evidence.length} piece(s) of evidence</summary>` +
    `<p class="verdict">${escapeHtml(plainVerdict(d, names))}</p>` +
    (d.misaddressed ? `<p class="misaddressed">${escapeHtml(`${MISADDRESSED_LABEL}: ${misaddressedNote(d)}, never probed at ${d.misaddressed.address}`)}</p>` : '') +
    `<p class="label">Evidence</p>${listOrNone(evidence)}` +
    `<p class="label">Known CVEs</p>${listOrNone(cves)}` +
    (policies.length ? `<p class="label">Policies that concern it</p>${listOrNone(policies)}` : '') +
    `<p class="label">Services</p>${listOrNone(services)}` +
    `</details>`
  );
}

function deviceRow(d: Device, names: LinkedVendorNames): string {
  const { linkedVendor, confidence } = d.classification;
  const cves = d.vulnerabilities.map(cveLabel).join(' ');
  const columns = [
    d.ip,
    d.mac ?? '',
    d.identity.brand ?? '',
    d.identity.manufacturer ?? '',
    verdictText(d, names),
    d.identity.model ?? '',
    d.identity.firmware ?? '',
    cves,
    d.misaddressed ? 'misaddressed' : '',
  ];
  const filterText = columns.join(' ').toLowerCase();
  return (
    `<tr class="linked-${linkedVendor ?? 'none'}" data-filter="${escapeHtml(filterText)}">` +
    cell(d.ip, ipSortKey(d.ip), 'mono') +
    cell(d.mac, d.mac ?? '', 'mono') +
    cell(d.identity.brand) +
    cell(d.identity.manufacturer) +
    `<td data-sort="${escapeHtml(verdictText(d, names).toLowerCase())}"${linkedVendor ? ' class="verdict"' : ''}>${escapeHtml(plainVerdict(d, names))}</td>` +
    cell(d.identity.model) +
    cell(d.identity.firmware) +
    cell(confidence.toFixed(2), String(confidence)) +
    // Sorted by how many CVEs flag the device (affected or possibly), then by the list.
    cell(d.vulnerabilities.map(cveLabel).join('\n'), String(flaggedCves(d).length).padStart(4, '0') + cves, 'cves') +
    `<td data-sort="${escapeHtml(evidenceSummary(d, 1).toLowerCase())}">${evidenceDetails(d, names)}</td>` +
    `</tr>`
  );
}

const COLUMNS: Array<{ label: string; numeric?: boolean }> = [
  { label: 'IP' },
  { label: 'MAC' },
  { label: 'Brand' },
  { label: 'Maker' },
  { label: 'Relation' },
  { label: 'Model' },
  { label: 'Firmware' },
  { label: 'Confidence', numeric: true },
  { label: 'CVEs' },
  { label: 'Evidence' },
];

/**
 * The inventory as one self-contained HTML file: inline CSS, JS and SVG, and a Content Security
 * Policy that forbids every fetch, so it opens the same from a USB stick with no network.
 */
export function inventoryHtml(inventory: Inventory, names: LinkedVendorNames, handover?: HandoverSignOff | null): string {
  const summary = summarize(inventory, names);
  const { scan } = inventory;
  const heads = COLUMNS.map(
    (c) => `<th scope="col"${c.numeric ? ' data-type="number"' : ''}><button type="button">${escapeHtml(c.label)}</button></th>`,
  ).join('');
  return `${htmlPageHead({ title: `CCTV inventory: site ${scan.site}`, css: REPORT_CSS, script: true })}<body>
<h1>CCTV inventory: site ${escapeHtml(scan.site)}</h1>
<p class="meta">Scan ${escapeHtml(scan.id)}, from ${escapeHtml(scan.startedAt)} to ${escapeHtml(scan.finishedAt)}. Methods: ${escapeHtml(scan.methods.join(', '))}.</p>
${handover ? `<p class="meta" id="handover">${escapeHtml(handoverLine(handover, names))}</p>\n` : ''}<h2>Summary</h2>
<div class="summary">
${summaryTable(summary, names)}
${chartSvg(summary, names)}
</div>
<h2>Devices</h2>
<div class="tools"><input id="filter" type="search" placeholder="Filter: type an IP, a brand, ${escapeHtml([...names.keys()].join(', '))}…" aria-label="Filter the devices"><span id="shown"></span></div>
<table class="devices" id="devices">
<thead><tr>${heads}</tr></thead>
<tbody>
${inventory.devices.map((d) => deviceRow(d, names)).join('\n')}
</tbody>
</table>
<footer>Made by cctv-agent from the ${escapeHtml(inventory.schema)} document. "Linked" means made by or for ${escapeHtml(linkedNamesText(names))}, directly, for another brand (OEM) or by a subsidiary; each verdict lists the evidence it rests on.</footer>
<script>${REPORT_JS}</script>
</body>
</html>
`;
}
