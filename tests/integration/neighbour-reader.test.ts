/**
 * The scan's neighbour table reader (agent/net/neighbour-reader.ts) with the real `ip`, reading the
 * lab scanner namespace's tables (`ip -n <namespace>`, as the agent's own `ip` reads its namespace's
 * when it runs inside it): it must read what a one-shot `ip -json -stats neigh show` reads, from one
 * process per family, replaced when its share of reads is done or it is killed, and leave nothing
 * running. The failures a real `ip` seldom shows are tests/unit/neighbour-reader.test.ts.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseNeighbourRows, readNeighbourRows, type NeighbourRow } from '../../agent/discovery/neighbours.js';
import { openNeighbourReader, type NeighbourFamily, type NeighbourReader } from '../../agent/net/neighbour-reader.js';
import { eui64LinkLocal } from '../lab/sim/profile.js';
import { ownChildren } from '../support/child-processes.js';
import { labProfile, runInNamespace, SCANNER_IFACE, SCANNER_NS } from './lab-helpers.js';

/** Two lab devices whose entries the tests make in the scanner's tables. */
const DEVICES = ['hikvision', 'dahua'].map((name) => labProfile(name));

/** What of a row stays the same between two reads a few milliseconds apart (states and ages may move on). */
const stable = (rows: NeighbourRow[]): Array<{ ip: string; dev: string | null; mac: string | null }> =>
  rows.map((row) => ({ ip: row.ip, dev: row.dev, mac: row.entry?.mac ?? null })).sort((a, b) => a.ip.localeCompare(b.ip));

/** The processes in the scanner namespace (`ip netns pids`). */
async function labPids(): Promise<string[]> {
  const { stdout } = await promisify(execFile)('ip', ['netns', 'pids', SCANNER_NS]);
  return stdout.split('\n').filter((pid) => pid !== '');
}

/** The same table read by a one-shot `ip -json -stats neigh show` in the scanner namespace, parsed as the agent parses it. */
async function oneShot(family: NeighbourFamily, dev?: string): Promise<NeighbourRow[]> {
  const run = await runInNamespace(SCANNER_NS, ['ip', '-json', '-stats', family, 'neigh', 'show', ...(dev ? ['dev', dev] : [])]);
  expect(run.code).toBe(0);
  return parseNeighbourRows(run.stdout, dev);
}

describe('the neighbour table reader with the real ip', () => {
  let reader: NeighbourReader | null = null;
  const open = (readsPerProcess?: number): NeighbourReader => {
    reader = openNeighbourReader({ command: ['ip', '-n', SCANNER_NS], ...(readsPerProcess ? { readsPerProcess } : {}) });
    return reader;
  };

  beforeAll(async () => {
    // A TCP connect to each device, over IPv4 and to its IPv6 link-local address, leaves a resolved entry for it in each table.
    const targets = DEVICES.flatMap((device) => [device.ip, `${eui64LinkLocal(device.mac)}%${SCANNER_IFACE}`]);
    const connects = targets.map((ip) => `(exec 3<>/dev/tcp/${ip}/80) 2>/dev/null`).join('; ');
    await runInNamespace(SCANNER_NS, ['bash', '-c', connects]);
  });
  afterEach(async () => {
    await reader?.close();
    reader = null;
    expect(ownChildren()).toEqual([]);
  });

  it('leaves no process in the scanner namespace after the scans run there (the shared scans, whose ip children live in it)', async () => {
    expect(await labPids()).toEqual([]);
  });

  it('reads, in sequence, the rows a one-shot ip reads (the whole IPv4 table, and one interface of each family, zones included), from one process per family', async () => {
    const tables = open();
    for (let round = 0; round < 3; round++) {
      const whole = await readNeighbourRows(undefined, '-4', tables);
      expect(stable(whole)).toEqual(stable(await oneShot('-4')));
      const ipv4 = await readNeighbourRows(SCANNER_IFACE, '-4', tables);
      expect(stable(ipv4)).toEqual(stable(await oneShot('-4', SCANNER_IFACE)));
      const ipv6 = await readNeighbourRows(SCANNER_IFACE, '-6', tables);
      expect(stable(ipv6)).toEqual(stable(await oneShot('-6', SCANNER_IFACE)));
      for (const device of DEVICES) {
        expect(whole.find((row) => row.ip === device.ip)?.entry?.mac).toBe(device.mac);
        expect(ipv6.find((row) => row.ip === `${eui64LinkLocal(device.mac)}%${SCANNER_IFACE}`)?.entry?.mac).toBe(device.mac);
      }
    }
    expect(tables.processesStarted).toBe(2);
    expect(ownChildren().map((child) => child.command)).toEqual(['ip', 'ip']);
  });

  it('answers reads asked together one after another, replaces its ip after its share of reads, and replaces one killed between reads', async () => {
    const tables = open(2);
    const expected = stable(await oneShot('-4'));
    const together = await Promise.all(Array.from({ length: 5 }, () => readNeighbourRows(undefined, '-4', tables)));
    for (const rows of together) expect(stable(rows)).toEqual(expected);
    expect(tables.processesStarted).toBe(3);
    // The two retired ones exit once they have read the end of their input.
    await expect.poll(() => ownChildren()).toHaveLength(1);
    const [running] = ownChildren();
    expect(running?.command).toBe('ip');
    process.kill(running?.pid as number);
    await expect.poll(() => ownChildren()).toEqual([]);
    expect(stable(await readNeighbourRows(undefined, '-4', tables))).toEqual(expected);
    expect(tables.processesStarted).toBe(4);
  });

  it('fails a read of an interface that does not exist, as a one-shot ip does, and reads on after it', async () => {
    const tables = open();
    await expect(readNeighbourRows('nosuch0', '-4', tables)).rejects.toThrow(/Cannot find device "nosuch0"/);
    expect(stable(await readNeighbourRows(SCANNER_IFACE, '-4', tables))).toEqual(stable(await oneShot('-4', SCANNER_IFACE)));
  });
});
