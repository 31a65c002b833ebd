#!/usr/bin/env node
/**
 * Regenerates fingerprints/oui.json from the IEEE MA-L/MA-M/MA-S registry in the `oui-data`
 * devDependency: every registry entry, grouped by organisation (its first line; the address is
 * dropped), plus the organisations that match exactly one vendor's `organisations` regexes in
 * fingerprints/vendors.yaml, as organisation → vendor key.
 *
 * Run after a build (it uses the compiled engine, so the mapping logic exists once):
 *   npm run build && node scripts/generate-oui.mjs [--check] [--dir fingerprints]
 *
 *   --check   write nothing; exit 1 when oui.json differs from what would be generated
 *             (the `generated` date is ignored).
 * The date comes from SOURCE_DATE_EPOCH when set (reproducible builds), else today (UTC).
 * `oui-data` is read only here and in tests, never at run time.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const engine = join(root, 'dist', 'agent', 'fingerprint', 'index.js');
if (!existsSync(engine)) {
  console.error(`generate-oui: ${engine} is missing; run "npm run build" first.`);
  process.exit(2);
}
const { readVendors, buildOuiTable, serialiseOuiTable, OUI_FILE } = await import(engine);

const args = process.argv.slice(2);
const check = args.includes('--check');
const dirIndex = args.indexOf('--dir');
const dir = resolve(dirIndex >= 0 && args[dirIndex + 1] ? args[dirIndex + 1] : join(root, 'fingerprints'));

const require = createRequire(import.meta.url);
const registryPath = require.resolve('oui-data');
const registry = JSON.parse(readFileSync(registryPath, 'utf8'));
const pkg = JSON.parse(readFileSync(join(dirname(registryPath), 'package.json'), 'utf8'));

const epoch = process.env.SOURCE_DATE_EPOCH;
const generated = (epoch ? new Date(Number(epoch) * 1000) : new Date()).toISOString().slice(0, 10);

const vendors = readVendors(dir);
const { file, problems } = buildOuiTable(registry, vendors, { package: pkg.name, version: pkg.version, generated });
if (problems.length > 0) {
  console.error(`generate-oui: vendors.yaml maps some organisations to more than one vendor:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}

const target = join(dir, OUI_FILE);
const text = serialiseOuiTable(file);
const counts = { 6: 0, 7: 0, 9: 0 };
for (const prefixes of Object.values(file.organisations)) for (const prefix of prefixes.split(' ')) counts[prefix.length] += 1;
const organisations = Object.keys(file.organisations).length;
const mapped = Object.keys(file.vendors).length;
const summary =
  `${counts[6] + counts[7] + counts[9]} prefixes (MA-L ${counts[6]}, MA-M ${counts[7]}, MA-S ${counts[9]}) of ${organisations} organisations, ` +
  `${mapped} mapped to vendors.yaml, from ${pkg.name} ${pkg.version}`;

if (check) {
  const strip = (t) => t.replace(/"generated": "[^"]*"/, '"generated": ""');
  const current = existsSync(target) ? readFileSync(target, 'utf8') : '';
  if (strip(current) !== strip(text)) {
    console.error(`generate-oui: ${target} is out of date (${summary}); run "node scripts/generate-oui.mjs".`);
    process.exit(1);
  }
  console.log(`generate-oui: ${target} is up to date: ${summary}.`);
} else {
  writeFileSync(target, text);
  console.log(`generate-oui: wrote ${target}: ${summary}.`);
}
