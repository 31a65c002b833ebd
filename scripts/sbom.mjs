#!/usr/bin/env node
// Writes the agent's own software bill of materials (CycloneDX JSON, runtime dependencies only)
// to the file named by the first argument (default dist/sbom.cdx.json): the Docker image ships it.
//
// Two known faults of `npm sbom` (https://docs.npmjs.com/cli/v11/commands/npm-sbom) are worked
// around here:
// - `--omit=dev` also drops production dependencies that a dev dependency shares (ajv and yaml
//   here; https://github.com/npm/cli/issues/7909). So the whole tree is listed, then filtered to
//   what `npm ls --omit=dev --all` (Arborist's own omit rule) says is installed for run time.
// - it names the root component after the folder it runs in (`app` in the image), not after
//   package.json.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = process.argv[2] ?? join(root, 'dist', 'sbom.cdx.json');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const run = promisify(execFile);
const npm = async (...args) => JSON.parse((await run('npm', args, { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })).stdout);
// The two npm calls are independent; each takes a few seconds, so they run at once.
const [installedForRunTime, sbom] = await Promise.all([
  npm('ls', '--omit=dev', '--all', '--json'),
  npm('sbom', '--sbom-format', 'cyclonedx', '--sbom-type', 'application'),
]);

/** name@version of every package installed for run time. */
const runtime = new Set();
(function walk(node) {
  for (const [name, child] of Object.entries(node.dependencies ?? {})) {
    if (!child.version) throw new Error(`sbom: ${name} is not installed; run npm ci first`);
    runtime.add(`${name}@${child.version}`);
    walk(child);
  }
})(installedForRunTime);

const rootRef = sbom.metadata.component['bom-ref'];
const keep = (ref) => ref === rootRef || runtime.has(ref);
sbom.metadata.component.name = pkg.name;
sbom.components = sbom.components.filter((c) => keep(c['bom-ref']));
sbom.dependencies = sbom.dependencies
  .filter((d) => keep(d.ref))
  .map((d) => ({ ...d, dependsOn: (d.dependsOn ?? []).filter(keep) }));
const listed = new Set(sbom.components.map((c) => c['bom-ref']));
const missing = [...runtime].filter((ref) => !listed.has(ref));
if (missing.length > 0) throw new Error(`sbom: npm sbom did not list ${missing.join(', ')}`);

mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(sbom, null, 2)}\n`);
