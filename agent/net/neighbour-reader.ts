/**
 * Reading the kernel neighbour tables for a whole scan through one long-lived `ip` per address
 * family instead of one `ip` per read (issue 10: a scan of an on-link /22 reads the IPv4 table about
 * fifty times, and each `ip` started cost about 15 ms of the agent's CPU).
 *
 * `ip -4 -json -stats -batch -` runs each line of its standard input as an `ip` command
 * (iproute2/iproute2 ip/ip.c@ee2a4a86625688d8c2b468ec15d7ae35a4f5717f batch → lib/utils.c do_batch).
 * The family must be given on its command line: each batch line starts from it again (ip.c
 * ip_batch_cmd restores preferred_family), and `-4` is no word a batch line may start with. Each
 * `neigh show [dev X]` line prints its table as one JSON array, `[]` when empty, on a line of its
 * own, flushed at once (ip/ipneigh.c do_show_or_flush: new_json_obj … delete_json_obj;
 * lib/json_writer.c jsonw_destroy writes "\n" and fflush), so a read is a line written and the next
 * line read. A command that fails (a device that has gone) ends `ip`: do_batch stops at the first
 * without `-force`, which this reader relies on to see the failure.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { IpChildren, isBatchSafeInterfaceName } from './ip-batch.js';

const run = promisify(execFile);

export type NeighbourFamily = '-4' | '-6';

/** Reads the text of one family's neighbour table (one interface's, or all of this namespace's) as `ip -json -stats neigh show` prints it. */
export interface NeighbourTableSource {
  read(family: NeighbourFamily, dev?: string): Promise<string>;
}

/**
 * The most `ip -json -stats neigh` output read: a full table of gc_thresh3 (1,024 by default)
 * entries is about 150 KB; this leaves room for tables raised thirty-fold.
 */
export const TABLE_TEXT_LIMIT_BYTES = 4 * 1024 * 1024;
/** How long one read may take: a table at TABLE_TEXT_LIMIT_BYTES is printed in well under a second. */
export const READ_TIMEOUT_MS = 5000;
/**
 * Reads one `ip` answers before the next read starts another. iproute2's batch mode keeps memory for
 * every `neigh del` it runs (neighbour-release.ts); `neigh show` measured flat (iproute2 6.1: 2.5 MB
 * of peak RSS after 1 and after 30,000 reads of a 256-row table), so this only bounds what another
 * version might keep: a scan of an on-link /22 reads about fifty times.
 */
export const READS_PER_PROCESS = 1000;
/** How long close() lets an `ip` finish its last line before it is killed. */
const CLOSE_WAIT_MS = 1000;
/** The end of `ip`'s standard error kept to say why it ended. */
const STDERR_TAIL_BYTES = 512;

/** The `ip -batch` line that prints `dev`'s table (every interface's without one); null when `dev` cannot stand in a batch line. */
export function showLine(dev?: string): string | null {
  if (!dev) return 'neigh show\n';
  return isBatchSafeInterfaceName(dev) ? `neigh show dev ${dev}\n` : null;
}

/** Splits a child's standard output into lines, refusing a line longer than `limitBytes`. */
export class OutputLines {
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly limitBytes: number) {}

  /** Takes a chunk; returns the lines it completed (without their "\n"), or 'overflow' once the line under way is longer than the limit. */
  push(chunk: Buffer): string[] | 'overflow' {
    const lines: string[] = [];
    let rest = chunk;
    for (let end = rest.indexOf(0x0a); end !== -1; end = rest.indexOf(0x0a)) {
      if (this.size + end > this.limitBytes) return 'overflow';
      lines.push(Buffer.concat([...this.chunks, rest.subarray(0, end)]).toString('utf8'));
      this.chunks = [];
      this.size = 0;
      rest = rest.subarray(end + 1);
    }
    if (this.size + rest.length > this.limitBytes) return 'overflow';
    if (rest.length > 0) {
      this.chunks.push(rest);
      this.size += rest.length;
    }
    return lines;
  }
}

/** `ip` ended, or could not start, before it answered: the read is tried once more with a new one. */
class IpGone extends Error {}

interface Limits {
  timeoutMs: number;
  limitBytes: number;
  readsPerProcess: number;
}

