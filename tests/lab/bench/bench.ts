/**
 * `npm run bench` (scripts/bench.sh brings the crowd up and runs this, as root): the agent beside
 * nmap on the crowd lab, each measured RUNS times in the same run, then the median and the range.
 *   crowd   the agent's default scan of the crowd's /22 against `nmap -sT` and `nmap -sV` on the
 *           same ports: wall time, peak RSS, devices found, makers and models identified
 *   /16     the agent's default scan of 198.18.0.0/16, of which the crowd's /22 is live (the
 *           scanner's interface is given a /16 prefix for it), beside `nmap -sT` on the same range
 *   help    `cctv-agent --help` start-up
 * Prints a JSON summary on stdout (BENCHMARKS.md is written from it) and progress on stderr.
 * Environment: RUNS (3), SLOW_RUNS (runs of nmap -sV and of nmap on the /16, 1), NMAP_LIMIT
 * (seconds one nmap run may take, 600; a run stopped there counts the hosts it finished), WIDE=0
 * skips the /16.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import type { CrowdDevice, CrowdPlan } from '../sim/crowd.js';
import type { Inventory } from '../../../agent/types.js';
import { CROWD_SCANNER_NS, crowdPlan, run, type Run } from './crowd-lab.js';

const RUNS = Number(process.env.RUNS ?? 3);
const NMAP_LIMIT_S = Number(process.env.NMAP_LIMIT ?? 600);
/** Runs of the slow cases (nmap -sV, nmap on the /16): each may take NMAP_LIMIT. */
const SLOW_RUNS = Number(process.env.SLOW_RUNS ?? 1);
const AGENT = ['node', 'dist/agent/cli.js'];
const CROWD_RANGE = '198.18.4.0/22';
const WIDE_RANGE = '198.18.0.0/16';
const PORTS = portsOf();

/** The agent's TCP ports (fingerprints/ports.yaml), for nmap's -p. */
function portsOf(): number[] {
  const text = readFileSync('fingerprints/ports.yaml', 'utf8');
  return [...text.matchAll(/^\s*- port: (\d+)/gm)].map((m) => Number(m[1]));
}

/** Words that name each maker in a tool's output (nmap names makers by their IEEE registrant). */
const MAKER_WORDS: Record<string, string[]> = {
  hikvision: ['hikvision'],
  dahua: ['dahua'],
  axis: ['axis'],
  hanwha: ['hanwha', 'samsung techwin'],
  uniview: ['uniview'],
  synology: ['synology'],
  hp: ['hp', 'hewlett'],
};

interface Score {
  found: number;
  maker: number;
  model: number;
}

function scoreTexts(plan: CrowdPlan, textOf: (d: CrowdDevice) => string | undefined): Score {
  const score: Score = { found: 0, maker: 0, model: 0 };
  for (const d of plan.devices) {
    const text = textOf(d);
    if (text === undefined) continue;
    score.found++;
    const lower = text.toLowerCase();
    const words = MAKER_WORDS[d.truth.maker] ?? [];
    if (words.some((w) => new RegExp(`\\b${w}\\b`).test(lower))) score.maker++;
    if (d.truth.model && text.includes(d.truth.model)) score.model++;
  }
  return score;
}

interface Timed {
  ms: number;
  peakRssMb: number | null;
  /**
   * CPU the tool used, user and system (`/usr/bin/time -v`; children included). On this 2-core
   * machine wall times of one tree vary by about a second run to run (BENCHMARKS.md); its CPU
   * says whether a change made the work itself smaller.
   */
  cpuMs: number | null;
  result: Run;
}

/** Runs argv inside the crowd's scanner namespace under /usr/bin/time -v (peak RSS of the tool). */
async function timed(argv: string[], limitS = 0): Promise<Timed> {
  const wrapped = ['/usr/bin/time', '-v', ...(limitS > 0 ? ['timeout', String(limitS)] : []), 'ip', 'netns', 'exec', CROWD_SCANNER_NS, ...argv];
  const t0 = performance.now();
  // No limit of its own (the agent's runs): the /16 of WIDE takes minutes.
  const result = await run(wrapped, limitS > 0 ? (limitS + 60) * 1000 : 900_000);
  const ms = Math.round(performance.now() - t0);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(result.stderr);
  const user = /User time \(seconds\): ([\d.]+)/.exec(result.stderr);
  const system = /System time \(seconds\): ([\d.]+)/.exec(result.stderr);
  const cpuMs = user && system ? Math.round((Number(user[1]) + Number(system[1])) * 1000) : null;
  return { ms, peakRssMb: rss ? Math.round(Number(rss[1]) / 1024) : null, cpuMs, result };
}

