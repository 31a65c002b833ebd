/** The HTML report's inline stylesheet and script: the report is one file and fetches nothing. */

export const REPORT_CSS = `
:root { --ink: #1d2330; --muted: #5b6475; --line: #d5dae3; --hik: #c0392b; --dahua: #d68910; --ok: #2e7d4f; --bg: #f6f7f9; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", Arial, sans-serif; color: var(--ink); margin: 0; padding: 24px 32px; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 10px; }
.meta { color: var(--muted); margin: 0 0 16px; }
.summary { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.counts { border-collapse: collapse; min-width: 320px; }
.counts th { text-align: left; font-weight: normal; padding: 4px 16px 4px 0; }
.counts td { text-align: right; font-weight: 600; font-variant-numeric: tabular-nums; padding: 4px 0; }
.counts tr + tr { border-top: 1px solid var(--line); }
.chart { max-width: 560px; width: 100%; height: auto; }
.chart text { font-size: 12px; fill: var(--ink); }
.chart .bar { fill: #4a6fa5; }
.chart .bar-hikvision { fill: var(--hik); }
.chart .bar-dahua { fill: var(--dahua); }
.chart .bar-unlinked { fill: var(--ok); }
.tools { margin: 8px 0; display: flex; gap: 12px; align-items: center; }
.tools input { font: inherit; padding: 6px 10px; width: 320px; border: 1px solid var(--line); border-radius: 4px; }
#shown { color: var(--muted); }
table.devices { border-collapse: collapse; width: 100%; }
table.devices th, table.devices td { border-bottom: 1px solid var(--line); padding: 6px 8px; text-align: left; vertical-align: top; }
table.devices thead th { background: var(--bg); position: sticky; top: 0; }
table.devices th button { font: inherit; font-weight: 600; border: 0; background: none; padding: 0; cursor: pointer; color: inherit; }
table.devices th[aria-sort="ascending"] button::after { content: " \\25B2"; }
table.devices th[aria-sort="descending"] button::after { content: " \\25BC"; }
td.cves { white-space: pre-line; min-width: 9.5em; }
td.mono { font-family: ui-monospace, "DejaVu Sans Mono", Consolas, monospace; font-size: 13px; white-space: nowrap; }
tr.linked-hikvision td:first-child { border-left: 4px solid var(--hik); }
tr.linked-dahua td:first-child { border-left: 4px solid var(--dahua); }
.verdict { font-weight: 600; }
details summary { cursor: pointer; color: #2b5aa0; }
details ul { margin: 6px 0; padding-left: 18px; }
details .label { color: var(--muted); }
.empty { color: var(--muted); font-style: italic; }
footer { margin-top: 28px; color: var(--muted); font-size: 12px; }
@media print {
  body { padding: 0; font-size: 11px; }
  .tools { display: none; }
  table.devices thead th { position: static; }
  table.devices th button::after { content: "" !important; }
  tr { break-inside: avoid; }
  details summary { color: var(--ink); }
  a { color: inherit; text-decoration: none; }
}
`;

/**
 * Sorting (click a column heading) and filtering (type in the box) of the device table, and every
 * device's evidence opened for printing. Plain DOM, no library.
 */
export const REPORT_JS = `
(function () {
  var table = document.getElementById('devices');
  var body = table.tBodies[0];
  var filter = document.getElementById('filter');
  var shown = document.getElementById('shown');
  var rows = Array.prototype.slice.call(body.rows);
  function applyFilter() {
    var words = filter.value.toLowerCase().split(/\\s+/).filter(Boolean);
    var count = 0;
    rows.forEach(function (row) {
      var text = row.getAttribute('data-filter');
      var match = words.every(function (w) { return text.indexOf(w) !== -1; });
      row.hidden = !match;
      if (match) count++;
    });
    shown.textContent = count + ' of ' + rows.length + ' devices shown';
  }
  filter.addEventListener('input', applyFilter);
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  heads.forEach(function (th, column) {
    var button = th.querySelector('button');
    if (!button) return;
    button.addEventListener('click', function () {
      var ascending = th.getAttribute('aria-sort') !== 'ascending';
      heads.forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
      var numeric = th.getAttribute('data-type') === 'number';
      rows.sort(function (a, b) {
        var x = a.cells[column].getAttribute('data-sort');
        var y = b.cells[column].getAttribute('data-sort');
        var order = numeric ? Number(x) - Number(y) : x.localeCompare(y);
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
  var opened = [];
  window.addEventListener('beforeprint', function () {
    opened = Array.prototype.filter.call(document.querySelectorAll('details'), function (d) { return !d.open; });
    opened.forEach(function (d) { d.open = true; });
  });
  window.addEventListener('afterprint', function () { opened.forEach(function (d) { d.open = false; }); });
  applyFilter();
})();
`;
