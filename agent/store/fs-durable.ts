/**
 * Durable file writes for the file store: atomic replace (temp file in the same folder, write,
 * fsync, rename, fsync the folder) and fsynced appends.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

/** Temp files are `.<name>.<pid>.<random>.tmp` next to their target. */
export const TEMP_SUFFIX = '.tmp';

/** Pretty JSON as the store writes it: 2-space indent, trailing newline. */
export function prettyJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** fsyncs a folder so that a rename or a new entry in it survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (error) {
    // Some platforms (Windows) and file systems cannot fsync a directory; the rename still stands.
    if (!isCode(error, 'EISDIR', 'EINVAL', 'EPERM', 'EBADF', 'ENOTSUP')) throw error;
  } finally {
    await fh?.close();
  }
}

/**
 * mkdir -p, one level at a time. Not `mkdir(dir, { recursive: true })`: Node's recursive mkdir spins
 * forever where a parent exists but cannot hold the child and says ENOENT (procfs, a dangling
 * symlink), e.g. `--store /proc/x/y` (the same loop as oven-sh/bun#36162; seen on Node 20).
 * Returns the first folder it created, or undefined when `dir` already existed. `mode` applies to
 * `dir` itself when it creates it (the parents get the default).
 */
export async function mkdirp(dir: string, mode?: number): Promise<string | undefined> {
  const missing: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    let isDir: boolean;
    try {
      isDir = (await stat(d)).isDirectory();
    } catch (error) {
      if (!isCode(error, 'ENOENT') || dirname(d) === d) throw error;
      missing.push(d);
      continue;
    }
    if (!isDir) {
      const code = missing.length === 0 ? 'EEXIST' : 'ENOTDIR';
      throw Object.assign(new Error(`${code}: ${d} is not a folder`), { code, path: d });
    }
    break;
  }
  let first: string | undefined;
  for (const d of missing.reverse()) {
    try {
      await mkdir(d, d === resolve(dir) && mode !== undefined ? { mode } : {});
      first ??= d;
    } catch (error) {
      if (!isCode(error, 'EEXIST')) throw error; // made meanwhile; a file there fails at the next level
    }
  }
  return first;
}

/** mkdirp, then fsyncs the parent of every folder it created; returns the first one created. */
export async function ensureDir(dir: string, mode?: number): Promise<string | undefined> {
  const first = await mkdirp(dir, mode);
  if (first === undefined) return undefined;
  const parents: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    const parent = dirname(d);
    parents.push(parent);
    if (d === first || parent === d) break;
  }
  for (const p of parents.reverse()) await fsyncDir(p);
  return first;
}

/** Replaces `file` with `data` (text is written as UTF-8) so that readers see the old or the new content, never a mix. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`);
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, 'wx');
    await fh.writeFile(data, typeof data === 'string' ? 'utf8' : undefined);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, file);
  } catch (error) {
    await fh?.close().catch(() => undefined);
    await rm(tmp, { force: true }).catch(() => undefined);
    throw error;
  }
  await fsyncDir(dir);
}

/**
 * Appends `data` to `file` (created if missing) and fsyncs it. If a crash left the file without a
 * final newline, a newline is written first so the new lines stay whole.
 */
export async function appendDurable(file: string, data: string): Promise<void> {
  const fh = await open(file, 'a+');
  let created = false;
  try {
    const { size } = await fh.stat();
    created = size === 0;
    let prefix = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      await fh.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) prefix = '\n';
    }
    await fh.appendFile(prefix + data, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  if (created) await fsyncDir(dirname(file));
}

export function isCode(error: unknown, ...codes: string[]): boolean {
  return typeof error === 'object' && error !== null && codes.includes(String((error as { code?: unknown }).code));
}

/** A file-system error in words for CCTV_ERR_STORE_UNWRITABLE. */
export function describeFsError(error: unknown): string {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  const words: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'the file system is read-only',
    ENOTDIR: 'part of the path is a file, not a folder',
    ENOENT: 'part of the path does not exist and cannot be created',
    EEXIST: 'the path exists and is not a folder',
    ENOSPC: 'the disk is full',
    EDQUOT: 'the disk quota is exceeded',
    EISDIR: 'a folder is in the way of a file',
  };
  if (typeof code === 'string') return words[code] ? `${words[code]}, ${code}` : code;
  return error instanceof Error ? error.message : String(error);
}