async function flushNeighbours(): Promise<void> {
  await run(['ip', '-n', CROWD_SCANNER_NS, 'neigh', 'flush', 'all']);
}

interface AgentRun {
  ms: number;
  peakRssMb: number | null;
  cpuMs: number | null;
  exit: number | null;
  refused?: string;
  devices: number;
  macShared: number;
  merged: number;
  score: Score;
  sweepMs: number | null;
  /** The `host discovery finished` line of the named targets' sweep: addresses resolved on the link, live, and how long. */
  hostDiscovery: { addresses: number; live: number; tableFull: number; ms: number } | null;
  /** scan.sweep of the document: how the swept addresses were found live. */
  sweep: Inventory['scan']['sweep'] | null;
  overflowLines: number;
}

async function agentScan(plan: CrowdPlan, target: string): Promise<AgentRun> {
  await flushNeighbours();
  const overflowBefore = await kernelOverflowLines();
  const store = mkdtempSync(join(tmpdir(), 'cctv-bench-'));
  const t = await timed([...AGENT, 'scan', target, '--json', '--site', 'bench', '--store', store]).finally(() => rmSync(store, { recursive: true, force: true }));
  const overflowLines = (await kernelOverflowLines()) - overflowBefore;
  const base = { ms: t.ms, peakRssMb: t.peakRssMb, cpuMs: t.cpuMs, exit: t.result.code, overflowLines };
  if (t.result.code !== 0) {
    const line = t.result.stderr.split('\n').find((l) => l.includes('"msg"') || l.startsWith('error')) ?? t.result.stderr.slice(0, 300);
    return { ...base, refused: line.trim(), devices: 0, macShared: 0, merged: 0, score: { found: 0, maker: 0, model: 0 }, sweepMs: null, hostDiscovery: null, sweep: null };
  }
  const inventory = JSON.parse(t.result.stdout) as Inventory;
  const byAddress = new Map<string, Inventory['devices'][number]>();
  for (const device of inventory.devices) for (const a of device.addresses ?? [device.ip]) byAddress.set(a, device);
  const logLine = (msg: string): string | undefined => t.result.stderr.split('\n').find((l) => l.includes(`"msg":"${msg}"`));
  const sweep = logLine('TCP connect sweep finished');
  const discovery = logLine('host discovery finished');
  return {
    ...base,
    devices: inventory.devices.length,
    macShared: inventory.devices.filter((d) => d.macShared).length,
    merged: inventory.devices.filter((d) => (d.addresses?.length ?? 1) > 1).length,
    score: scoreTexts(plan, (d) => {
      const found = byAddress.get(d.ip);
      return found ? [found.identity.manufacturer, found.identity.brand, found.identity.model, found.classification.linkedVendor].join(' ') : undefined;
    }),
    sweepMs: sweep ? (JSON.parse(sweep) as { ms: number }).ms : null,
    hostDiscovery: discovery ? (({ addresses, live, tableFull, ms }) => ({ addresses, live, tableFull, ms }))(JSON.parse(discovery) as NonNullable<AgentRun['hostDiscovery']>) : null,
    sweep: inventory.scan.sweep ?? null,
  };
}

/** "neighbor table overflow" lines the kernel has logged so far (dmesg; the table is machine-wide). */
async function kernelOverflowLines(): Promise<number> {
  const r = await run(['dmesg']);
  return r.stdout.split('\n').filter((l) => l.includes('neighbor table overflow')).length;
}

interface NmapRun {
  ms: number;
  peakRssMb: number | null;
  cpuMs: number | null;
  exit: number | null;
  hostsUp: number;
  score: Score;
}

const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['host', 'port', 'address'].includes(name) });

