/**
 * A closed stdout ends every command quietly (issue #15): the built CLI is run with a real pipe
 * whose reading end is closed early, as `cctv-agent … | head` does, and must exit with 141
 * (128 + SIGPIPE, CLOSED_PIPE_EXIT in agent/errors.ts) and write no stack trace. Only commands that read
 * the store or data files: nothing here touches the network (`scan --help` sends nothing).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOSED_PIPE_EXIT } from '../../agent/errors.js';
import { createLogger } from '../../agent/log.js';
import { recordScan } from '../../agent/pipeline/changes.js';
import { openStore } from '../../agent/store/index.js';
import type { Inventory } from '../../agent/types.js';
import { BUILT_CLI } from '../support/run-cli.js';
import { firstScan, secondScan, SITE } from './store-contract.js';

interface ClosedRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  read: number;
}

/**
 * Runs the CLI and closes the reading end of its stdout after `keepBytes` bytes (0: before it
 * writes anything); with `closeStderr`, that of stderr too, at once (`cctv-agent … 2>&1 | head -c 0`).
 */
function runWithClosedStdout(args: string[], keepBytes: number, closeStderr = false): Promise<ClosedRun> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BUILT_CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let read = 0;
    let stderr = '';
    if (closeStderr) child.stderr.destroy();
    if (keepBytes === 0) child.stdout.destroy();
    else {
      child.stdout.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read >= keepBytes) child.stdout.destroy();
      });
    }
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, stderr, read });
    });
  });
}

/**
 * A scan whose JSON is several times a pipe's buffer (64 KiB on Linux, pipe(7)): after the reader
 * takes its first chunk and closes, the writer still has more to write than fits.
 */
function largeScan(scan: Inventory): Inventory {
  const template = scan.devices[0]!;
  return { ...scan, devices: Array.from({ length: 500 }, (_, i) => ({ ...template, id: `ip:198.${18 + Math.floor(i / 250)}.1.${1 + (i % 250)}`, ip: `198.${18 + Math.floor(i / 250)}.1.${1 + (i % 250)}`, mac: null })) };
}

const dir = mkdtempSync(join(tmpdir(), 'cctv-closed-pipe-'));
const store = join(dir, 'store');
const reading = ['--site', SITE, '--store', store];
const LARGE_SITE = 'large-site';

beforeAll(async () => {
  const saving = await openStore(store, { log: createLogger('silent'), stateDir: join(dir, 'state') });
  try {
    await recordScan(saving, firstScan());
    await recordScan(saving, secondScan());
    const large = largeScan(secondScan(LARGE_SITE));
    expect(JSON.stringify(large, null, 2).length, 'the large scan outgrows the pipe buffer several times').toBeGreaterThan(4 * 64 * 1024);
    await recordScan(saving, large);
  } finally {
    await saving.close();
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a closed pipe', () => {
  it('ends every command quietly with 141, whether closed before the first byte or after 100', async () => {
    const cases: [string[], number][] = [
      // One command per way the CLI writes stdout: commander's help, printJson, printText (inventory,
      // diff, fingerprints and the scan's table), a rendered report (every format, and verify).
      [['scan', '--help'], 0], // cctv-agent scan --help | head
      [['inventory', '--site', LARGE_SITE, '--store', store, '--json'], 100], // cctv-agent inventory --json | head -c 100
      [['diff', ...reading], 0],
      [['report', ...reading, '--format', 'csv'], 0],
    ];
    const runs = await Promise.all(cases.map(([args, keep]) => runWithClosedStdout(args, keep)));
    for (const [i, run] of runs.entries()) {
      const what = cases[i]![0].join(' ');
      expect(run.stderr, what).not.toMatch(/EPIPE|\n\s+at /);
      expect(run.stderr, what).toBe('');
      expect({ code: run.code, signal: run.signal }, what).toEqual({ code: CLOSED_PIPE_EXIT, signal: null });
    }
  });

  it('a closed stderr only silences the logs: the command still does its job', async () => {
    const out = join(dir, 'report.csv');
    const run = await runWithClosedStdout(['report', ...reading, '--format', 'csv', '--out', out, '--log-level', 'debug'], 0, true);
    expect({ code: run.code, signal: run.signal }).toEqual({ code: 0, signal: null });
    expect(readFileSync(out, 'utf8')).toContain('scanned_at');
  });
});
