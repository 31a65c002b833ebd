/**
 * The daemon's configuration file (YAML 1.2, so JSON too): read, validated against a JSON Schema,
 * then checked for what a schema cannot say (cron expressions, targets, site names, interfaces,
 * credentials and token files). Every problem names the file, the line and the key:
 * `daemon.yaml line 12: sites[1].schedule: "*\/5 * * *" is not a cron expression (…)`.
 * Nothing is started until the whole file is valid (CCTV_ERR_BAD_CONFIG, exit 2).
 */
import { basename, dirname, resolve } from 'node:path';
import { isIP } from 'node:net';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { Cron } from 'croner';
import type { Level } from 'pino';
import { readBoundedTextFile } from '../bounded-file.js';
import { AgentError, agentError } from '../errors.js';
import { dotted, parseDataDocument, schemaProblem, validatorFor, type DataPath, type SchemaProblem } from '../knowledge/data-file.js';
import { LOG_LEVELS } from '../log.js';
import { loadCredentials, type CredentialStore } from '../credentials.js';
import { isLoopbackInterface, type ScanInterface } from '../net/interfaces.js';
import { parseTargets, type TargetSet } from '../targets.js';
import { assertStoreName } from '../store/names.js';
import { STORE_SPEC_SCHEMA, storeFormsText, stores, type StoreSpec } from '../store/index.js';
import { DEFAULT_RATE_PER_SECOND, MAX_RATE_PER_SECOND } from '../net/rate-limiter.js';
import { ALERT_SINK_SCHEMA, type AlertSinkConfig } from '../alerts/sinks.js';


export interface SiteConfig {
  name: string;
  /** Interfaces discovery runs on; named explicitly, so an unattended agent never multicasts on a bridge it was not meant for. */
  interfaces: string[];
  targets: TargetSet;
  /** Cron expression (croner: 5 fields, or 6 with seconds first). */
  schedule: string;
  /** IANA time zone the schedule is read in; the machine's own by default. */
  timezone?: string;
  /** Sweep once as soon as the daemon starts, then on the schedule. */
  runAtStart: boolean;
  /** The discovery window of each sweep. */
  timeoutMs: number;
  ratePerSecond: number;
  active: boolean;
  credentialsFile?: string;
  credentials?: CredentialStore;
  removeAfterMissedSweeps: number;
  /** Where every sweep is pushed besides the site's own file store in the state folder. */
  stores: StoreSpec[];
}

export interface HealthConfig {
  host: string;
  port: number;
  /** Bearer token every request must carry; required when `host` is not a loopback address. */
  token?: string;
}

export interface DaemonConfig {
  /** Absolute path of the configuration file. */
  file: string;
  stateDir?: string;
  logLevel: Level;
  /** How long SIGTERM waits for pending pushes before exiting. */
  shutdownFlushMs: number;
  /** null when the configuration turns the endpoint off (`health: false`). */
  health: HealthConfig | null;
  /** Where alerts go (agent/alerts/sinks.ts); files in them resolved from the configuration's folder. */
  alerts: AlertSinkConfig[];
  sites: SiteConfig[];
}

export interface LoadOptions {
  /** Interfaces that exist here (listScanInterfaces()); every site's interfaces must be among them. */
  availableInterfaces: readonly ScanInterface[];
  env?: NodeJS.ProcessEnv;
}

export const DEFAULT_HEALTH_LISTEN = '127.0.0.1:9464';
const DEFAULTS = { timeoutSeconds: 5, rate: DEFAULT_RATE_PER_SECOND, removeAfterMissedSweeps: 3, shutdownFlushSeconds: 10 };

const SITE_NAME = { type: 'string', minLength: 1 };

