/** `cctv-agent diff`: what changed between two scans of a site, by the one change engine. */
import type { Command } from 'commander';
import { agentError } from '../errors.js';
import { DEFAULT_SITE, DEFAULT_STORE, logFormatOption, loggerFor, logLevelOption, printJson, printText, readStoreHelp, type LogFlags } from './options.js';

interface DiffFlags extends LogFlags {
  site: string;
  store: string;
  json?: boolean;
}

/** Compares two scans of a site: the named ones, or the last two in the store. */
async function diffCommand(scanA: string | undefined, scanB: string | undefined, flags: DiffFlags): Promise<void> {
  if (scanA !== undefined && scanB === undefined) throw agentError('CCTV_ERR_BAD_OPTION', 'SCAN_B', 'name both scans, or neither for the last two');
  // Loaded by this command, not by every start-up (a scan needs neither).
  const [{ diffScans, diffTable }, { openPlace, readScanPair }] = await Promise.all([import('../report/diff.js'), import('../store/read.js')]);
  const store = await openPlace(flags, loggerFor(flags));
  const [from, to] = await readScanPair(store, flags, scanA !== undefined && scanB !== undefined ? [scanA, scanB] : undefined);
  const diff = diffScans(from, to);
  if (flags.json) printJson(diff);
  else printText(diffTable(diff));
}

export function registerDiff(program: Command): void {
  program
    .command('diff')
    .description('list the devices added, removed and changed between two scans of a site (default: its last two)')
    .argument('[scanA]', 'id of the earlier scan (in a folder store, a file name under STORE/scans/SITE without .json)')
    .argument('[scanB]', 'id of the later scan')
    .option('-s, --site <name>', 'site name', DEFAULT_SITE)
    .option('--store <dir|url>', readStoreHelp(), DEFAULT_STORE)
    .option('--json', 'print { site, from, to, added, removed, changed } instead of a table')
    .addOption(logLevelOption())
    .addOption(logFormatOption())
    .action((scanA: string | undefined, scanB: string | undefined, flags: DiffFlags) => diffCommand(scanA, scanB, flags));
}
