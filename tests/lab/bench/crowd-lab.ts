/**
 * The crowd of scripts/lab.sh (`crowd-up N`): bring it up and down, scan it, read its plan. Shared
 * by the crowd test (tests/crowd) and `npm run bench` (bench.ts).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CrowdPlan } from '../sim/crowd.js';
import type { Inventory } from '../../../agent/types.js';

/** Run from the repository root (npm scripts, vitest and lab.sh all are); compiled copies live elsewhere. */
export const REPO_ROOT = process.cwd();
export const LAB_ID = process.env.LAB_ID ?? '';
const PREFIX = LAB_ID ? `cctvlab-${LAB_ID}-` : 'cctvlab-';
export const CROWD_SCANNER_NS = `${PREFIX}cscan`;
const PLAN_FILE = join(REPO_ROOT, LAB_ID ? `.lab-${LAB_ID}` : '.lab', 'crowd', 'plan.json');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(argv: string[], timeoutMs = 600_000): Promise<Run> {
  return new Promise((done, fail) => {
    const [cmd = '', ...args] = argv;
    const child = spawn(cmd, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
}

async function labSh(args: string[]): Promise<void> {
  const r = await run(['bash', join(REPO_ROOT, 'scripts/lab.sh'), ...args]);
  if (r.code !== 0) throw new Error(`lab.sh ${args.join(' ')} failed (code ${r.code}):\n${r.stderr}`);
}

export const crowdUp = (devices: number): Promise<void> => labSh(['crowd-up', String(devices)]);
export const crowdDown = (): Promise<void> => labSh(['crowd-down']);

export function crowdPlan(): CrowdPlan {
  return JSON.parse(readFileSync(PLAN_FILE, 'utf8')) as CrowdPlan;
}

/** `A-B` runs of consecutive addresses covering exactly the plan's addresses (sorted). */
export function addressRuns(addresses: readonly string[]): string[] {
  const toInt = (ip: string): number => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  const toIp = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
  const sorted = [...new Set(addresses.map(toInt))].sort((a, b) => a - b);
  const runs: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === (sorted[j] ?? 0) + 1) j++;
    runs.push(i === j ? toIp(sorted[i] ?? 0) : `${toIp(sorted[i] ?? 0)}-${toIp(sorted[j] ?? 0)}`);
    i = j + 1;
  }
  return runs;
}

/** A default scan (`cctv-agent scan TARGETS --json`) from the crowd's scanner namespace. */
export async function scanCrowd(targets: string[]): Promise<{ inventory: Inventory; stderr: string; ms: number }> {
  const store = mkdtempSync(join(tmpdir(), 'crowd-store-'));
  try {
    const t0 = performance.now();
    const r = await run(['ip', 'netns', 'exec', CROWD_SCANNER_NS, process.execPath, 'dist/agent/cli.js', 'scan', ...targets, '--json', '--site', 'crowd', '--store', store]);
    const ms = performance.now() - t0;
    if (r.code !== 0) throw new Error(`scan failed (code ${r.code}):\n${r.stderr.slice(-4000)}`);
    return { inventory: JSON.parse(r.stdout) as Inventory, stderr: r.stderr, ms };
  } finally {
    rmSync(store, { recursive: true, force: true });
  }
}
