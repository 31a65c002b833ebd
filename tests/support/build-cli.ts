/**
 * vitest globalSetup of both projects: the tests that run the CLI as a child process
 * (run-cli.ts, lab-helpers.ts) run dist/agent/cli.js, so dist/ must be the code under test.
 * When any agent/**\/*.ts (or tsconfig.json) is newer than its compiled file, or that file is
 * missing, `tsc -p tsconfig.json` rebuilds dist/ and scripts/check-knowledge.mjs records the
 * checked knowledge base again before any test runs; a failed build fails the run. After `npm ci`
 * (whose prepare script builds) nothing needs doing.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourcesUnder(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

const mtime = (path: string): number => statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? -1;

/** The first source whose compiled file is missing or older than it, if any. */
function staleSource(): string | undefined {
  const config = mtime(join(REPO_ROOT, 'tsconfig.json'));
  return sourcesUnder(join(REPO_ROOT, 'agent')).find((source) => {
    const compiled = mtime(join(REPO_ROOT, 'dist', relative(REPO_ROOT, source).replace(/\.ts$/, '.js')));
    return compiled < mtime(source) || compiled < config;
  });
}

export function setup(): void {
  const stale = staleSource();
  if (stale === undefined) return;
  const started = Date.now();
  const tsc = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (tsc.status !== 0) throw new Error(`dist/ is older than ${relative(REPO_ROOT, stale)} and 'tsc -p tsconfig.json' failed:\n${tsc.stdout}${tsc.stderr}`);
  // The build's second step: the record of the checked knowledge base is written by the code it
  // vouches for (agent/knowledge/checked-files.ts), as `npm run build` does.
  const check = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts/check-knowledge.mjs')], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`scripts/check-knowledge.mjs failed after the rebuild:\n${check.stdout}${check.stderr}`);
  process.stderr.write(`[build] dist/ rebuilt (${relative(REPO_ROOT, stale)} was newer) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}
