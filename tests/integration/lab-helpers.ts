/**
 * Helpers for the 'lab' integration tests. The lab itself (namespaces cctvlab-*, one simulator
 * per tests/lab/profiles/NAME.json) is brought up by global-setup.ts with scripts/lab.sh.
 *
 * Everything that sends packets runs inside cctvlab-scan (198.18.0.1), never in the root
 * namespace.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Device, Inventory } from '../../agent/types.js';
import { eui64LinkLocal, isIpv6Only, loadProfiles, profileMacs, type LabProfile } from '../lab/sim/profile.js';

export type { LabProfile } from '../lab/sim/profile.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** LAB_ID selects an independent lab (scripts/lab.sh): namespaces cctvlab-ID-*, state in .lab-ID/. */
const LAB_ID = process.env.LAB_ID ?? '';
const LAB_DIR = LAB_ID ? `.lab-${LAB_ID}` : '.lab';
export const LAB_PREFIX = LAB_ID ? `cctvlab-${LAB_ID}-` : 'cctvlab-';
export const SCANNER_NS = `${LAB_PREFIX}scan`;
export const SCANNER_IP = '198.18.0.1';
export const SCANNER_MAC = '02:00:00:00:00:01';
export const SCANNER_IFACE = 'eth0';
export const LAB_SUBNET = '198.18.0.0/24';
export const PROFILES_DIR = join(REPO_ROOT, 'tests/lab/profiles');
/** The agent's CLI, as built by `npm run build` (tsc -p tsconfig.json). */
export const AGENT_CLI = 'dist/agent/cli.js';
/** The compiled lab (built by `lab.sh up`; the build mirrors the repository, agent codecs included). */
export const LAB_BUILD_DIR = `${LAB_DIR}/build`;
/** Compiled lab clients. */
export const LAB_CLIENTS_DIR = `${LAB_BUILD_DIR}/tests/lab/clients`;
export const LAB_LOG_DIR = join(REPO_ROOT, LAB_DIR, 'logs');

export interface RunOptions {
  /** Kill the process (SIGTERM, then SIGKILL 2 s later) after this long. Default 60 000 ms. */
  timeoutMs?: number;
  /** Added to (and overriding) the test process's environment. */
  env?: Record<string, string | undefined>;
  /** Written to stdin, then stdin is closed (default: closed at once). */
  input?: string;
  /** Default: the repository root. */
  cwd?: string;
}

export interface RunResult {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
}

/** The namespace of a device profile (or of `scan`, `sw`). */
export function labNamespace(name: string): string {
  return `${LAB_PREFIX}${name}`;
}

/** Runs argv (argv[0] = program) inside network namespace `ns` via `ip netns exec`. Never rejects for a non-zero exit. */
export function runInNamespace(ns: string, argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  if (!ns.startsWith(LAB_PREFIX)) return Promise.reject(new Error(`refusing to run outside the lab: namespace ${ns}`));
  return run('ip', ['netns', 'exec', ns, ...argv], opts);
}

/**
 * Runs the agent CLI in the scanner namespace: `ip netns exec cctvlab-scan node dist/agent/cli.js ...args`.
 * Needs `npm run build` first.
 */
export function runInScanner(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const cli = join(opts.cwd ?? REPO_ROOT, AGENT_CLI);
  if (!existsSync(cli)) return Promise.reject(new Error(`${AGENT_CLI} not found: run 'npm run build' before the lab tests`));
  return runInNamespace(SCANNER_NS, [process.execPath, AGENT_CLI, ...args], opts);
}

/** Runs a compiled lab client (.lab/build/tests/lab/clients/NAME.js) in the scanner namespace and parses its JSON output. */
export async function runLabClient<T = unknown>(client: 'onvif-client' | 'raw-client', args: string[], opts: RunOptions = {}): Promise<T> {
  const r = await runInNamespace(SCANNER_NS, [process.execPath, `${LAB_CLIENTS_DIR}/${client}.js`, ...args], opts);
  if (r.code !== 0) {
    throw new Error(`${client} ${args.join(' ')} failed (code ${r.code}, signal ${r.signal}):\n${r.stderr}\n${r.stdout}`);
  }
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`${client} ${args.join(' ')}: output is not JSON:\n${r.stdout}\n${r.stderr}`);
  }
}

/** Runs `bash scripts/lab.sh ...args` from the repository root. */
export function labScript(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return run('bash', [join(REPO_ROOT, 'scripts/lab.sh'), ...args], { timeoutMs: 120_000, ...opts });
}

