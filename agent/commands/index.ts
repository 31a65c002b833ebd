/** The command line program: every command of agent/commands/, in the order `--help` lists them. */
import { Command } from 'commander';
import { agentVersion } from '../paths.js';
import { displaySafeLines } from '../safe-text.js';
import { registerDaemon } from './daemon.js';
import { registerDiff } from './diff.js';
import { registerEstate } from './estate.js';
import { registerFingerprints } from './fingerprints.js';
import { registerInventory } from './inventory.js';
import { registerReport } from './report.js';
import { registerScan } from './scan.js';
import { registerVerify } from './verify.js';

/** One file each under agent/commands/. */
const COMMANDS: readonly ((program: Command) => void)[] = [
  registerScan,
  registerInventory,
  registerReport,
  registerDiff,
  registerVerify,
  registerEstate,
  registerDaemon,
  registerFingerprints,
];

export function buildProgram(): Command {
  const program = new Command('cctv-agent')
    .description('Inventories the CCTV devices on a network and says, with evidence, which are made by or for a linked vendor of its knowledge base (fingerprints/vendors.yaml), OEM rebrands included.')
    .version(agentVersion())
    .showHelpAfterError()
    .exitOverride()
    // Usage errors quote what was typed (an unknown option, a bad value): shown, never interpreted.
    .configureOutput({ outputError: (text, write) => write(displaySafeLines(text)) });

  for (const register of COMMANDS) register(program);
  return program;
}

