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
 * (iproute2, ip(8): commands read from standard input as they come)
 * takes the deletions of a scan, a line each, those handed over together in one write: one
 * process, not one per address (a new one after a refused deletion ends it: openNeighbourDeleter).
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import type { Logger } from '../log.js';
import { IpChildren, isBatchSafeInterfaceName } from './ip-batch.js';

/** CAP_NET_ADMIN's bit in the capability sets (include/uapi/linux/capability.h). */
const CAP_NET_ADMIN_BIT = 12n;
/** ip(8) reading commands from standard input (`-force` keeps it going after the commands that return their errors). */
const IP_BATCH = ['ip', '-force', '-batch', '-'];
/**
 * An `ip` ended by a refused deletion is replaced; deletion stops when more than MAX_REFUSED_START
 * and one in this many deletions were refused: an entry vanishing between the read that showed it
 * and its deletion is rare (none in the crowd's runs: BENCHMARKS.md, issue 10 "Entries given back").
 */
const RESTARTS_PER_DELETIONS = 10;
const MAX_REFUSED_START = 10;
/**
 * Deletions one `ip` takes before it is ended and the next deletion starts another: iproute2's
 * batch mode keeps memory for every command it has run (measured with iproute2 6.1: 164 MB of
 * peak RSS after 40,000 commands, 273 MB after an on-link /16's 66,000 deletions), so a process
 * per thousand deletions stays within a few MB, at one process start per thousand.
 */
export const DELETIONS_PER_PROCESS = 1000;
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
  return isIPv4(ip) && isBatchSafeInterfaceName(dev) ? `neigh del ${ip} dev ${dev}\n` : null;
}

export interface NeighbourDeleter {
  /** Deletes `ip`'s entry on interface `dev` (in the background); false when the line was refused or `ip` is gone. */
  delete(ip: string, dev: string): boolean;
  /** Deletions handed to `ip` so far. */
  readonly handed: number;
  /** Times an `ip` ended on a refused deletion (an entry already gone). */
  readonly refused: number;
  /** Lets `ip` finish the deletions handed to it, then ends it. */
  close(): Promise<void>;
}

/**
 * One `ip -batch -` at a time for a scan's deletions, started at the first. `ip` exits at the first
 * deletion the kernel refuses, `-force` or not (iproute2 ip/ipneigh.c ipneigh_modify: `exit(2)` when
 * rtnl_talk fails; measured with iproute2 6.1): an entry gone between the read that showed it and
 * its deletion (freed by the kernel's collector) ends it, and the lines it had not read yet are
 * lost: their entries are left to the kernel, which frees them in its own time. The next deletion
 * starts a new `ip`. Deletion stops for the scan, logged once, when `ip` cannot be started, or when
 * more than one deletion in RESTARTS_PER_DELETIONS ended an `ip`: something other than a vanished
 * entry is wrong then. Null without CAP_NET_ADMIN.
 */
export function openNeighbourDeleter(log: Logger, options: { mayAdminister?: () => boolean; argv?: readonly string[] } = {}): NeighbourDeleter | null {
  if (!(options.mayAdminister ?? hasNetAdmin)()) return null;
  const argv = options.argv ?? IP_BATCH;
  let child: ChildProcess | null = null;
  let broken = false;
  let closing = false;
  let handed = 0;
  let refused = 0;
  let takenByChild = 0;
  /** Every `ip` started and not yet ended, the retired ones included. */
  const children = new IpChildren();
  const stop = (reason: string): void => {
    if (broken) return;
    broken = true;
    log.warn({ reason, deletions: handed, refused }, 'cannot delete the scan’s own neighbour entries: the kernel frees them in its own time, so large on-link ranges take longer');
  };
  const start = (): ChildProcess => {
    const started = children.start(argv, { stdout: 'ignore', stderr: 'ignore' });
    started.on('error', (error) => stop(error.message));
    started.on('exit', (code) => {
      if (child === started) child = null;
      if (closing || code === 0) return;
      if (++refused > MAX_REFUSED_START + handed / RESTARTS_PER_DELETIONS) stop(`ip exited (${code ?? 'signal'}) ${refused} times`);
    });
    return started;
  };
  // The lines handed over together (a read of the table gives back many entries in one go) go to
  // `ip` in one write, not one write each: written as a microtask, so no line waits for later I/O.
  let batch = '';
  let batchFor: ChildProcess | null = null;
  const flush = (): void => {
    if (batchFor !== null && batch !== '') batchFor.stdin?.write(batch);
    batch = '';
    batchFor = null;
  };
  return {
    delete(ip, dev) {
      const line = deletionLine(ip, dev);
      if (line === null || broken || closing) return false;
      if (child === null) {
        child = start();
        takenByChild = 0;
      }
      if (batchFor !== child) {
        flush();
        batchFor = child;
        queueMicrotask(flush);
      }
      batch += line;
      handed++;
      if (++takenByChild >= DELETIONS_PER_PROCESS) {
        // It runs what it was given, then exits 0: the next deletion starts a new one.
        flush();
        child.stdin?.end();
        child = null;
      }
      return true;
    },
    get handed() {
      return handed;
    },
    get refused() {
      return refused;
    },
    async close() {
      closing = true;
      flush();
      child = null;
      // Every `ip` still running finishes what it was given (a retired one too), or is ended.
      await children.endAll(CLOSE_WAIT_MS);
    },
  };
}
