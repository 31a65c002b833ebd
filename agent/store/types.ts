import type { ChangeEvent } from '../changes.js';
import type { Logger } from '../log.js';
import type { Inventory } from '../types.js';

/** What one save did. */
export interface SaveResult {
  /**
   * The site's changes as recorded with this document: the events given to save(), or, when none
   * were given, the store's own diff against the site's previous document (diffInventories).
   */
  changes: ChangeEvent[];
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

/**
 * Where inventories are kept (undici's CacheStore habit: a small interface, plain-object
 * implementations, one shared contract suite in tests/unit/store-contract.ts).
 */
export interface InventoryStore {
  readonly name: string;
  /**
   * Records `inventory` as the latest of its site (`inventory.scan.site`) together with its change
   * `events`. Without `events`, the store computes them against the site's previous document.
   * Saves apply in the order they were made. A push store returns once the document is durably in
   * its outbox; delivery follows in the background.
   */
  save(inventory: Inventory, events?: ChangeEvent[]): Promise<SaveResult>;
  /** The last inventory saved for `site`, or null when the site has none. Never shares objects with the caller. */
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

export interface FileStoreConfig {
  type: 'file';
  dir: string;
}

export interface HttpStoreConfig {
  type: 'http';
  url: string;
  auth?: StoreAuthConfig;
  /** PEM file of the CA(s) that sign the endpoint's certificate, instead of the system ones. */
  caFile?: string;
  /** PEM client certificate and key for mutual TLS; the key file must be private to its owner. */
  certFile?: string;
  keyFile?: string;
  /** Per-request time limit. Default 30 s. */
  timeoutMs?: number;
}

export interface CouchStoreConfig {
  type: 'couchdb';
  /** The server, e.g. https://couch.example.org:6984 (no credentials in it). */
  url: string;
  database: string;
  auth?: StoreAuthConfig;
}

/**
 * A store as configured: a string (a folder path or `file:` URL, an `http(s)://` push URL, or
 * `couchdb+http(s)://host:port/database`) or one of the object forms.
 */
export type StoreSpec = string | FileStoreConfig | HttpStoreConfig | CouchStoreConfig;

export interface StoreOpenContext {
  log: Logger;
  /** A folder of this store's own, where a push store keeps its outbox; unused by the file store. */
  stateDir: string;
}

/** One entry of the `stores` registry (agent/store/index.ts). */
export interface StoreDefinition {
  /** Also the `type` of the store's object spec. */
  readonly name: 'file' | 'http' | 'couchdb';
  readonly description: string;
  /** Whether the string spec (e.g. the --store value) is meant for this store. */
  accepts(spec: string): boolean;
  /** Opens the store, failing fast (before any scan runs) when its configuration cannot work. */
  open(spec: StoreSpec, ctx: StoreOpenContext): Promise<InventoryStore>;
}
