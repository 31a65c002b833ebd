/**
 * Long-lived `ip -batch -` children (iproute2, ip(8): commands read from standard input as they
 * come, a line each), what the scan uses instead of starting one `ip` per command: starting a child
 * from a Node process of a hundred MB costs about 15 ms of CPU (issue 10's profile of the crowd
 * scan). The neighbour deleter (neighbour-release.ts) and the neighbour table reader
 * (neighbour-reader.ts) keep theirs here, so that every one they start is ended and waited for.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/**
 * An interface name as the kernel allows it (IFNAMSIZ 16 with its NUL; no whitespace or '/':
 * net/core/dev.c dev_valid_name), without the characters ip's batch reader treats specially
 * (quotes, backslash and '#': iproute2/iproute2 lib/utils.c@ee2a4a86625688d8c2b468ec15d7ae35a4f5717f
 * makeargs).
 */
const INTERFACE_NAME = /^[^\s/"'\\#]{1,15}$/;

/** Whether `dev` can stand in an `ip -batch` line as one word, unquoted. */
export function isBatchSafeInterfaceName(dev: string): boolean {
  return INTERFACE_NAME.test(dev);
}

/** The `ip` children one user started and has not seen end yet, retired ones included. */
export class IpChildren {
  private readonly running = new Set<ChildProcess>();
  private startedCount = 0;

  /** Children started so far. */
  get started(): number {
    return this.startedCount;
  }

  /** Starts `argv` with its standard input a pipe; writing to one that has just exited is left to its exit to explain. */
  start(argv: readonly string[], output: { stdout: 'pipe' | 'ignore'; stderr: 'pipe' | 'ignore' }): ChildProcess {
    const [command = 'ip', ...args] = argv;
    const child = spawn(command, args, { stdio: ['pipe', output.stdout, output.stderr] });
    this.startedCount++;
    this.running.add(child);
    child.once('close', () => this.running.delete(child));
    child.stdin?.on('error', () => undefined);
    return child;
  }

  /**
   * Ends `child` if it is still running: its standard input closed, so `ip` runs what it was given
   * and exits (do_batch stops at the end of its input: iproute2/iproute2
   * lib/utils.c@ee2a4a86625688d8c2b468ec15d7ae35a4f5717f), or, still there after `waitMs`, SIGTERM
   * to its own PID, and SIGKILL after `waitMs` more; resolves once it has gone.
   */
  end(child: ChildProcess, waitMs: number): Promise<void> {
    if (!this.running.has(child)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const terminate = setTimeout(() => child.kill(), waitMs);
      const kill = setTimeout(() => child.kill('SIGKILL'), 2 * waitMs);
      child.once('close', () => {
        clearTimeout(terminate);
        clearTimeout(kill);
        resolve();
      });
      child.stdin?.end();
    });
  }

  /** Ends every child still running (see end), the retired ones included. */
  async endAll(waitMs: number): Promise<void> {
    await Promise.all([...this.running].map((child) => this.end(child, waitMs)));
  }
}
