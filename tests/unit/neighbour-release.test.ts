/**
 * Giving the scan's own neighbour entries back: the deleter (agent/net/neighbour-release.ts), run
 * here against a real child process that writes down the lines it is given instead of `ip` (the
 * real `ip` is exercised in the lab, where the agent runs as root in its own namespace), and the
 * scan's release (agent/discovery/entry-release.ts) against tables as `ip -json -stats neigh` prints them.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ScanEntryRelease, FLUSH_MS } from '../../agent/discovery/entry-release.js';
import { parseNeighbourRows, type NeighbourRow } from '../../agent/discovery/neighbours.js';
import { DELETIONS_PER_PROCESS, deletionLine, hasNetAdmin, openNeighbourDeleter, type NeighbourDeleter } from '../../agent/net/neighbour-release.js';

const quiet = pino({ level: 'silent' });

describe('hasNetAdmin', () => {
  it("reads CAP_NET_ADMIN (bit 12) from CapEff, and nothing from garbage", () => {
    const status = (capEff: string): (() => string) => () => `Name:\tnode\nCapInh:\t0000000000000000\nCapEff:\t${capEff}\nCapBnd:\t000001ffffffffff\n`;
    expect(hasNetAdmin(status('000001ffffffffff'))).toBe(true);
    expect(hasNetAdmin(status('0000000000001000'))).toBe(true);
    expect(hasNetAdmin(status('0000000000000000'))).toBe(false);
    // Everything but CAP_NET_ADMIN (what a container given --cap-drop NET_ADMIN holds).
    expect(hasNetAdmin(status('000001ffffffefff'))).toBe(false);
    expect(hasNetAdmin(() => 'no such line')).toBe(false);
    expect(hasNetAdmin(() => 'CapEff:\tzz')).toBe(false);
    expect(
      hasNetAdmin(() => {
        throw new Error('ENOENT');
      }),
    ).toBe(false);
  });
});

describe('deletionLine', () => {
  it('writes one ip(8) batch line for an IPv4 address and an interface name, and refuses anything else', () => {
    expect(deletionLine('198.18.0.10', 'eth0')).toBe('neigh del 198.18.0.10 dev eth0\n');
    expect(deletionLine('198.18.0.10', 'vlan.120@br-lan')).toBe('neigh del 198.18.0.10 dev vlan.120@br-lan\n');
    for (const [ip, dev] of [
      ['fe80::1', 'eth0'],
      ['198.18.0.10 dev lo\nneigh flush all', 'eth0'],
      ['198.18.0.10', 'eth0\nneigh flush all'],
      ['198.18.0.10', 'eth 0'],
      ['198.18.0.10', ''],
      ['198.18.0.10', 'averyveryverylongname'],
      ['198.18.0.10', '"eth0"'],
    ]) {
      expect(deletionLine(ip as string, dev as string)).toBeNull();
    }
  });
});

/** A child that copies its standard input to `file`, as `ip -batch -` would read it. */
function recorder(file: string): string[] {
  return [process.execPath, '-e', 'process.stdin.pipe(require("node:fs").createWriteStream(process.argv[1]))', file];
}

