/**
 * Secrets and TLS files of the push stores. A secret is never written in the configuration: the
 * config names an environment variable or a file, and a file holding a secret (token, password,
 * private key) must not be readable or writable by group or others (CCTV_ERR_STORE_SECRET_EXPOSED).
 * Secrets are read once, when the store opens, so a missing one fails before any scan runs.
 */
import { readBoundedTextFile } from '../bounded-file.js';
import { agentError } from '../errors.js';
import type { StoreAuthConfig } from './types.js';

const secretName = { type: 'string', minLength: 1, maxLength: 4096 } as const;

/** JSON Schema of StoreAuthConfig, for the object forms of the push stores. */
export const AUTH_SPEC_SCHEMA = {
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

/** JSON Schema of a push store's server URL (credentials go in auth, never in it). */
export const HTTP_URL_SPEC_SCHEMA = { type: 'string', pattern: '^[Hh][Tt][Tt][Pp][Ss]?://' } as const;

/** An address as logs and messages show it: no credentials, query or fragment. */
export function safeAddress(address: string): string {
  try {
    const url = new URL(address);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return address;
  }
}

/** Secret files are small; anything larger is not what the operator meant to point at. */
const MAX_SECRET_FILE_BYTES = 64 * 1024;
/** A CA bundle or certificate: the whole Mozilla CA bundle is about 220 KiB. */
const MAX_PUBLIC_FILE_BYTES = 4 * 1024 * 1024;

/**
 * The Authorization header value for `auth` (RFC 6750 bearer or RFC 7617 basic), or undefined when
 * no auth is configured. `store` names the store in error messages.
 */
export async function authorizationHeader(store: string, auth: StoreAuthConfig | undefined): Promise<string | undefined> {
  if (!auth) return undefined;
  const bearer = [auth.bearerTokenEnv, auth.bearerTokenFile].filter((v) => v !== undefined).length;
  const basicPassword = [auth.basicPasswordEnv, auth.basicPasswordFile].filter((v) => v !== undefined).length;
  const basic = auth.basicUserEnv !== undefined || basicPassword > 0;
  if (bearer > 0 && basic) throw agentError('CCTV_ERR_STORE_SPEC', store, 'auth names both a bearer token and basic credentials; keep one');
  if (bearer > 1) throw agentError('CCTV_ERR_STORE_SPEC', store, 'auth gives bearerTokenEnv and bearerTokenFile; keep one');
  if (bearer === 1) {
    const token = auth.bearerTokenEnv !== undefined ? fromEnv(auth.bearerTokenEnv) : await readPrivateFile(auth.bearerTokenFile ?? '');
    // RFC 6750 §2.1: b64token characters only, so that nothing can break out of the header.
    if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) {
      throw agentError('CCTV_ERR_STORE_SECRET', describeSource(auth.bearerTokenEnv, auth.bearerTokenFile), 'the token has characters a bearer token cannot have');
    }
    return `Bearer ${token}`;
  }
  if (!basic) return undefined;
  if (auth.basicUserEnv === undefined) throw agentError('CCTV_ERR_STORE_SPEC', store, 'basic auth needs basicUserEnv');
  if (basicPassword !== 1) {
    throw agentError('CCTV_ERR_STORE_SPEC', store, 'basic auth needs exactly one of basicPasswordEnv and basicPasswordFile');
  }
  const user = fromEnv(auth.basicUserEnv);
  // RFC 7617 §2: the user-id cannot contain a colon.
  if (user.includes(':')) throw agentError('CCTV_ERR_STORE_SECRET', `environment variable ${auth.basicUserEnv}`, 'a basic-auth user name cannot contain ":"');
  const password = auth.basicPasswordEnv !== undefined ? fromEnv(auth.basicPasswordEnv) : await readPrivateFile(auth.basicPasswordFile ?? '');
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

/** A file holding a secret: private to its owner, small; its content without the final newline. */
export async function readPrivateFile(file: string): Promise<string> {
  const source = `file ${file}`;
  const read = readBoundedTextFile(file, {
    maxBytes: MAX_SECRET_FILE_BYTES,
    inspect({ mode }) {
      if ((mode & 0o077) !== 0) throw agentError('CCTV_ERR_STORE_SECRET_EXPOSED', file, (mode & 0o777).toString(8).padStart(4, '0'));
    },
  });
  if (!read.ok) throw agentError('CCTV_ERR_STORE_SECRET', source, read.reason);
  const secret = read.text.replace(/\r?\n$/, '');
  if (secret === '') throw agentError('CCTV_ERR_STORE_SECRET', source, 'the file is empty');
  return secret;
}

/** A public file (a CA bundle, a client certificate): only needs to be readable. */
export async function readPublicFile(file: string): Promise<string> {
  const read = readBoundedTextFile(file, { maxBytes: MAX_PUBLIC_FILE_BYTES });
  if (!read.ok) throw agentError('CCTV_ERR_STORE_SECRET', `file ${file}`, read.reason);
  return read.text;
}

function fromEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw agentError('CCTV_ERR_STORE_SECRET', `environment variable ${name}`, 'it is not set');
  return value;
}

function describeSource(env: string | undefined, file: string | undefined): string {
  return env !== undefined ? `environment variable ${env}` : `file ${file ?? ''}`;
}
