#!/usr/bin/env node
/**
 * cctv-agent command line. stdout carries only what was asked for (with --json exactly one JSON
 * document); pino logs go to stderr. Exit codes: 0 done (whatever a scan found), 1 an internal
 * fault, 2 bad input or an unusable environment (nothing written), and for `fingerprints verify`
 * 1 when the data has problems.
 */
import { Command, CommanderError } from 'commander';
import { AgentError } from './errors.js';
import { registerDaemon } from './commands/daemon.js';
import { registerDiff } from './commands/diff.js';
import { registerFingerprints } from './commands/fingerprints.js';
import { registerInventory } from './commands/inventory.js';
import { registerReport } from './commands/report.js';
import { registerScan } from './commands/scan.js';
import { registerVerify } from './commands/verify.js';

/** The commands, one file each under agent/commands/, in the order `--help` lists them. */
const COMMANDS: readonly ((program: Command) => void)[] = [
  registerScan,
  registerInventory,
  registerReport,
  registerDiff,
  registerVerify,
  registerDaemon,
  registerFingerprints,
];

export function buildProgram(): Command {
  const program = new Command('cctv-agent')
    .description('Inventories the CCTV devices on a network and says, with evidence, which are made by or for Hikvision or Dahua.')
    .version(process.env.npm_package_version ?? '0.1.0')
    .showHelpAfterError()
    .exitOverride();

  for (const register of COMMANDS) register(program);
  return program;
}

function fail(message: string, code: number): void {
  process.stderr.write(`cctv-agent: ${message}\n`);
  process.exitCode = code;
}

export async function main(argv: string[]): Promise<void> {
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
