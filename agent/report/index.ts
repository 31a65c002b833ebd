import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { agentError } from '../errors.js';
import { describeFsError, writeFileAtomic } from '../store/fs-durable.js';
import { openPlace, readScan } from '../store/read.js';
import { renderFormat, reportFormats } from './formats.js';
import { createProgress } from './progress.js';
import { linkedVendorNames } from '../knowledge/index.js';

export interface ReportOptions {
  site: string;
  /** A store spec, as `scan --store` takes it. */
  store: string;
  /** A scan id from the store; the site's latest scan when absent. */
  scan?: string;
  /** A name of reportFormats (agent/report/formats.ts). */
  format: string;
  /** File to write (atomically); stdout when absent. */
  out?: string;
  log: Logger;
}

/** Reads one scan from the store and writes it in the chosen format. Sends nothing but the store's own reads. */
export async function writeReport(options: ReportOptions): Promise<void> {
  const reader = await openPlace(options, options.log);
  const inventory = await readScan(reader, options, options.scan);
  const handover = (await reader.handovers?.load(options.site, inventory.scan.id)) ?? null;
  // A spinner only on a terminal, and never when stdout is the document itself.
  const progress = createProgress(process.stderr, { json: options.format === 'json' && options.out === undefined });
  progress.update(`rendering ${inventory.devices.length} device(s) as ${options.format}`);
  const text = renderFormat(reportFormats, options.format, inventory, linkedVendorNames(), handover);
  progress.done();
  if (options.out === undefined) {
    process.stdout.write(text);
    return;
  }
  await writeOutputFile(options.out, text);
  options.log.info({ out: options.out, format: options.format, devices: inventory.devices.length }, 'report written');
}

/** Writes a command's output to `out`, replacing it atomically; CCTV_ERR_REPORT_UNWRITABLE when it cannot. */
export async function writeOutputFile(out: string, text: string): Promise<void> {
  try {
    await writeFileAtomic(resolve(out), text);
  } catch (error) {
    throw agentError('CCTV_ERR_REPORT_UNWRITABLE', out, describeFsError(error));
  }
}
