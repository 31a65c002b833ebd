/** `cctv-agent verify`: an installer's handover schedule against a scan. */
import { Option, type Command } from 'commander';
import { readHandoverFile } from '../handover/schedule.js';
import { verifyExitCode, verifyHandover } from '../handover/verify.js';
import { linkedVendorNames } from '../knowledge/index.js';
import { createProgress } from '../report/progress.js';
import { formatNames, renderFormat, verifyFormats } from '../report/formats.js';
import { assertStoreName } from '../store/names.js';
import { openPlace, readScan } from '../store/read.js';
import { DEFAULT_SITE, DEFAULT_STORE, logFormatOption, loggerFor, logLevelOption, readStoreHelp, type LogFlags } from './options.js';

interface HandoverFlags extends LogFlags {
  expected: string;
  site: string;
  scan?: string;
  store: string;
  /** A name of verifyFormats (agent/report/formats.ts). */
  format: string;
  allowLinked?: boolean;
}

async function handoverCommand(flags: HandoverFlags): Promise<void> {
  const log = loggerFor(flags);
  assertStoreName('site name', flags.site);
  // A bad handover file fails before the store is touched.
  const expected = readHandoverFile(flags.expected);
  const progress = createProgress(process.stderr, { json: flags.format === 'json' });
  progress.update(`matching ${expected.length} expected device(s) with the scan`);
  try {
    const inventory = await readScan(await openPlace(flags, log), flags, flags.scan);
    const names = linkedVendorNames();
    const result = verifyHandover(expected, inventory, { allowLinked: flags.allowLinked === true, names });
    progress.done();
    process.stdout.write(renderFormat(verifyFormats, flags.format, result, names));
    process.exitCode = verifyExitCode(result);
  } finally {
    progress.done();
  }
}

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description(
      "check an installer's handover schedule against a scan: matched, missing, unexpected and mismatched devices, and every " +
        'device made by or for a linked vendor. Exit 0 when the handover holds, 1 when it does not, 2 for a bad file. A linked ' +
        'device fails the handover on its own (a site that must not have such devices is the usual reason to verify); ' +
        '--allow-linked reports it without failing',
    )
    .requiredOption('--expected <file>', 'CSV (header row) or JSON handover schedule; columns ip, mac, serial, model, firmware, brand, location')
    .option('-s, --site <name>', 'site name', DEFAULT_SITE)
    .option('--scan <id>', 'check this scan instead of the latest')
    .option('--store <dir|url>', readStoreHelp(), DEFAULT_STORE)
    .addOption(new Option('--format <format>', 'output format').choices(formatNames(verifyFormats)).default('table'))
    .option('--allow-linked', 'list devices made by or for a linked vendor but do not fail the handover for them')
    .addOption(logLevelOption())
    .addOption(logFormatOption())
    .action((flags: HandoverFlags) => handoverCommand(flags));
}
