/**
 * The file store, the agent's default: one folder (the --store DIR) holding
 *
 *   DIR/.lock                          while a save runs (see lock.ts)
 *   DIR/scans/<site>/<scanId>.json     one document per scan: the full Inventory
 *   DIR/sites/<site>/inventory.json    the site's current inventory: the last saved scan's document
 *   DIR/sites/<site>/changes.ndjson    append-only change log, one ChangeEvent per line
 *
 * JSON is pretty-printed (2 spaces, trailing newline). Documents are replaced atomically
 * (fs-durable.ts); the change log is appended with fsync. A save writes, in this order, the scan
 * document, the change events, then inventory.json: a crash part-way repeats events on the next
 * save rather than losing them.
 *
 * "Latest" means the last one saved, not the one with the latest timestamps. Saving a scan id
 * again replaces its document. The store records the change events it is given (changes.ts
 * computes them) and computes none itself.
 *
 * Opened for reading (openReader: the read commands), the folder must exist: nothing is created
 * and no lock is taken (documents are replaced by rename, so a reader sees the old or the new one).
 *
 * Opened for writing, the lock is taken once at once, before the caller sends anything: a live
 * save of another run is waited for, a lock left by a run that is gone is taken over, and the
 * temporary files interrupted saves left behind are removed. A save given a precondition (see
 * SavePrecondition) checks it under the lock, so two runs saving one site never lose an event.
 */
import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChangeEvent } from '../pipeline/changes.js';
import { AgentError, agentError } from '../errors.js';
import type { Logger } from '../log.js';
import { INVENTORY_SCHEMA_ID, type Inventory } from '../types.js';
import type { HandoverSignOff } from '../handover/verify.js';
import { appendDurable, describeFsError, ensureDir, isCode, prettyJson, TEMP_SUFFIX, writeFileAtomic } from './fs-durable.js';
import { acquireLock } from './lock.js';
import { assertStoreName, isStoreName } from './names.js';
import type { HandoverRecords, InventoryStore, ObjectSpecSchema, SavePrecondition, SaveResult, ScanReader, ScanSummary, StoreDefinition, StoreSpec, StoreStatus } from './types.js';

const STORE_NAME = 'file';

/** The object form: `{ type: file, dir }`. */
export interface FileStoreConfig {
  type: typeof STORE_NAME;
  dir: string;
}

/** The file store, with the extra reading API of a local folder. */
export interface FileStore extends InventoryStore {
  readonly name: typeof STORE_NAME;
  /** The store folder, absolute. */
  readonly dir: string;
  /** Sites that have a folder under DIR/sites, sorted. */
  listSites(): Promise<string[]>;
  /** The site's change log in the order it was written; [] when there is none. */
  readChanges(site: string): Promise<ChangeEvent[]>;
}

export interface FileStoreOptions {
  /** How long a save waits for another run's lock before CCTV_ERR_STORE_LOCKED. Default 10 s. */
  lockTimeoutMs?: number;
  /** How often a waiting save looks at the lock again. Default 100 ms. */
  lockPollMs?: number;
}

const SPEC_SCHEMA: ObjectSpecSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'dir'],
  properties: { type: { const: STORE_NAME }, dir: { type: 'string', minLength: 1 } },
};

/** The folder a string or object spec names. */
function specDir(spec: StoreSpec): string {
  if (typeof spec === 'string') return /^file:/i.test(spec) ? fileURLToPath(spec) : spec;
  if (spec.type !== STORE_NAME) throw new TypeError(`the file store cannot open a "${spec.type}" spec`);
  return (spec as FileStoreConfig).dir;
}

