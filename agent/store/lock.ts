/**
 * The store lock: `DIR/.lock`, created with O_EXCL and holding {pid, hostname, startedAt, token}.
 *
 * - A lock held by a pid that no longer runs on this host is stale: it is taken over, with a warning.
 *   So is one naming this very process that this process did not take: an earlier run that got the
 *   same pid, as a restarted container's PID 1 does.
 * - A lock held by a live pid, or by another host (which cannot be checked), is waited for,
 *   polling, up to a bounded time; then CCTV_ERR_STORE_LOCKED.
 * - The lock file appears whole: its content is written to a temporary file first, then hard-linked
 *   to `.lock` (link(2) fails with EEXIST like O_EXCL). So an empty lock file was never a live run's
 *   (it is left by a run of an older version, or one killed on a file system without hard links,
 *   where the lock is created with O_EXCL and then written): it is stale at once. A lock file that
 *   has content but cannot be parsed is stale once it is older than `garbledStaleMs`.
 *
 * Takeover renames the stale file aside and checks it is still the one judged stale before
 * deleting it, so two runs that both see the same stale lock cannot remove each other's fresh one.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { link, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { agentError } from '../errors.js';
import type { Logger } from '../log.js';
import { describeFsError, isCode, TEMP_SUFFIX } from './fs-durable.js';

export const LOCK_FILE = '.lock';

export interface LockHolder {
  pid: number;
  hostname: string;
  startedAt: string;
  token?: string;
}

export interface LockOptions {
  /** How long to wait for a live holder. */
  timeoutMs: number;
  /** How often to look again while waiting. */
  pollMs: number;
  /** When an unparseable lock file counts as stale. */
  garbledStaleMs?: number;
  log: Logger;
}

export type ReleaseLock = () => Promise<void>;

/** Tokens of the locks this process holds now, to tell them from an earlier run's with the same pid. */
const heldTokens = new Set<string>();

/** Takes `DIR/.lock`, waiting for a live holder; resolves to the function that releases it. */
export async function acquireLock(dir: string, options: LockOptions): Promise<ReleaseLock> {
  const lockPath = join(dir, LOCK_FILE);
  const garbledStaleMs = options.garbledStaleMs ?? 60_000;
  const deadline = Date.now() + options.timeoutMs;
  const token = randomUUID();
  const mine: LockHolder = { pid: process.pid, hostname: hostname(), startedAt: '', token };

  for (;;) {
    mine.startedAt = new Date().toISOString();
    const content = `${JSON.stringify(mine)}\n`;
    // Registered before the file exists, so that another acquirer in this process never sees it unregistered.
    heldTokens.add(token);
    let created = false;
    try {
      created = await tryCreate(lockPath, content, dir);
    } finally {
      if (!created) heldTokens.delete(token);
    }
    if (created) return releaser(lockPath, content, token, options.log);

    let raw: string;
    try {
      raw = await readFile(lockPath, 'utf8');
    } catch (error) {
      if (isCode(error, 'ENOENT')) continue; // released meanwhile
      throw agentError('CCTV_ERR_STORE_UNWRITABLE', dir, describeFsError(error));
    }
    const holder = parseHolder(raw);
    let stale: string | null = null;
    if (holder && holder.hostname === mine.hostname && !isAlive(holder.pid)) {
      stale = `pid ${holder.pid} on this host is no longer running`;
    } else if (holder && holder.hostname === mine.hostname && holder.pid === process.pid && !heldTokens.has(holder.token ?? '')) {
      stale = `it names this process (pid ${holder.pid}) but was left by an earlier run`;
    } else if (!holder && raw.trim() === '') {
      stale = 'the lock file is empty: the run that made it was stopped before it wrote its name';
    } else if (!holder && (await ageMs(lockPath)) > garbledStaleMs) {
      stale = 'the lock file is unreadable and old';
    }
    if (stale) {
      if (await takeOver(lockPath, raw)) {
        options.log.warn({ lock: lockPath, holder: holder ?? raw }, `took over a stale store lock: ${stale}`);
      }
      continue;
    }
    if (Date.now() >= deadline) {
      throw agentError('CCTV_ERR_STORE_LOCKED', dir, describeHolder(holder, lockPath));
    }
    await sleep(Math.max(1, Math.min(options.pollMs, deadline - Date.now())));
  }
}

