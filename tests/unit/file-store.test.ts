import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { diffInventories, recordScan } from '../../agent/pipeline/changes.js';
import type { AgentError } from '../../agent/errors.js';
import type { Logger } from '../../agent/log.js';
import { fileStore, isFileStore, openFileStore, type FileStoreConfig, type FileStoreOptions } from '../../agent/store/file.js';
import { openStore, stores } from '../../agent/store/index.js';
import {
  axisCamera,
  dahuaCamera,
  expectedSecondScanChanges,
  firstScan,
  hikvisionCamera,
  inventory,
  secondScan,
  SITE,
  storeContract,
} from './store-contract.js';

const silent: Logger = pino({ level: 'silent' });

function captureLog(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

const tempDirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cctv-file-store-'));
  tempDirs.push(dir);
  return dir;
}

const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of tempDirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** Every file under `dir`, relative, sorted. */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

async function rejection(promise: Promise<unknown>): Promise<AgentError> {
  try {
    await promise;
  } catch (error) {
    return error as AgentError;
  }
  throw new Error('expected a rejection');
}

async function newStore(options: FileStoreOptions = {}, log: Logger = silent) {
  const dir = join(await tempDir(), 'store');
  return { dir, store: await openFileStore(dir, log, options) };
}

/** A separate node process holding DIR/.lock the way another run would, for `holdMs`. */
async function lockHolder(dir: string, holdMs: number): Promise<ChildProcess> {
  const script = `
    const fs = require('node:fs'), os = require('node:os');
    const [lock, ms] = process.argv.slice(1);
    fs.writeFileSync(lock, JSON.stringify({ pid: process.pid, hostname: os.hostname(), startedAt: new Date().toISOString() }) + '\\n', { flag: 'wx' });
    process.stdout.write('locked\\n');
    setTimeout(() => { fs.unlinkSync(lock); process.exit(0); }, Number(ms));
  `;
  const child = spawn(process.execPath, ['-e', script, join(dir, '.lock'), String(holdMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (b: Buffer) => b.toString().includes('locked') && resolve());
    child.once('exit', (code) => reject(new Error(`lock holder exited early (${code})`)));
  });
  return child;
}

function firmwareScan(n: number) {
  const hik = hikvisionCamera();
  hik.identity.firmware = `V5.7.${n}`;
  const minute = String(n).padStart(2, '0');
  return inventory({
    id: `20260311T10${minute}00Z-${String(n).padStart(6, '0')}`,
    startedAt: `2026-03-11T10:${minute}:00.000Z`,
    finishedAt: `2026-03-11T10:${minute}:30.000Z`,
    devices: [hik],
  });
}

// ---- the shared contract, through the registry ----------------------------------------------

/** The file store has no outbox; the folder it is given must stay untouched. */
async function openCtx(log: Logger = silent) {
  return { log, stateDir: join(await tempDir(), 'unused-state') };
}

storeContract('file', async () => {
  const dir = join(await tempDir(), 'store');
  const ctx = await openCtx();
  const store = await openStore(dir, ctx);
  const spec: FileStoreConfig = { type: 'file', dir };
  const absent = join(await tempDir(), 'mistyped', 'store');
  return {
    store,
    reopen: () => openStore(spec, ctx),
    delivered: async () => {
      const reader = await openFileStore(dir, silent);
      // Saved in time order, so listing by startedAt is the order they were written.
      return (await reader.listScans(SITE)).map((s) => s.id);
    },
    events: async (site) => (await openFileStore(dir, silent)).readChanges(site),
    readsBack: true,
    readSpec: dir,
    absent: { spec: absent, exists: async () => existsSync(join(absent, '..')) },
    cleanup: async () => {
      expect(existsSync(ctx.stateDir)).toBe(false);
      await rm(dir, { recursive: true, force: true });
    },
  };
});

// ---- file-store specifics ------------------------------------------------------------------

