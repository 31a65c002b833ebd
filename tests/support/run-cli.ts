/**
 * Runs the built CLI (dist/agent/cli.js, made by `npm run build` / `npm ci`) as a child process.
 * For commands that read the store or data files only: nothing here touches the network.
 */
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';

export const BUILT_CLI = join(resolve(import.meta.dirname, '..', '..'), 'dist', 'agent', 'cli.js');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[]): Promise<CliRun> {
  return new Promise((done) => {
    execFile(process.execPath, [BUILT_CLI, ...args], { timeout: 20_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}
