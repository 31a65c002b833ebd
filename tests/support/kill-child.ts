/**
 * The child process of the kill -9 tests (store-kill, outbox-kill): a CommonJS script run by node
 * from the repository root (it imports the built agent under dist/ by the file URLs it is given),
 * killed with SIGKILL `killAfterMs` after it first prints `readyMarker` (never, when null).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BUILT_CLI } from './run-cli.js';

export interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The file URL of a module of the built agent, e.g. `store/file.js`, for the script to import. */
export const distModule = (path: string): string => pathToFileURL(join(BUILT_CLI, '..', path)).href;

export function runThenKill(script: string, args: readonly string[], readyMarker: string, killAfterMs: number | null): Promise<ChildRun> {
  const child = spawn(process.execPath, ['--input-type=commonjs', '-e', script, ...args], {
    cwd: join(BUILT_CLI, '..', '..', '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => {
    const ready = stdout.includes(readyMarker);
    stdout += b.toString();
    if (!ready && stdout.includes(readyMarker) && killAfterMs !== null) setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  });
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}