describe('file store: registry and open()', () => {
  it('is the registered store for folder paths and file: URLs, not for other URLs', async () => {
    expect(stores).toContain(fileStore);
    expect(fileStore.accepts('./cctv-inventory')).toBe(true);
    expect(fileStore.accepts('/var/lib/cctv-agent')).toBe(true);
    expect(fileStore.accepts('file:///var/lib/cctv-agent')).toBe(true);
    expect(fileStore.accepts('https://inventory.example.org/push')).toBe(false);
    expect(fileStore.accepts('')).toBe(false);
    const err = await rejection(openStore('ftp://inventory.example.org/push', await openCtx()));
    expect(err.code).toBe('CCTV_ERR_BAD_OPTION');
  });

  it('opens a file: URL as its path', async () => {
    const dir = join(await tempDir(), 'via-url');
    const store = await openStore(pathToFileURL(dir).href, await openCtx());
    expect(isFileStore(store) && store.dir).toBe(dir);
    await recordScan(store, firstScan());
    expect(existsSync(join(dir, 'sites', SITE, 'inventory.json'))).toBe(true);
  });

  it('creates the folder (and its parents) and leaves it empty', async () => {
    const dir = join(await tempDir(), 'a', 'b', 'store');
    const store = await openFileStore(dir, silent);
    expect(store.dir).toBe(dir);
    expect(await readdir(dir)).toEqual([]);
    expect(await store.latest(SITE)).toBeNull();
  });

  it('fails fast with CCTV_ERR_STORE_UNWRITABLE under a regular file, writing nothing', async () => {
    const parent = await tempDir();
    await writeFile(join(parent, 'file.txt'), 'not a folder\n');
    const dir = join(parent, 'file.txt', 'store');
    const err = await rejection(openFileStore(dir, silent));
    expect(err.code).toBe('CCTV_ERR_STORE_UNWRITABLE');
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain(dir);
    expect(err.message).toContain('ENOTDIR');
    expect(await tree(parent)).toEqual(['file.txt']);
    expect(await readFile(join(parent, 'file.txt'), 'utf8')).toBe('not a folder\n');
  });

  it('fails fast with CCTV_ERR_STORE_UNWRITABLE when the path is a regular file', async () => {
    const parent = await tempDir();
    await writeFile(join(parent, 'store'), 'x');
    const err = await rejection(openFileStore(join(parent, 'store'), silent));
    expect(err.code).toBe('CCTV_ERR_STORE_UNWRITABLE');
    expect(await tree(parent)).toEqual(['store']);
  });

  it('fails fast with CCTV_ERR_STORE_UNWRITABLE under /proc', async () => {
    const dir = `/proc/cctv-agent-test-${process.pid}/store`;
    const err = await rejection(openStore(dir, await openCtx()));
    expect(err.code).toBe('CCTV_ERR_STORE_UNWRITABLE');
    expect(existsSync(`/proc/cctv-agent-test-${process.pid}`)).toBe(false);
  });

  it('fails fast with CCTV_ERR_STORE_UNWRITABLE through a dangling symlink', async () => {
    const parent = await tempDir();
    await symlink(join(parent, 'unmounted-disk'), join(parent, 'dangling'));
    const err = await rejection(openFileStore(join(parent, 'dangling', 'store'), silent));
    expect(err.code).toBe('CCTV_ERR_STORE_UNWRITABLE');
    expect(await readdir(parent)).toEqual(['dangling']);
  });

  it.skipIf(process.getuid?.() === 0)('fails fast in a read-only folder and removes the folders it created', async () => {
    const parent = await tempDir();
    await mkdir(join(parent, 'ro'));
    await writeFile(join(parent, 'ro', 'keep.txt'), 'x');
    await chmod(join(parent, 'ro'), 0o500);
    try {
      const err = await rejection(openFileStore(join(parent, 'ro', 'store'), silent));
      expect(err.code).toBe('CCTV_ERR_STORE_UNWRITABLE');
      expect(await readdir(join(parent, 'ro'))).toEqual(['keep.txt']);
    } finally {
      await chmod(join(parent, 'ro'), 0o700);
    }
  });
});