/** The file's shape (JSON Schema 2020-12). Values a schema cannot judge are checked after it. */
export const DAEMON_CONFIG_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  additionalProperties: false,
  required: ['sites'],
  properties: {
    stateDir: { type: 'string', minLength: 1 },
    logLevel: { enum: [...LOG_LEVELS] },
    removeAfterMissedSweeps: { type: 'integer', minimum: 1, maximum: 1000 },
    shutdownFlushSeconds: { type: 'number', minimum: 0, maximum: 600 },
    alerts: { type: 'array', items: ALERT_SINK_SCHEMA },
    health: {
      oneOf: [
        { const: false },
        {
          type: 'object',
          additionalProperties: false,
          properties: {
            listen: { type: 'string', minLength: 1 },
            tokenFile: { type: 'string', minLength: 1 },
            tokenEnv: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
          },
        },
      ],
    },
    sites: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'interfaces', 'schedule'],
        properties: {
          name: SITE_NAME,
          interfaces: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
          targets: { type: 'array', items: { type: 'string', minLength: 1 } },
          schedule: { type: 'string', minLength: 1 },
          timezone: { type: 'string', minLength: 1 },
          runAtStart: { type: 'boolean' },
          timeoutSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 300 },
          rate: { type: 'number', minimum: 1, maximum: MAX_RATE_PER_SECOND },
          active: { type: 'boolean' },
          credentialsFile: { type: 'string', minLength: 1 },
          removeAfterMissedSweeps: { type: 'integer', minimum: 1, maximum: 1000 },
          stores: { type: 'array', items: STORE_SPEC_SCHEMA },
        },
      },
    },
  },
} as const;

interface RawSite {
  name: string;
  interfaces: string[];
  targets?: string[];
  schedule: string;
  timezone?: string;
  runAtStart?: boolean;
  timeoutSeconds?: number;
  rate?: number;
  active?: boolean;
  credentialsFile?: string;
  removeAfterMissedSweeps?: number;
  stores?: StoreSpec[];
}

interface RawConfig {
  stateDir?: string;
  logLevel?: Level;
  removeAfterMissedSweeps?: number;
  shutdownFlushSeconds?: number;
  health?: false | { listen?: string; tokenFile?: string; tokenEnv?: string };
  alerts?: AlertSinkConfig[];
  sites: RawSite[];
}

const validate = validatorFor(DAEMON_CONFIG_SCHEMA) as ValidateFunction<RawConfig>;
/** A configuration of hundreds of sites is tens of KiB; a file this large is not one. */
const MAX_CONFIG_BYTES = 1024 * 1024;
/** A bearer token is a line of text. */
const MAX_TOKEN_FILE_BYTES = 64 * 1024;

/** Reads and validates FILE; throws CCTV_ERR_CONFIG_UNREADABLE or CCTV_ERR_BAD_CONFIG. */
export function loadDaemonConfig(file: string, options: LoadOptions): DaemonConfig {
  const path = resolve(file);
  const read = readBoundedTextFile(path, { maxBytes: MAX_CONFIG_BYTES });
  if (!read.ok) throw agentError('CCTV_ERR_CONFIG_UNREADABLE', path, read.reason);
  return parseDaemonConfig(read.text, path, options);
}

