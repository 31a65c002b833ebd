import type { FleetRecords } from './couchdb-views.js';
import type { ChangeEvent } from '../pipeline/changes.js';
import type { Logger } from '../log.js';
import type { Inventory } from '../types.js';
import type { HandoverSignOff } from '../handover/verify.js';

/** What one save did. */
export interface SaveResult {
  /**
   * Where the scan's document now lives, for the operator to read: a file path for the file store,
   * the outbox entry id (also the push's Idempotency-Key) for push stores.
   */
  location: string;
}

/** How a store is doing, for the daemon's /healthz and /metrics. */
export interface StoreStatus {
  /** Documents saved but not yet delivered (always 0 for the file store). */
  outboxDepth: number;
  /** When a document last reached its destination (ISO 8601), or null before the first. */
  lastDeliveryAt: string | null;
  /** The last delivery or write failure, in words, cleared by the next success; never holds a secret. */
  lastError: string | null;
  /** Whether the destination answered the last attempt; null before the first attempt. */
  reachable: boolean | null;
}

/** One scan as listed by listScans(). */
export interface ScanSummary {
  site: string;
  id: string;
  startedAt: string;
  finishedAt: string;
}

/**
 * Reading back what a store's destination holds (for a push store: what was delivered, not what
 * waits in its outbox). Every answer is the reader's own copy. A site name or scan id outside the
 * safe alphabet (names.ts) is refused with CCTV_ERR_BAD_NAME; a store that cannot read back its
 * destination refuses every call with CCTV_ERR_STORE_WRITE_ONLY.
 */
export interface ScanReader {
  /** The scans of `site` (of every site when absent), oldest first: by startedAt, then site, then id. */
  listScans(site?: string): Promise<ScanSummary[]>;
  /** One scan's document, or null when there is none. */
  loadScan(site: string, scanId: string): Promise<Inventory | null>;
  /** The site's current inventory (its latest scan), or null when the site has none. */
  loadInventory(site: string): Promise<Inventory | null>;
}

/** A store opened for reading only (openStoreForReading): opening it created nothing. */
export interface StoreReader extends ScanReader {
  readonly name: string;
  /** Handover sign-offs kept with the scans they checked; absent when the store keeps none. */
  readonly handovers?: HandoverRecords;
  /** Who writes each site and which documents conflict (a CouchDB database); absent when the store keeps no such record. */
  readonly fleet?: FleetRecords;
}

/**
 * `verify`'s sign-off kept beside the scan it checked, so that a later `report` shows that the
 * handover was verified and how it came out. One per scan: verifying the scan again replaces it.
 */
export interface HandoverRecords {
  /** Keeps `record` (its scanId names the scan) for `site`; resolves to where it was written. */
  save(site: string, record: HandoverSignOff): Promise<string>;
  /** The sign-off kept for the scan, or null when there is none (or what is there is not one). */
  load(site: string, scanId: string): Promise<HandoverSignOff | null>;
}

/**
 * Where inventories are kept (undici's CacheStore habit: a small interface, plain-object
 * implementations, one shared contract suite in tests/unit/store-contract.ts). A store persists
 * what it is given and computes nothing: change events come from the change engine (changes.ts).
 */
/**
 * What the caller computed `events` against. A store that other runs may write at the same time
 * (the file store) checks it under its lock and refuses the save with CCTV_ERR_STORE_CONFLICT when
 * the site's latest scan is no longer `basedOn`; the caller then recomputes (recordScan). A store
 * that only this run writes (a push store's own folder is held for its lifetime) may ignore it.
 */
export interface SavePrecondition {
  /** Id of the site's latest scan the events were computed against; null: the site had none. */
  basedOn: string | null;
}

export interface InventoryStore extends ScanReader {
  readonly name: string;
  /**
   * Records `inventory` as the latest of its site (`inventory.scan.site`) together with its change
   * `events`, as given. Saves apply in the order they were made. A push store returns once the
   * document is durably in its outbox; delivery follows in the background.
   */
  save(inventory: Inventory, events: readonly ChangeEvent[], precondition?: SavePrecondition): Promise<SaveResult>;
  /**
   * The last inventory saved through this store for `site`, or null: the base of the next scan's
   * change events. A push store answers from its own folder, so this works while its destination
   * is down (loadInventory reads the destination). Never shares objects with the caller.
   */
  latest(site: string): Promise<Inventory | null>;
  /** Tries to deliver everything pending within `timeoutMs`; true when nothing is left pending. */
  flush(timeoutMs: number): Promise<boolean>;
  status(): StoreStatus;
  /** Waits for saves in flight, stops background delivery (pending documents stay on disk) and releases what the store holds. */
  close(): Promise<void>;
}

/**
 * Secrets for a push store: only ever the name of an environment variable or the path of a file
 * (readable by its owner only), never the secret itself. Either a bearer token or basic auth.
 */
export interface StoreAuthConfig {
  bearerTokenEnv?: string;
  bearerTokenFile?: string;
  basicUserEnv?: string;
  basicPasswordEnv?: string;
  basicPasswordFile?: string;
}

/** The object form of a store spec; each store declares its own keys (and their schema) in its own file. */
export interface ObjectStoreSpec {
  /** The `name` of the store in the registry. */
  readonly type: string;
}

/**
 * A store as configured: a string (a folder path or `file:` URL, an `http(s)://` push URL, or
 * `couchdb+http(s)://host:port/database`) or one of the stores' object forms.
 */
export type StoreSpec = string | ObjectStoreSpec;

/** JSON Schema (draft 2020-12) of a store's object form: an object whose `type` is the store's name. */
export interface ObjectSpecSchema {
  readonly type: 'object';
  readonly additionalProperties: false;
  readonly required: readonly string[];
  readonly properties: { readonly type: { readonly const: string } } & Readonly<Record<string, object>>;
}

export interface StoreOpenContext {
  log: Logger;
  /** A folder of this store's own, where a push store keeps its outbox; unused by the file store. */
  stateDir: string;
}

/** One entry of the `stores` registry (agent/store/index.ts). */
export interface StoreDefinition {
  /** Also the `type` of the store's object spec. */
  readonly name: string;
  readonly description: string;
  /** How a `--store` string names this store, for help and messages: "a folder (the embedded JSON store)". */
  readonly form: string;
  /** Whether the read commands can read back what it saved (a push-only endpoint cannot). */
  readonly readsBack: boolean;
  /** The store's object form. The registry validates an object spec against it before open(). */
  readonly specSchema: ObjectSpecSchema;
  /** Whether the string spec (e.g. the --store value) is meant for this store. */
  accepts(spec: string): boolean;
  /** The store as logs, metrics and messages name it: its type and address, never a credential, query or fragment. */
  label(spec: StoreSpec): string;
  /** Opens the store, failing fast (before any scan runs) when its configuration cannot work. */
  open(spec: StoreSpec, ctx: StoreOpenContext): Promise<InventoryStore>;
  /**
   * Opens the store to read what its destination holds. Creates nothing (no folder, no outbox, no
   * database): a destination that is not there is CCTV_ERR_STORE_NOT_FOUND.
   */
  openReader(spec: StoreSpec, ctx: { log: Logger }): Promise<StoreReader>;
}
