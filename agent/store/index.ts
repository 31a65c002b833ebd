/**
 * The store registry: one line per store. A store is one file exporting a StoreDefinition (its
 * name, string-spec test, object-spec schema, label, open and openReader); this file composes them.
 * openStore() gives a string spec (--store) to the first store that accepts it, so the file store
 * (which takes any path) stays last; an object spec goes to the store its `type` names, once it
 * matches that store's schema.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { agentError } from '../errors.js';
import { validatorFor } from '../knowledge/data-file.js';
import type { Logger } from '../log.js';
import { couchStore } from './couchdb.js';
import { fileStore } from './file.js';
import { httpStore } from './http.js';
import type { InventoryStore, StoreDefinition, StoreOpenContext, StoreReader, StoreSpec } from './types.js';

export type {
  InventoryStore,
  ObjectStoreSpec,
  SaveResult,
  ScanReader,
  ScanSummary,
  StoreAuthConfig,
  StoreDefinition,
  StoreOpenContext,
  StoreReader,
  StoreSpec,
  StoreStatus,
} from './types.js';

export const stores: readonly StoreDefinition[] = [
  httpStore, // http:// or https:// URL: POST each document
  couchStore, // couchdb+http(s)://host:port/database
  fileStore, // a folder path (or file: URL); the default
];

/**
 * JSON Schema (draft 2020-12) of a StoreSpec, to embed in a configuration schema: a string, or one
 * of the stores' object forms (each store's file documents its keys).
 */
export const STORE_SPEC_SCHEMA = {
  anyOf: [
    { type: 'string', minLength: 1, description: 'the --store string form of one of the stores' },
    ...stores.map((s) => s.specSchema),
  ],
} as const;

/**
 * The string forms of the registry's stores, for help and messages: "an http(s):// collector URL,
 * couchdb+http(s)://host:port/database or a folder (the embedded JSON store)"; with `readable`,
 * only the stores the read commands can read back.
 */
export function storeFormsText(which: 'all' | 'readable' = 'all'): string {
  const forms = stores.filter((s) => which === 'all' || s.readsBack).map((s) => s.form);
  return forms.length > 1 ? `${forms.slice(0, -1).join(', ')} or ${forms.at(-1)}` : (forms[0] ?? '');
}

/** The store `spec` is for; an object spec is checked against its store's schema (CCTV_ERR_STORE_SPEC naming the first problem). */
function definitionFor(spec: StoreSpec): StoreDefinition {
  if (typeof spec === 'string') {
    const definition = stores.find((s) => s.accepts(spec));
    if (definition) return definition;
    throw agentError(
      'CCTV_ERR_BAD_OPTION',
      '--store',
      `no store understands "${spec}" (known stores: ${stores.map((s) => `${s.name}: ${s.description}`).join('; ')})`,
    );
  }
  const type = (spec as { type?: unknown } | null)?.type;
  const definition = stores.find((s) => s.name === type);
  if (typeof spec !== 'object' || spec === null || !definition) {
    const names = stores.map((s) => s.name);
    throw agentError('CCTV_ERR_STORE_SPEC', JSON.stringify(type ?? null), `a store entry is a string or an object whose "type" is ${names.slice(0, -1).join(', ')} or ${names.at(-1)}`);
  }
  const validate = validatorFor(definition.specSchema);
  if (!validate(spec)) {
    const first = validate.errors?.[0];
    throw agentError('CCTV_ERR_STORE_SPEC', `type ${definition.name}`, first ? `${first.instancePath || 'the entry'} ${first.message ?? 'is invalid'}` : 'it is invalid');
  }
  return definition;
}

/** Opens the store that `spec` names, to save into; fails fast (before any scan) when it cannot be used. */
export function openStore(spec: StoreSpec, ctx: StoreOpenContext): Promise<InventoryStore> {
  try {
    return definitionFor(spec).open(spec, ctx);
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Opens the store that `spec` names, to read only (the read commands): creates nothing, and fails
 * with a coded error when the store is not there (CCTV_ERR_STORE_NOT_FOUND) or cannot be read back.
 */
export function openStoreForReading(spec: StoreSpec, ctx: { log: Logger }): Promise<StoreReader> {
  try {
    return definitionFor(spec).openReader(spec, ctx);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** The store as logs and metrics name it: its type and address, never credentials, query or fragment. */
export function storeLabel(spec: StoreSpec): string {
  return definitionFor(spec).label(spec);
}

/**
 * A folder of its own for the store `spec` under `root` (the daemon's state folder):
 * `root/outbox/<type>-<12 hex of the spec's hash>`, the same for the same spec across restarts.
 */
export function storeStateDir(root: string, spec: StoreSpec): string {
  const type = typeof spec === 'string' ? (stores.find((s) => s.accepts(spec))?.name ?? 'store') : spec.type;
  const hash = createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 12);
  return join(root, 'outbox', `${type}-${hash}`);
}
