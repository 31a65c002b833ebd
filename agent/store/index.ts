/**
 * The store registry: one line per store. openStore() gives a string spec (--store) to the first
 * store that accepts it, so the file store (which takes any path) stays last; an object spec goes
 * to the store its `type` names.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { agentError } from '../errors.js';
import { couchStore } from './couchdb.js';
import { fileStore } from './file.js';
import { httpStore } from './http.js';
import type { InventoryStore, StoreDefinition, StoreOpenContext, StoreSpec } from './types.js';

export type {
  CouchStoreConfig,
  FileStoreConfig,
  HttpStoreConfig,
  InventoryStore,
  SaveResult,
  StoreAuthConfig,
  StoreDefinition,
  StoreOpenContext,
  StoreSpec,
  StoreStatus,
} from './types.js';

export const stores: readonly StoreDefinition[] = [
  httpStore, // http:// or https:// URL: POST each document
  couchStore, // couchdb+http(s)://host:port/database
  fileStore, // a folder path (or file: URL); the default
];

const secretName = { type: 'string', minLength: 1, maxLength: 4096 } as const;
const AUTH_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  description: 'Names of environment variables or paths of files (private to their owner) holding the secrets; never the secrets themselves.',
  properties: {
    bearerTokenEnv: secretName,
    bearerTokenFile: secretName,
    basicUserEnv: secretName,
    basicPasswordEnv: secretName,
    basicPasswordFile: secretName,
  },
} as const;
const HTTP_URL = { type: 'string', pattern: '^[Hh][Tt][Tt][Pp][Ss]?://' } as const;

/** The object form of each store, by its `type`. */
const OBJECT_SPEC_SCHEMAS = {
  file: {
    type: 'object',
    additionalProperties: false,
    required: ['type', 'dir'],
    properties: { type: { const: 'file' }, dir: { type: 'string', minLength: 1 } },
  },
  http: {
    type: 'object',
    additionalProperties: false,
    required: ['type', 'url'],
    properties: {
      type: { const: 'http' },
      url: HTTP_URL,
      auth: AUTH_SCHEMA,
      caFile: { type: 'string', minLength: 1 },
      certFile: { type: 'string', minLength: 1 },
      keyFile: { type: 'string', minLength: 1 },
      timeoutMs: { type: 'integer', minimum: 100, maximum: 600_000 },
    },
  },
  couchdb: {
    type: 'object',
    additionalProperties: false,
    required: ['type', 'url', 'database'],
    properties: { type: { const: 'couchdb' }, url: HTTP_URL, database: { type: 'string', minLength: 1 }, auth: AUTH_SCHEMA },
  },
} as const;

/**
 * JSON Schema (draft 2020-12) of a StoreSpec, to embed in a configuration schema: a string, or one
 * of the object forms (see agent/store/types.ts for each key's meaning).
 */
export const STORE_SPEC_SCHEMA = {
  anyOf: [
    { type: 'string', minLength: 1, description: 'a folder or file: URL, an http(s):// push URL, or couchdb+http(s)://host:port/database' },
    OBJECT_SPEC_SCHEMAS.file,
    OBJECT_SPEC_SCHEMAS.http,
    OBJECT_SPEC_SCHEMAS.couchdb,
  ],
} as const;

type Validator = ((doc: unknown) => boolean) & { errors?: { instancePath: string; message?: string }[] | null };
const validators = new Map<string, Validator>();

/** Checks an object spec against its type's schema; CCTV_ERR_STORE_SPEC naming the first problem. */
function assertObjectSpec(spec: unknown): void {
  const type = (spec as { type?: unknown } | null)?.type;
  if (typeof spec !== 'object' || spec === null || typeof type !== 'string' || !Object.hasOwn(OBJECT_SPEC_SCHEMAS, type)) {
    throw agentError('CCTV_ERR_STORE_SPEC', JSON.stringify(type ?? null), 'a store entry is a string or an object whose "type" is file, http or couchdb');
  }
  let validate = validators.get(type);
  if (!validate) {
    const schema = OBJECT_SPEC_SCHEMAS[type as keyof typeof OBJECT_SPEC_SCHEMAS];
    validate = new Ajv2020({ allErrors: true, strict: true }).compile(schema) as Validator;
    validators.set(type, validate);
  }
  if (!validate(spec)) {
    const first = validate.errors?.[0];
    throw agentError('CCTV_ERR_STORE_SPEC', `type ${type}`, first ? `${first.instancePath || 'the entry'} ${first.message ?? 'is invalid'}` : 'it is invalid');
  }
}

/** Opens the store that `spec` names; fails fast (before any scan) when it cannot be used. */
export async function openStore(spec: StoreSpec, ctx: StoreOpenContext): Promise<InventoryStore> {
  if (typeof spec !== 'string') {
    assertObjectSpec(spec);
    const definition = stores.find((s) => s.name === spec.type);
    if (!definition) throw agentError('CCTV_ERR_STORE_SPEC', `type ${spec.type}`, 'no store has that type');
    return definition.open(spec, ctx);
  }
  const definition = stores.find((s) => s.accepts(spec));
  if (!definition) {
    throw agentError(
      'CCTV_ERR_BAD_OPTION',
      '--store',
      `no store understands "${spec}" (known stores: ${stores.map((s) => `${s.name}: ${s.description}`).join('; ')})`,
    );
  }
  return definition.open(spec, ctx);
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
