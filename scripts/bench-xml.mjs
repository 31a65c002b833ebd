#!/usr/bin/env node
// Cost of one parseUntrustedXml call (agent/protocols/xml.ts, compiled in dist/ by `npm ci`) on the
// replies a scan reads most, per document kind: CPU time and bytes allocated on the JavaScript heap.
// Not part of CI. No network.
//
//   node --expose-gc scripts/bench-xml.mjs [OTHER/dist/agent/protocols/xml.js ...]
//
// Each further argument is another build's compiled xml.js (another worktree's, before a change),
// measured side by side with this tree's in the same process, turn about, on the same bytes.
//
// Documents: real-shaped replies from tests/fixtures (WS-Discovery ProbeMatches, a SADP ProbeMatch,
// ONVIF GetDeviceInformation and GetNetworkInterfaces answers, a UPnP device description, an ISAPI
// deviceInfo), and an .xlsx worksheet part of 200 rows × 7 shared-string cells laid out as Excel
// writes it (tests/support/xlsx.ts), each passed as a Buffer as the codecs pass it.
//
// CPU: process.cpuUsage() around a round of parses (about CPU_ROUND_BYTES of input), divided by
// their number; the median of ROUNDS rounds, the builds taking turns round by round after a warm-up
// of every build on every document. Garbage collection that a build's allocations cause falls in its
// own rounds, as it does in a scan.
//
// Allocation: V8 has no allocation counter on Node 20, so after a full collection (gc(), hence
// --expose-gc) the growth of v8.getHeapStatistics().used_heap_size over a window of parses is what
// they allocated, provided no collection ran in the window (one would free the garbage counted so
// far): v8.GCProfiler, started and stopped around the window, lists every collection that ran in it,
// and a window that met one is measured again. Reported: the smallest of WINDOWS windows, per
// parse (anything else in the process, such as the compiler's own allocations while it optimises,
// only adds). What the parse returns is kept until the window ends, so it is counted, as a caller
// holds it too.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';

const CPU_ROUND_BYTES = 2_000_000;
const ROUNDS = 7;
const WINDOWS = 9;
/** Input bytes per allocation window: the window's allocation must stay small beside the young generation. */
const WINDOW_BYTES = 40_000;
const CAP = 4 * 1024 * 1024;

if (typeof globalThis.gc !== 'function') {
  console.error('run with node --expose-gc');
  process.exit(2);
}

const fixture = (path) => readFileSync(new URL(`../tests/fixtures/${path}`, import.meta.url));

function worksheet(rows, columns) {
  let sheet = '';
  let index = 0;
  for (let r = 1; r <= rows; r++) {
    let cells = '';
    for (let c = 0; c < columns; c++) cells += `<c r="${String.fromCharCode(65 + c)}${r}" t="s"><v>${index++}</v></c>`;
    sheet += `<row r="${r}" spans="1:${columns}">${cells}</row>`;
  }
  return Buffer.from(
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' +
      `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>${sheet}</sheetData></worksheet>`,
  );
}

const documents = [
  ['WS-Discovery ProbeMatches', fixture('wsdiscovery/hikvision-probematches.xml')],
  ['SADP ProbeMatch', fixture('sadp/ds-2cd2385g1-i.probematch.xml')],
  ['ONVIF GetDeviceInformation', fixture('onvif/device-information.xml')],
  ['ONVIF GetNetworkInterfaces', fixture('onvif/network-interfaces.xml')],
  ['UPnP description', fixture('upnp/synology-ds216plusII-mediaserver.xml')],
  ['ISAPI deviceInfo', fixture('isapi/ds-2cd2366g2-isu-sl.deviceinfo.xml')],
  ['XLSX worksheet 200×7', worksheet(200, 7)],
];

const here = new URL('../dist/agent/protocols/xml.js', import.meta.url).href;
const builds = [{ name: 'this tree', url: here }, ...process.argv.slice(2).map((path) => ({ name: path, url: pathToFileURL(resolve(path)).href }))];
for (const build of builds) build.parse = (await import(build.url)).parseUntrustedXml;

for (const [kind, bytes] of documents) {
  for (const { name, parse } of builds) {
    if (parse(bytes, CAP) === null) throw new Error(`${name} refuses the ${kind} document`);
  }
}

const parsesIn = (total, bytes) => Math.ceil(total / bytes.length);

function cpuMicrosPerParse(parse, bytes) {
  const parses = parsesIn(CPU_ROUND_BYTES, bytes);
  const start = process.cpuUsage();
  for (let i = 0; i < parses; i++) parse(bytes, CAP);
  const spent = process.cpuUsage(start);
  return (spent.user + spent.system) / parses;
}

function bytesPerParse(parse, bytes) {
  const parses = parsesIn(WINDOW_BYTES, bytes);
  for (let attempt = 0; attempt < 20; attempt++) {
    globalThis.gc();
    const kept = new Array(parses);
    const collections = new v8.GCProfiler();
    collections.start();
    const before = v8.getHeapStatistics().used_heap_size;
    for (let i = 0; i < parses; i++) kept[i] = parse(bytes, CAP);
    const after = v8.getHeapStatistics().used_heap_size;
    if (collections.stop().statistics.length === 0) return (after - before) / parses;
  }
  throw new Error('every window met a garbage collection');
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

for (const [, bytes] of documents) for (const { parse } of builds) cpuMicrosPerParse(parse, bytes); // warm-up

const rows = [];
for (const [kind, bytes] of documents) {
  const cpu = builds.map(() => []);
  const heap = builds.map(() => []);
  for (let round = 0; round < ROUNDS; round++) builds.forEach(({ parse }, b) => cpu[b].push(cpuMicrosPerParse(parse, bytes)));
  for (let w = 0; w < WINDOWS; w++) for (const [b, { parse }] of builds.entries()) heap[b].push(bytesPerParse(parse, bytes));
  builds.forEach(({ name }, b) => rows.push({ document: kind, bytes: bytes.length, build: name, 'µs/parse': +median(cpu[b]).toFixed(1), 'KB/parse': +(Math.min(...heap[b]) / 1024).toFixed(1) }));
}
console.table(rows);