export const fileStore: StoreDefinition = {
  name: STORE_NAME,
  description: 'JSON files in a local folder (the default): DIR/scans/<site>/<scan>.json, DIR/sites/<site>/',
  form: 'a folder (the embedded JSON store)',
  readsBack: true,
  specSchema: SPEC_SCHEMA,
  accepts(spec) {
    if (spec.trim() === '') return false;
    if (/^file:/i.test(spec)) return true;
    return !/^[A-Za-z][A-Za-z0-9+.-]+:\/\//.test(spec); // other URL schemes belong to other stores
  },
  label(spec) {
    return typeof spec === 'string' ? spec : `file:${specDir(spec)}`;
  },
  open(spec, { log }) {
    return openFileStore(specDir(spec), log);
  },
  async openReader(spec) {
    const dir = resolve(specDir(spec));
    let info;
    try {
      info = await stat(dir);
    } catch (error) {
      if (isCode(error, 'ENOENT', 'ENOTDIR')) throw agentError('CCTV_ERR_STORE_NOT_FOUND', dir, 'there is no such folder');
      throw agentError('CCTV_ERR_STORE_UNREADABLE', dir, describeFsError(error));
    }
    if (!info.isDirectory()) throw agentError('CCTV_ERR_STORE_NOT_FOUND', dir, 'it is a file, not a folder');
    return { name: STORE_NAME, ...folderReader(dir), handovers: folderHandovers(dir) };
  },
};

/** The largest handover record read back: a sign-off of a few thousand devices is far smaller. */
const MAX_HANDOVER_RECORD_BYTES = 16 * 1024 * 1024;

/**
 * Handover sign-offs in DIR/sites/<site>/handovers/<scan>.json, each written atomically (a second
 * verify of the same scan replaces the first whole; no lock is needed for a file of its own).
 */
function folderHandovers(dir: string): HandoverRecords {
  const paths = folderPaths(dir);
  return {
    async save(site, record) {
      assertStoreName('site name', site);
      assertStoreName('scan id', record.scanId);
      const file = paths.handover(site, record.scanId);
      try {
        await ensureDir(dirname(file));
        await writeFileAtomic(file, prettyJson(record));
      } catch (error) {
        throw agentError('CCTV_ERR_STORE_UNWRITABLE', dir, describeFsError(error));
      }
      return file;
    },
    async load(site, scanId) {
      assertStoreName('site name', site);
      if (!isStoreName(scanId)) return null;
      let text: string;
      try {
        const file = paths.handover(site, scanId);
        if ((await stat(file)).size > MAX_HANDOVER_RECORD_BYTES) return null;
        text = await readFile(file, 'utf8');
      } catch (error) {
        if (isCode(error, 'ENOENT', 'ENOTDIR')) return null;
        throw agentError('CCTV_ERR_STORE_UNREADABLE', dir, describeFsError(error));
      }
      try {
        const doc = JSON.parse(text) as Partial<HandoverSignOff>;
        const whole = typeof doc.ok === 'boolean' && doc.scanId === scanId && typeof doc.verifiedAt === 'string' && typeof doc.schedule?.sha256 === 'string' &&
          Array.isArray(doc.matched) && Array.isArray(doc.missing) && Array.isArray(doc.unexpected) && Array.isArray(doc.linked);
        return whole ? (doc as HandoverSignOff) : null;
      } catch {
        return null;
      }
    },
  };
}

export function isFileStore(store: InventoryStore): store is FileStore {
  return store.name === STORE_NAME && typeof (store as Partial<FileStore>).readChanges === 'function';
}

function folderPaths(dir: string) {
  return {
    scanDir: (site: string) => join(dir, 'scans', site),
    scan: (site: string, scanId: string) => join(dir, 'scans', site, `${scanId}.json`),
    siteDir: (site: string) => join(dir, 'sites', site),
    inventory: (site: string) => join(dir, 'sites', site, 'inventory.json'),
    changes: (site: string) => join(dir, 'sites', site, 'changes.ndjson'),
    handover: (site: string, scanId: string) => join(dir, 'sites', site, 'handovers', `${scanId}.json`),
  };
}

