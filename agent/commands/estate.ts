/** `cctv-agent estate`: every site of a store (a folder or a CouchDB fleet database) side by side. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { linkedVendorNames } from '../knowledge/index.js';
import { DEFAULT_STALE_AFTER_HOURS, readEstate } from '../report/estate.js';
import { ESTATE_FORMAT_NAMES } from '../report/format-names.js';
import { openStoreForReading } from '../store/index.js';
import { agentError } from '../errors.js';
import { assertStoreName } from '../store/names.js';
import { collect, DEFAULT_STORE, logFormatOption, loggerFor, logLevelOption, readStoreHelp, type LogFlags } from './options.js';

interface EstateFlags extends LogFlags {
  store: string;
  site: string[];
  format: string;
  out?: string;
  staleAfter: number;
}

function positiveHours(value: string): number {
  const hours = Number(value);
  if (!Number.isFinite(hours) || hours <= 0) throw new InvalidArgumentError('give a number of hours above 0, e.g. 24');
  return hours;
}

async function estateCommand(flags: EstateFlags): Promise<void> {
  const log = loggerFor(flags);
  for (const site of flags.site) assertStoreName('site name', site);
  const reader = await openStoreForReading(flags.store, { log });
  const report = await readEstate(reader, linkedVendorNames(), { now: new Date(), staleAfterHours: flags.staleAfter, sites: flags.site });
  const missing = flags.site.find((site) => !report.estate.sites.some((s) => s.site === site));
  if (missing !== undefined) throw agentError('CCTV_ERR_NO_INVENTORY', missing, flags.store);
  // The renderers are loaded by the command that writes the estate, not by every start-up.
  const [{ estateFormats, renderFormat }, { writeOutputFile }] = await Promise.all([import('../report/formats.js'), import('../report/index.js')]);
  const text = renderFormat(estateFormats, flags.format, report, linkedVendorNames());
  if (flags.out === undefined) {
    process.stdout.write(text);
    return;
  }
  await writeOutputFile(flags.out, text);
  log.info({ out: flags.out, format: flags.format, sites: report.estate.totals.sites }, 'estate written');
}

export function registerEstate(program: Command): void {
  program
    .command('estate')
    .description('every site of the store side by side: devices, linked to each vendor by relation, CVEs, last sweep, stale sites and sites two agents write')
    .option('--store <dir|url>', readStoreHelp(), DEFAULT_STORE)
    .option('--site <name>', 'only this site (repeatable; default: every site of the store)', collect, [])
    .addOption(new Option('--format <format>', 'output format').choices([...ESTATE_FORMAT_NAMES]).default('table'))
    .option('--out <file>', 'write to FILE (replaced atomically) instead of stdout')
    .addOption(
      new Option('--stale-after <hours>', 'a site whose scans carry no daemon schedule is stale when its last scan is older than this').argParser(positiveHours).default(DEFAULT_STALE_AFTER_HOURS),
    )
    .addOption(logLevelOption())
    .addOption(logFormatOption())
    .action((flags: EstateFlags) => estateCommand(flags));
}
