/** `cctv-agent inventory`: a site's current inventory from any readable store. */
import type { Command } from 'commander';
import { linkedVendorNames } from '../knowledge/index.js';
import { DEFAULT_SITE, DEFAULT_STORE, logFormatOption, loggerFor, logLevelOption, printJson, printText, readStoreHelp, type LogFlags } from './options.js';

interface InventoryFlags extends LogFlags {
  site: string;
  store: string;
  json?: boolean;
}

async function inventoryCommand(flags: InventoryFlags): Promise<void> {
  // Loaded by this command, not by every start-up (a scan needs neither).
  const [{ inventoryTable }, { openPlace, readScan }] = await Promise.all([import('../report/table.js'), import('../store/read.js')]);
  const store = await openPlace(flags, loggerFor(flags));
  const inventory = await readScan(store, flags);
  if (flags.json) printJson(inventory);
  else printText(inventoryTable(inventory, linkedVendorNames()));
}

export function registerInventory(program: Command): void {
  program
    .command('inventory')
    .description("print a site's current inventory from the store")
    .option('-s, --site <name>', 'site name', DEFAULT_SITE)
    .option('--store <dir|url>', readStoreHelp(), DEFAULT_STORE)
    .option('--json', 'print the inventory document instead of a table')
    .addOption(logLevelOption())
    .addOption(logFormatOption())
    .action((flags: InventoryFlags) => inventoryCommand(flags));
}
