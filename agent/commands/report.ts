/** `cctv-agent report`: a scan from any readable store, in any report format. */
import { Option, type Command } from 'commander';
import { writeReport } from '../report/index.js';
import { formatNames, reportFormats } from '../report/formats.js';
import { DEFAULT_SITE, DEFAULT_STORE, logFormatOption, loggerFor, logLevelOption, readStoreHelp, type LogFlags } from './options.js';

interface ReportFlags extends LogFlags {
  site: string;
  scan?: string;
  store: string;
  format: string;
  out?: string;
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('write a scan from the store as a table, CSV (opens in Excel), the JSON document, one self-contained HTML file, a CycloneDX 1.6 hardware BOM or NetBox import files')
    .option('-s, --site <name>', 'site name', DEFAULT_SITE)
    .option('--scan <id>', "scan id (default: the site's latest scan)")
    .option('--store <dir|url>', readStoreHelp(), DEFAULT_STORE)
    .addOption(new Option('--format <format>', 'report format').choices(formatNames(reportFormats)).default('table'))
    .option('--out <file>', 'write the report to FILE (replaced atomically) instead of stdout')
    .addOption(logLevelOption())
    .addOption(logFormatOption())
    .action((flags: ReportFlags) => writeReport({ ...flags, log: loggerFor(flags) }));
}