/** Everything the file store reads, from folder `dir` (absolute). */
function folderReader(dir: string): ScanReader & Pick<FileStore, 'listSites' | 'readChanges'> {
  const paths = folderPaths(dir);
  return {
    async listSites() {
      const entries = await listDir(join(dir, 'sites'));
      return entries
        .filter((e) => e.isDirectory() && isStoreName(e.name))
        .map((e) => e.name)
        .sort();
    },

    async listScans(site?: string) {
      if (site !== undefined) assertStoreName('site name', site);
      const sites = site === undefined ? (await listDir(join(dir, 'scans'))).filter((e) => e.isDirectory() && isStoreName(e.name)).map((e) => e.name) : [site];
      const summaries: ScanSummary[] = [];
      for (const s of sites) {
        for (const e of await listDir(paths.scanDir(s))) {
          if (!e.isFile() || !e.name.endsWith('.json')) continue;
          const id = e.name.slice(0, -'.json'.length);
          if (!isStoreName(id)) continue; // temp files start with a dot
          const doc = await readInventoryFile(join(paths.scanDir(s), e.name), s);
          if (!doc) continue; // removed meanwhile
          summaries.push({ site: s, id, startedAt: doc.scan.startedAt, finishedAt: doc.scan.finishedAt });
        }
      }
      return sortScans(summaries);
    },

    async loadScan(site: string, scanId: string) {
      assertStoreName('site name', site);
      assertStoreName('scan id', scanId);
      return readInventoryFile(paths.scan(site, scanId), site);
    },

    async loadInventory(site: string) {
      assertStoreName('site name', site);
      return readInventoryFile(paths.inventory(site), site);
    },

    async readChanges(site: string) {
      assertStoreName('site name', site);
      const file = paths.changes(site);
      let raw: string;
      try {
        raw = await readFile(file, 'utf8');
      } catch (error) {
        if (isCode(error, 'ENOENT')) return [];
        throw agentError('CCTV_ERR_STORE_CORRUPT', file, describeFsError(error));
      }
      const events: ChangeEvent[] = [];
      raw.split('\n').forEach((line, i) => {
        if (line.trim() === '') return;
        let event: unknown;
        try {
          event = JSON.parse(line);
        } catch {
          throw agentError('CCTV_ERR_STORE_CORRUPT', file, `line ${i + 1} is not valid JSON`);
        }
        if (!isChangeEvent(event)) throw agentError('CCTV_ERR_STORE_CORRUPT', file, `line ${i + 1} is not a change event`);
        events.push(event);
      });
      return events;
    },
  };
}

/** Oldest first: by startedAt, then site, then id (the order ScanReader.listScans promises). */
export function sortScans(scans: ScanSummary[]): ScanSummary[] {
  return scans.sort((a, b) => compare(a.startedAt, b.startedAt) || compare(a.site, b.site) || compare(a.id, b.id));
}

/**
 * Opens (creating if needed) the store folder and proves it writable by creating and removing a
 * probe file. Fails with CCTV_ERR_STORE_UNWRITABLE, leaving nothing behind, when it cannot.
 */
