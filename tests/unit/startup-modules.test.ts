/**
 * What a start-up loads (issue 10, start-up time): every command is registered at start-up, but
 * the modules of the commands that print reports (renderers, handover readers, the fingerprint
 * tools, and the CSV, table and zip libraries under them) are loaded by those commands only, and
 * the CouchDB client by a CouchDB store when it connects, so `scan` does not pay for them before
 * its first packet. The built CLI is run with a module-loading
 * hook (node:module register) that names every module it loads; `scan --help` sends nothing.
 */
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BUILT_CLI } from '../support/run-cli.js';

/** A loader hook that writes `loaded <url>` on stderr for every module loaded through import. */
const HOOKS = `import { writeSync } from 'node:fs';
export async function load(url, context, next) { writeSync(2, 'loaded ' + url + '\\n'); return next(url, context); }`;
const REGISTER = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOKS)}`)});`;

function modulesLoadedBy(args: string[]): Promise<string[]> {
  return new Promise((done, fail) => {
    execFile(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(REGISTER)}`, BUILT_CLI, ...args], { timeout: 20_000 }, (error, _stdout, stderr) => {
      if (error) fail(error);
      else done(stderr.split('\n').flatMap((line) => (line.startsWith('loaded ') ? [line.slice('loaded '.length)] : [])));
    });
  });
}

/** Modules only the report, verify, estate, diff, inventory and fingerprints commands use. */
const NOT_AT_START_UP = [
  /\/dist\/agent\/report\/(formats|csv|html|html-assets|exports|estate-render|table|terminal-table|diff|index)\.js$/,
  /\/dist\/agent\/handover\//,
  /\/dist\/agent\/fingerprint\/(index|explain|coverage|labels)\.js$/,
  /\/dist\/agent\/store\/read\.js$/,
  /\/node_modules\/(csv-stringify|csv-parse|fflate|cli-table3|nano)\//,
];

describe('start-up', () => {
  it('registers every command without loading the modules only the report-writing commands use', async () => {
    const loaded = await modulesLoadedBy(['scan', '--help']);
    // The hook saw the start-up: the program and the scan command.
    expect(loaded.some((url) => url.endsWith('/dist/agent/cli.js'))).toBe(true);
    expect(loaded.some((url) => url.endsWith('/dist/agent/commands/scan.js'))).toBe(true);
    expect(loaded.filter((url) => NOT_AT_START_UP.some((pattern) => pattern.test(url)))).toEqual([]);
  });
});