/** One family's `ip -batch -`, started at its first read, replaced after `readsPerProcess` reads or when it fails; reads one at a time, in order. */
class BatchTable {
  private child: ChildProcess | null = null;
  private readsByChild = 0;
  private pending: { resolve: (text: string) => void; reject: (error: Error) => void } | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly argv: readonly string[],
    private readonly children: IpChildren,
    private readonly limits: Limits,
  ) {}

  read(line: string): Promise<string> {
    const result = this.queue.then(async () => {
      try {
        return await this.exchange(line);
      } catch (error) {
        if (error instanceof IpGone) return this.exchange(line);
        throw error;
      }
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Resolves once every read asked so far has its answer or its failure. */
  settled(): Promise<unknown> {
    return this.queue;
  }

  private exchange(line: string): Promise<string> {
    const child = this.current();
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(child, new Error(`ip did not print the neighbour table within ${this.limits.timeoutMs} ms`)), this.limits.timeoutMs);
      this.pending = {
        resolve: (text) => {
          clearTimeout(timer);
          resolve(text);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      child.stdin?.write(line);
    });
  }

  /** The `ip` for the next read: the running one, or a new one when there is none or it has answered its share. */
  private current(): ChildProcess {
    if (this.child !== null && this.readsByChild < this.limits.readsPerProcess) return this.child;
    // Its share answered: it exits at the end of its input, waited for at close.
    if (this.child !== null) void this.children.end(this.child, CLOSE_WAIT_MS);
    const child = this.children.start(this.argv, { stdout: 'pipe', stderr: 'pipe' });
    this.child = child;
    this.readsByChild = 0;
    const lines = new OutputLines(this.limits.limitBytes);
    let stderrTail = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      if (this.child !== child) return;
      const got = lines.push(chunk);
      if (got === 'overflow') return this.fail(child, new Error(`ip printed a neighbour table longer than ${this.limits.limitBytes} bytes`));
      for (const text of got) {
        const pending = this.pending;
        // A line nobody asked for: the output is out of step with the reads.
        if (pending === null) return this.fail(child, new Error('ip printed a line no read asked for'));
        this.pending = null;
        this.readsByChild++;
        pending.resolve(text);
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderrTail = (stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
    });
    child.on('error', (error) => this.gone(child, `cannot run ${this.argv.join(' ')}: ${error.message}`));
    child.on('close', (code, signal) => this.gone(child, `${this.argv.join(' ')} exited (${code ?? signal}) before printing the table${stderrTail ? `: ${stderrTail.trim()}` : ''}`));
    return child;
  }

  /** `child` ended or could not start: the read waiting on it is tried again with a new one. */
  private gone(child: ChildProcess, reason: string): void {
    if (this.child !== child) return;
    this.child = null;
    const pending = this.pending;
    this.pending = null;
    pending?.reject(new IpGone(reason));
  }

  /** The read waiting on `child` fails with `error`, and `child` is killed: what it prints next would be out of step. */
  private fail(child: ChildProcess, error: Error): void {
    if (this.child !== child) return;
    this.child = null;
    child.kill();
    const pending = this.pending;
    this.pending = null;
    pending?.reject(error);
  }
}

export interface NeighbourReader extends NeighbourTableSource {
  /** Reads asked so far. */
  readonly reads: number;
  /** `ip` processes started so far. */
  readonly processesStarted: number;
  /** Lets the reads asked before it finish, then ends every `ip` it started and waits until each has gone; reads after it fail. */
  close(): Promise<void>;
}

/**
 * The scan's neighbour table reads, one `ip -json -stats -batch -` per family (`-6` only when
 * read), started at its first read. A read fails, as a one-shot `ip` would, when `ip` does not print
 * the table within READ_TIMEOUT_MS or prints more than TABLE_TEXT_LIMIT_BYTES (the `ip` is killed
 * and the next read starts another), or when a new `ip` ends before printing it too (what a
 * one-shot `ip` that cannot read the table does). An interface name a batch line cannot carry is
 * read by a one-shot `ip`. `command` replaces `ip` (tests: `ip -n <namespace>`, or a stand-in).
 */
export function openNeighbourReader(options: { command?: readonly string[] } & Partial<Limits> = {}): NeighbourReader {
  const command = options.command ?? ['ip'];
  const limits: Limits = {
    timeoutMs: options.timeoutMs ?? READ_TIMEOUT_MS,
    limitBytes: options.limitBytes ?? TABLE_TEXT_LIMIT_BYTES,
    readsPerProcess: options.readsPerProcess ?? READS_PER_PROCESS,
  };
  const children = new IpChildren();
  const tables = new Map<NeighbourFamily, BatchTable>();
  const oneShot = oneShotReader(command, limits);
  let closed = false;
  let reads = 0;
  return {
    read(family, dev) {
      if (closed) return Promise.reject(new Error('the neighbour table reader is closed'));
      reads++;
      const line = showLine(dev);
      if (line === null) return oneShot.read(family, dev);
      let table = tables.get(family);
      if (!table) {
        table = new BatchTable([...command, family, '-json', '-stats', '-batch', '-'], children, limits);
        tables.set(family, table);
      }
      return table.read(line);
    },
    get reads() {
      return reads;
    },
    get processesStarted() {
      return children.started;
    },
    async close() {
      closed = true;
      await Promise.all([...tables.values()].map((table) => table.settled()));
      await children.endAll(CLOSE_WAIT_MS);
    },
  };
}

/** One `ip -json -stats neigh show` per read: reads made outside a scan. */
export const oneShotNeighbourTables: NeighbourTableSource = oneShotReader(['ip'], { timeoutMs: READ_TIMEOUT_MS, limitBytes: TABLE_TEXT_LIMIT_BYTES });

function oneShotReader(command: readonly string[], limits: Pick<Limits, 'timeoutMs' | 'limitBytes'>): NeighbourTableSource {
  const [program = 'ip', ...prefix] = command;
  return {
    async read(family, dev) {
      const { stdout } = await run(program, [...prefix, '-json', '-stats', family, 'neigh', 'show', ...(dev ? ['dev', dev] : [])], { timeout: limits.timeoutMs, maxBuffer: limits.limitBytes });
      return stdout;
    },
  };
}
