import type { ChangeEvent } from '../changes.js';
import type { Logger } from '../log.js';
import type { Inventory } from '../types.js';

/** What one save did. */
export interface SaveResult {
  /** The site's changes against its previous inventory (diffInventories), as recorded by the store. */
  changes: ChangeEvent[];
  /** Where the scan's document now lives (a file path, a URL…), for the operator to read. */
  location: string;
}

/**
 * Where inventories are kept (undici's CacheStore habit: a small interface, plain-object
 * implementations, one shared contract suite in tests/unit/store-contract.ts).
 */
export interface InventoryStore {
  readonly name: string;
  /**
   * Records `inventory` as the latest of its site (`inventory.scan.site`) and returns the
   * changes against the previous latest. Saves of one site apply in the order they were made.
   */
  save(inventory: Inventory): Promise<SaveResult>;
  /** The last inventory saved for `site`, or null when the site has none. Never shares objects with the caller. */
  latest(site: string): Promise<Inventory | null>;
  /** Waits for saves in flight, then releases what the store holds. */
  close(): Promise<void>;
}

/** One entry of the `stores` registry (agent/store/index.ts). */
export interface StoreDefinition {
  readonly name: string;
  readonly description: string;
  /** Whether `spec` (the --store value) is meant for this store. */
  accepts(spec: string): boolean;
  /** Opens the store, failing fast (before any scan runs) when it cannot be used. */
  open(spec: string, log: Logger): Promise<InventoryStore>;
}
