/**
 * The scan's neighbour table reader (agent/net/neighbour-reader.ts): its pure parts, and its
 * process plumbing against real child processes. Here the child is a stand-in `ip -batch -` (a
 * shell loop answering each line as `ip` does, one line of JSON) so that the failures a real `ip`
 * seldom shows can be made at will; the real `ip` reading a lab namespace's table is
 * tests/integration/neighbour-reader.test.ts.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openNeighbourReader, OutputLines, showLine, type NeighbourReader } from '../../agent/net/neighbour-reader.js';
import { ownChildren } from '../support/child-processes.js';

describe('showLine', () => {
  it('writes the batch line for the whole table or one interface, and refuses a name a batch line cannot carry', () => {
    expect(showLine()).toBe('neigh show\n');
    expect(showLine('')).toBe('neigh show\n');
    expect(showLine('eth0')).toBe('neigh show dev eth0\n');
    expect(showLine('vlan.120@br-lan')).toBe('neigh show dev vlan.120@br-lan\n');
    for (const dev of ['eth0\nneigh flush all', 'eth 0', '"eth0"', 'eth#0', 'averyveryverylongname']) expect(showLine(dev)).toBeNull();
  });
});

describe('OutputLines', () => {
  it('joins a line split across chunks, splits lines sharing one, and keeps an unfinished line for the next chunk', () => {
    const lines = new OutputLines(64);
    expect(lines.push(Buffer.from('[{"dst":'))).toEqual([]);
    expect(lines.push(Buffer.from('"198.18.0.10"}]\n[]\n[{"d'))).toEqual(['[{"dst":"198.18.0.10"}]', '[]']);
    expect(lines.push(Buffer.from('st":"fe80::1"}]\n'))).toEqual(['[{"dst":"fe80::1"}]']);
  });

  it('refuses a line longer than its limit, whether it arrives whole or in pieces', () => {
    expect(new OutputLines(8).push(Buffer.from('[12345678]\n'))).toBe('overflow');
    const pieces = new OutputLines(8);
    expect(pieces.push(Buffer.from('[1234'))).toEqual([]);
    expect(pieces.push(Buffer.from('5678'))).toBe('overflow');
    expect(new OutputLines(8).push(Buffer.from('[123456]\n'))).toEqual(['[123456]']);
  });
});

/**
 * A stand-in `ip -4 -json -stats -batch -` (its family options land in $1…, unused): one line of JSON
 * naming the interface asked for and its own PID per `neigh show` line, in the order asked. Interface
 * names play failures: `slow` is answered after 100 ms, `silent` not at all, `big` a line of 5,000 bytes, `die` ends the process,
 * `dieonce` ends only the first process that reads it.
 */
function standIn(dir: string): string[] {
  const script = `
    while read -r verb what dev name; do
      echo "$name" >> "${dir}/asked"
      case "$name" in
        silent) ;;
        big) head -c 5000 /dev/zero | tr '\\0' x; echo ;;
        slow) sleep 0.1; echo "[{\\"dev\\":\\"$name\\",\\"pid\\":$$}]" ;;
        die) exit 3 ;;
        dieonce) [ -e "${dir}/died" ] || { touch "${dir}/died"; echo "gone" >&2; exit 4; }; echo "[{\\"dev\\":\\"$name\\",\\"pid\\":$$}]" ;;
        *) echo "[{\\"dev\\":\\"$name\\",\\"pid\\":$$}]" ;;
      esac
    done`;
  return ['/bin/sh', '-c', script, 'ip'];
}

const answer = (text: string): { dev: string; pid: number } => (JSON.parse(text) as Array<{ dev: string; pid: number }>)[0] as { dev: string; pid: number };

