/**
 * The file store on a full disk and on a read-only file system (a small tmpfs this test mounts:
 * it needs root, which the lab project has). Writing fails with one clear coded line (exit 2) and
 * leaves the store as it was; the reading commands still work there. No packet is sent: the scan
 * below runs in the lab's scanner namespace and stops at the store, before any discovery.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentError } from '../../agent/errors.js';
import { recordScan } from '../../agent/pipeline/changes.js';
import { openFileStore } from '../../agent/store/file.js';
import { runCli } from '../support/run-cli.js';
import { firstScan, hikvisionCamera, inventory, secondScan } from '../unit/store-contract.js';
import { runInScanner } from './lab-helpers.js';

const SITE = firstScan().scan.site;
const silent = pino({ level: 'silent' });
const root = mkdtempSync(join(tmpdir(), 'cctv-store-fail-'));
const mountPoint = join(root, 'disk');
const store = join(mountPoint, 'store');
const handover = join(root, 'schedule.csv');
let mounted = false;

/** Every file under `dir`, relative, with its content: what "the store is unchanged" compares. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) {
      const path = join(entry.parentPath, entry.name);
      out[path.slice(dir.length + 1)] = readFileSync(path, 'utf8');
    }
  }
  return out;
}

/** Fills the file system until it refuses more, leaving about `keepBytes` free. */
function fill(keepBytes: number): void {
  const fd = openSync(join(mountPoint, 'filler'), 'w');
  const block = Buffer.alloc(4096, 0x61);
  try {
    for (;;) writeSync(fd, block);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
  if (keepBytes > 0) {
    const size = readFileSync(join(mountPoint, 'filler')).length;
    writeFileSync(join(mountPoint, 'filler'), Buffer.alloc(Math.max(0, size - keepBytes), 0x61));
  }
}

async function readingCommandsWork(): Promise<void> {
  const runs = await Promise.all([
    runCli(['inventory', '--store', store, '--site', SITE, '--log-level', 'silent']),
    runCli(['report', '--store', store, '--site', SITE, '--format', 'csv', '--log-level', 'silent']),
    runCli(['diff', '--store', store, '--site', SITE, '--log-level', 'silent']),
    runCli(['verify', '--store', store, '--site', SITE, '--expected', handover, '--log-level', 'silent']),
  ]);
  for (const run of runs) {
    expect(run.stderr).toBe('');
    expect(run.stdout).not.toBe('');
  }
  expect(runs.slice(0, 3).map((r) => r.code)).toEqual([0, 0, 0]);
  expect(runs[3]?.code).not.toBe(2); // verify: 0 or 1 by the schedule's outcome, never a store error
  expect(runs[0]?.stdout).toContain(hikvisionCamera().ip);
}

beforeAll(async () => {
  mkdirSync(mountPoint);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0755', 'tmpfs', mountPoint]);
  mounted = true;
  const files = await openFileStore(store, silent);
  await recordScan(files, firstScan());
  await recordScan(files, secondScan());
  await files.close();
  writeFileSync(handover, `ip,model\n${hikvisionCamera().ip},${hikvisionCamera().identity.model}\n`);
});

afterAll(() => {
  if (mounted) execFileSync('umount', [mountPoint]);
  rmSync(root, { recursive: true, force: true });
});

describe('the file store when the disk is full or read-only', () => {
  it('a full disk: a save that does not fit fails with CCTV_ERR_STORE_UNWRITABLE and leaves the store as it was', async () => {
    const before = snapshot(store);
    fill(16 * 1024);
    const files = await openFileStore(store, silent);
    const big = inventory({ ...secondScan().scan, id: '20261205T120000Z-000099', devices: Array.from({ length: 400 }, () => hikvisionCamera()) });
    const error = (await recordScan(files, big).catch((e: unknown) => e)) as AgentError;
    expect(error.code).toBe('CCTV_ERR_STORE_UNWRITABLE');
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('the disk is full, ENOSPC');
    await files.close();
    expect(snapshot(store)).toEqual(before);
  });

  it('a full disk: a scan stops at the store with one coded line and exit 2, and the reading commands still work', async () => {
    fill(0);
    const scan = await runInScanner(['scan', '--store', store, '--site', SITE, '--log-level', 'error'], { timeoutMs: 30_000 });
    expect(scan.code).toBe(2);
    expect(scan.stderr.trim().split('\n')).toHaveLength(1);
    expect(scan.stderr).toMatch(/cannot be written \(the disk is full, ENOSPC\).*\[CCTV_ERR_STORE_UNWRITABLE\]/);
    await readingCommandsWork();
  });

  it('a read-only file system: writing is refused in one line, reading works', async () => {
    rmSync(join(mountPoint, 'filler'));
    execFileSync('mount', ['-o', 'remount,ro', mountPoint]);
    const error = (await openFileStore(store, silent).catch((e: unknown) => e)) as AgentError;
    expect(error.code).toBe('CCTV_ERR_STORE_UNWRITABLE');
    expect(error.message).toContain('the file system is read-only, EROFS');
    await readingCommandsWork();
    expect(existsSync(join(store, '.lock'))).toBe(false);
  });
});
