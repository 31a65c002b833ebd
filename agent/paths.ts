import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | null | undefined;

/**
 * The repository (or installed package) root: the folder holding package.json above this module,
 * whether it runs compiled from dist/agent/ or as source under vitest; null when there is none.
 * Looked up on first use, so commands that need no data file (`--help`) never depend on it.
 */
export function packageRoot(): string | null {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) return (root = null);
    dir = parent;
  }
  return (root = dir);
}

/** A path inside the package root (the data folders fingerprints/ and schema/ ship there). */
export function repoPath(...parts: string[]): string {
  const found = packageRoot();
  if (found === null) throw new Error('cctv-agent: cannot find the package root (package.json) above the program');
  return join(found, ...parts);
}

let version: string | undefined;

/** The agent's version, as its package.json says: what a sign-off or report names as its maker. */
export function agentVersion(): string {
  version ??= (JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { version: string }).version;
  return version;
}
