/**
 * Deleting the neighbour (ARP) entries a scan made, so that their places in the kernel's table come
 * back at once instead of when the kernel lets them go (issue 10: a live host's entry is held about
 * 35 s, an unanswered one 3 s; net/neighbour-budget.ts).
 *
 * Deleting an entry (RTM_DELNEIGH, what `ip neigh del` sends) first makes it FAILED, which stops its
 * timer and drops the timer's reference, then takes it out of the table and out of the collector's
 * count (torvalds/linux net/core/neighbour.c neigh_delete: __neigh_update to NUD_FAILED, then
 * neigh_remove_one → neigh_mark_dead decrements gc_entries). Measured on kernel 6.18 in two lab
 * namespaces: a REACHABLE entry with `ref 1` and an INCOMPLETE one both vanish from `ip -s neigh` at
 * once. A later packet to the address simply resolves it again.
 *
 * It needs CAP_NET_ADMIN (rtnetlink checks it for RTM_DELNEIGH); without it the scan leaves the
 * entries to the kernel, as before. Node has no netlink socket, so one `ip -force -batch -` process
 * (iproute2, ip(8): commands read from standard input as they come, `-force` goes on after an error)
 * takes every deletion of a scan, a line each: one process, not one per address.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import type { Logger } from '../log.js';

/** CAP_NET_ADMIN's bit in the capability sets (include/uapi/linux/capability.h). */
const CAP_NET_ADMIN_BIT = 12n;
/** An interface name as the kernel allows it (IFNAMSIZ 16 with its NUL; no whitespace or '/': net/core/dev.c dev_valid_name), without the characters ip's batch reader treats specially. */
const INTERFACE_NAME = /^[^\s/"'\\#]{1,15}$/;
/** ip(8) reading commands from standard input, going on after a failed one. */
const IP_BATCH = ['ip', '-force', '-batch', '-'];
/** How long close() waits for `ip` to finish the deletions written to it. */
const CLOSE_WAIT_MS = 2000;

/** Whether this process's effective capabilities hold CAP_NET_ADMIN (`CapEff` of /proc/self/status, proc(5)). */
export function hasNetAdmin(status: () => string = () => readFileSync('/proc/self/status', 'utf8')): boolean {
  try {
    const effective = /^CapEff:\s*([0-9a-f]+)$/im.exec(status())?.[1];
    return effective !== undefined && ((BigInt(`0x${effective}`) >> CAP_NET_ADMIN_BIT) & 1n) === 1n;
  } catch {
    return false;
  }
}

/** The deletion command one line of `ip -batch` takes, or null when `ip`/`dev` are not an IPv4 address and an interface name. */
export function deletionLine(ip: string, dev: string): string | null {
  return isIPv4(ip) && INTERFACE_NAME.test(dev) ? `neigh del ${ip} dev ${dev}\n` : null;
}

export interface NeighbourDeleter {
  /** Deletes `ip`'s entry on interface `dev` (in the background); false when the line was refused or `ip` is gone. */
  delete(ip: string, dev: string): boolean;
  /** Deletions handed to `ip` so far. */
  readonly handed: number;
  /** Lets `ip` finish the deletions handed to it, then ends it. */
  close(): Promise<void>;
}

/**
 * One `ip -force -batch -` for a scan's deletions, started at the first; null without
 * CAP_NET_ADMIN. Errors (an entry already gone: "No such file or directory") are the kernel's
 * answer to an entry the scan had no more reason to delete: ignored. If `ip` cannot be started or
 * dies, deletion stops and the kernel frees the entries as before (logged once).
 */
export function openNeighbourDeleter(log: Logger, options: { mayAdminister?: () => boolean; argv?: readonly string[] } = {}): NeighbourDeleter | null {
  if (!(options.mayAdminister ?? hasNetAdmin)()) return null;
  const [command = 'ip', ...args] = options.argv ?? IP_BATCH;
  let child: ChildProcess | null = null;
  let broken = false;
  let closing = false;
  let handed = 0;
  const stop = (reason: string): void => {
    if (broken) return;
    broken = true;
    log.warn({ reason }, 'cannot delete the scan’s own neighbour entries: the kernel frees them in its own time, so large on-link ranges take longer');
  };
  const start = (): ChildProcess => {
    const started = spawn(command, args, { stdio: ['pipe', 'ignore', 'ignore'] });
    started.on('error', (error) => stop(error.message));
    started.stdin?.on('error', (error) => stop(error.message));
    started.on('exit', (code) => {
      if (child === started && !closing) stop(`ip exited (${code ?? 'signal'})`);
    });
    return started;
  };
  return {
    delete(ip, dev) {
      const line = deletionLine(ip, dev);
      if (line === null || broken || closing) return false;
      child ??= start();
      child.stdin?.write(line);
      handed++;
      return true;
    },
    get handed() {
      return handed;
    },
    async close() {
      closing = true;
      const running = child;
      if (running === null || running.exitCode !== null || running.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          running.kill();
          resolve();
        }, CLOSE_WAIT_MS);
        running.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        running.stdin?.end();
      });
    },
  };
}
