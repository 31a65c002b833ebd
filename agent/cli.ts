#!/usr/bin/env node
/**
 * cctv-agent command line. stdout carries only what was asked for (with --json exactly one JSON
 * document); pino logs go to stderr. Exit codes: 0 done (whatever a scan found), 1 an internal
 * fault, 2 bad input or an unusable environment (nothing written), and for `fingerprints verify`
 * 1 when the data has problems.
 */
import { CommanderError } from 'commander';
import { buildProgram } from './commands/index.js';
import { AgentError, CLOSED_PIPE_EXIT } from './errors.js';
import { displaySafeLines } from './safe-text.js';

function isClosedPipe(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === 'EPIPE';
}

/** A closed stdout or stderr ends the command at once and quietly: there is no one left to tell. */
function endQuietlyOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (error) => {
    if (isClosedPipe(error)) process.exit(CLOSED_PIPE_EXIT);
    fail(`cannot write the output: ${error.message}`, 1);
  });
}

/** One line on stderr; its text is display-safe (a value quoted from a file or a device is shown, not interpreted). */
function fail(message: string, code: number): void {
  process.stderr.write(`cctv-agent: ${displaySafeLines(message)}\n`);
  process.exitCode = code;
}

export async function main(argv: string[]): Promise<void> {
  endQuietlyOnClosedPipe(process.stdout);
  endQuietlyOnClosedPipe(process.stderr);
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof AgentError) return fail(`${error.message} [${error.code}]`, error.exitCode);
    if (error instanceof CommanderError) {
      // Commander has already printed its own message (and the help) for usage errors.
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    fail(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`, 1);
  }
}

await main(process.argv);