export async function openFileStore(spec: string, log: Logger, options: FileStoreOptions = {}): Promise<FileStore> {
  const dir = resolve(spec);
  const storeLog = log.child({ module: 'store/file' });
  await probeWritable(dir);
  const lockTimeoutMs = options.lockTimeoutMs ?? 10_000;
  const lockPollMs = options.lockPollMs ?? 100;
  const releaseOpeningLock = await acquireLock(dir, { timeoutMs: lockTimeoutMs, pollMs: lockPollMs, log: storeLog });
  try {
    const removed = await removeLeftovers(dir);
    if (removed.length > 0) storeLog.info({ dir, files: removed.length }, 'removed temporary files that interrupted saves left behind');
  } finally {
    await releaseOpeningLock();
  }
  storeLog.debug({ dir }, 'opened the file store');

  const paths = folderPaths(dir);
  const reader = folderReader(dir);
  /** Saves of this instance run one after another; the lock file orders them against other runs. */
  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;
  /** The file store has no outbox: a save is delivered when it resolves. */
  const status: StoreStatus = { outboxDepth: 0, lastDeliveryAt: null, lastError: null, reachable: null };
  /** Runs `read` unless the store is closed. */
  const whileOpen = async <T>(read: () => Promise<T>): Promise<T> => {
    if (closed) throw new Error(`the file store "${dir}" is closed`);
    return read();
  };

  /** The document to save, as the bytes both of its files get: serialised and encoded once, when save() is called. */
  interface Snapshot {
    site: string;
    scanId: string;
    devices: number;
    bytes: Buffer;
  }

  async function commit({ site, scanId, devices, bytes }: Snapshot, events: ChangeEvent[], precondition: SavePrecondition | undefined): Promise<SaveResult> {
    const release = await acquireLock(dir, { timeoutMs: lockTimeoutMs, pollMs: lockPollMs, log: storeLog });
    try {
      if (precondition && ((await reader.loadInventory(site))?.scan.id ?? null) !== precondition.basedOn) {
        throw agentError('CCTV_ERR_STORE_CONFLICT', dir, site);
      }
      const scanFile = paths.scan(site, scanId);
      try {
        await ensureDir(paths.scanDir(site));
        await ensureDir(paths.siteDir(site));
        await writeFileAtomic(scanFile, bytes);
        if (events.length > 0) {
          await appendDurable(paths.changes(site), events.map((e) => `${JSON.stringify(e)}\n`).join(''));
        }
        await writeFileAtomic(paths.inventory(site), bytes);
      } catch (error) {
        if (error instanceof AgentError) throw error;
        throw agentError('CCTV_ERR_STORE_UNWRITABLE', dir, describeFsError(error));
      }
      storeLog.debug({ site, scanId, file: scanFile, devices, changes: events.length }, 'saved the inventory');
      status.lastDeliveryAt = new Date().toISOString();
      return { location: scanFile };
    } finally {
      await release();
    }
  }

  return {
    name: STORE_NAME,
    dir,

    save(inventory, events, precondition) {
      let snapshot: Snapshot;
      let given: ChangeEvent[];
      try {
        if (closed) throw new Error(`the file store "${dir}" is closed`);
        if (inventory.schema !== INVENTORY_SCHEMA_ID) {
          throw new TypeError(`the file store saves ${INVENTORY_SCHEMA_ID} documents, not "${String(inventory.schema)}"`);
        }
        assertStoreName('site name', inventory.scan.site);
        assertStoreName('scan id', inventory.scan.id);
        if (!Array.isArray(events)) throw new TypeError('the change events must be an array');
        // Serialised now, so that changes the caller makes after save() returns are not stored: the
        // bytes are the copy (one serialisation and one encoding, where a parsed copy took three
        // serialisations and each file its own encoding: issue 10, the scan's exit).
        snapshot = { site: inventory.scan.site, scanId: inventory.scan.id, devices: inventory.devices.length, bytes: Buffer.from(prettyJson(inventory), 'utf8') };
        given = structuredClone([...events]);
      } catch (error) {
        return Promise.reject(error);
      }
      const result = queue.then(() => commit(snapshot, given, precondition));
      queue = result.then(
        () => Object.assign(status, { lastError: null, reachable: true }),
        (error: unknown) => Object.assign(status, { lastError: (error as Error).message, reachable: false }),
      );
      return result;
    },

    latest: (site) => whileOpen(() => reader.loadInventory(site)),
    loadInventory: (site) => whileOpen(() => reader.loadInventory(site)),
    listScans: (site) => whileOpen(() => reader.listScans(site)),
    loadScan: (site, scanId) => whileOpen(() => reader.loadScan(site, scanId)),
    listSites: () => whileOpen(() => reader.listSites()),
    readChanges: (site) => whileOpen(() => reader.readChanges(site)),

    async flush() {
      await queue;
      return true;
    },

    status() {
      return { ...status };
    },

    async close() {
      closed = true;
      await queue;
    },
  };
}

/**
 * Creates DIR if needed and creates + removes a probe file in it. On failure, removes the folders
 * it created and throws CCTV_ERR_STORE_UNWRITABLE.
 */
