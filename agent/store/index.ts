/**
 * The store registry: one line per store. openStore() gives --store to the first store that
 * accepts it, so the file store (which takes any path) stays last.
 */
import { agentError } from '../errors.js';
import type { Logger } from '../log.js';
import { fileStore } from './file.js';
import type { InventoryStore, StoreDefinition } from './types.js';

export type { InventoryStore, SaveResult, StoreDefinition } from './types.js';

export const stores: readonly StoreDefinition[] = [
  fileStore, // a folder path (or file: URL); the default
];

/** Opens the store that `spec` names; fails fast (before any scan) when it cannot be used. */
export async function openStore(spec: string, log: Logger): Promise<InventoryStore> {
  const definition = stores.find((s) => s.accepts(spec));
  if (!definition) {
    throw agentError(
      'CCTV_ERR_BAD_OPTION',
      '--store',
      `no store understands "${spec}" (known stores: ${stores.map((s) => `${s.name}: ${s.description}`).join('; ')})`,
    );
  }
  return definition.open(spec, log);
}
