/** `cctv-agent verify`: an installer's handover schedule against a scan. */
import { Option, type Command } from 'commander';
import type { HandoverSignOff } from '../handover/verify.js';
import type { Logger } from '../log.js';
import type { StoreReader } from '../store/types.js';
import { agentVersion } from '../paths.js';
import { linkedVendorNames } from '../knowledge/index.js';
import { createProgress } from '../report/progress.js';
import { VERIFY_FORMAT_NAMES } from '../report/format-names.js';
import { assertStoreName } from '../store/names.js';
import { DEFAULT_SITE, DEFAULT_STORE, logFormatOption, loggerFor, logLevelOption, readStoreHelp, type LogFlags } from './options.js';

interface HandoverFlags extends LogFlags {
  expected: string;
  /** The workbook sheet to read when --expected is an .xlsx. */
  sheet?: string;
  site: string;
  scan?: string;
  store: string;
  /** A name of verifyFormats (agent/report/formats.ts). */
  format: string;
  allowLinked?: boolean;
  /** File to write (atomically); stdout when absent. */
  out?: string;
}

async function handoverCommand(flags: HandoverFlags): Promise<void> {
  const log = loggerFor(flags);
  assertStoreName('site name', flags.site);
  // The schedule readers, the matcher and the renderers are loaded by this command, not by every start-up.
  const [{ readHandoverSchedule }, { signOff, verifyExitCode, verifyHandover }, { renderFormat, verifyFormats }, { writeOutputFile }, { openPlace, readScan }] = await Promise.all([
    import('../handover/schedule.js'),
    import('../handover/verify.js'),
    import('../report/formats.js'),
    import('../report/index.js'),
    import('../store/read.js'),
  ]);
  // A bad handover file fails before the store is touched.
  const { devices: expected, source } = readHandoverSchedule(flags.expected, { sheet: flags.sheet });
  const progress = createProgress(process.stderr, { json: flags.format === 'json' && flags.out === undefined });
  progress.update(`matching ${expected.length} expected device(s) with the scan`);
  try {
    const reader = await openPlace(flags, log);
    const inventory = await readScan(reader, flags, flags.scan);
    const names = linkedVendorNames();
    const result = signOff(verifyHandover(expected, inventory, { allowLinked: flags.allowLinked === true, names }), source, new Date(), agentVersion());
    progress.done();
    await keepWithScan(reader, flags.site, result, log);
    const text = renderFormat(verifyFormats, flags.format, result, names);
    if (flags.out === undefined) process.stdout.write(text);
    else {
      await writeOutputFile(flags.out, text);
      log.info({ out: flags.out, format: flags.format, ok: result.ok }, 'handover sign-off written');
    }
    process.exitCode = verifyExitCode(result);
  } finally {
    progress.done();
  }
}

/**
 * Keeps the sign-off with the scan it checked, for `report` to show. The check itself is what the
 * installer asked for: a store that keeps no such records, or one that cannot be written (a
 * read-only copy), is logged and the result still printed.
 */
async function keepWithScan(reader: StoreReader, site: string, result: HandoverSignOff, log: Logger): Promise<void> {
  if (!reader.handovers) {
    log.debug({ store: reader.name }, 'this store keeps no handover records: the sign-off is only in this output');
    return;
  }
  try {
    const file = await reader.handovers.save(site, result);
    log.debug({ file, scanId: result.scanId, ok: result.ok }, 'handover sign-off kept with the scan');
  } catch (error) {
    log.warn({ err: (error as Error).message, scanId: result.scanId }, 'the handover sign-off could not be kept with the scan: it is only in this output');
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
    .requiredOption('--expected <file>', 'CSV (header row), JSON or Excel .xlsx (first visible sheet, header row) handover schedule; columns ip, mac, serial, model, firmware, brand, location')
    .option('--sheet <name>', 'with an .xlsx schedule: read the sheet of this name (case-insensitive) instead of the first visible one')
    .option('-s, --site <name>', 'site name', DEFAULT_SITE)
    .option('--scan <id>', 'check this scan instead of the latest')
    .option('--store <dir|url>', readStoreHelp(), DEFAULT_STORE)
    .addOption(new Option('--format <format>', 'output format').choices([...VERIFY_FORMAT_NAMES]).default('table'))
    .option('--out <file>', 'write the result to FILE (replaced atomically) instead of stdout: with --format html, the sign-off page')
    .option('--allow-linked', 'list devices made by or for a linked vendor but do not fail the handover for them')
    .addOption(logLevelOption())
    .addOption(logFormatOption())
    .action((flags: HandoverFlags) => handoverCommand(flags));
}
