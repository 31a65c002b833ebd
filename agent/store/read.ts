/**
 * What the read commands (`inventory`, `report`, `diff`, `verify`) share: the store opened for
 * reading through the registry (so --store takes the same specs as `scan`, and a mistyped one is
 * a coded error that leaves nothing behind), and a site's latest or named scan, else a coded error.
 */
import { agentError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Inventory } from '../types.js';
import { openStoreForReading } from './index.js';
import { assertStoreName } from './names.js';
import type { StoreReader } from './types.js';

/** A site of a store, as the operator named them (`--site`, `--store`). */
export interface ReadPlace {
  site: string;
  store: string;
}

/** Opens `place.store` for reading, once the site name is known to be safe. */
export async function openPlace(place: ReadPlace, log: Logger): Promise<StoreReader> {
  assertStoreName('site name', place.site);
  return openStoreForReading(place.store, { log });
}

/**
 * Scan `scanId` of the site, or the site's current inventory when `scanId` is undefined;
 * CCTV_ERR_NO_SCAN or CCTV_ERR_NO_INVENTORY when the store has none.
 */
export async function readScan(reader: StoreReader, place: ReadPlace, scanId?: string): Promise<Inventory> {
  const inventory = scanId === undefined ? await reader.loadInventory(place.site) : await reader.loadScan(place.site, scanId);
  if (inventory) return inventory;
  throw scanId === undefined
    ? agentError('CCTV_ERR_NO_INVENTORY', place.site, place.store)
    : agentError('CCTV_ERR_NO_SCAN', place.site, scanId, place.store);
}

/** The two scans `diff` compares: the two named, in that order, or the site's last two; CCTV_ERR_NOT_ENOUGH_SCANS when it has fewer. */
export async function readScanPair(reader: StoreReader, place: ReadPlace, ids?: [string, string]): Promise<[Inventory, Inventory]> {
  if (!ids) {
    const scans = await reader.listScans(place.site);
    const [previous, last] = scans.slice(-2);
    if (!previous || !last) throw agentError('CCTV_ERR_NOT_ENOUGH_SCANS', place.site, place.store, scans.length);
    ids = [previous.id, last.id];
  }
  return [await readScan(reader, place, ids[0]), await readScan(reader, place, ids[1])];
}