describe('file store: layout on disk', () => {
  it('writes scans/<site>/<scanId>.json, sites/<site>/inventory.json and sites/<site>/changes.ndjson', async () => {
    const { dir, store } = await newStore();
    const first = await recordScan(store, firstScan());
    expect(first.location).toBe(join(dir, 'scans', SITE, '20260302T081500Z-4f1a2b.json'));
    await recordScan(store, secondScan());
    expect(await tree(dir)).toEqual([
      `scans/${SITE}/20260302T081500Z-4f1a2b.json`,
      `scans/${SITE}/20260309T081500Z-9c3d7e.json`,
      `sites/${SITE}/changes.ndjson`,
      `sites/${SITE}/inventory.json`,
    ]);
  });

  it('writes pretty JSON (2 spaces) ending with a newline; inventory.json is the latest scan document', async () => {
    const { dir, store } = await newStore();
    await recordScan(store, firstScan());
    await recordScan(store, secondScan());
    const pretty = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
    expect(await readFile(join(dir, 'scans', SITE, '20260302T081500Z-4f1a2b.json'), 'utf8')).toBe(pretty(firstScan()));
    expect(await readFile(join(dir, 'scans', SITE, '20260309T081500Z-9c3d7e.json'), 'utf8')).toBe(pretty(secondScan()));
    expect(await readFile(join(dir, 'sites', SITE, 'inventory.json'), 'utf8')).toBe(pretty(secondScan()));
  });

  it('appends to changes.ndjson, one event per line, never rewriting earlier lines', async () => {
    const { dir, store } = await newStore();
    const file = join(dir, 'sites', SITE, 'changes.ndjson');
    const first = await recordScan(store, firstScan());
    const afterFirst = await readFile(file, 'utf8');
    expect(afterFirst.endsWith('\n')).toBe(true);
    expect(afterFirst.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual(first.events);

    const second = await recordScan(store, secondScan());
    const afterSecond = await readFile(file, 'utf8');
    expect(afterSecond.startsWith(afterFirst)).toBe(true);
    expect(afterSecond.trimEnd().split('\n')).toHaveLength(first.events.length + second.events.length);

    // A save with no changes leaves the log as it was.
    const same = secondScan();
    same.scan.id = '20260310T081500Z-000000';
    expect((await recordScan(store, same)).events).toEqual([]);
    expect(await readFile(file, 'utf8')).toBe(afterSecond);

    expect(await store.readChanges(SITE)).toEqual([...first.events, ...expectedSecondScanChanges()]);
  });

  it('logs exactly the change events it is given (the daemon debounces removals), computing none', async () => {
    const { dir, store } = await newStore();
    await recordScan(store, firstScan());
    const given = expectedSecondScanChanges().filter((e) => e.type !== 'device-removed');
    await store.save(secondScan(), given);
    const logged = await readFile(join(dir, 'sites', SITE, 'changes.ndjson'), 'utf8');
    expect(logged.trimEnd().split('\n').slice(3).map((l) => JSON.parse(l) as unknown)).toEqual(given);
    await store.save(firstScan(), []);
    expect(await readFile(join(dir, 'sites', SITE, 'changes.ndjson'), 'utf8')).toBe(logged);
  });

  it('leaves no temp files and no lock behind', async () => {
    const { dir, store } = await newStore();
    await Promise.all([recordScan(store, firstScan()), recordScan(store, secondScan()), recordScan(store, firstScan('depot-north'))]);
    const all = await readdir(dir, { recursive: true });
    expect(all.filter((f) => /\.tmp$|\.lock|\.probe|\.stale/.test(f))).toEqual([]);
  });

  it('starts a fresh changes.ndjson line if a crash left the last one unfinished', async () => {
    const { dir, store } = await newStore();
    await recordScan(store, firstScan());
    const file = join(dir, 'sites', SITE, 'changes.ndjson');
    await writeFile(file, `${await readFile(file, 'utf8')}{"type":"device-add`);
    await recordScan(store, secondScan());
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
    expect(lines[3]).toBe('{"type":"device-add');
    expect(lines.slice(4).map((l) => JSON.parse(l) as unknown)).toEqual(expectedSecondScanChanges());
  });
});

describe('file store: reading API', () => {
  it('lists sites, scans (oldest first), loads scans and reads changes', async () => {
    const { store } = await newStore();
    // Saved out of time order: listScans still lists by startedAt.
    await recordScan(store, secondScan());
    await recordScan(store, firstScan());
    await recordScan(store, firstScan('depot-north'));
    expect(await store.listSites()).toEqual(['depot-north', SITE]);
    expect(await store.listScans(SITE)).toEqual([
      { site: SITE, id: '20260302T081500Z-4f1a2b', startedAt: '2026-03-02T08:15:00.000Z', finishedAt: '2026-03-02T08:15:42.517Z' },
      { site: SITE, id: '20260309T081500Z-9c3d7e', startedAt: '2026-03-09T08:15:00.000Z', finishedAt: '2026-03-09T08:15:39.004Z' },
    ]);
    expect(await store.loadScan(SITE, '20260309T081500Z-9c3d7e')).toEqual(secondScan());
    expect(await store.loadScan(SITE, '20200101T000000Z-000000')).toBeNull();
    // "Latest" is the last saved.
    expect(await store.latest(SITE)).toEqual(firstScan());
    expect((await store.readChanges(SITE)).map((e) => e.scanId)).toContain('20260302T081500Z-4f1a2b');
  });

  it('answers empty for a site it does not know', async () => {
    const { store } = await newStore();
    expect(await store.listSites()).toEqual([]);
    expect(await store.listScans(SITE)).toEqual([]);
    expect(await store.loadScan(SITE, '20260302T081500Z-4f1a2b')).toBeNull();
    expect(await store.readChanges(SITE)).toEqual([]);
  });
});

describe('file store: names', () => {
  const bad = ['', '.', '..', '../evil', '..%2fevil', 'a/b', 'a\\b', '/etc', '.hidden', '-dash', 'x'.repeat(65), 'town hall', 'café', 'a\0b'];

  it.each(bad)('rejects the site name %j with CCTV_ERR_BAD_NAME and writes nothing', async (site) => {
    const parent = await tempDir();
    const dir = join(parent, 'store');
    const store = await openFileStore(dir, silent);
    const err = await rejection(recordScan(store, firstScan(site)));
    expect(err.code).toBe('CCTV_ERR_BAD_NAME');
    expect(err.exitCode).toBe(2);
    expect(await tree(parent)).toEqual([]);
    for (const read of [store.latest(site), store.listScans(site), store.readChanges(site), store.loadScan(site, 'x')]) {
      expect((await rejection(read)).code).toBe('CCTV_ERR_BAD_NAME');
    }
  });

  it('rejects a path-traversing scan id', async () => {
    const parent = await tempDir();
    const store = await openFileStore(join(parent, 'store'), silent);
    const doc = firstScan();
    doc.scan.id = '../../sites/town-hall/inventory';
    expect((await rejection(recordScan(store, doc))).code).toBe('CCTV_ERR_BAD_NAME');
    expect((await rejection(store.loadScan(SITE, '../../../etc/passwd'))).code).toBe('CCTV_ERR_BAD_NAME');
    expect(await tree(parent)).toEqual([]);
  });

  it('accepts names of 1 to 64 safe characters', async () => {
    const { store } = await newStore();
    for (const site of ['a', 'x'.repeat(64), 'Site_1.2-b', '0']) {
      await recordScan(store, firstScan(site));
      expect(await store.latest(site)).toEqual(firstScan(site));
    }
  });
});

describe('file store: corrupt files', () => {
  it('names the file when inventory.json is not JSON, and save() writes nothing then', async () => {
    const { dir, store } = await newStore();
    await recordScan(store, firstScan());
    const file = join(dir, 'sites', SITE, 'inventory.json');
    await writeFile(file, '{"schema": "cctv-inventory/v1", "scan": {');
    const err = await rejection(store.latest(SITE));
    expect(err.code).toBe('CCTV_ERR_STORE_CORRUPT');
    expect(err.message).toContain(file);
    const before = await tree(dir);
    expect((await rejection(recordScan(store, secondScan()))).code).toBe('CCTV_ERR_STORE_CORRUPT');
    expect(await tree(dir)).toEqual(before);
  });

  it('rejects a document that is not an inventory of that site', async () => {
    const { dir, store } = await newStore();
    await recordScan(store, firstScan());
    const file = join(dir, 'scans', SITE, '20260302T081500Z-4f1a2b.json');
    await writeFile(file, JSON.stringify(firstScan('depot-north')));
    const err = await rejection(store.loadScan(SITE, '20260302T081500Z-4f1a2b'));
    expect(err.code).toBe('CCTV_ERR_STORE_CORRUPT');
    expect(err.message).toContain('depot-north');
    expect((await rejection(store.listScans(SITE))).code).toBe('CCTV_ERR_STORE_CORRUPT');
    await writeFile(file, '[1, 2, 3]\n');
    expect((await rejection(store.loadScan(SITE, '20260302T081500Z-4f1a2b'))).message).toContain(file);
  });

  it('names the file and line of a bad change log line', async () => {
    const { dir, store } = await newStore();
    await recordScan(store, firstScan());
    const file = join(dir, 'sites', SITE, 'changes.ndjson');
    const lines = (await readFile(file, 'utf8')).split('\n');
    lines[1] = 'garbage';
    await writeFile(file, lines.join('\n'));
    const err = await rejection(store.readChanges(SITE));
    expect(err.code).toBe('CCTV_ERR_STORE_CORRUPT');
    expect(err.message).toContain(file);
    expect(err.message).toContain('line 2');
  });
});

describe('file store: ordering and closing', () => {
  it('applies saves made without awaiting in the order they were made', async () => {
    const { store } = await newStore();
    const events = [1, 2, 3, 4, 5].map((n) => diffInventories(n === 1 ? null : firmwareScan(n - 1), firmwareScan(n)));
    await Promise.all([1, 2, 3, 4, 5].map((n) => store.save(firmwareScan(n), events[n - 1] ?? [])));
    expect(await store.latest(SITE)).toEqual(firmwareScan(5));
    expect(await store.readChanges(SITE)).toEqual(events.flat());
  });

  it('waits for saves in flight on close(), then refuses new calls', async () => {
    const { store } = await newStore();
    const saving = store.save(firstScan(), []);
    await store.close();
    await expect(saving).resolves.toMatchObject({ location: expect.any(String) as unknown });
    await expect(recordScan(store, secondScan())).rejects.toThrow(/closed/);
    await expect(store.latest(SITE)).rejects.toThrow(/closed/);
  });
});

describe('file store: lock', () => {
  it('waits for a lock held by another live process, then saves', async () => {
    const { dir, store } = await newStore({ lockPollMs: 20 });
    const holdMs = 700;
    const child = await lockHolder(dir, holdMs);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const t0 = Date.now();
    const result = await recordScan(store, firstScan());
    expect(Date.now() - t0).toBeGreaterThanOrEqual(holdMs - 250);
    expect(result.events).toHaveLength(3);
    await exited;
    expect(existsSync(join(dir, '.lock'))).toBe(false);
  });

  it('fails with CCTV_ERR_STORE_LOCKED when a live holder keeps the lock past the wait, touching nothing', async () => {
    const { dir, store } = await newStore({ lockTimeoutMs: 300, lockPollMs: 20 });
    const child = await lockHolder(dir, 15_000);
    const lockBefore = await readFile(join(dir, '.lock'), 'utf8');
    const t0 = Date.now();
    const err = await rejection(recordScan(store, firstScan()));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(err.code).toBe('CCTV_ERR_STORE_LOCKED');
    expect(err.message).toContain(`pid ${child.pid}`);
    expect(err.message).toContain(join(dir, '.lock'));
    expect(await readFile(join(dir, '.lock'), 'utf8')).toBe(lockBefore);
    expect(await tree(dir)).toEqual(['.lock']);
  });

  it('takes over, with a warning, a lock left by a run that was killed', async () => {
    const { log, lines } = captureLog();
    const { dir, store } = await newStore({ lockTimeoutMs: 5_000, lockPollMs: 20 }, log);
    const child = await lockHolder(dir, 60_000);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    const t0 = Date.now();
    await recordScan(store, firstScan());
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(existsSync(join(dir, '.lock'))).toBe(false);
    const warning = lines.find((l) => l.level === 40);
    expect(warning?.msg).toMatch(/stale store lock/);
    expect(JSON.stringify(warning)).toContain(String(child.pid));
  });

  it('takes over a lock file naming a dead pid on this host', async () => {
    const { log, lines } = captureLog();
    const { dir, store } = await newStore({ lockTimeoutMs: 5_000 }, log);
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    await writeFile(join(dir, '.lock'), JSON.stringify({ pid: dead, hostname: hostname(), startedAt: '2026-03-01T00:00:00.000Z' }));
    await recordScan(store, firstScan());
    expect(await store.latest(SITE)).toEqual(firstScan());
    expect(existsSync(join(dir, '.lock'))).toBe(false);
    expect(lines.some((l) => l.level === 40 && /stale/.test(String(l.msg)))).toBe(true);
    expect(await readdir(dir)).not.toContain(expect.stringMatching(/stale/));
  });

  it('takes over a lock naming this very process that an earlier run left (a restarted container is PID 1 again)', async () => {
    const { log, lines } = captureLog();
    const { dir, store } = await newStore({ lockTimeoutMs: 5_000 }, log);
    await writeFile(join(dir, '.lock'), JSON.stringify({ pid: process.pid, hostname: hostname(), startedAt: '2026-03-01T00:00:00.000Z', token: 'earlier-run' }));
    const t0 = Date.now();
    await recordScan(store, firstScan());
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(existsSync(join(dir, '.lock'))).toBe(false);
    expect(lines.some((l) => l.level === 40 && /earlier run/.test(String(l.msg)))).toBe(true);
  });

  it('waits for (and does not take over) a lock of another host, whose pid it cannot check', async () => {
    const { dir, store } = await newStore({ lockTimeoutMs: 200, lockPollMs: 20 });
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    await writeFile(join(dir, '.lock'), JSON.stringify({ pid: dead, hostname: `not-${hostname()}`, startedAt: '2026-03-01T00:00:00.000Z' }));
    const err = await rejection(recordScan(store, firstScan()));
    expect(err.code).toBe('CCTV_ERR_STORE_LOCKED');
    expect(err.message).toContain(`not-${hostname()}`);
  });

  it('takes over an empty lock file at once: a live run never shows one (the lock appears whole)', async () => {
    const { dir, store } = await newStore({ lockTimeoutMs: 200, lockPollMs: 20 });
    const lock = join(dir, '.lock');
    await writeFile(lock, '');
    await recordScan(store, firstScan());
    expect(existsSync(lock)).toBe(false);
  });

  it('takes over an empty lock file when the store is opened, before a scan sends anything', async () => {
    const dir = join(await tempDir(), 'store');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, '.lock'), '');
    const { log, lines } = captureLog();
    await openFileStore(dir, log, { lockTimeoutMs: 200, lockPollMs: 20 });
    expect(existsSync(join(dir, '.lock'))).toBe(false);
    expect(lines.map((l) => l.msg).join('\n')).toMatch(/took over a stale store lock: the lock file is empty/);
  });

  it('removes the temporary files and set-aside locks that killed saves left, and nothing else, when opened', async () => {
    const dir = join(await tempDir(), 'store');
    const leftovers = [
      join(dir, '.lock.4242.1a2b3c4d.tmp'),
      join(dir, '.lock.stale-4242-0d7c1c0e-8d1f-4d55-9d8e-4a3a4d9f0b11'),
      join(dir, 'scans', SITE, '.20261205T101500Z-0001.json.4242.0a1b2c3d.tmp'),
      join(dir, 'sites', SITE, '.inventory.json.4242.0a1b2c3d.tmp'),
    ];
    const kept = [join(dir, 'sites', SITE, 'inventory.json.bak'), join(dir, 'sites', SITE, '.notes'), join(dir, 'scans', SITE, 'x.tmp')];
    await mkdir(join(dir, 'scans', SITE), { recursive: true });
    await mkdir(join(dir, 'sites', SITE), { recursive: true });
    for (const file of [...leftovers, ...kept]) await writeFile(file, 'partial');
    const { log, lines } = captureLog();
    await openFileStore(dir, log);
    for (const file of leftovers) expect(existsSync(file), file).toBe(false);
    for (const file of kept) expect(existsSync(file), file).toBe(true);
    expect(lines.find((l) => l.files === leftovers.length)?.msg).toMatch(/removed temporary files/);
  });

  it('recomputes the change events when another run saved the same site between reading and saving', async () => {
    const dir = join(await tempDir(), 'store');
    const mine = await openFileStore(dir, silent);
    const other = await openFileStore(dir, silent);
    await recordScan(mine, firstScan());
    let interleaved = false;
    const racing = {
      latest: async (site: string) => {
        const seen = await mine.latest(site);
        if (!interleaved) {
          interleaved = true;
          await recordScan(other, firmwareScan(2)); // the other run saves after this one has read
        }
        return seen;
      },
      save: mine.save.bind(mine),
    };
    const { events } = await recordScan(racing, firmwareScan(3));
    expect(events).toEqual(diffInventories(firmwareScan(2), firmwareScan(3)));
    const log = await mine.readChanges(SITE);
    expect(log.filter((e) => e.scanId === firmwareScan(3).scan.id)).toEqual(events);
    expect((await mine.latest(SITE))?.scan.id).toBe(firmwareScan(3).scan.id);
  });

  it('waits for a fresh unreadable lock file, and takes over an old one', async () => {
    const { dir, store } = await newStore({ lockTimeoutMs: 200, lockPollMs: 20 });
    const lock = join(dir, '.lock');
    await writeFile(lock, '{"pid": 12');
    expect((await rejection(recordScan(store, firstScan()))).code).toBe('CCTV_ERR_STORE_LOCKED');
    const old = new Date(Date.now() - 5 * 60_000);
    await utimes(lock, old, old);
    await recordScan(store, firstScan());
    expect(existsSync(lock)).toBe(false);
  });

  it('keeps two store instances on one folder from interleaving their saves', async () => {
    const dir = join(await tempDir(), 'store');
    const a = await openFileStore(dir, silent, { lockPollMs: 2 });
    const b = await openFileStore(dir, silent, { lockPollMs: 2 });
    const n = 12;
    // Each save gives three events of its own scan: the log must hold them three by three, never mixed.
    const eventsOf = (i: number) => diffInventories(null, inventory({ ...firmwareScan(i).scan, devices: [hikvisionCamera(), dahuaCamera(), axisCamera()] }));
    await Promise.all(Array.from({ length: n }, (_, i) => (i % 2 ? b : a).save(firmwareScan(i + 1), eventsOf(i + 1))));
    const events = await a.readChanges(SITE);
    expect(events).toHaveLength(3 * n);
    const order = events.filter((_, i) => i % 3 === 0).map((e) => e.scanId);
    expect(events).toEqual(order.flatMap((id) => eventsOf(Number(id.slice(-6)))));
    // The current inventory is the document of the save that committed last.
    expect((await a.latest(SITE))?.scan.id).toBe(order.at(-1));
    expect(await a.listScans(SITE)).toHaveLength(n);
    expect(existsSync(join(dir, '.lock'))).toBe(false);
  });
});
