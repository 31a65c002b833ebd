/**
 * How many sockets the TCP sweep may hold open at once: well under the process's file-descriptor
 * limit (the soft RLIMIT_NOFILE, getrlimit(2)), so a sweep never fails with EMFILE and leaves room
 * for the rest of the agent (discovery sockets, the store, the HTTP/TLS/RTSP probes, Node itself).
 *
 * Node has no API for the limit. On Linux, /proc/self/limits holds it (proc(5), "Max open files":
 * soft, then hard); Node itself raises the soft limit to the hard one at start-up, and that file
 * shows the limit in force. Elsewhere the limit is taken to be FALLBACK_FD_LIMIT.
 */
import { readFileSync } from 'node:fs';

/** Where Linux shows a process's resource limits (proc(5)). */
const PROC_LIMITS = '/proc/self/limits';
/**
 * The limit assumed when it cannot be read: 256, the smallest default soft limit of the systems
 * Node runs on (macOS, `launchctl limit maxfiles`; Linux's default is 1024). Too low costs speed, too
 * high costs EMFILE, so the smaller one.
 */
export const FALLBACK_FD_LIMIT = 256;
/**
 * Descriptors always left to the rest of the agent, whatever the limit: while the sweep runs, the
 * discovery window's sockets (a few per protocol and interface), the store, the neighbour-table
 * reader's pipes and Node's own: 28 descriptors during a lab scan's window on one interface
 * (/proc/PID/fd), so 64 leave room for more interfaces.
 */
export const FD_RESERVE = 64;
/** The sweep takes at most three quarters of what is left after the reserve; a quarter stays free too. */
const SWEEP_SHARE = 3 / 4;
/** Enough for a few hosts at once even under a tiny limit. */
export const MIN_SWEEP_SOCKETS = 8;
/**
 * Never more than this, however high the limit: 1024 connects in flight keep a /22 of dead
 * addresses (two connects each, one initial timeout) down to about two timeouts. It does not bound
 * the kernel's neighbour table: each empty address on the link leaves an INCOMPLETE entry for
 * about 3 s (mcast_solicit × retrans_time) after its connect gave up, and gc_thresh3 (1024 by
 * default, Documentation/networking/ip-sysctl.rst neigh/default) counts every namespace's entries.
 */
export const MAX_SWEEP_SOCKETS = 1024;

/** The soft "Max open files" of /proc/self/limits text; null when absent, "unlimited" gives Infinity. */
export function parseSoftFdLimit(limitsText: string): number | null {
  const line = limitsText.split('\n').find((l) => l.startsWith('Max open files'));
  const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
  if (soft === 'unlimited') return Number.POSITIVE_INFINITY;
  const value = soft === undefined ? Number.NaN : Number(soft);
  return Number.isInteger(value) && value > 0 ? value : null;
}

/** The soft file-descriptor limit of this process, and where it came from. */
export function softFdLimit(read: (path: string) => string = (p) => readFileSync(p, 'utf8')): { limit: number; from: string } {
  try {
    const limit = parseSoftFdLimit(read(PROC_LIMITS));
    if (limit !== null) return { limit, from: PROC_LIMITS };
  } catch {
    // Not Linux, or /proc is not mounted: fall through.
  }
  return { limit: FALLBACK_FD_LIMIT, from: 'assumed' };
}

/** Sockets the sweep may hold open at once under a soft limit of `fdLimit` descriptors. */
export function sweepSocketBudget(fdLimit: number): number {
  const share = Math.floor((fdLimit - FD_RESERVE) * SWEEP_SHARE);
  return Math.min(MAX_SWEEP_SOCKETS, Math.max(MIN_SWEEP_SOCKETS, share));
}
