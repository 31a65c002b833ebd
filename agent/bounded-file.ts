/**
 * Reading a file the operator names (a handover schedule, a configuration, a credentials or secret
 * file, a knowledge file) without trusting what is at that path: only a regular file is read, and
 * never more than its cap. A FIFO, /dev/zero, /dev/urandom, a terminal or a socket never ends, so
 * reading one "until the end" hangs or fills memory, and the size stat() gives says nothing about
 * them (it is 0). The file is opened non-blocking, so opening a FIFO nobody writes to returns at
 * once (open(2), O_NONBLOCK), and fstat(2) on the open descriptor says what it is, with no window
 * for the path to be swapped between the check and the read.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';

/** Bytes asked of the kernel per read after the first (which asks for the size stat gives). */
const READ_CHUNK_BYTES = 1024 * 1024;

/** `bytes` are the file as read (a digest of the file is one of them); `text` their UTF-8 decoding. */
export type BoundedRead = { ok: true; text: string; bytes: Buffer } | { ok: false; reason: string };
/** The file's bytes, for a caller that decodes them only when it needs the text. */
export type BoundedBytes = { ok: true; bytes: Buffer } | { ok: false; reason: string };

export interface BoundedReadOptions {
  /** The most bytes a real file of this kind needs; a larger one is refused, never cut. */
  maxBytes: number;
  /**
   * Looks at the regular file before a byte is read (its mode, its size); it throws the caller's
   * own coded error to refuse it.
   */
  inspect?: (stats: Stats) => void;
}

/** What a file that is not a regular one is, in an admin's words. */
function kind(stats: Stats): string {
  if (stats.isDirectory()) return 'a folder';
  if (stats.isFIFO()) return 'a named pipe (FIFO)';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  if (stats.isSocket()) return 'a socket';
  return 'a special file';
}

const errnoReason = (error: unknown): string => {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? 'no such file' : (code ?? String(error));
};

/**
 * Reads `file` as UTF-8 when it is a regular file of at most `maxBytes`; otherwise says why not.
 * Never blocks on a pipe and never reads past the cap; throws only what `inspect` throws.
 */
export function readBoundedTextFile(file: string, options: BoundedReadOptions): BoundedRead {
  const read = readBoundedFile(file, options);
  return read.ok ? { ok: true, text: read.bytes.toString('utf8'), bytes: read.bytes } : read;
}

/** readBoundedTextFile without the decoding: the bytes of a regular file of at most `maxBytes`, or why not. */
export function readBoundedFile(file: string, options: BoundedReadOptions): BoundedBytes {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    return { ok: false, reason: errnoReason(error) };
  }
  try {
    let stats: Stats;
    try {
      stats = fstatSync(fd);
    } catch (error) {
      return { ok: false, reason: errnoReason(error) };
    }
    if (!stats.isFile()) return { ok: false, reason: `it is ${kind(stats)}, not a regular file; give the path of the file itself` };
    options.inspect?.(stats);
    return readAtMost(fd, options.maxBytes, stats.size);
  } finally {
    closeSync(fd);
  }
}

/** The smallest chunk read after the first: enough to see the end of a file that grew a little. */
const MIN_LATER_CHUNK_BYTES = 4096;

/**
 * Reads to the end or to one byte past the cap: stat's size may be out of date (a file still being
 * written). The first chunk is sized from stat's size (plus the byte that shows the end), so a file
 * as large as stat says is read whole at once (issue 10, start-up time: the 1.4 MB oui.json took
 * three reads and a copy); after a read that did not fill its chunk the next only looks for the end
 * (MIN_LATER_CHUNK_BYTES), after one that did it is as large as what was read so far (at most
 * a megabyte), so reading many small files does not zero a megabyte buffer for each (issue 10,
 * start-up memory).
 */
function readAtMost(fd: number, maxBytes: number, statSize: number): BoundedBytes {
  const chunks: Buffer[] = [];
  let length = 0;
  let filled = false;
  try {
    for (;;) {
      const wanted = chunks.length === 0 ? statSize + 1 : filled ? Math.min(READ_CHUNK_BYTES, Math.max(length, MIN_LATER_CHUNK_BYTES)) : MIN_LATER_CHUNK_BYTES;
      const chunk = Buffer.alloc(Math.min(maxBytes + 1, wanted));
      const read = readSync(fd, chunk, 0, chunk.length, null);
      if (read === 0) break;
      chunks.push(chunk.subarray(0, read));
      length += read;
      filled = read === chunk.length;
      if (length > maxBytes) return { ok: false, reason: `it is larger than ${maxBytes} bytes, more than such a file needs` };
    }
  } catch (error) {
    return { ok: false, reason: errnoReason(error) };
  }
  return { ok: true, bytes: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length) };
}
