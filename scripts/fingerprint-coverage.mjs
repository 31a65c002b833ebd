#!/usr/bin/env node
/**
 * Rewrites the coverage section of fingerprints/README.md (between its coverage markers) from the
 * database: rules per field, makers and brands, the OUI registry, CVEs and policies.
 *
 * Run after a build (it uses the compiled engine, so the rendering exists once):
 *   npm run build && node scripts/fingerprint-coverage.mjs [--check]
 *
 *   --check   write nothing; exit 1 when the README's section differs from what would be written.
 * tests/unit/fingerprints-coverage.test.ts makes the same comparison.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist', 'agent');
if (!existsSync(join(dist, 'fingerprint', 'coverage.js'))) {
  console.error(`fingerprint-coverage: ${dist} is missing or out of date; run "npm run build" first.`);
  process.exit(2);
}
const { coverageMarkdown, withCoverage } = await import(join(dist, 'fingerprint', 'index.js'));
const { loadKnowledge } = await import(join(dist, 'knowledge', 'index.js'));

const db = loadKnowledge();
const readmePath = join(db.dir, 'README.md');
const current = readFileSync(readmePath, 'utf8');
const next = withCoverage(current, coverageMarkdown(db));

if (process.argv.includes('--check')) {
  if (current !== next) {
    console.error(`fingerprint-coverage: the coverage section of ${readmePath} is out of date; run "node scripts/fingerprint-coverage.mjs".`);
    process.exit(1);
  }
  console.log(`fingerprint-coverage: ${readmePath} is up to date.`);
} else {
  writeFileSync(readmePath, next);
  console.log(`fingerprint-coverage: wrote the coverage section of ${readmePath}.`);
}
