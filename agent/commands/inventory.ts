/** `cctv-agent inventory`: a site's current inventory from any readable store. */
import type { Command } from 'commander';
import type { Level } from 'pino';
import { linkedVendorNames } from '../knowledge/index.js';
import { createLogger } from '../log.js';
import { inventoryTable } from '../report/table.js';
import { openPlace, readScan } from '../store/read.js';
import { DEFAULT_SITE, DEFAULT_STORE, logLevelOption, printJson, readStoreHelp } from './options.js';

interface InventoryFlags {
  site: string;
  store: string;
  json?: boolean;
  logLevel: Level | 'silent';
}

async function inventoryCommand(flags: InventoryFlags): Promise<void> {
  const store = await openPlace(flags, createLogger(flags.logLevel));
  const inventory = await readScan(store, flags);
  if (flags.json) printJson(inventory);
  else process.stdout.write(inventoryTable(inventory, linkedVendorNames()));
}

export function registerInventory(program: Command): void {
  program
    .command('inventory')
    .description("print a site's current inventory from the store")
    .option('-s, --site <name>', 'site name', DEFAULT_SITE)
    .option('--store <dir|url>', readStoreHelp(), DEFAULT_STORE)
    .option('--json', 'print the inventory document instead of a table')
    .addOption(logLevelOption())
    .action((flags: InventoryFlags) => inventoryCommand(flags));
}
