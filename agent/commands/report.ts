/** `cctv-agent report`: a scan from any readable store, in any report format. */
import { Option, type Command } from 'commander';
import { REPORT_FORMAT_NAMES } from '../report/format-names.js';
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
    .addOption(new Option('--format <format>', 'report format').choices([...REPORT_FORMAT_NAMES]).default('table'))
    .option('--out <file>', 'write the report to FILE (replaced atomically) instead of stdout')
    .addOption(logLevelOption())
    .addOption(logFormatOption())
    .action(async (flags: ReportFlags) => {
      // The renderers are loaded by the command that writes a report, not by every start-up.
      const { writeReport } = await import('../report/index.js');
      await writeReport({ ...flags, log: loggerFor(flags) });
    });
}
