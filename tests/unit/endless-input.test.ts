/**
 * Files the operator names that never end: a named pipe (with and without a writer), /dev/zero and
 * /dev/urandom. Each reader refuses them at once with its coded error (exit 2), instead of hanging
 * until killed or filling memory; an oversized regular file is refused, not cut.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readBoundedTextFile } from '../../agent/bounded-file.js';
import { loadCredentials } from '../../agent/credentials.js';
import { loadDaemonConfig } from '../../agent/daemon/config.js';
import { defaultFingerprintDir } from '../../agent/fingerprint/index.js';
import { readHandoverFile } from '../../agent/handover/schedule.js';
import { loadKnowledge } from '../../agent/knowledge/index.js';
import { readPrivateFile, readPublicFile } from '../../agent/store/auth.js';
import { runCli } from '../support/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'cctv-endless-'));
const writers: ChildProcess[] = [];
afterAll(() => {
  for (const w of writers) w.kill();
  rmSync(dir, { recursive: true, force: true });
});

/** A named pipe nobody writes to: opening it for reading blocks forever unless non-blocking. */
let pipes = 0;
function fifo(name: string): string {
  const path = join(dir, `${++pipes}-${name}`);
  execFileSync('mkfifo', ['-m', '0600', path]);
  return path;
}

/** A named pipe a writer keeps filling with zeros for as long as anyone reads. */
function flowingFifo(name: string): string {
  const path = fifo(name);
  const writer = spawn('sh', ['-c', `exec cat /dev/zero > '${path}'`], { stdio: 'ignore' });
  writer.on('error', () => undefined);
  writers.push(writer);
  return path;
}

const ENDLESS = [
  ['a named pipe with no writer', () => fifo('silent.pipe'), 'a named pipe (FIFO)'],
  ['a named pipe that never stops', () => flowingFifo('flowing.pipe'), 'a named pipe (FIFO)'],
  ['/dev/zero', () => '/dev/zero', 'a device'],
  ['/dev/urandom', () => '/dev/urandom', 'a device'],
] as const;

describe('readBoundedTextFile', () => {
  for (const [what, path, kind] of ENDLESS) {
    it(`refuses ${what} at once`, () => {
      const started = Date.now();
      expect(readBoundedTextFile(path(), { maxBytes: 1024 })).toEqual({ ok: false, reason: `it is ${kind}, not a regular file; give the path of the file itself` });
      expect(Date.now() - started).toBeLessThan(1000);
    });
  }

  it('reads a regular file up to its cap, refuses one byte more, and refuses a folder', () => {
    const file = join(dir, 'exact.txt');
    writeFileSync(file, 'x'.repeat(1000));
    expect(readBoundedTextFile(file, { maxBytes: 1000 })).toEqual({ ok: true, text: 'x'.repeat(1000), bytes: Buffer.from('x'.repeat(1000)) });
    expect(readBoundedTextFile(file, { maxBytes: 999 })).toEqual({ ok: false, reason: 'it is larger than 999 bytes, more than such a file needs' });
    expect(readBoundedTextFile(dir, { maxBytes: 999 })).toMatchObject({ ok: false, reason: expect.stringContaining('a folder') });
  });
});

describe('every file the CLI reads refuses endless input with its coded error', () => {
  const [, silentPipe] = ENDLESS[0];
  const pipe = silentPipe();
  const readers: Array<[string, () => unknown, string]> = [
    ['the handover schedule', () => readHandoverFile('/dev/zero'), 'CCTV_ERR_HANDOVER_UNREADABLE'],
    ['the credentials file', () => loadCredentials('/dev/urandom'), 'CCTV_ERR_CREDENTIALS_UNREADABLE'],
    ['the daemon configuration', () => loadDaemonConfig(pipe, { availableInterfaces: [] }), 'CCTV_ERR_CONFIG_UNREADABLE'],
  ];
  for (const [what, read, code] of readers) {
    it(`${what}: ${code}, exit 2`, () => {
      expect(read).toThrow(expect.objectContaining({ code, exitCode: 2, message: expect.stringContaining('not a regular file') }));
    });
  }

  it('a store secret or CA file: CCTV_ERR_STORE_SECRET', async () => {
    await expect(readPrivateFile(pipe)).rejects.toMatchObject({ code: 'CCTV_ERR_STORE_SECRET', message: expect.stringContaining('named pipe') });
    await expect(readPublicFile('/dev/zero')).rejects.toMatchObject({ code: 'CCTV_ERR_STORE_SECRET', message: expect.stringContaining('a device') });
  });

  it('a knowledge file replaced by a named pipe: CCTV_ERR_FINGERPRINT_DATA naming it', () => {
    const copy = join(dir, 'fingerprints');
    cpSync(defaultFingerprintDir(), copy, { recursive: true });
    unlinkSync(join(copy, 'ports.yaml'));
    execFileSync('mkfifo', [join(copy, 'ports.yaml')]);
    expect(() => loadKnowledge(copy)).toThrow(
      expect.objectContaining({ code: 'CCTV_ERR_FINGERPRINT_DATA', message: expect.stringMatching(/ports\.yaml.*named pipe/) }),
    );
  });

  it('cctv-agent verify --expected on a named pipe and on /dev/zero exits 2 with one line, at once', async () => {
    for (const file of [pipe, '/dev/zero']) {
      const started = Date.now();
      const run = await runCli(['verify', '--expected', file, '--store', join(dir, 'no-store')]);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr.trim().split('\n')).toEqual([expect.stringContaining('not a regular file')]);
      expect(Date.now() - started).toBeLessThan(10_000);
    }
  });
});