describe('openNeighbourDeleter', () => {
  it('is null without CAP_NET_ADMIN: the kernel frees the entries itself', () => {
    expect(openNeighbourDeleter(quiet, { mayAdminister: () => false })).toBeNull();
  });

  it('hands every deletion to one process as a line, in order, and close() waits for it to finish', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cctv-release-')), 'lines');
    const deleter = openNeighbourDeleter(quiet, { mayAdminister: () => true, argv: recorder(file) }) as NeighbourDeleter;
    expect(deleter.delete('198.18.0.10', 'eth0')).toBe(true);
    expect(deleter.delete('198.18.0.11', 'eth0; reboot')).toBe(false);
    expect(deleter.delete('198.18.0.12', 'eth1')).toBe(true);
    expect(deleter.handed).toBe(2);
    await deleter.close();
    expect(readFileSync(file, 'utf8')).toBe('neigh del 198.18.0.10 dev eth0\nneigh del 198.18.0.12 dev eth1\n');
    expect(deleter.delete('198.18.0.13', 'eth0')).toBe(false);
  });

  it('hands each process DELETIONS_PER_PROCESS deletions at most (ip keeps memory per command), and close() waits for every one', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cctv-release-')), 'lines');
    // Each process appends its lines under its own pid.
    const script = `const fs=require("node:fs");require("node:readline").createInterface({input:process.stdin}).on("line",(l)=>fs.appendFileSync(process.argv[1],process.pid+" "+l+"\\n"))`;
    const deleter = openNeighbourDeleter(quiet, { mayAdminister: () => true, argv: [process.execPath, '-e', script, file] }) as NeighbourDeleter;
    const addresses = Array.from({ length: DELETIONS_PER_PROCESS + 1 }, (_, i) => `198.18.${i >> 8}.${i & 255}`);
    for (const ip of addresses) expect(deleter.delete(ip, 'eth0')).toBe(true);
    await deleter.close();
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    const byProcess = new Map<string, string[]>();
    for (const line of lines) {
      const [pid, ...rest] = line.split(' ');
      byProcess.set(pid as string, [...(byProcess.get(pid as string) ?? []), rest.join(' ')]);
    }
    expect([...byProcess.values()].map((taken) => taken.length).sort((a, b) => a - b)).toEqual([1, DELETIONS_PER_PROCESS]);
    expect(lines.map((line) => line.split(' ')[3]).sort()).toEqual([...addresses].sort());
    expect(deleter.refused).toBe(0);
  });

  it('starts a new process after one ended on a refused deletion (ip exits at the first), and stops once refusals are too many', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cctv-release-')), 'lines');
    // Like `ip -batch -`: reads line by line, exits 2 at a deletion the kernel refuses (here: .99).
    const script = `const fs=require("node:fs");require("node:readline").createInterface({input:process.stdin}).on("line",(l)=>{fs.appendFileSync(process.argv[1],l+"\\n");if(l.includes(" 198.18.0.99 "))process.exit(2)})`;
    const warnings: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) });
    const deleter = openNeighbourDeleter(log, { mayAdminister: () => true, argv: [process.execPath, '-e', script, file] }) as NeighbourDeleter;
    deleter.delete('198.18.0.99', 'eth0');
    await vi.waitFor(() => expect(deleter.refused).toBe(1), { timeout: 10_000, interval: 10 });
    deleter.delete('198.18.0.10', 'eth0');
    await deleter.close();
    expect(readFileSync(file, 'utf8')).toBe('neigh del 198.18.0.99 dev eth0\nneigh del 198.18.0.10 dev eth0\n');
    expect(deleter.refused).toBe(1);
    expect(warnings).toEqual([]);

    // Every deletion refused: an `ip` that exits 2 at once.
    const failing = openNeighbourDeleter(log, { mayAdminister: () => true, argv: ['/bin/sh', '-c', 'exit 2'] }) as NeighbourDeleter;
    while (failing.delete('198.18.0.99', 'eth0') && failing.handed < 30) {
      const handed = failing.handed;
      await vi.waitFor(() => expect(failing.refused).toBe(handed), { timeout: 10_000, interval: 10 });
    }
    // Stopped at the twelfth refusal: more than 10 and one in ten of its 12 deletions.
    expect([failing.handed, failing.refused]).toEqual([12, 12]);
    expect(warnings).toHaveLength(1);
    await failing.close();
  });

  it('stops, saying so once, when the command cannot be started', async () => {
    const warnings: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) });
    const deleter = openNeighbourDeleter(log, { mayAdminister: () => true, argv: ['/nonexistent/ip', '-batch', '-'] }) as NeighbourDeleter;
    deleter.delete('198.18.0.10', 'eth0');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(deleter.delete('198.18.0.11', 'eth0')).toBe(false);
    expect(deleter.delete('198.18.0.12', 'eth0')).toBe(false);
    await deleter.close();
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0] as string).msg).toMatch(/cannot delete the scan’s own neighbour entries/);
  });
});

/** A deleter that records what it is asked. */
function recordingDeleter(): NeighbourDeleter & { lines: string[]; closed: boolean } {
  const deleter = {
    lines: [] as string[],
    closed: false,
    handed: 0,
    refused: 0,
    delete: (ip: string, dev: string) => {
      deleter.lines.push(`${ip} ${dev}`);
      deleter.handed++;
      return true;
    },
    close: async () => void (deleter.closed = true),
  };
  return deleter;
}

/** A table as `ip -json -stats -4 neigh` prints it, parsed as the agent parses it. */
const table = (rows: Array<Record<string, unknown>>): NeighbourRow[] => parseNeighbourRows(JSON.stringify(rows));

