import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository (or installed package) root: the folder holding package.json above this module,
 * whether it runs compiled from dist/agent/ or as source under vitest.
 */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cctv-agent: cannot find the package root (package.json)');
    dir = parent;
  }
  return dir;
}

export const PACKAGE_ROOT = findRoot();

export function repoPath(...parts: string[]): string {
  return join(PACKAGE_ROOT, ...parts);
}
