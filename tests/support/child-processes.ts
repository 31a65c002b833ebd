/**
 * The processes this one started and that are still there, read from /proc (proc(5): field 4 of
 * /proc/PID/stat is the parent's PID, after the command name in parentheses, which may hold spaces):
 * how a test sees that code under test left no child process behind.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ChildProcessInfo {
  pid: number;
  /** The command name (proc(5) comm, at most 15 characters). */
  command: string;
}

export function ownChildren(): ChildProcessInfo[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return parent === process.pid ? [{ pid: Number(pid), command: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) }] : [];
      } catch {
        // Gone between the listing and the read.
        return [];
      }
    });
}