async function nmapScan(plan: CrowdPlan, mode: '-sT' | '-sV', target: string): Promise<NmapRun> {
  await flushNeighbours();
  const t = await timed(['nmap', '-n', mode, '-p', PORTS.join(','), target, '-oX', '-'], NMAP_LIMIT_S);
  const texts = new Map<string, string>();
  // A run stopped at NMAP_LIMIT leaves unfinished XML: the hosts it finished are counted.
  const finished = t.result.stdout.slice(0, t.result.stdout.lastIndexOf('</host>') + '</host>'.length);
  const text = t.result.code === 0 ? t.result.stdout : `${finished}</nmaprun>`;
  try {
    const doc = xml.parse(text) as { nmaprun?: { host?: Array<Record<string, unknown>> } };
    for (const host of doc.nmaprun?.host ?? []) {
      const addresses = (host.address ?? []) as Array<{ addr: string; addrtype: string; vendor?: string }>;
      const ip = addresses.find((a) => a.addrtype === 'ipv4')?.addr;
      if (!ip) continue;
      const ports = ((host.ports as { port?: Array<{ service?: Record<string, string> }> } | undefined)?.port ?? []).map((p) => Object.values(p.service ?? {}).join(' '));
      texts.set(ip, [addresses.map((a) => a.vendor ?? '').join(' '), ...ports].join(' '));
    }
  } catch {
    // Output nmap did not finish writing at all: nothing is counted.
  }
  return { ms: t.ms, peakRssMb: t.peakRssMb, cpuMs: t.cpuMs, exit: t.result.code, hostsUp: texts.size, score: scoreTexts(plan, (d) => texts.get(d.ip)) };
}

function stats(values: number[]): { median: number; min: number; max: number; runs: number[] } {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  return { median, min: sorted[0] ?? 0, max: sorted[sorted.length - 1] ?? 0, runs: values };
}

async function series<T extends { ms: number; cpuMs: number | null }>(
  label: string,
  once: () => Promise<T>,
  runs = RUNS,
): Promise<{ time: ReturnType<typeof stats>; cpu: ReturnType<typeof stats> | null; last: T; all: T[] }> {
  const all: T[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await once();
    process.stderr.write(`bench: ${label} run ${i + 1}: ${JSON.stringify(r)}\n`);
    all.push(r);
  }
  const cpu = all.map((r) => r.cpuMs).filter((ms): ms is number => ms !== null);
  return { time: stats(all.map((r) => r.ms)), cpu: cpu.length === all.length ? stats(cpu) : null, last: all[all.length - 1] as T, all };
}

async function withScannerPrefix<T>(prefix: number, body: () => Promise<T>): Promise<T> {
  const set = (p: number): Promise<Run> => run(['ip', '-n', CROWD_SCANNER_NS, 'addr', 'replace', `198.18.4.1/${p}`, 'dev', 'eth0']);
  const del = (p: number): Promise<Run> => run(['ip', '-n', CROWD_SCANNER_NS, 'addr', 'del', `198.18.4.1/${p}`, 'dev', 'eth0']);
  await del(22);
  await set(prefix);
  try {
    return await body();
  } finally {
    await del(prefix);
    await set(22);
  }
}

async function helpStartup(): Promise<ReturnType<typeof stats>> {
  const times: number[] = [];
  for (let i = 0; i < Math.max(RUNS, 5); i++) {
    const t0 = performance.now();
    const r = await run([...AGENT, '--help']);
    if (r.code !== 0) throw new Error(`--help failed: ${r.stderr}`);
    times.push(Math.round(performance.now() - t0));
  }
  return stats(times);
}

async function main(): Promise<void> {
  const plan = crowdPlan();
  const results: Record<string, unknown> = { at: new Date().toISOString(), runs: RUNS, crowd: { devices: plan.devices.filter((d) => !d.macShared).length, proxyArp: plan.devices.filter((d) => d.macShared).length, range: CROWD_RANGE }, ports: PORTS };
  results.help = await helpStartup();
  const agent = await series('agent /22', () => agentScan(plan, CROWD_RANGE));
  const nmapT = await series('nmap -sT /22', () => nmapScan(plan, '-sT', CROWD_RANGE));
  const nmapV = await series('nmap -sV /22', () => nmapScan(plan, '-sV', CROWD_RANGE), SLOW_RUNS);
  results.crowd22 = {
    agent,
    nmapSt: nmapT,
    nmapSv: nmapV,
    ratioAgentToNmapSt: +(agent.time.median / nmapT.time.median).toFixed(2),
    ratioAgentToNmapSv: +(agent.time.median / nmapV.time.median).toFixed(2),
  };
  if (process.env.WIDE !== '0') {
    results.wide16 = await withScannerPrefix(16, async () => ({
      agent: await series('agent /16', () => agentScan(plan, WIDE_RANGE)),
      nmapSt: await series('nmap -sT /16', () => nmapScan(plan, '-sT', WIDE_RANGE), SLOW_RUNS),
    }));
  }
  process.stdout.write(JSON.stringify(results, null, 1) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
