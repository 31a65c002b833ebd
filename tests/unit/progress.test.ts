/**
 * The stderr spinner (agent/report/progress.ts): when it is shown, that it writes nothing at all
 * otherwise, what it draws on a terminal, and the built CLI under a real pseudo-terminal
 * (util-linux `script`) against a CLI run with stderr on a pipe.
 */
import { recordScan } from '../../agent/pipeline/changes.js';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../agent/log.js';
import { createProgress, progressWanted, type ProgressStream } from '../../agent/report/progress.js';
import { openFileStore } from '../../agent/store/file.js';
import { firstScan, SITE } from './store-contract.js';

const root = resolve(import.meta.dirname, '..', '..');
const cli = join(root, 'dist', 'agent', 'cli.js');

function recorder(isTTY: boolean | undefined): ProgressStream & { chunks: string[] } {
  const chunks: string[] = [];
  return { isTTY, chunks, write: (chunk: string) => chunks.push(chunk) > 0 };
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

describe('progress on stderr', () => {
  it('is wanted only on a terminal and without --json', () => {
    expect(progressWanted({ isTTY: true, write: () => true }, { json: false })).toBe(true);
    expect(progressWanted({ isTTY: true, write: () => true }, { json: true })).toBe(false);
    expect(progressWanted({ isTTY: false, write: () => true }, { json: false })).toBe(false);
    expect(progressWanted({ write: () => true }, { json: false })).toBe(false);
  });

  for (const [what, isTTY, json] of [
    ['not a terminal', false, false],
    ['a --json run on a terminal', true, true],
  ] as const) {
    it(`writes nothing when stderr is ${what}`, async () => {
      const stream = recorder(isTTY);
      const progress = createProgress(stream, { json }, 5);
      progress.update('listen: 1 host(s)');
      await sleep(30);
      progress.update('probe: 2 host(s)');
      progress.done();
      expect(stream.chunks).toEqual([]);
    });
  }

  it('draws at once, animates with the latest text, and clears its line when done', async () => {
    const stream = recorder(true);
    const progress = createProgress(stream, { json: false }, 10);
    progress.update('listen: 0 host(s)');
    expect(stream.chunks).toEqual(['\r\x1b[K| listen: 0 host(s)']);
    progress.update('listen: 1 host(s)'); // within the frame: not drawn yet
    expect(stream.chunks).toHaveLength(1);
    await sleep(60);
    expect(stream.chunks.at(-1)).toMatch(/^\r\x1b\[K[|/\-\\] listen: 1 host\(s\)$/);
    progress.done();
    const drawn = stream.chunks.length;
    expect(stream.chunks.at(-1)).toBe('\r\x1b[K');
    await sleep(40);
    expect(stream.chunks).toHaveLength(drawn);
  });
});

describe('the CLI with and without a terminal', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cctv-progress-unit-'));
  const store = join(dir, 'store');
  const handover = join(root, 'tests', 'fixtures', 'handover', 'schedule.csv');
  beforeAll(async () => {
    const files = await openFileStore(store, createLogger('silent'));
    await recordScan(files, firstScan());
    await files.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const args = ['verify', '--expected', handover, '--site', SITE, '--store', store, '--allow-linked'];

  it('keeps stderr empty when it is a pipe', async () => {
    const { stderr } = await new Promise<{ stderr: string }>((done) => {
      execFile(process.execPath, [cli, ...args], { timeout: 20_000 }, (_error, _stdout, err) => done({ stderr: err }));
    });
    expect(stderr).toBe('');
  });

  it('shows the spinner on a pseudo-terminal (script -qc), and not with --format json', async () => {
    const underScript = (extra: string[]): Promise<string> =>
      new Promise((done) => {
        const command = [process.execPath, cli, ...args, ...extra].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
        execFile('script', ['-qec', command, '/dev/null'], { timeout: 20_000 }, (_error, stdout) => done(stdout));
      });
    expect(await underScript([])).toContain('matching 3 expected device(s) with the scan');
    expect(await underScript(['--format', 'json'])).not.toContain('matching');
  });
});