/** Validates the text of configuration file `file` (named in the messages; relative paths in it are read from its folder). */
export function parseDaemonConfig(text: string, file: string, options: LoadOptions): DaemonConfig {
  const doc = parseDataDocument(text);
  const name = basename(file);
  const problems: string[] = [];
  const at = (path: DataPath, message: string): void => {
    problems.push(`${name} line ${doc.lineOf(path)}: ${message}`);
  };
  const fail = (): never => {
    throw agentError('CCTV_ERR_BAD_CONFIG', problems.map((p) => `  ${p}`).join('\n'));
  };

  for (const error of doc.syntaxErrors) problems.push(`${name} ${error}`);
  if (problems.length > 0) fail();
  const raw = doc.value;
  if (!validate(raw)) {
    for (const error of storeEntryErrors(validate.errors ?? [], raw)) {
      const { path, message } = configProblem(error);
      at(path, `${dotted(path)}: ${message}`);
    }
    fail();
  }
  const config = raw as RawConfig;
  const env = options.env ?? process.env;
  const fromHere = (p: string): string => resolve(dirname(file), p);

  const health = healthConfig(config, env, fromHere, at);
  const seen = new Set<string>();
  const available = new Set(options.availableInterfaces.map((i) => i.name));
  const sites = config.sites.map((site, i): SiteConfig => {
    const here = (key: string): (string | number)[] => ['sites', i, key];
    const problem = (key: string, message: string): void => at(here(key), `${dotted(here(key))}: ${message}`);
    try {
      assertStoreName('site name', site.name);
    } catch (error) {
      problem('name', messageOf(error));
    }
    if (seen.has(site.name)) problem('name', `site "${site.name}" is named twice; each site needs its own name`);
    seen.add(site.name);
    if (!isCronExpression(site.schedule, site.timezone)) {
      problem(
        'schedule',
        `"${site.schedule}" is not a cron expression (5 fields "minute hour day month weekday", or 6 with seconds first, e.g. "0 */15 * * * *"${site.timezone ? `, in time zone "${site.timezone}"` : ''})`,
      );
    }
    site.interfaces.forEach((iface, j) => {
      if (!available.has(iface)) {
        const why = isLoopbackInterface(iface) ? 'is the loopback interface, which reaches only this machine' : 'does not exist here or has no IPv4 address';
        at(['sites', i, 'interfaces', j], `sites[${i}].interfaces[${j}]: interface "${iface}" ${why} (here: ${[...available].join(', ') || 'none'})`);
      }
    });
    let targets = parseTargets([]);
    try {
      targets = parseTargets(site.targets ?? []);
    } catch (error) {
      problem('targets', messageOf(error));
    }
    let credentials: CredentialStore | undefined;
    const credentialsFile = site.credentialsFile === undefined ? undefined : fromHere(site.credentialsFile);
    if (credentialsFile !== undefined) {
      try {
        credentials = loadCredentials(credentialsFile);
      } catch (error) {
        problem('credentialsFile', messageOf(error));
      }
    }
    return {
      name: site.name,
      interfaces: [...site.interfaces],
      targets,
      schedule: site.schedule,
      ...(site.timezone === undefined ? {} : { timezone: site.timezone }),
      runAtStart: site.runAtStart ?? false,
      timeoutMs: (site.timeoutSeconds ?? DEFAULTS.timeoutSeconds) * 1000,
      ratePerSecond: site.rate ?? DEFAULTS.rate,
      active: site.active ?? true,
      ...(credentialsFile === undefined ? {} : { credentialsFile }),
      ...(credentials === undefined ? {} : { credentials }),
      removeAfterMissedSweeps: site.removeAfterMissedSweeps ?? config.removeAfterMissedSweeps ?? DEFAULTS.removeAfterMissedSweeps,
      stores: site.stores ?? [],
    };
  });
  if (problems.length > 0) fail();

  return {
    file,
    ...(config.stateDir === undefined ? {} : { stateDir: fromHere(config.stateDir) }),
    logLevel: config.logLevel ?? 'info',
    shutdownFlushMs: (config.shutdownFlushSeconds ?? DEFAULTS.shutdownFlushSeconds) * 1000,
    health,
    alerts: (config.alerts ?? []).map((sink) => withFilesFrom(sink, fromHere)),
    sites,
  };
}

/** The sink with its CA, certificate and key files read from the configuration's folder. */
function withFilesFrom(sink: AlertSinkConfig, fromHere: (p: string) => string): AlertSinkConfig {
  const resolved: AlertSinkConfig = { ...sink };
  for (const key of ['caFile', 'certFile', 'keyFile'] as const) {
    const value = (sink as Partial<Record<typeof key, string>>)[key];
    if (value !== undefined) (resolved as Partial<Record<typeof key, string>>)[key] = fromHere(value);
  }
  return resolved;
}

function healthConfig(
  config: RawConfig,
  env: NodeJS.ProcessEnv,
  fromHere: (p: string) => string,
  at: (path: (string | number)[], message: string) => void,
): HealthConfig | null {
  if (config.health === false) return null;
  const raw = config.health ?? {};
  const listen = raw.listen ?? DEFAULT_HEALTH_LISTEN;
  const address = parseListen(listen);
  if (!address) {
    at(['health', 'listen'], `health.listen: "${listen}" is not HOST:PORT with an IP address and a port from 0 to 65535 (e.g. "${DEFAULT_HEALTH_LISTEN}")`);
    return null;
  }
  let token: string | undefined;
  if (raw.tokenFile !== undefined && raw.tokenEnv !== undefined) {
    at(['health', 'tokenEnv'], 'health: give tokenFile or tokenEnv, not both');
  } else if (raw.tokenFile !== undefined) {
    token = readTokenFile(fromHere(raw.tokenFile), (why) => at(['health', 'tokenFile'], `health.tokenFile: ${why}`));
  } else if (raw.tokenEnv !== undefined) {
    token = env[raw.tokenEnv]?.trim() || undefined;
    if (token === undefined) at(['health', 'tokenEnv'], `health.tokenEnv: the environment variable ${raw.tokenEnv} is not set or empty`);
  }
  if (token === undefined && !isLoopback(address.host) && raw.tokenFile === undefined && raw.tokenEnv === undefined) {
    at(
      config.health === undefined ? [] : ['health', 'listen'],
      `health.listen: "${listen}" is reachable from other machines, so the endpoint needs a token: set health.tokenFile or health.tokenEnv, or listen on 127.0.0.1`,
    );
  }
  return { host: address.host, port: address.port, ...(token === undefined ? {} : { token }) };
}