describe('openNeighbourReader', () => {
  let reader: NeighbourReader | null = null;
  let dir = '';
  const open = (options: Parameters<typeof openNeighbourReader>[0] = {}): NeighbourReader => {
    dir = mkdtempSync(join(tmpdir(), 'cctv-reader-'));
    reader = openNeighbourReader({ command: standIn(dir), ...options });
    return reader;
  };
  afterEach(async () => {
    await reader?.close();
    reader = null;
    // Whatever a test did, nothing it started is left running.
    expect(ownChildren()).toEqual([]);
  });

  it('starts nothing until the first read, then answers every read of a family from one process, in order, even when asked all at once', async () => {
    const tables = open();
    expect(tables.processesStarted).toBe(0);
    expect(ownChildren()).toEqual([]);
    const names = ['eth0', 'eth1', 'eth2', 'eth3', 'eth4'];
    const answers = (await Promise.all(names.map((dev) => tables.read('-4', dev)))).map(answer);
    expect(answers.map((a) => a.dev)).toEqual(names);
    expect(new Set(answers.map((a) => a.pid)).size).toBe(1);
    expect(readFileSync(join(dir, 'asked'), 'utf8').trim().split('\n')).toEqual(names);
    // The other family gets a process of its own.
    expect(answer(await tables.read('-6', 'eth0')).pid).not.toBe(answers[0]?.pid);
    expect([tables.reads, tables.processesStarted]).toEqual([6, 2]);
    expect(ownChildren()).toHaveLength(2);
    await tables.close();
    expect(ownChildren()).toEqual([]);
    await expect(tables.read('-4', 'eth0')).rejects.toThrow(/closed/);
    expect(tables.processesStarted).toBe(2);
  });

  it('lets a read asked before close() get its table', async () => {
    const tables = open();
    const read = tables.read('-4', 'slow');
    await tables.close();
    expect(answer(await read).dev).toBe('slow');
  });

  it('replaces its process after readsPerProcess reads, and close() waits for the retired one too', async () => {
    const tables = open({ readsPerProcess: 3 });
    const pids: number[] = [];
    for (let i = 0; i < 7; i++) pids.push(answer(await tables.read('-4', `eth${i}`)).pid);
    expect(pids.map((pid) => pids.indexOf(pid))).toEqual([0, 0, 0, 3, 3, 3, 6]);
    expect(tables.processesStarted).toBe(3);
  });

  it('fails a read that gets no answer in time, and the next read starts a new process', async () => {
    const tables = open({ timeoutMs: 200 });
    const first = answer(await tables.read('-4', 'eth0')).pid;
    await expect(tables.read('-4', 'silent')).rejects.toThrow(/within 200 ms/);
    expect(answer(await tables.read('-4', 'eth0')).pid).not.toBe(first);
    expect(tables.processesStarted).toBe(2);
  });

  it('fails a read whose table is longer than the limit, and the next read starts a new process', async () => {
    const tables = open({ limitBytes: 1000 });
    const first = answer(await tables.read('-4', 'eth0')).pid;
    await expect(tables.read('-4', 'big')).rejects.toThrow(/longer than 1000 bytes/);
    expect(answer(await tables.read('-4', 'eth0')).pid).not.toBe(first);
  });

  it('answers a read from a new process when the one it was given ends first, and fails it when the new one ends too', async () => {
    const tables = open();
    const first = answer(await tables.read('-4', 'eth0')).pid;
    const again = answer(await tables.read('-4', 'dieonce'));
    expect(again.dev).toBe('dieonce');
    expect(again.pid).not.toBe(first);
    expect(existsSync(join(dir, 'died'))).toBe(true);
    // The second process ends at it, and so does the third, which it is tried again with.
    await expect(tables.read('-4', 'die')).rejects.toThrow(/exited \(3\) before printing the table/);
    expect(tables.processesStarted).toBe(3);
    expect(answer(await tables.read('-4', 'eth0')).dev).toBe('eth0');
    expect(tables.processesStarted).toBe(4);
  });

  it('replaces a process that was killed between reads', async () => {
    const tables = open();
    const first = answer(await tables.read('-4', 'eth0')).pid;
    process.kill(first);
    await expect.poll(() => ownChildren()).toEqual([]);
    const next = answer(await tables.read('-4', 'eth0'));
    expect(next.pid).not.toBe(first);
    expect(tables.processesStarted).toBe(2);
  });

  it('reads an interface whose name a batch line cannot carry with a one-shot command of its own', async () => {
    // echo stands in for a one-shot `ip`: it prints the arguments it was given.
    reader = openNeighbourReader({ command: ['/bin/echo'] });
    expect(await reader.read('-6', 'eth#0')).toBe('-json -stats -6 neigh show dev eth#0\n');
    expect([reader.reads, reader.processesStarted]).toEqual([1, 0]);
  });

  it('fails reads, starting nothing that stays, when the command cannot be started', async () => {
    reader = openNeighbourReader({ command: ['/nonexistent/ip'] });
    await expect(reader.read('-4')).rejects.toThrow(/cannot run \/nonexistent\/ip/);
    await expect(reader.read('-6', 'eth0')).rejects.toThrow(/ENOENT/);
  });
});