/** Creates the lock file whole (see the header); false when another run holds it. */
async function tryCreate(lockPath: string, content: string, dir: string): Promise<boolean> {
  // `.lock.<pid>.<random>.tmp`: the file store removes such leftovers when it opens (file.ts).
  const temp = `${lockPath}.${process.pid}.${randomUUID().slice(0, 8)}${TEMP_SUFFIX}`;
  try {
    await writeSynced(temp, content, 'wx');
    try {
      await link(temp, lockPath);
      return true;
    } catch (error) {
      // ENOENT: a store opening under the lock removed our temporary file as a leftover; try again.
      if (isCode(error, 'EEXIST', 'ENOENT')) return false;
      if (!isCode(error, 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV')) throw error;
    }
    // No hard links on this file system: O_EXCL, then the content (a kill in between leaves it empty).
    await writeSynced(lockPath, content, 'wx');
    return true;
  } catch (error) {
    if (isCode(error, 'EEXIST')) return false;
    throw agentError('CCTV_ERR_STORE_UNWRITABLE', dir, describeFsError(error));
  } finally {
    await rm(temp, { force: true }).catch(() => undefined);
  }
}

async function writeSynced(file: string, content: string, flags: string): Promise<void> {
  const fh = await open(file, flags);
  try {
    await fh.writeFile(content, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function releaser(lockPath: string, content: string, token: string, log: Logger): ReleaseLock {
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    heldTokens.delete(token);
    try {
      if ((await readFile(lockPath, 'utf8')) === content) await rm(lockPath, { force: true });
      else log.warn({ lock: lockPath }, 'the store lock was taken over by another run while this one held it');
    } catch (error) {
      if (!isCode(error, 'ENOENT')) throw error;
      log.warn({ lock: lockPath }, 'the store lock disappeared while this run held it');
    }
  };
}

/** Moves the stale lock aside; puts it back if it turned out to be another run's fresh one. */
async function takeOver(lockPath: string, staleRaw: string): Promise<boolean> {
  const aside = `${lockPath}.stale-${process.pid}-${randomUUID()}`;
  try {
    await rename(lockPath, aside);
  } catch (error) {
    if (isCode(error, 'ENOENT')) return false;
    throw error;
  }
  try {
    if ((await readFile(aside, 'utf8')) === staleRaw) return true;
    await link(aside, lockPath).catch(() => undefined); // not ours to remove: restore unless replaced
    return false;
  } finally {
    await rm(aside, { force: true });
  }
}

export function parseHolder(raw: string): LockHolder | null {
  try {
    const v: unknown = JSON.parse(raw);
    if (typeof v !== 'object' || v === null) return null;
    const o = v as Record<string, unknown>;
    if (typeof o.pid !== 'number' || !Number.isInteger(o.pid) || o.pid <= 0) return null;
    if (typeof o.hostname !== 'string' || typeof o.startedAt !== 'string') return null;
    const holder: LockHolder = { pid: o.pid, hostname: o.hostname, startedAt: o.startedAt };
    if (typeof o.token === 'string') holder.token = o.token;
    return holder;
  } catch {
    return null;
  }
}

/** Whether `pid` runs on this host (EPERM: it runs, as another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return !isCode(error, 'ESRCH');
  }
}

function describeHolder(holder: LockHolder | null, lockPath: string): string {
  if (!holder) return `lock file ${lockPath}, unreadable`;
  return `pid ${holder.pid} on host ${holder.hostname} since ${holder.startedAt}, lock file ${lockPath}`;
}

async function ageMs(file: string): Promise<number> {
  try {
    return Date.now() - (await stat(file)).mtimeMs;
  } catch {
    return 0;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
