#!/usr/bin/env node
// The scan's fixed costs outside its network work (issue 10): what `scan --json` does before its
// first packet and after its last probe, measured without the network, on the compiled agent
// (dist/). Nothing here sends a packet: the discoverers are imported, never run.
//
//   node scripts/bench-startup.mjs [start|exit] [INVENTORY.json]
//
// start: the CLI's imports (every command registered), the knowledge base loaded, the store opened
//        and its latest inventory read, the scan pipeline imported: what `scan` does before the
//        listen window opens. One JSON line, wall times in ms and the process's CPU.
// exit:  recordScan (changes against the store's last document, then the file store's save) and
//        the --json text of the document: what `scan` does after "scan finished". Run twice per
//        call: into an empty store (the bench's first scan) and into one holding the document.
//
// The document is INVENTORY.json (a saved scan, e.g. a crowd scan's sites/c/inventory.json) or,
// without one, 1,020 synthetic devices built from the fingerprint examples (synthetic-devices.mjs).
// Run it several times, alternating builds, and take medians: single runs vary with the machine's load.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const DEVICES = 1020;
const SITE = 'bench';
const root = join(import.meta.dirname, '..');
const dist = (path) => join(root, 'dist', 'agent', path);
const [mode = 'start', inventoryFile] = process.argv.slice(2);

/** A document of DEVICES synthetic devices, classified as a scan would (merge, then buildDevice). */
async function syntheticInventory() {
  const { loadKnowledge } = await import(dist('knowledge/index.js'));
  const { buildDevice, buildInventory } = await import(dist('pipeline/assess.js'));
  const { identityFieldsOf, mergeObservations } = await import(dist('pipeline/merge.js'));
  const { emittedExamples, lcg, observationsOf, SEED } = await import('./synthetic-devices.mjs');
  const knowledge = loadKnowledge();
  const examples = emittedExamples(knowledge);
  const next = lcg(SEED);
  const at = new Date().toISOString();
  const observations = [];
  for (let n = 0; n < DEVICES; n++) observations.push(...observationsOf(examples, n, next, at));
  const devices = mergeObservations(observations, identityFieldsOf(knowledge.fields)).map((host) => buildDevice(knowledge, host));
  return buildInventory({ id: '20261206T000000Z-000000', site: SITE, startedAt: at, finishedAt: at, targets: ['10.0.0.0/22'], methods: [], skippedTargets: [], dropped: {} }, devices);
}

async function documentText() {
  if (inventoryFile) return readFileSync(inventoryFile, 'utf8');
  return JSON.stringify(await syntheticInventory());
}

/** A store folder holding `text` (a document of `site`) as that site's latest document, or nothing. */
function storeWith(site, text) {
  const dir = mkdtempSync(join(tmpdir(), 'cctv-bench-startup-'));
  if (text !== null) {
    mkdirSync(join(dir, 'sites', site), { recursive: true });
    writeFileSync(join(dir, 'sites', site, 'inventory.json'), text);
  }
  return dir;
}

const cpuMs = (usage) => Math.round((usage.user + usage.system) / 1000);

if (mode === 'start') {
  // Before the clock starts: INVENTORY.json, when given, becomes the store's latest document (no
  // synthetic one here: building it would load the modules being timed).
  const text = inventoryFile ? readFileSync(inventoryFile, 'utf8') : null;
  const site = text === null ? SITE : JSON.parse(text).scan.site;
  const dir = storeWith(site, text);
  const t = [performance.now()];
  const { buildProgram } = await import(dist('commands/index.js'));
  buildProgram();
  t.push(performance.now());
  const { loadKnowledge } = await import(dist('knowledge/index.js'));
  loadKnowledge();
  t.push(performance.now());
  const { openStore } = await import(dist('store/index.js'));
  const { createLogger } = await import(dist('log.js'));
  const store = await openStore(dir, { log: createLogger('silent'), stateDir: join(dir, 'state') });
  await store.latest(site);
  t.push(performance.now());
  await import(dist('pipeline/scan.js'));
  t.push(performance.now());
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  const ms = (i) => Math.round(t[i] - t[i - 1]);
  console.log(JSON.stringify({ mode, importsMs: ms(1), knowledgeMs: ms(2), storeMs: ms(3), pipelineMs: ms(4), sinceProcessStartMs: Math.round(performance.now()), processCpuMs: cpuMs(process.cpuUsage()) }));
} else if (mode === 'exit') {
  const text = await documentText();
  const { openStore } = await import(dist('store/index.js'));
  const { createLogger } = await import(dist('log.js'));
  const { recordScan } = await import(dist('pipeline/changes.js'));
  // Builds before the start-up work (13edc28) keep jsonText with the renderers.
  const { jsonText } = await import(dist(existsSync(dist('report/json-text.js')) ? 'report/json-text.js' : 'report/formats.js'));
  for (const previous of [null, text]) {
    const inventory = JSON.parse(text);
    // The store's document is the same scan under another id, so that the save is a second scan of the site.
    const dir = storeWith(inventory.scan.site, previous === null ? null : previous.replace(inventory.scan.id, `${inventory.scan.id.slice(0, -6)}000001`));
    const store = await openStore(dir, { log: createLogger('silent'), stateDir: join(dir, 'state') });
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const { events } = await recordScan(store, inventory);
    const t1 = performance.now();
    const cpu1 = process.cpuUsage(cpu0);
    const printed = jsonText(inventory);
    const t2 = performance.now();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    console.log(JSON.stringify({ mode, store: previous === null ? 'empty' : 'previous', devices: inventory.devices.length, bytes: printed.length, events: events.length, saveMs: Math.round(t1 - t0), saveCpuMs: cpuMs(cpu1), jsonTextMs: Math.round(t2 - t1) }));
  }
} else {
  console.error('usage: node scripts/bench-startup.mjs [start|exit] [INVENTORY.json]');
  process.exitCode = 2;
}
