/**
 * vitest globalSetup of the 'lab' project: `bash scripts/lab.sh up` before the integration
 * tests, `bash scripts/lab.sh down` after them.
 *
 * The lab needs root and Linux network namespaces. When they are missing the run fails with
 * the reason (a lab that cannot start is a failure, in CI and locally alike: no silent skip).
 * LAB_KEEP=1 leaves the lab up after the run (for debugging; `bash scripts/lab.sh down` later).
 */
import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function lab(cmd: 'up' | 'down'): { ok: boolean; output: string; seconds: number } {
  const t0 = Date.now();
  const r = spawnSync('bash', ['scripts/lab.sh', cmd], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 180_000 });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `\n${r.error.message}` : ''}`;
  return { ok: r.status === 0, output, seconds: (Date.now() - t0) / 1000 };
}

function cannotStart(reason: string): Error {
  const where =
    process.env.CI === 'true'
      ? 'CI: the lab could not start, which fails the build (the CI job must run as root on Linux).'
      : 'Run the lab tests as root on Linux, e.g. `sudo npx vitest run --project lab`, or run only the unit tests: `npx vitest run --project unit`.';
  return new Error(`[lab] ${reason}\n${where}`);
}

export function setup(): void {
  if (process.platform !== 'linux') throw cannotStart(`network namespaces need Linux (platform is ${process.platform})`);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw cannotStart(`the lab needs root to create network namespaces (uid is ${process.getuid()})`);
  }
  const up = lab('up');
  if (!up.ok) {
    const down = lab('down');
    throw cannotStart(`'bash scripts/lab.sh up' failed:\n${up.output}${down.ok ? '' : `\n(cleanup 'lab.sh down' failed too:\n${down.output})`}`);
  }
  process.stderr.write(`[lab] up in ${up.seconds.toFixed(1)} s\n`);
}

export function teardown(): void {
  if (process.env.LAB_KEEP === '1') {
    process.stderr.write('[lab] LAB_KEEP=1: lab left up (bash scripts/lab.sh down to remove it)\n');
    return;
  }
  const down = lab('down');
  if (!down.ok) throw new Error(`[lab] 'bash scripts/lab.sh down' failed:\n${down.output}`);
  process.stderr.write(`[lab] down in ${down.seconds.toFixed(1)} s\n`);
}
