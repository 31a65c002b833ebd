/**
 * vitest globalSetup of the 'lab' project: `bash scripts/lab.sh up` before the integration
 * tests, then the default scan of the lab that the test files share and a second one with a device
 * off the wire (shared-scan.ts), and
 * `bash scripts/lab.sh down` after them.
 *
 * The lab needs root and Linux network namespaces. When they are missing the run fails with
 * the reason (a lab that cannot start is a failure, in CI and locally alike: no silent skip).
 * LAB_KEEP=1 leaves the lab up after the run (for debugging; `bash scripts/lab.sh down` later).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { LAB_LOG_DIR, labNamespace, labProfile, labProfiles, runInNamespace, runInScanner, SCANNER_NS, startDevice, stopDevice } from './lab-helpers.js';
import { SHARED_RESCAN_GONE, SHARED_SCAN_ARGS, type SharedRescanRun, type SharedScanRun } from './shared-scan.js';

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

const logSize = (name: string): number => statSync(join(LAB_LOG_DIR, `${name}.log`), { throwIfNoEntry: false })?.size ?? 0;

/** The default scan of the lab, run once; its store is removed in teardown. */
async function sharedScan(): Promise<SharedScanRun> {
  const storeDir = join(mkdtempSync(join(tmpdir(), 'cctv-shared-scan-')), 'store');
  // The scanner meets the host that answers nothing for the first time (sadp-dhip.test.ts):
  // exit status 2 = there was no neighbour entry to forget.
  const forget = await runInNamespace(SCANNER_NS, ['ip', 'neigh', 'del', labProfile('maconly').ip, 'dev', 'eth0']);
  if (forget.code !== 0 && forget.code !== 2) throw new Error(`[lab] could not forget the neighbour entry of maconly:\n${forget.stderr}`);
  const before = new Map(labProfiles().map((p) => [p.name, logSize(p.name)]));
  const run = await runInScanner([...SHARED_SCAN_ARGS, '--store', storeDir], { timeoutMs: 90_000 });
  // A simulator writes its log line as it answers; give the last ones a moment to land.
  await sleep(300);
  const simLogs = Object.fromEntries(labProfiles().map((p) => [p.name, { before: before.get(p.name) ?? 0, after: logSize(p.name) }]));
  return { code: run.code, stdout: run.stdout, stderr: run.stderr, durationMs: run.durationMs, storeDir, simLogs };
}

/** The same scan again into a copy of its store, with SHARED_RESCAN_GONE off the wire (and back on after). */
async function sharedRescan(first: SharedScanRun): Promise<SharedRescanRun> {
  const storeDir = join(mkdtempSync(join(tmpdir(), 'cctv-shared-rescan-')), 'store');
  cpSync(first.storeDir, storeDir, { recursive: true });
  const gone = SHARED_RESCAN_GONE;
  await stopDevice(gone);
  const down = await runInNamespace(labNamespace(gone), ['ip', 'link', 'set', 'eth0', 'down']);
  if (down.code !== 0) throw new Error(`[lab] could not take ${gone} off the wire:\n${down.stderr}`);
  try {
    // Let the neighbour entry from the first scan age past the second scan's start.
    await sleep(1500);
    const run = await runInScanner([...SHARED_SCAN_ARGS, '--store', storeDir], { timeoutMs: 90_000 });
    return { code: run.code, stdout: run.stdout, stderr: run.stderr, durationMs: run.durationMs, storeDir, gone };
  } finally {
    await runInNamespace(labNamespace(gone), ['ip', 'link', 'set', 'eth0', 'up']);
    await startDevice(gone);
  }
}

let sharedStores: string[] = [];

export async function setup(project: TestProject): Promise<void> {
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
  const scan = await sharedScan();
  sharedStores.push(dirname(scan.storeDir));
  process.stderr.write(`[lab] shared scan of the lab: exit ${String(scan.code)} in ${(scan.durationMs / 1000).toFixed(1)} s\n`);
  project.provide('sharedScan', scan);
  const rescan = await sharedRescan(scan);
  sharedStores.push(dirname(rescan.storeDir));
  process.stderr.write(`[lab] second shared scan, ${rescan.gone} off the wire: exit ${String(rescan.code)} in ${(rescan.durationMs / 1000).toFixed(1)} s\n`);
  project.provide('sharedRescan', rescan);
}

export function teardown(): void {
  for (const dir of sharedStores) rmSync(dir, { recursive: true, force: true });
  sharedStores = [];
  if (process.env.LAB_KEEP === '1') {
    process.stderr.write('[lab] LAB_KEEP=1: lab left up (bash scripts/lab.sh down to remove it)\n');
    return;
  }
  const down = lab('down');
  if (!down.ok) throw new Error(`[lab] 'bash scripts/lab.sh down' failed:\n${down.output}`);
  process.stderr.write(`[lab] down in ${down.seconds.toFixed(1)} s\n`);
}