async function labScriptOrThrow(args: string[]): Promise<void> {
  const r = await labScript(args);
  if (r.code !== 0) throw new Error(`lab.sh ${args.join(' ')} failed (code ${r.code}):\n${r.stderr}${r.stdout}`);
}

/** Stops one simulator (SIGTERM to its recorded PID); its namespace and address stay. */
export function stopDevice(name: string): Promise<void> {
  labProfile(name);
  return labScriptOrThrow(['stop', name]);
}

/** Starts one simulator again and waits until its sockets are open. */
export function startDevice(name: string): Promise<void> {
  labProfile(name);
  return labScriptOrThrow(['start', name]);
}

let cache: LabProfile[] | undefined;

/** Every device profile of the lab, sorted by name (validated). */
export function labProfiles(): LabProfile[] {
  cache ??= loadProfiles(PROFILES_DIR);
  return cache;
}

/** A device a default scan of the lab must report, and how (agent/pipeline/merge.ts). */
export interface LabDevice {
  profile: LabProfile;
  /** The address it is reported at. */
  ip: string;
  /**
   * Every address a default scan reports for it: more than one for a device with several
   * interfaces, and for a dual-stack device (an `ipv6` key) its IPv6 link-local address besides
   * its IPv4 one (heard by WS-Discovery, mDNS or SSDP over IPv6, agent/pipeline/merge.ts).
   */
  addresses: string[];
  mac: string;
  /** Its own MACs: more than one for a device with several interfaces, none when its MAC is shared. */
  macs: string[];
  /** The MAC also fronts other devices' addresses (a proxy-ARP segment's). */
  macShared: boolean;
  id: string;
}

/**
 * Every device of the lab: one per profile, all its interfaces together; but one per address of a
 * profile with `aliases` (a proxy-ARP segment), each recording the shared MAC and, with no MAC nor
 * serial of its own, its address as id.
 */
export function labDevices(): LabDevice[] {
  return labProfiles().flatMap((profile): LabDevice[] => {
    if (profile.aliases?.length) {
      return [profile.ip, ...profile.aliases].map((ip) => ({ profile, ip, addresses: [ip], mac: profile.mac, macs: [], macShared: true, id: `ip:${ip}` }));
    }
    const macs = profileMacs(profile).sort();
    const dualStack = profile.ipv6 !== undefined && !isIpv6Only(profile);
    const addresses = [profile.ip, ...(profile.nics ?? []).map((n) => n.ip), ...(dualStack ? [eui64LinkLocal(profile.mac)] : [])];
    return [{ profile, ip: profile.ip, addresses, mac: macs[0] as string, macs, macShared: false, id: `mac:${macs[0]}` }];
  });
}

export function labProfile(name: string): LabProfile {
  const p = labProfiles().find((x) => x.name === name);
  if (!p) throw new Error(`no lab profile '${name}' (have: ${labProfiles().map((x) => x.name).join(', ')})`);
  return p;
}

/** Profiles that speak ONVIF (the device service) at their IPv4 address (a misaddressed device's is out of reach). */
export function onvifProfiles(): LabProfile[] {
  return labProfiles().filter((p) => p.onvif !== undefined && p.misaddressed === undefined);
}

/**
 * The device a scan reports for a profile: the one at its address, or, where devices share the
 * address (two cameras on one factory default), the one with its MAC.
 */
export function deviceOfProfile(inventory: Inventory, profile: LabProfile): Device {
  const at = inventory.devices.filter((d) => d.ip === profile.ip);
  const device = at.length > 1 ? at.find((d) => d.mac === profile.mac) : at[0];
  if (!device) throw new Error(`no device at ${profile.ip} (${profile.name}); found ${inventory.devices.map((d) => d.ip).join(', ')}`);
  return device;
}

/** Profiles that answer WS-Discovery over IPv4 (an IPv6-only device answers on FF02::C alone). */
export function wsDiscoveryProfiles(): LabProfile[] {
  return labProfiles().filter((p) => p.wsDiscovery !== undefined && !isIpv6Only(p));
}

/**
 * The lab devices with IPv6 (the `ipv6` key), dual-stack and IPv6-only alike: each speaks its
 * multicast discovery over IPv6 too (WS-Discovery on FF02::C, mDNS on FF02::FB, SSDP on FF02::C).
 */
export function ipv6Profiles(): LabProfile[] {
  return labProfiles().filter((p) => p.ipv6 !== undefined);
}

function run(cmd: string, args: string[], opts: RunOptions): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd ?? REPO_ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 2000);
    }, opts.timeoutMs ?? 60_000);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.stdin.on('error', () => undefined);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      resolvePromise({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        durationMs: Date.now() - started,
        timedOut,
      });
    });
    child.stdin.end(opts.input ?? '');
  });
}