describe('ScanEntryRelease', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const scanStartedAtMs = Date.parse('2026-12-06T02:00:00Z');
  const make = (rows: () => NeighbourRow[] | Promise<NeighbourRow[]>, deleter = recordingDeleter()) => {
    let reads = 0;
    const release = new ScanEntryRelease({
      deleter,
      inTableAtStart: new Set(['198.18.0.5']),
      isOnLink: (ip) => ip.startsWith('198.18.0.'),
      readTable: async () => {
        reads++;
        return rows();
      },
      interfaceOf: () => 'eth9',
      scanStartedAtMs,
      log: quiet,
    });
    return { release, deleter, reads: () => reads };
  };

  it('owns on-link IPv4 addresses the table did not hold when the scan started, nothing else', () => {
    const { release } = make(() => []);
    expect(release.owns('198.18.0.10')).toBe(true);
    expect(release.owns('198.18.0.5')).toBe(false);
    expect(release.owns('10.0.0.1')).toBe(false);
    expect(release.owns('fe80::1')).toBe(false);
  });

  it('reads the table once for the entries given back together, remembers each MAC, and deletes only entries with one', async () => {
    vi.setSystemTime(scanStartedAtMs + 20_000);
    const { release, deleter, reads } = make(() =>
      table([
        { dst: '198.18.0.10', dev: 'eth0', lladdr: '28:57:be:00:00:10', refcnt: 1, used: 0, confirmed: 3, updated: 3, state: ['REACHABLE'] },
        { dst: '198.18.0.11', lladdr: '28:57:be:00:00:11', used: 40, confirmed: 40, updated: 12, state: ['STALE'] },
        { dst: '198.18.0.12', dev: 'eth0', refcnt: 1, used: 0, confirmed: 0, updated: 0, state: ['INCOMPLETE'] },
        { dst: '198.18.0.13', dev: 'eth0', lladdr: '28:57:be:00:00:13', used: 0, confirmed: 0, updated: 0, state: ['PERMANENT'] },
      ]),
    );
    for (const ip of ['198.18.0.10', '198.18.0.11', '198.18.0.12', '198.18.0.13', '198.18.0.14']) release.giveBack(ip);
    await vi.advanceTimersByTimeAsync(FLUSH_MS);
    expect(reads()).toBe(1);
    expect(deleter.lines).toEqual(['198.18.0.10 eth0', '198.18.0.11 eth9']);
    expect([...release.remembered()]).toEqual([
      { ip: '198.18.0.10', mac: '28:57:be:00:00:10', state: 'REACHABLE', dev: 'eth0', fresh: true },
      // Confirmed 40 s ago, before this 20 s old scan began: remembered, not heard now.
      { ip: '198.18.0.11', mac: '28:57:be:00:00:11', state: 'STALE', dev: 'eth9', fresh: false },
    ]);
    expect(release.tally).toEqual({ givenBack: 2, unanswered: 0, unreadable: 0 });
  });

  it("gives back on host discovery's reads when they come (no read of its own), an entry given back during a read at the next", async () => {
    const rows = table([
      { dst: '198.18.0.10', dev: 'eth0', lladdr: '28:57:be:00:00:10', refcnt: 1, confirmed: 1, state: ['REACHABLE'] },
      { dst: '198.18.0.11', dev: 'eth0', lladdr: '28:57:be:00:00:11', refcnt: 1, confirmed: 1, state: ['REACHABLE'] },
    ]);
    const { release, deleter, reads } = make(() => rows);
    release.giveBack('198.18.0.10');
    await vi.advanceTimersByTimeAsync(50);
    const readStartedAt = Date.now();
    await vi.advanceTimersByTimeAsync(30);
    release.giveBack('198.18.0.11');
    release.tableRead(rows, readStartedAt);
    expect(deleter.lines).toEqual(['198.18.0.10 eth0']);
    await vi.advanceTimersByTimeAsync(FLUSH_MS);
    // Nobody handed over a read begun after 198.18.0.11 was given back: the release read the table itself.
    expect(reads()).toBe(1);
    expect(deleter.lines).toEqual(['198.18.0.10 eth0', '198.18.0.11 eth0']);
  });

  it('leaves the entries to the kernel when the table cannot be read (their MACs would go with them)', async () => {
    const { release, deleter } = make(() => Promise.reject(new Error('ip: not found')));
    release.giveBack('198.18.0.10');
    await vi.advanceTimersByTimeAsync(FLUSH_MS);
    expect(deleter.lines).toEqual([]);
    expect(release.tally.unreadable).toBe(1);
  });

  it('deletes an unanswered entry at once, and at close gives back what is due, then closes the deleter and takes nothing more', async () => {
    const { release, deleter, reads } = make(() => table([{ dst: '198.18.0.10', dev: 'eth0', lladdr: '28:57:be:00:00:10', refcnt: 1, state: ['REACHABLE'] }]));
    expect(release.deleteUnanswered('198.18.0.30', 'eth0')).toBe(true);
    release.giveBack('198.18.0.10');
    await release.close();
    expect(reads()).toBe(1);
    expect(deleter.lines).toEqual(['198.18.0.30 eth0', '198.18.0.10 eth0']);
    expect(deleter.closed).toBe(true);
    expect(release.deleteUnanswered('198.18.0.31', 'eth0')).toBe(false);
    release.giveBack('198.18.0.11');
    await vi.advanceTimersByTimeAsync(FLUSH_MS * 2);
    expect(reads()).toBe(1);
    expect(release.tally).toEqual({ givenBack: 1, unanswered: 1, unreadable: 0 });
  });
});