async function probeWritable(dir: string): Promise<void> {
  let created: string | undefined;
  try {
    created = await ensureDir(dir);
    const probe = join(dir, `.probe-${process.pid}-${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`);
    const fh = await open(probe, 'wx');
    try {
      await fh.writeFile('cctv-agent store probe\n');
    } finally {
      await fh.close();
      await rm(probe, { force: true });
    }
  } catch (error) {
    if (created) await removeCreated(dir, created);
    throw agentError('CCTV_ERR_STORE_UNWRITABLE', dir, describeFsError(error));
  }
}

/** `.<name>.<pid>.<random>.tmp` (fs-durable.ts, lock.ts) and `.lock.stale-…` (lock.ts takeover). */
const LEFTOVER = new RegExp(`^\\..+\\${TEMP_SUFFIX}$|^\\.lock\\.stale-`);

/**
 * Removes what interrupted saves left in the store: temporary files and set-aside stale locks, in
 * DIR and in every site's folders. Call it only while holding the lock (no save of any run is then
 * writing). Returns the paths removed.
 */
async function removeLeftovers(dir: string): Promise<string[]> {
  const folders = [dir];
  for (const area of ['scans', 'sites']) {
    for (const entry of await listDir(join(dir, area))) if (entry.isDirectory()) folders.push(join(dir, area, entry.name));
  }
  const removed: string[] = [];
  for (const folder of folders) {
    for (const entry of await listDir(folder)) {
      if (!entry.isFile() || !LEFTOVER.test(entry.name)) continue;
      const path = join(folder, entry.name);
      await rm(path, { force: true });
      removed.push(path);
    }
  }
  return removed;
}

/** Removes the empty folders from `dir` up to and including `first`. */
async function removeCreated(dir: string, first: string): Promise<void> {
  for (let d = dir; ; d = dirname(d)) {
    await rmdir(d).catch(() => undefined);
    if (d === first || dirname(d) === d) return;
  }
}

async function listDir(path: string) {
  try {
    return await readdir(path, { withFileTypes: true });
  } catch (error) {
    if (isCode(error, 'ENOENT')) return [];
    throw agentError('CCTV_ERR_STORE_CORRUPT', path, describeFsError(error));
  }
}

/** Reads a stored inventory of `site`; null when the file does not exist. */
export async function readInventoryFile(file: string, site: string): Promise<Inventory | null> {
  let raw: string;
  try {
    raw = await readFile(file, 'utf8');
  } catch (error) {
    if (isCode(error, 'ENOENT')) return null;
    throw agentError('CCTV_ERR_STORE_CORRUPT', file, describeFsError(error));
  }
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch (error) {
    throw agentError('CCTV_ERR_STORE_CORRUPT', file, `not valid JSON: ${(error as Error).message}`);
  }
  const why = inventoryProblem(doc, site);
  if (why) throw agentError('CCTV_ERR_STORE_CORRUPT', file, why);
  return doc as Inventory;
}

/** Why `doc` is not a readable inventory of `site`, or null. */
export function inventoryProblem(doc: unknown, site: string): string | null {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return 'not a JSON object';
  const d = doc as Record<string, unknown>;
  if (d.schema !== INVENTORY_SCHEMA_ID) return `not a ${INVENTORY_SCHEMA_ID} document`;
  const scan = d.scan as Record<string, unknown> | null | undefined;
  if (typeof scan !== 'object' || scan === null) return 'it has no scan section';
  for (const key of ['id', 'site', 'startedAt', 'finishedAt'] as const) {
    if (typeof scan[key] !== 'string') return `scan.${key} is missing`;
  }
  if (scan.site !== site) return `it belongs to site "${String(scan.site)}", not "${site}"`;
  if (!Array.isArray(d.devices)) return 'it has no devices list';
  return null;
}

function isChangeEvent(v: unknown): v is ChangeEvent {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  return ['type', 'at', 'site', 'scanId', 'deviceId', 'ip'].every((k) => typeof e[k] === 'string');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