function readTokenFile(file: string, problem: (why: string) => void): string | undefined {
  let exposed: number | undefined;
  const read = readBoundedTextFile(file, {
    maxBytes: MAX_TOKEN_FILE_BYTES,
    inspect(stats) {
      if ((stats.mode & 0o077) !== 0) exposed = stats.mode;
    },
  });
  if (exposed !== undefined) {
    problem(`"${file}" can be read by other users (mode ${(exposed & 0o777).toString(8)}); make it private with "chmod 600 ${file}"`);
    return undefined;
  }
  if (!read.ok) {
    problem(`"${file}" cannot be read (${read.reason})`);
    return undefined;
  }
  const token = read.text.trim();
  if (token === '') problem(`"${file}" is empty`);
  return token || undefined;
}

/** `127.0.0.1:9464`, `[::1]:9464` → host and port; null when malformed. */
export function parseListen(listen: string): { host: string; port: number } | null {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(listen);
  if (!match) return null;
  const host = match[1] ?? match[2] ?? '';
  const port = Number(match[3]);
  if (isIP(host) === 0 || port > 65535) return null;
  return { host, port };
}

export function isLoopback(host: string): boolean {
  return host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

function isCronExpression(pattern: string, timezone: string | undefined): boolean {
  try {
    const job = new Cron(pattern, { paused: true, ...(timezone === undefined ? {} : { timezone }) });
    const valid = job.nextRun() !== null;
    job.stop();
    return valid;
  } catch {
    return false;
  }
}

/**
 * A store entry matches one branch of STORE_SPEC_SCHEMA's anyOf, so ajv reports every branch it
 * missed. Keep only the errors of the branch the entry meant (a string, or the object form whose
 * `type` it names); for an entry that meant none of them, the anyOf error itself.
 */
function storeEntryErrors(errors: readonly ErrorObject[], raw: unknown): ErrorObject[] {
  const entries = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  const entryOf = (e: ErrorObject): string | undefined =>
    [...entries].find((p) => e.instancePath === p || e.instancePath.startsWith(`${p}/`));
  const meantBranch = (entry: string): number => {
    const value = entry.split('/').slice(1).reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], raw);
    return STORE_SPEC_SCHEMA.anyOf.findIndex((branch) =>
      typeof value === 'string'
        ? branch.type === 'string'
        : 'properties' in branch && (value as { type?: unknown } | null)?.type === branch.properties.type.const,
    );
  };
  const seen = new Set<string>();
  return errors.filter((e) => {
    const entry = entryOf(e);
    if (entry === undefined) return true;
    const branch = meantBranch(entry);
    const keep = branch < 0 ? e.keyword === 'anyOf' : e.schemaPath.includes(`/anyOf/${branch}/`);
    const key = `${e.instancePath} ${e.keyword} ${e.message ?? ''}`;
    if (!keep || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The path an ajv error is about, and what is wrong there, in words. */
function configProblem(error: ErrorObject): SchemaProblem {
  if (error.keyword === 'anyOf') {
    return {
      path: schemaProblem(error).path,
      message: `is not a store: give ${storeFormsText()}, or an object whose type is ${stores.map((s) => s.name).join(', ')}`,
    };
  }
  return schemaProblem(error, 'is not a key the daemon knows (check the spelling)');
}

function messageOf(error: unknown): string {
  if (error instanceof AgentError) return error.message.replace(/\.$/, '');
  return error instanceof Error ? error.message : String(error);
}
